"""The customer value run: SQL summary -> model fit -> predictions -> bulk write.

One run is one row (CLVRun) with its parameters, fit quality, counts and timings. A
run claims its (as-of date, time unit) with a partial unique constraint, so a second
fire of the nightly job does nothing; the values of a run land in one transaction
together with its segment summaries, so pages never see half a run; and a failed run
leaves the previous values in place.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from customers import selectors
from customers.bulk import bulk_write
from customers.models import (
    NO_SEGMENT,
    CLVRun,
    CustomerValue,
    Order,
    Segment,
    SegmentChange,
    SegmentMovement,
    SegmentSummary,
)
from customers.value import ModelFitError
from customers.value.pipeline import ModelResult, backtest_metrics, model_stage

logger = logging.getLogger(__name__)

STALE_AFTER = dt.timedelta(hours=3)  # a "running" run older than this was abandoned
KEEP_RUNS = 3  # values kept for the latest runs; older runs keep their summaries only


class RunAlreadyInProgress(Exception):
    pass


@dataclass
class _Timer:
    durations: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.durations[name] = round(time.perf_counter() - start, 3)


def _claim(*, as_of: dt.date, time_unit: str, horizon_months: int, discount_rate: float,
           trigger: str) -> CLVRun:  # fmt: skip
    # A run left "running" by a killed worker must not block every later attempt.
    CLVRun.objects.filter(
        as_of=as_of,
        time_unit=time_unit,
        status=CLVRun.Status.RUNNING,
        started_at__lt=timezone.now() - STALE_AFTER,
    ).update(
        status=CLVRun.Status.FAILED, error="abandoned (worker stopped)", finished_at=timezone.now()
    )
    try:
        with transaction.atomic():
            return CLVRun.objects.create(
                as_of=as_of,
                time_unit=time_unit,
                horizon_months=horizon_months,
                discount_rate=discount_rate,
                trigger=trigger,
            )
    except IntegrityError:
        raise RunAlreadyInProgress(
            f"a run as of {as_of} ({time_unit}) is already running"
        ) from None


def value_recompute(
    *,
    as_of: dt.date | None = None,
    time_unit: str = CLVRun.TimeUnit.DAY,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    trigger: str = "manual",
) -> CLVRun:
    """Recompute every customer's value as of a date (default: today). Returns the run.

    Raises RunAlreadyInProgress if another run for the same date and unit is running.
    A model that cannot be fitted ends the run FAILED with the reason; it never raises.
    """
    as_of = as_of or timezone.localdate()
    if time_unit not in CLVRun.TimeUnit.values:
        raise ValueError(f"time unit must be day or week, not {time_unit!r}")
    run = _claim(
        as_of=as_of,
        time_unit=time_unit,
        horizon_months=horizon_months,
        discount_rate=discount_rate,
        trigger=trigger,
    )
    timer = _Timer()
    try:
        with timer.stage("load"):
            inputs = selectors.value_inputs(as_of=as_of)
        run.customers = len(inputs)
        run.repeat_customers = int((inputs.purchase_days > 1).sum())
        with timer.stage("model"):
            result = model_stage(
                inputs,
                time_unit=time_unit,
                horizon_months=horizon_months,
                discount_rate=discount_rate,
                as_of=as_of,
            )
        with timer.stage("backtest"):
            run.backtest = _backtest(run=run, inputs_ids=inputs.customer_id, result=result)
        with timer.stage("write"):
            _write(run=run, inputs=inputs, result=result, timer=timer)
        run.durations = dict(timer.durations)
        CLVRun.objects.filter(pk=run.pk).update(durations=run.durations)
    except ModelFitError as error:
        return _fail(run, str(error), timer)
    except Exception as error:
        logger.exception("CLV run %s failed", run.pk)
        _fail(run, f"{type(error).__name__}: {error}", timer)
        raise
    _prune_old_values()
    return run


def _align(target: np.ndarray, ids: np.ndarray, values: np.ndarray, *, fill: int) -> np.ndarray:
    """``values`` keyed by sorted ``ids``, placed at the positions of sorted ``target``."""
    out = np.full(len(target), fill, dtype=np.int64)
    if len(ids):
        pos = np.minimum(np.searchsorted(ids, target), len(ids) - 1)
        found = ids[pos] == target
        out[found] = values[pos[found]]
    return out


def _fail(run: CLVRun, reason: str, timer: _Timer) -> CLVRun:
    run.status = CLVRun.Status.FAILED
    run.error = reason[:2000]
    run.finished_at = timezone.now()
    run.durations = timer.durations
    run.save()
    return run


def _write(*, run: CLVRun, inputs, result: ModelResult, timer: _Timer) -> None:
    previous = selectors.clv_run_previous(before=run)
    prev_segment = np.full(len(inputs), NO_SEGMENT, dtype=np.int64)
    if previous is not None:
        prev_ids, prev_codes = selectors.run_segments(run_id=previous.pk)
        prev_segment = _align(inputs.customer_id, prev_ids, prev_codes, fill=NO_SEGMENT)
    segment = result.segment_codes
    columns = {
        "run": np.full(len(inputs), run.pk, dtype=np.int64),
        "customer": inputs.customer_id,
        "orders": inputs.orders,
        "net_revenue": inputs.net_revenue,
        "avg_order_value": result.avg_order_value,
        "purchase_frequency": result.purchase_frequency,
        "age_days": inputs.first_to_as_of_days,
        "days_since_last_order": inputs.last_to_as_of_days,
        "historic_clv": result.historic_clv,
        "frequency": inputs.purchase_days - 1,
        "recency": result.recency,
        "age": result.age,
        "p_alive": result.p_alive,
        "expected_purchases_30": result.expected_30,
        "expected_purchases_90": result.expected_90,
        "expected_purchases_365": result.expected_365,
        "expected_order_value": result.expected_order_value,
        "predicted_clv": result.predicted_clv,
        "expected_next_order": result.expected_next_order,
        "churn_risk": result.churn_risk,
        "r_score": result.r_score,
        "f_score": result.f_score,
        "m_score": result.m_score,
        "segment": segment,
        "previous_segment": prev_segment,
    }
    changed = segment != prev_segment
    with transaction.atomic():
        bulk_write(CustomerValue, columns)
        _write_summaries(
            run, inputs, result, segment, prev_segment, has_previous=previous is not None
        )
        bulk_write(
            SegmentChange,
            {
                "customer": inputs.customer_id[changed],
                "run": np.full(int(changed.sum()), run.pk, dtype=np.int64),
                "as_of": np.full(int(changed.sum()), np.datetime64(run.as_of, "D")),
                "from_segment": prev_segment[changed],
                "to_segment": segment[changed],
            },
        )
        # Replace an earlier success for the same date and unit (a re-run).
        older = CLVRun.objects.filter(
            as_of=run.as_of, time_unit=run.time_unit, status=CLVRun.Status.SUCCEEDED
        ).exclude(pk=run.pk)
        for old in older:
            _delete_run(old)
        run.params = result.params
        run.log_likelihood = result.log_likelihood
        run.gg_log_likelihood = result.gg_log_likelihood
        run.gg_customers = result.gg_customers
        run.distinct_rows = result.distinct_rows
        run.status = CLVRun.Status.SUCCEEDED
        run.finished_at = timezone.now()
        run.save()


def _write_summaries(run, inputs, result, segment, prev_segment, *, has_previous: bool) -> None:
    summaries = []
    for code in Segment.values:
        members = segment == code
        n = int(members.sum())
        summaries.append(
            SegmentSummary(
                run=run,
                segment=code,
                customers=n,
                net_revenue=float(inputs.net_revenue[members].sum()),
                predicted_clv=float(result.predicted_clv[members].sum()),
                avg_predicted_clv=float(result.predicted_clv[members].mean()) if n else 0.0,
                avg_churn_risk=float(result.churn_risk[members].mean()) if n else 0.0,
                moved_in=int((members & (prev_segment != code)).sum()) if has_previous else 0,
                moved_out=int(((prev_segment == code) & ~members).sum()) if has_previous else 0,
            )
        )
    SegmentSummary.objects.bulk_create(summaries)
    if has_previous:
        pairs, counts = np.unique(
            np.stack([prev_segment, segment], axis=1), axis=0, return_counts=True
        )
        SegmentMovement.objects.bulk_create(
            SegmentMovement(run=run, from_segment=int(a), to_segment=int(b), customers=int(c))
            for (a, b), c in zip(pairs, counts, strict=True)
        )


def _delete_run(run: CLVRun) -> None:
    # Raw deletes: the ORM would load a million CustomerValue rows to cascade them.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM customers_customervalue WHERE run_id = %s", [run.pk])
    run.delete()


def _prune_old_values() -> None:
    """Keep values for the latest KEEP_RUNS succeeded runs; older runs keep summaries."""
    keep = list(
        CLVRun.objects.filter(status=CLVRun.Status.SUCCEEDED)
        .order_by("-as_of", "-finished_at")
        .values_list("pk", flat=True)[:KEEP_RUNS]
    )
    with connection.cursor() as cursor:
        if keep:
            placeholders = ", ".join(["%s"] * len(keep))
            cursor.execute(
                f"DELETE FROM customers_customervalue WHERE run_id NOT IN ({placeholders})",  # noqa: S608
                keep,
            )


def _backtest(*, run: CLVRun, inputs_ids: np.ndarray, result: ModelResult) -> dict:
    """For a past as-of date: predicted vs actual repeat purchase days after it."""
    last_order = Order.objects.filter(status=Order.Status.PAID).order_by("-ordered_at").first()
    if last_order is None or len(inputs_ids) == 0:
        return {}
    last_day = timezone.localtime(last_order.ordered_at).date()
    end = min(last_day, run.as_of + dt.timedelta(days=365))
    holdout_days = (end - run.as_of).days
    if holdout_days < 7:
        return {}
    predicted = result.expected_purchases(holdout_days)
    ids, days = selectors.purchase_days_between(start=run.as_of, end=end)
    actual = _align(inputs_ids, ids, days, fill=0).astype(np.float64)
    return backtest_metrics(
        predicted=predicted, actual=actual, frequency=result.frequency, holdout_days=holdout_days
    )
