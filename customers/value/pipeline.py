"""The model stage of a value run: per-customer summary columns in, every figure out.

``model_stage`` is what the service calls between loading the SQL summary and writing
the values: it fits BG/NBD and Gamma-Gamma once on the whole base, predicts for every
customer on the distinct (x, t_x, T) rows only (about a third of the customers at 1M),
and scores RFM. No ORM here: the input is any object with the summary columns.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from customers.value.bgnbd import BGNBDFit, SummaryRows, compress_summary, fit_bgnbd_rows
from customers.value.clv import (
    discount_factors,
    discounted_purchases_from_curve,
    historic_value,
    month_horizons,
    retention_years,
)
from customers.value.errors import ModelFitError
from customers.value.gammagamma import GammaGammaFit, expected_order_value, fit_gamma_gamma
from customers.value.predict import (
    UNIT_DAYS,
    alive_expected_by_pair,
    expected_purchases_at,
    next_purchase_wait,
    p_alive,
)
from customers.value.rfm import rfm_scores, segment_codes

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

HORIZON_DAYS = (30, 90, 365)


class SummaryColumns(Protocol):
    """Per-customer columns as of a date, in whole days (customers.selectors.ValueInputs)."""

    purchase_days: IntArray  # distinct days with a paid order; BG/NBD x = purchase_days - 1
    first_to_last_days: IntArray  # BG/NBD recency t_x in days
    first_to_as_of_days: IntArray  # BG/NBD age T in days
    last_to_as_of_days: IntArray  # RFM recency
    orders: IntArray
    net_revenue: FloatArray
    repeat_net_revenue: FloatArray  # net spend on the purchase days after the first


@dataclass(frozen=True)
class ModelResult:
    """Everything the run writes, one array entry per input customer (same order)."""

    frequency: IntArray  # BG/NBD x
    recency: FloatArray  # BG/NBD t_x, model time units
    age: FloatArray  # BG/NBD T, model time units
    p_alive: FloatArray
    churn_risk: FloatArray  # 1 - p_alive
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
    params: dict[str, float]  # r, alpha, a, b, p, q, gamma
    log_likelihood: float
    gg_log_likelihood: float
    gg_customers: int
    distinct_rows: int
    diagnostics: dict[str, Any]  # iterations, messages, timings: JSON-ready
    bgnbd: BGNBDFit = field(repr=False)
    gamma_gamma: GammaGammaFit = field(repr=False)
    unit_days: float = 1.0
    rows: SummaryRows | None = field(default=None, repr=False)

    def expected_purchases(self, days: float) -> FloatArray:
        """Expected purchase days in the next ``days`` days, per customer (for backtests)."""
        if self.rows is None:
            raise ValueError("this result was built without its distinct rows")
        curve = expected_purchases_at(
            self.bgnbd.params,
            [days / self.unit_days],
            self.rows.frequency,
            self.rows.recency,
            self.rows.age,
        )
        return curve[0][self.rows.inverse]


def model_stage(
    inputs: SummaryColumns,
    *,
    time_unit: str = "day",
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    as_of: dt.date,
    next_order_within_days: int = 365,
    require_convergence: bool = True,
    accept_limit_fits: bool = True,
    max_iterations: int = 1000,
    batch_size: int = 500_000,
) -> ModelResult:
    """Fit both models on all customers and compute every per-customer figure.

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

    days = np.asarray(inputs.purchase_days, dtype=np.int64)
    if len(days) == 0:
        raise ModelFitError(f"no customers with a paid order up to {as_of.isoformat()}")
    x = days - 1
    # Group on whole days, then convert: the same grouping for days and weeks.
    rows = compress_summary(x, inputs.first_to_last_days, inputs.first_to_as_of_days)
    rows = rows.scaled(unit_days)
    lap("compress")
    bg = fit_bgnbd_rows(rows, max_iterations=max_iterations)
    _check("BG/NBD", bg, require_convergence and not (accept_limit_fits and bg.at_limit))
    lap("bgnbd_fit")

    repeat_revenue = np.asarray(inputs.repeat_net_revenue, dtype=np.float64)
    monetary = np.divide(repeat_revenue, x, out=np.zeros(len(x)), where=x > 0)
    gg = fit_gamma_gamma(x, monetary, max_iterations=max_iterations)
    _check("Gamma-Gamma", gg, require_convergence and not (accept_limit_fits and gg.at_limit))
    order_value = expected_order_value(gg.params, x, monetary)
    lap("gamma_gamma_fit")

    # Predictions on distinct rows; [rows.inverse] spreads them to customers.
    months = month_horizons(horizon_months, unit_days=unit_days)
    horizons = np.concatenate([np.asarray(HORIZON_DAYS) / unit_days, months])
    k = len(HORIZON_DAYS)
    alive = p_alive(bg.params, rows.frequency, rows.recency, rows.age)
    fixed = np.empty((k, len(rows)))
    clv_purchases = np.empty(len(rows))
    factors = discount_factors(horizon_months, discount_rate)
    for start in range(0, len(rows), batch_size):
        part = slice(start, start + batch_size)
        # h per distinct (x, T) pair; E[purchases] = P(alive) * h
        h, pair = alive_expected_by_pair(bg.params, horizons, rows.frequency[part], rows.age[part])
        fixed[:, part] = alive[part] * np.take(h[:k], pair, axis=1)
        clv_purchases[part] = alive[part] * discounted_purchases_from_curve(h[k:], factors)[pair]
    wait_days = next_purchase_wait(bg.params, rows.frequency, rows.recency, rows.age) * unit_days
    inv = rows.inverse
    p_alive_c = alive[inv]
    next_order = _next_order_dates(wait_days[inv], as_of, next_order_within_days)
    lap("predict")

    scores = rfm_scores(inputs.last_to_as_of_days, inputs.orders, inputs.net_revenue)
    history = historic_value(
        inputs.net_revenue,
        inputs.orders,
        inputs.first_to_as_of_days,
        retention_years=retention_years(inputs.first_to_as_of_days, inputs.last_to_as_of_days),
    )
    lap("rfm_historic")

    return ModelResult(
        frequency=x,
        recency=np.asarray(inputs.first_to_last_days, dtype=np.float64) / unit_days,
        age=np.asarray(inputs.first_to_as_of_days, dtype=np.float64) / unit_days,
        p_alive=p_alive_c,
        churn_risk=1.0 - p_alive_c,
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
        params={**bg.params.as_dict(), **gg.params.as_dict()},
        log_likelihood=bg.log_likelihood,
        gg_log_likelihood=gg.log_likelihood,
        gg_customers=gg.customers,
        distinct_rows=len(rows),
        diagnostics={
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
            "retention_years": history.retention_years,
            "seconds": timings,
        },
        bgnbd=bg,
        gamma_gamma=gg,
        unit_days=unit_days,
        rows=rows,
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
