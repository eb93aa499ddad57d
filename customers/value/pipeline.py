"""The model stage of a value run: per-customer summary columns in, every figure out.

A run has two steps, so that the second can be spread over batches (and workers):

- ``fit_model`` fits BG/NBD and Gamma-Gamma once on the whole base and computes the
  other base-wide figures (RFM cut points, retention length): a ``FittedModel``, small
  and JSON-serialisable, stored on the run;
- ``predict_batch`` gives every figure for any subset of customers from that model,
  predicting on the subset's distinct (x, t_x, T) rows only. Its output for a customer
  does not depend on which batch the customer is in.

``model_stage`` is both on the whole base at once (tests, benchmarks). No ORM here:
the input is any object with the summary columns.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from customers.value.bgnbd import (
    BGNBDFit,
    BGNBDParams,
    SummaryRows,
    compress_summary,
    fit_bgnbd_rows,
)
from customers.value.clv import (
    discount_factors,
    discounted_purchases_from_curve,
    historic_value,
    month_horizons,
    retention_years,
)
from customers.value.errors import ModelFitError
from customers.value.gammagamma import (
    GammaGammaFit,
    GammaGammaParams,
    expected_order_value,
    fit_gamma_gamma,
)
from customers.value.predict import (
    UNIT_DAYS,
    alive_expected_by_pair,
    churn_risk,
    expected_purchases_at,
    next_purchase_wait,
    p_alive,
)
from customers.value.rfm import RFMThresholds, segment_codes

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

HORIZON_DAYS = (30, 90, 365)
CHURN_WINDOW_DAYS = 365  # churn risk: no purchase within a year


class SummaryColumns(Protocol):
    """Per-customer columns as of a date, in whole days (customers.selectors.ValueInputs)."""

    purchase_days: IntArray  # distinct days with a paid order; BG/NBD x = purchase_days - 1
    first_to_last_days: IntArray  # BG/NBD recency t_x in days
    first_to_as_of_days: IntArray  # BG/NBD age T in days
    last_to_as_of_days: IntArray  # RFM recency
    orders: IntArray
    net_revenue: FloatArray
    repeat_net_revenue: FloatArray  # net spend on the purchase days after the first

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class FittedModel:
    """Everything base-wide that predictions need; ``as_json`` / ``from_json`` round-trip."""

    bgnbd: BGNBDParams
    gamma_gamma: GammaGammaParams
    rfm: RFMThresholds
    retention_years: float
    as_of: dt.date
    unit_days: float = 1.0
    horizon_months: int = 12
    discount_rate: float = 0.10
    churn_window_days: float = CHURN_WINDOW_DAYS
    next_order_within_days: int = 365

    @property
    def params(self) -> dict[str, float]:
        """r, alpha, a, b, p, q, gamma as named in the papers."""
        return {**self.bgnbd.as_dict(), **self.gamma_gamma.as_dict()}

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FittedModel:
        return cls(
            **{
                **data,
                "bgnbd": BGNBDParams(**data["bgnbd"]),
                "gamma_gamma": GammaGammaParams(**data["gamma_gamma"]),
                "rfm": RFMThresholds(**data["rfm"]),
                "as_of": dt.date.fromisoformat(data["as_of"]),
            }
        )


@dataclass(frozen=True)
class Fit:
    """``fit_model``'s outcome: the model and how the fit went."""

    model: FittedModel
    bgnbd: BGNBDFit
    gamma_gamma: GammaGammaFit
    rows: SummaryRows  # the whole base's distinct rows, model units (for backtests)
    diagnostics: dict[str, Any]  # JSON-ready

    @property
    def log_likelihood(self) -> float:
        return self.bgnbd.log_likelihood

    def expected_purchases(self, days: float) -> FloatArray:
        """Expected purchase days in the next ``days`` days, per customer of the fitted base."""
        rows = self.rows
        curve = expected_purchases_at(
            self.model.bgnbd, [days / self.model.unit_days], rows.frequency, rows.recency, rows.age
        )
        return curve[0][rows.inverse]


@dataclass(frozen=True)
class BatchResult:
    """Every per-customer figure a run writes, one entry per input customer (same order)."""

    frequency: IntArray  # BG/NBD x
    recency: FloatArray  # BG/NBD t_x, model time units
    age: FloatArray  # BG/NBD T, model time units
    p_alive: FloatArray
    churn_risk: FloatArray  # P(no purchase within the churn window)
    expected_30: FloatArray  # expected purchase days in the next 30/90/365 days
    expected_90: FloatArray
    expected_365: FloatArray
    expected_order_value: FloatArray  # Gamma-Gamma conditional mean
    predicted_clv: FloatArray  # discounted, over horizon_months
    expected_next_order: NDArray[np.datetime64]  # datetime64[D]; NaT: none expected
    avg_order_value: FloatArray
    purchase_frequency: FloatArray
    historic_clv: FloatArray
    r_score: IntArray
    f_score: IntArray
    m_score: IntArray
    segment_codes: IntArray


