"""BG/NBD (Fader, Hardie & Lee 2005): maximum-likelihood fit on per-customer summaries.

Every array holds one entry per customer, in one time unit (days or weeks):

- ``frequency`` x: repeat purchases, i.e. purchase days after the first one;
- ``recency`` t_x: the customer's age at the last purchase (first to last purchase).
  This is the BG/NBD recency, larger is better; it is NOT the RFM recency (time since
  the last purchase, smaller is better, see ``rfm.py``);
- ``age`` T: the customer's age at the as-of date (first purchase to as-of).

The likelihood is written in log space so heavy buyers (x in the hundreds) stay finite,
identical (x, t_x, T) rows are fitted once with a weight, and the optimiser works on
log-parameters with the analytic gradient derived below.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import OptimizeResult, minimize
from scipy.special import betaln, digamma, gammaln

from customers.value.errors import ModelFitError

FloatArray = NDArray[np.float64]

# Log-parameter box: exp(+-25) spans 1e-11 .. 7e10, far beyond any sensible fit; a
# parameter that ends near it is reported as not converged (judge_convergence).
LOG_BOUND = 25.0
DRIFT_BOUND = 12.0  # shape parameters beyond exp(+-12) (6e-6, 1.6e5): a degenerate fit


@dataclass(frozen=True)
class BGNBDParams:
    """Purchase rate lambda ~ Gamma(shape r, rate alpha); dropout p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class BGNBDFit:
    """The outcome of ``fit_bgnbd``. Check ``converged`` before trusting ``params``."""

    params: BGNBDParams
    log_likelihood: float  # total over all customers, natural log
    iterations: int
    converged: bool
    at_limit: bool  # not converged: drifting toward a limiting model (judge_convergence)
    message: str
    customers: int
    distinct_rows: int


@dataclass(frozen=True)
class SummaryRows:
    """Distinct (frequency, recency, age) rows with how many customers share each.

    ``inverse[i]`` is the row of customer i, so ``values[rows.inverse]`` spreads a
    per-row result back to customers. Recency is set to 0 for customers without repeat
    purchases: the model does not use it, and it would only split identical rows.
    """

    frequency: FloatArray
    recency: FloatArray
    age: FloatArray
    weight: FloatArray
    inverse: NDArray[np.intp]

    def __len__(self) -> int:
        return len(self.frequency)

    @property
    def customers(self) -> int:
        return len(self.inverse)

    def scaled(self, unit_days: float) -> SummaryRows:
        """The same rows with recency and age divided by ``unit_days`` (days -> weeks)."""
        return SummaryRows(
            frequency=self.frequency,
            recency=self.recency / unit_days,
            age=self.age / unit_days,
            weight=self.weight,
            inverse=self.inverse,
        )


