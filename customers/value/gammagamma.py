"""Gamma-Gamma spend model (Fader & Hardie 2013): what an order is worth.

Monetary value here is a customer's mean net spend per repeat purchase: net spend on
the purchase days after the first one, divided by the repeat purchase days x. The
fit uses repeat buyers (x >= 1) with a positive mean only: one-time buyers carry no
repeat spend to learn from, and a zero or negative mean (returns exceeding purchases)
has no likelihood under a Gamma model. Every customer still gets a conditional
expected order value; customers left out of the fit get the population mean (x = 0)
or the formula with their mean spend counted as 0 (net spend <= 0).

The model assumes spend does not depend on frequency; ``spend_frequency_correlation``
on the fit is there to check that (near 0 is good).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

from customers.value.bgnbd import LOG_BOUND, judge_convergence
from customers.value.errors import ModelFitError

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class GammaGammaParams:
    """Order value ~ Gamma(shape p, rate nu) per customer; nu ~ Gamma(shape q, rate gamma)."""

    p: float
    q: float
    gamma: float

    @property
    def mean_spend(self) -> float:
        """Population mean order value p * gamma / (q - 1); infinite when q <= 1."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("inf")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGammaParams
    log_likelihood: float  # total over the fitted customers
    iterations: int
    converged: bool
    at_limit: bool  # not converged: drifting toward a limiting model (judge_convergence)
    message: str
    customers: int  # fitted: repeat buyers with a positive mean spend
    excluded: int  # left out: no repeat purchase, or mean spend <= 0
    spend_frequency_correlation: float  # Pearson, fitted customers; NaN if undefined


def gamma_gamma_sample(frequency: ArrayLike, monetary: ArrayLike) -> NDArray[np.bool_]:
    """Which customers the fit uses: x >= 1 and a finite, positive mean spend."""
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary, dtype=np.float64)
    if x.shape != m.shape or x.ndim != 1:
        raise ModelFitError("frequency and monetary value must be 1-D arrays of one length")
    return (x >= 1) & np.isfinite(m) & (m > 0)


class _Rows:
    def __init__(self, x: FloatArray, m: FloatArray) -> None:
        self.x = x
        self.m = m
        self.n = len(x)
        self.ux, inverse = np.unique(x, return_inverse=True)
        self.xi = inverse.ravel()
        self.log_m = np.log(m)
        self.log_ux = np.log(self.ux)
        self.sum_log_m = float(self.log_m.sum())
        self.sum_x_log_m = float(x @ self.log_m)
        self.count_x = np.bincount(self.xi, minlength=len(self.ux)).astype(np.float64)

    def ll_and_grad(self, p: float, q: float, g: float) -> tuple[float, FloatArray]:
        """Total log-likelihood and its gradient w.r.t. (p, q, gamma)."""
        ux, xi, n = self.ux, self.xi, self.n
        px = p * ux
        c = self.count_x  # customers per distinct x: per-x terms are summed once
        log_den = np.log(g + self.m * self.x)  # the only per-customer transcendental
        shape = (px + q)[xi]
        per_x = gammaln(px + q) - gammaln(px) + px * self.log_ux
        ll = (
            c @ per_x
            + n * (q * np.log(g) - gammaln(q))
            + p * self.sum_x_log_m
            - self.sum_log_m
            - shape @ log_den
        )
        psi_diff = digamma(px + q) - digamma(px)
        d_p = c @ (ux * (psi_diff + self.log_ux)) + self.sum_x_log_m - self.x @ log_den
        d_q = c @ digamma(px + q) + n * (np.log(g) - digamma(q)) - log_den.sum()
        d_g = n * q / g - float(np.sum(shape / (g + self.m * self.x)))
        return float(ll), np.array([d_p, d_q, d_g])


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike
) -> FloatArray:
    """Per-customer log density of the mean spend; customers need x >= 1 and monetary > 0."""
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary, dtype=np.float64)
    p, q, g = params.p, params.q, params.gamma
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(g)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(g + m * x)
    )


def _objective(theta: FloatArray, rows: _Rows) -> tuple[float, FloatArray]:
    params = np.exp(theta)
    ll, grad = rows.ll_and_grad(*params)
    return -ll / rows.n, -grad * params / rows.n


def negative_log_likelihood(
    log_params: ArrayLike, frequency: ArrayLike, monetary: ArrayLike
) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood and gradient w.r.t. (ln p, ln q, ln gamma)."""
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary, dtype=np.float64)
    return _objective(np.asarray(log_params, dtype=np.float64), _Rows(x, m))


def fit_gamma_gamma(
    frequency: ArrayLike,
    monetary: ArrayLike,
    *,
    initial: GammaGammaParams | None = None,
    max_iterations: int = 1000,
) -> GammaGammaFit:
    """Fit on the repeat buyers with positive mean spend (see the module docstring).

    Raises ModelFitError when fewer than two customers qualify; a fit that does not
    converge is returned with ``converged=False`` and the optimiser's message.
    """
    sample = gamma_gamma_sample(frequency, monetary)
    x = np.asarray(frequency, dtype=np.float64)[sample]
    m = np.asarray(monetary, dtype=np.float64)[sample]
    if len(x) < 2:
        raise ModelFitError(
            f"{len(x)} repeat buyers with a positive mean spend: the spend model needs at least 2"
        )
    rows = _Rows(x, m)
    if initial is None:  # population mean p * gamma / (q - 1) starts at the sample mean
        theta0 = np.log([1.0, 2.0, float(m.mean())])
    else:
        theta0 = np.log([initial.p, initial.q, initial.gamma])
    result = minimize(
        _objective,
        np.clip(theta0, -LOG_BOUND + 1, LOG_BOUND - 1),
        args=(rows,),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-LOG_BOUND, LOG_BOUND)] * 3,
        options={"maxiter": max_iterations, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
    )
    theta = np.asarray(result.x, dtype=np.float64)
    value, grad = _objective(theta, rows)
    converged, at_limit, message = judge_convergence(
        result, theta, grad, names=("p", "q", "gamma"), scales=("gamma",)
    )
    p, q, g = (float(v) for v in np.exp(theta))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = float(np.corrcoef(x, m)[0, 1]) if x.std() > 0 and m.std() > 0 else float("nan")
    return GammaGammaFit(
        params=GammaGammaParams(p=p, q=q, gamma=g),
        log_likelihood=-value * rows.n,
        iterations=int(result.nit),
        converged=converged,
        at_limit=at_limit,
        message=message,
        customers=rows.n,
        excluded=int((~sample).sum()),
        spend_frequency_correlation=corr,
    )


def expected_order_value(
    params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike
) -> FloatArray:
    """Conditional expected value of a future order, for every customer.

    E[M | x, m] = p (gamma + x m) / (p x + q - 1): a weighted average of the population
    mean p gamma / (q - 1) and the customer's own mean m, the own mean weighing more the
    more repeat purchases back it. x = 0 gives the population mean; a mean spend <= 0
    (or not finite) counts as 0. Raises ModelFitError where the expectation is infinite
    (q <= 1 for a one-time buyer, p x + q <= 1 in general).
    """
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary, dtype=np.float64)
    m = np.where(np.isfinite(m) & (m > 0) & (x > 0), m, 0.0)
    p, q, g = params.p, params.q, params.gamma
    den = p * x + q - 1.0
    if (den <= 0).any():
        raise ModelFitError(
            f"spend model q = {q:.3g} <= 1: the expected order value of customers with "
            "few repeat purchases is infinite (spend too heavy-tailed to model)"
        )
    return p * (g + x * m) / den