@dataclass(frozen=True)
class ModelResult(BatchResult):
    """``model_stage``: a batch result for the whole base, with its fit."""

    params: dict[str, float] = field(default_factory=dict)  # r, alpha, a, b, p, q, gamma
    log_likelihood: float = 0.0
    gg_log_likelihood: float = 0.0
    gg_customers: int = 0
    distinct_rows: int = 0
    diagnostics: dict[str, Any] = field(default_factory=dict)  # JSON-ready
    bgnbd: BGNBDFit | None = field(default=None, repr=False)
    gamma_gamma: GammaGammaFit | None = field(default=None, repr=False)
    fit: Fit | None = field(default=None, repr=False)
    unit_days: float = 1.0

    def expected_purchases(self, days: float) -> FloatArray:
        """Expected purchase days in the next ``days`` days, per customer (for backtests)."""
        if self.fit is None:
            raise ValueError("this result was built without its fit")
        return self.fit.expected_purchases(days)


def _monetary(inputs: SummaryColumns) -> tuple[IntArray, FloatArray]:
    x = np.asarray(inputs.purchase_days, dtype=np.int64) - 1
    repeat_revenue = np.asarray(inputs.repeat_net_revenue, dtype=np.float64)
    return x, np.divide(repeat_revenue, x, out=np.zeros(len(x)), where=x > 0)


def fit_model(
    inputs: SummaryColumns,
    *,
    time_unit: str = "day",
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    churn_window_days: float = CHURN_WINDOW_DAYS,
    as_of: dt.date,
    next_order_within_days: int = 365,
    require_convergence: bool = True,
    accept_limit_fits: bool = True,
    max_iterations: int = 1000,
) -> Fit:
    """Fit both models on all customers and compute the base-wide figures.

    Raises ModelFitError when the data cannot be fitted (no customers, no repeat buyers,
    fewer than two repeat buyers with positive spend, infinite expected order value) or,
    with ``require_convergence``, when a fit stops without converging. A fit that ends
    drifting toward a limiting model (``at_limit``, typical of small bases: everyone with
    the same dropout probability, say) still gives finite, sensible predictions and is
    accepted unless ``accept_limit_fits`` is False; ``diagnostics`` records it.
    """
    if time_unit not in UNIT_DAYS:
        raise ValueError(f"time unit must be one of {sorted(UNIT_DAYS)}, not {time_unit!r}")
    unit_days = UNIT_DAYS[time_unit]
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    if len(inputs) == 0:
        raise ModelFitError(f"no customers with a paid order up to {as_of.isoformat()}")
    x, monetary = _monetary(inputs)
    # Group on whole days, then convert: the same grouping for days and weeks.
    rows = compress_summary(x, inputs.first_to_last_days, inputs.first_to_as_of_days)
    rows = rows.scaled(unit_days)
    lap("compress")
    bg = fit_bgnbd_rows(rows, max_iterations=max_iterations)
    _check("BG/NBD", bg, require_convergence and not (accept_limit_fits and bg.at_limit))
    lap("bgnbd_fit")
    gg = fit_gamma_gamma(x, monetary, max_iterations=max_iterations)
    _check("Gamma-Gamma", gg, require_convergence and not (accept_limit_fits and gg.at_limit))
    expected_order_value(gg.params, np.zeros(1), np.zeros(1))  # raises if infinite
    lap("gamma_gamma_fit")
    model = FittedModel(
        bgnbd=bg.params,
        gamma_gamma=gg.params,
        rfm=RFMThresholds.of(inputs.last_to_as_of_days, inputs.orders, inputs.net_revenue),
        retention_years=retention_years(inputs.first_to_as_of_days, inputs.last_to_as_of_days),
        as_of=as_of,
        unit_days=unit_days,
        horizon_months=horizon_months,
        discount_rate=discount_rate,
        churn_window_days=float(churn_window_days),
        next_order_within_days=next_order_within_days,
    )
    lap("base_figures")
    diagnostics = {
        "bgnbd": {
            "converged": bg.converged,
            "at_limit": bg.at_limit,
            "iterations": bg.iterations,
            "message": bg.message,
        },
        "gamma_gamma": {
            "converged": gg.converged,
            "at_limit": gg.at_limit,
            "iterations": gg.iterations,
            "message": gg.message,
            "excluded": gg.excluded,
            "spend_frequency_correlation": _json_float(gg.spend_frequency_correlation),
        },
        "retention_years": model.retention_years,
        "seconds": timings,
    }
    return Fit(model=model, bgnbd=bg, gamma_gamma=gg, rows=rows, diagnostics=diagnostics)