def validate_summary(
    frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return the three columns as float64 arrays, or raise ModelFitError saying what is wrong."""
    x, tx, T = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, age))
    if not (x.ndim == tx.ndim == T.ndim == 1) or not (len(x) == len(tx) == len(T)):
        raise ModelFitError("frequency, recency and age must be 1-D arrays of one length")
    if not (np.isfinite(x).all() and np.isfinite(tx).all() and np.isfinite(T).all()):
        raise ModelFitError("frequency, recency and age contain NaN or infinity")
    if (x < 0).any() or (x != np.floor(x)).any():
        raise ModelFitError("frequency must be a whole number of repeat purchases >= 0")
    if (tx < 0).any():
        raise ModelFitError("recency (age at the last purchase) must be >= 0")
    if (tx > T).any():
        raise ModelFitError("recency (age at the last purchase) exceeds age at the as-of date")
    return x, tx, T


def compress_summary(
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    weights: ArrayLike | None = None,
) -> SummaryRows:
    """Group identical (frequency, recency, age) rows; weights add up (default 1 each)."""
    x, tx, T = validate_summary(frequency, recency, age)
    tx = np.where(x > 0, tx, 0.0)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != x.shape or not np.isfinite(w).all() or (w < 0).any():
        raise ModelFitError("weights must be finite, >= 0 and one per row")
    if len(x) == 0:
        return SummaryRows(x, tx, T, w, np.zeros(0, dtype=np.intp))
    # np.unique(np.stack(...), axis=0) is the obvious spelling but took 4.3 s at 1M rows
    # (it sorts a structured view). One int64 key per row sorts in 0.1-0.2 s.
    keys = row_keys((x, tx, T))
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    weight = np.bincount(inverse, weights=w, minlength=len(first))
    return SummaryRows(x[first], tx[first], T[first], weight, inverse)


def row_keys(columns: tuple[FloatArray, ...]) -> NDArray[np.int64]:
    """One int64 per row of the given columns, equal exactly when the rows are equal."""
    keys = np.zeros(len(columns[0]), dtype=np.int64)
    span = 1
    for col in columns:
        if (col == np.floor(col)).all() and col.max() - col.min() < 2**31:
            code = (col - col.min()).astype(np.int64)  # whole days: no sort needed
            size = int(code.max()) + 1
        else:
            values, code = np.unique(col, return_inverse=True)
            code = code.ravel().astype(np.int64)
            size = len(values)
        if span * size >= 2**62:  # cannot overflow with fewer than ~2**20 values per column
            raise ModelFitError("too many distinct rows to compress")
        keys = keys * size + code
        span *= size
    return keys


class _Rows:
    """Rows prepared once per fit, for sums over customers in as few array passes as possible.

    Terms that depend on x only are computed on the distinct x and weighted by the
    customers per x; rows without repeat purchases need only ln(alpha+T) and 1/(alpha+T).
    """

    def __init__(self, rows: SummaryRows) -> None:
        x, w = rows.frequency, rows.weight
        self.total = float(w.sum())
        self.ux, inverse = np.unique(x, return_inverse=True)
        self.w_x = np.bincount(inverse.ravel(), weights=w, minlength=len(self.ux))
        self.repeat_x = self.ux > 0
        once = x == 0
        self.T0, self.w0 = rows.age[once], w[once]
        rep = ~once
        self.x, self.tx, self.T, self.w = x[rep], rows.recency[rep], rows.age[rep], w[rep]
        self.wx = self.w * self.x
        self.xi = inverse.ravel()[rep]

    def sums(self, r: float, alpha: float, a: float, b: float) -> tuple[float, FloatArray]:
        """Weighted sum of ln L and of its derivatives w.r.t. (r, alpha, a, b).

        With d = A2 - A1 = ln a - ln(b+x-1) + (r+x)(ln(alpha+T) - ln(alpha+t_x)) and
        w2 = expit(d) (w2 = 0 when x = 0), ln L = C + A1 + softplus(d), and, using
        B(a+1, b+x-1) = B(a, b+x) a / (b+x-1) and psi(z+1) = psi(z) + 1/z:

            d/dr     = psi(r+x) - psi(r) + ln alpha - ln(alpha+T) + w2 (ln(alpha+T) - ln(alpha+t_x))
            d/dalpha = r/alpha - (r+x)/(alpha+T) + w2 (r+x) (1/(alpha+T) - 1/(alpha+t_x))
            d/da     = psi(a+b) - psi(a+b+x) + w2 / a
            d/db     = psi(a+b) - psi(b) + psi(b+x) - psi(a+b+x) - w2 / (b+x-1)

        (tests/customers/value/test_bgnbd.py checks them against finite differences).
        """
        ux, w_x, rep_x = self.ux, self.w_x, self.repeat_x
        bx1 = np.where(rep_x, b + ux - 1.0, 1.0)
        # ln a - ln(b+x-1) = ln B(a+1, b+x-1) - ln B(a, b+x)
        log_ratio = (np.log(a) - np.log(bx1))[self.xi]
        inv_bx1 = (1.0 / bx1)[self.xi]
        psi_abx = digamma(a + b + ux)
        ll = w_x @ (gammaln(r + ux) + betaln(a, b + ux))
        ll += self.total * (r * np.log(alpha) - gammaln(r) - betaln(a, b))
        d_r = w_x @ digamma(r + ux) + self.total * (np.log(alpha) - digamma(r))
        d_alpha = self.total * r / alpha
        d_a = w_x @ (digamma(a + b) - psi_abx)
        d_b = w_x @ (digamma(a + b) - digamma(b) + digamma(b + ux) - psi_abx)

        # one-time buyers: ln L = ... + ln B(a, b) - r ln(alpha+T)
        l_T0 = np.log(alpha + self.T0)
        ll -= r * (self.w0 @ l_T0)
        d_r -= self.w0 @ l_T0
        d_alpha -= r * (self.w0 @ (1.0 / (alpha + self.T0)))

        # repeat buyers: ln L = ... + A1 + softplus(A2 - A1), A1 = ln B(a, b+x) - (r+x) ln(alpha+T)
        w, wx = self.w, self.wx
        l_T = np.log(alpha + self.T)
        l_t = np.log(alpha + self.tx)
        gap = l_T - l_t
        d = log_ratio + (r + self.x) * gap
        # softplus(d) and expit(d) from one exp: np.logaddexp alone cost 7 ms per 340k rows.
        # Beyond d = 700 the share is 1 and softplus(d) = d; exp would overflow there.
        e = np.exp(np.minimum(d, 700.0))
        p2 = e / (1.0 + e)  # share of the likelihood from "dropped out after the last purchase"
        softplus = np.where(d > 700.0, d, np.log1p(e))
        wp2 = w * p2
        rw = r * w + wx  # (r + x) w
        inv_T = 1.0 / (alpha + self.T)
        ll += w @ softplus - rw @ l_T
        d_r += wp2 @ gap - w @ l_T
        d_alpha += (wp2 * (r + self.x)) @ (inv_T - 1.0 / (alpha + self.tx)) - rw @ inv_T
        d_a += wp2.sum() / a
        d_b -= wp2 @ inv_bx1
        return float(ll), np.array([d_r, d_alpha, d_a, d_b])


def bgnbd_log_likelihood(
    params: BGNBDParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> FloatArray:
    """Per-customer ln L(r, alpha, a, b | x, t_x, T), in log space: finite for large x.

    ln L = lnG(r+x) - lnG(r) + r ln alpha - ln B(a,b) + logsumexp(A1, A2) with
    A1 = ln B(a, b+x) - (r+x) ln(alpha+T) and, for x > 0 only,
    A2 = ln B(a+1, b+x-1) - (r+x) ln(alpha+t_x).
    """
    x, tx, T = validate_summary(frequency, recency, age)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    a1 = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    xr = np.where(repeat, x, 1.0)  # keeps b+x-1 > 0 where A2 is dropped anyway
    a2 = np.where(repeat, betaln(a + 1, b + xr - 1) - (r + x) * np.log(alpha + tx), -np.inf)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    return head + np.logaddexp(a1, a2)


def negative_log_likelihood(log_params: ArrayLike, rows: SummaryRows) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood per customer and its gradient w.r.t. log-parameters.

    ``log_params`` is (ln r, ln alpha, ln a, ln b). The mean (not the sum) keeps the
    optimiser's tolerances independent of the number of customers.
    """
    return _objective(np.asarray(log_params, dtype=np.float64), _Rows(rows))


def _objective(theta: FloatArray, rows: _Rows) -> tuple[float, FloatArray]:
    params = np.exp(theta)
    ll, grad = rows.sums(*params)
    # d/d ln(theta) = theta * d/d theta
    return -ll / rows.total, grad * params / -rows.total


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    initial: BGNBDParams | None = None,
    max_iterations: int = 1000,
) -> BGNBDFit:
    """Maximum-likelihood BG/NBD parameters for the customers given.

    Raises ModelFitError when there is nothing to fit (no customers, no repeat buyers,
    invalid values). A fit that stops without converging is returned with
    ``converged=False`` and the optimiser's message; it never raises for that.
    """
    rows = compress_summary(frequency, recency, age, weights)
    return fit_bgnbd_rows(rows, initial=initial, max_iterations=max_iterations)