def predict_batch(
    model: FittedModel,
    inputs: SummaryColumns,
    *,
    chunk: int = 500_000,
    rows: SummaryRows | None = None,
) -> BatchResult:
    """Every per-customer figure for the customers of ``inputs`` (any subset of the base).

    ``rows``: the inputs' distinct rows in model units when already computed (the fit's,
    for the whole base), saving a second compression.
    """
    unit_days = model.unit_days
    x, monetary = _monetary(inputs)
    if rows is None:
        rows = compress_summary(x, inputs.first_to_last_days, inputs.first_to_as_of_days)
        rows = rows.scaled(unit_days)
    order_value = expected_order_value(model.gamma_gamma, x, monetary)

    # Predictions on distinct rows; [rows.inverse] spreads them to customers.
    months = month_horizons(model.horizon_months, unit_days=unit_days)
    horizons = np.concatenate([np.asarray(HORIZON_DAYS) / unit_days, months])
    k = len(HORIZON_DAYS)
    bg = model.bgnbd
    alive = p_alive(bg, rows.frequency, rows.recency, rows.age)
    fixed = np.empty((k, len(rows)))
    clv_purchases = np.empty(len(rows))
    factors = discount_factors(model.horizon_months, model.discount_rate)
    for start in range(0, len(rows), chunk):
        part = slice(start, start + chunk)
        # h per distinct (x, T) pair; E[purchases] = P(alive) * h
        h, pair = alive_expected_by_pair(bg, horizons, rows.frequency[part], rows.age[part])
        fixed[:, part] = alive[part] * np.take(h[:k], pair, axis=1)
        clv_purchases[part] = alive[part] * discounted_purchases_from_curve(h[k:], factors)[pair]
    risk = churn_risk(
        bg, rows.frequency, rows.recency, rows.age, window=model.churn_window_days / unit_days
    )
    wait_days = next_purchase_wait(bg, rows.frequency, rows.recency, rows.age) * unit_days
    inv = rows.inverse
    next_order = _next_order_dates(wait_days[inv], model.as_of, model.next_order_within_days)

    scores = model.rfm.scores(inputs.last_to_as_of_days, inputs.orders, inputs.net_revenue)
    history = historic_value(
        inputs.net_revenue,
        inputs.orders,
        inputs.first_to_as_of_days,
        retention_years=model.retention_years,
    )
    return BatchResult(
        frequency=x,
        recency=np.asarray(inputs.first_to_last_days, dtype=np.float64) / unit_days,
        age=np.asarray(inputs.first_to_as_of_days, dtype=np.float64) / unit_days,
        p_alive=alive[inv],
        churn_risk=risk[inv],
        expected_30=fixed[0][inv],
        expected_90=fixed[1][inv],
        expected_365=fixed[2][inv],
        expected_order_value=order_value,
        predicted_clv=clv_purchases[inv] * order_value,
        expected_next_order=next_order,
        avg_order_value=history.avg_order_value,
        purchase_frequency=history.purchase_frequency,
        historic_clv=history.historic_clv,
        r_score=scores.r,
        f_score=scores.f,
        m_score=scores.m,
        segment_codes=segment_codes(scores.r, scores.f),
    )


def model_stage(
    inputs: SummaryColumns, *, batch_size: int | None = None, **options: Any
) -> ModelResult:
    """``fit_model`` then ``predict_batch`` on the whole base (in ``batch_size`` slices)."""
    clock = time.perf_counter()
    fit = fit_model(inputs, **options)
    fitted = time.perf_counter()
    n = len(inputs)
    if batch_size is None or batch_size >= n:
        parts = [predict_batch(fit.model, inputs, rows=fit.rows)]
    else:
        parts = [
            predict_batch(fit.model, _Slice(inputs, slice(start, start + batch_size)))
            for start in range(0, n, batch_size)
        ]
    batch = _concat(parts)
    diagnostics = dict(fit.diagnostics)
    diagnostics["seconds"] = {
        **fit.diagnostics["seconds"],
        "predict": round(time.perf_counter() - fitted, 3),
        "total": round(time.perf_counter() - clock, 3),
    }
    return ModelResult(
        **{f: getattr(batch, f) for f in BatchResult.__dataclass_fields__},
        params=fit.model.params,
        log_likelihood=fit.bgnbd.log_likelihood,
        gg_log_likelihood=fit.gamma_gamma.log_likelihood,
        gg_customers=fit.gamma_gamma.customers,
        distinct_rows=len(fit.rows),
        diagnostics=diagnostics,
        bgnbd=fit.bgnbd,
        gamma_gamma=fit.gamma_gamma,
        fit=fit,
        unit_days=fit.model.unit_days,
    )


class _Slice:
    """A view of some customers of summary columns, itself summary columns."""

    _names = (
        "purchase_days",
        "first_to_last_days",
        "first_to_as_of_days",
        "last_to_as_of_days",
        "orders",
        "net_revenue",
        "repeat_net_revenue",
    )

    def __init__(self, inputs: SummaryColumns, where: slice | NDArray[np.bool_]) -> None:
        for name in self._names:
            setattr(self, name, np.asarray(getattr(inputs, name))[where])

    def __len__(self) -> int:
        return len(self.purchase_days)  # type: ignore[attr-defined]


def summary_slice(inputs: SummaryColumns, where: slice | NDArray[np.bool_]) -> SummaryColumns:
    """Some customers of ``inputs`` (a slice or mask), as summary columns."""
    return _Slice(inputs, where)  # type: ignore[return-value]


def _concat(parts: list[BatchResult]) -> BatchResult:
    if len(parts) == 1:
        return parts[0]
    return BatchResult(
        **{
            f: np.concatenate([getattr(p, f) for p in parts])
            for f in BatchResult.__dataclass_fields__
        }
    )


def _check(model: str, fit: BGNBDFit | GammaGammaFit, required: bool) -> None:
    if required and not fit.converged:
        raise ModelFitError(f"{model} fit did not converge: {fit.message}")


def _next_order_dates(
    wait_days: FloatArray, as_of: dt.date, within_days: int
) -> NDArray[np.datetime64]:
    """as_of + the median wait, rounded to a day; NaT when none is expected within the limit."""
    out = np.full(len(wait_days), np.datetime64("NaT"), dtype="datetime64[D]")
    ok = np.isfinite(wait_days) & (wait_days <= within_days)
    out[ok] = np.datetime64(as_of, "D") + np.rint(wait_days[ok]).astype(np.int64)
    return out


def _json_float(value: float) -> float | None:
    return value if np.isfinite(value) else None


def backtest_metrics(
    *, predicted: FloatArray, actual: FloatArray, frequency: IntArray, holdout_days: int
) -> dict[str, Any]:
    """How well expected purchases matched what customers did after the as-of date.

    ``predicted`` and ``actual`` are purchase days per customer in the holdout period.
    Besides totals and errors it gives the calibration-versus-holdout table by
    repeat frequency (0..6, 7+), the usual check of a BG/NBD fit. JSON-ready (no NaN).
    """
    pred = np.asarray(predicted, dtype=np.float64)
    act = np.asarray(actual, dtype=np.float64)
    freq = np.asarray(frequency, dtype=np.int64)
    n = len(pred)
    if n == 0:
        return {"holdout_days": holdout_days, "customers": 0}
    diff = pred - act
    total_pred, total_act = float(pred.sum()), float(act.sum())
    corr = None
    if pred.std() > 0 and act.std() > 0:
        corr = float(np.corrcoef(pred, act)[0, 1])
    bands = []
    capped = np.minimum(freq, 7)
    for k in range(8):
        members = capped == k
        if members.any():
            bands.append(
                {
                    "frequency": str(k) if k < 7 else "7+",
                    "customers": int(members.sum()),
                    "predicted_mean": float(pred[members].mean()),
                    "actual_mean": float(act[members].mean()),
                }
            )
    return {
        "holdout_days": int(holdout_days),
        "customers": n,
        "predicted_purchases": total_pred,
        "actual_purchases": total_act,
        "total_error_pct": 100.0 * (total_pred - total_act) / total_act if total_act else None,
        "mae": float(np.abs(diff).mean()),
        "rmse": float(np.sqrt((diff**2).mean())),
        "correlation": corr,
        "by_frequency": bands,
        # the names the model-quality page and its calibration chart read
        "predicted_total": total_pred,
        "actual_total": total_act,
        "aggregate_ratio": total_pred / total_act if total_act else None,
        "calibration": [
            {
                "label": b["frequency"],
                "customers": b["customers"],
                "predicted": b["predicted_mean"],
                "actual": b["actual_mean"],
            }
            for b in bands
        ],
    }