def fit_bgnbd_rows(
    rows: SummaryRows, *, initial: BGNBDParams | None = None, max_iterations: int = 1000
) -> BGNBDFit:
    """``fit_bgnbd`` on rows already grouped by ``compress_summary`` (and maybe ``scaled``)."""
    if rows.customers == 0 or rows.weight.sum() == 0:
        raise ModelFitError("no customers to fit")
    repeat = rows.frequency > 0
    if not (rows.weight[repeat] > 0).any():
        raise ModelFitError(
            f"no repeat buyers: all {rows.customers} customers bought on one day only, "
            "so the purchase rate and dropout cannot be told apart"
        )
    prepared = _Rows(rows)
    theta0 = np.log(_initial(rows) if initial is None else _as_array(initial))
    result = minimize(
        _objective,
        np.clip(theta0, -LOG_BOUND + 1, LOG_BOUND - 1),
        args=(prepared,),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-LOG_BOUND, LOG_BOUND)] * 4,
        # The mean log-likelihood is ~1; these stop at ~1e-9 relative in the parameters.
        options={"maxiter": max_iterations, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
    )
    return _fit_result(result, prepared, rows)


def _fit_result(result: OptimizeResult, prepared: _Rows, rows: SummaryRows) -> BGNBDFit:
    theta = np.asarray(result.x, dtype=np.float64)
    value, grad = _objective(theta, prepared)
    converged, at_limit, message = judge_convergence(
        result, theta, grad, names=("r", "alpha", "a", "b"), scales=("alpha",)
    )
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    return BGNBDFit(
        params=BGNBDParams(r=r, alpha=alpha, a=a, b=b),
        log_likelihood=-value * prepared.total,
        iterations=int(result.nit),
        converged=converged,
        at_limit=at_limit,
        message=message,
        customers=round(prepared.total),
        distinct_rows=len(rows),
    )


def judge_convergence(
    result: OptimizeResult,
    theta: FloatArray,
    grad: FloatArray,
    *,
    names: tuple[str, ...],
    scales: tuple[str, ...] = (),
) -> tuple[bool, bool, str]:
    """(converged, at_limit, message) from an L-BFGS-B result; Gamma-Gamma uses it too.

    L-BFGS-B sometimes ends with "ABNORMAL_TERMINATION_IN_LNSRCH" at the optimum, when
    the tolerances ask for more than float64 can give; a gradient that small is accepted.

    ``at_limit`` (never with ``converged``): a shape parameter (all but ``scales``, which
    carry the data's units) went beyond exp(+-12), or any parameter reached the
    exp(+-25) box, with a finite likelihood. The likelihood then keeps rising toward a
    limiting model instead of peaking: one dropout probability for everybody (a, b -> inf
    together), no dropout at all (a -> 0 or b -> inf), one purchase rate for everybody
    (r, alpha -> inf). Predictions at such a point are finite and close to the limiting
    model's, but the parameters mean little; small or odd bases end up here.
    """
    message = str(result.message)
    if not (np.isfinite(theta).all() and np.isfinite(grad).all()):
        return False, False, f"{message}; the likelihood is not finite at the last point"
    drifted = [
        f"{n} = {np.exp(t):.3g}"
        for n, t in zip(names, theta, strict=True)
        if abs(t) >= (LOG_BOUND - 1e-6 if n in scales else DRIFT_BOUND)
    ]
    if drifted:
        return (
            False,
            True,
            (
                f"{message}; degenerate fit, {', '.join(drifted)} ran off toward a limit: "
                "the data do not identify the model"
            ),
        )
    small_gradient = float(np.max(np.abs(grad))) < 1e-6
    return bool(result.success or small_gradient), False, message


def _initial(rows: SummaryRows) -> FloatArray:
    # With r = 1 the mean purchase rate r/alpha matches repeat purchases per unit of age.
    w = rows.weight
    purchases = float(w @ rows.frequency)
    exposure = float(w @ rows.age)
    alpha = exposure / purchases if purchases > 0 and exposure > 0 else 1.0
    return np.array([1.0, alpha, 1.0, 1.0])


def _as_array(params: BGNBDParams) -> FloatArray:
    return np.array([params.r, params.alpha, params.a, params.b], dtype=np.float64)
