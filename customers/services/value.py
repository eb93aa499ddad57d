"""The customer value run: SQL summary -> model fit -> predictions -> bulk write.

One run is one row (CLVRun) with its parameters, fit quality, counts and timings. A
run claims its (as-of date, time unit) with a partial unique constraint, so a second
fire of the nightly job does nothing. It has three steps:

1. start: load the per-customer summary of the whole base, fit the model once
   (customers.value.pipeline.fit_model), backtest a past as-of date, store the fitted
   model on the run and cut the customers into id-range batches (CLVRunBatch rows);
2. batches: predict and write each slice's values (binary COPY), one transaction per
   batch, idempotent: a batch locks its row, and a done batch is never redone;
3. finish: in one transaction, segment summaries, movements and changes from the
   written values (set-based SQL), replace an earlier run of the same date, succeed.

``value_recompute`` does all three in this process, reusing the summary it loaded.
With ``settings.CLV_DISTRIBUTED`` the nightly task does step 1 and enqueues one Celery
task per batch, which any worker on any machine runs (reloading only its slice), and
the task completing the last batch enqueues the finish (docs/operations.md). Until the
finish, the run is RUNNING and pages keep showing the previous run; a failed run
deletes what it wrote and leaves the previous values in place.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from customers import selectors
from customers.bulk import bulk_write
from customers.models import (
    NO_SEGMENT,
    CLVRun,
    CLVRunBatch,
    CustomerValue,
    Order,
    Segment,
    SegmentMovement,
    SegmentSummary,
)
from customers.value import ModelFitError
from customers.value.pipeline import (
    BatchResult,
    Fit,
    FittedModel,
    backtest_metrics,
    fit_model,
    predict_batch,
    summary_slice,
)

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
            self.durations[name] = round(
                self.durations.get(name, 0.0) + time.perf_counter() - start, 3
            )


def _claim(*, as_of: dt.date, time_unit: str, horizon_months: int, discount_rate: float,
           churn_window_days: int, trigger: str) -> CLVRun:  # fmt: skip
    # A run left "running" by a killed worker must not block every later attempt.
    stale = CLVRun.objects.filter(
        as_of=as_of,
        time_unit=time_unit,
        status=CLVRun.Status.RUNNING,
        started_at__lt=timezone.now() - STALE_AFTER,
    )
    for run in stale:
        _fail(run, "abandoned (worker stopped)")
    try:
        with transaction.atomic():
            return CLVRun.objects.create(
                as_of=as_of,
                time_unit=time_unit,
                horizon_months=horizon_months,
                discount_rate=discount_rate,
                churn_window_days=churn_window_days,
                trigger=trigger,
            )
    except IntegrityError:
        raise RunAlreadyInProgress(
            f"a run as of {as_of} ({time_unit}) is already running"
        ) from None


@dataclass(frozen=True)
class RunOptions:
    """What a run is asked for; the keywords of value_recompute and value_run_start."""

    as_of: dt.date | None = None
    time_unit: str = CLVRun.TimeUnit.DAY
    horizon_months: int = 12
    discount_rate: float = 0.10
    churn_window_days: int = 365
    trigger: str = "manual"
    batch_size: int | None = None


def value_recompute(
    *,
    as_of: dt.date | None = None,
    time_unit: str = CLVRun.TimeUnit.DAY,
    horizon_months: int = 12,
    discount_rate: float = 0.10,
    churn_window_days: int = 365,
    trigger: str = "manual",
    batch_size: int | None = None,
) -> CLVRun:
    """Recompute every customer's value as of a date (default: today), in this process.

    Raises RunAlreadyInProgress if another run for the same date and unit is running.
    A model that cannot be fitted ends the run FAILED with the reason; it never raises.
    """
    timer = _Timer()
    options = RunOptions(as_of, time_unit, horizon_months, discount_rate, churn_window_days,
                         trigger, batch_size)  # fmt: skip
    run, fit, inputs = _start(options, timer)
    if fit is None:
        return run
    try:
        ids = inputs.customer_id
        for batch in run.batches.order_by("index"):
            lo, hi = np.searchsorted(ids, [batch.id_from, batch.id_to + 1])
            part = summary_slice(inputs, slice(int(lo), int(hi)))
            _write_batch(
                run=run, batch=batch, model=fit.model, ids=ids[lo:hi], part=part, timer=timer
            )
        with timer.stage("summaries"):
            _finish(run.pk, durations=timer.durations)
    except Exception as error:
        logger.exception("CLV run %s failed", run.pk)
        _fail(run, f"{type(error).__name__}: {error}", timer.durations)
        raise
    _prune_old_values()
    run.refresh_from_db()
    return run


def value_run_start(**options: Any) -> CLVRun:
    """Step 1 of a distributed run: fit and plan (``RunOptions`` keywords). Enqueue one
    batch task per ``run.batches`` row afterwards.

    The returned run is FAILED (with the reason) when the model cannot be fitted.
    """
    run, _, _ = _start(RunOptions(**options), _Timer())
    return run


def _start(options: RunOptions, timer: _Timer):
    as_of = options.as_of or timezone.localdate()
    if options.time_unit not in CLVRun.TimeUnit.values:
        raise ValueError(f"time unit must be day or week, not {options.time_unit!r}")
    run = _claim(
        as_of=as_of,
        time_unit=options.time_unit,
        horizon_months=options.horizon_months,
        discount_rate=options.discount_rate,
        churn_window_days=options.churn_window_days,
        trigger=options.trigger,
    )
    try:
        with timer.stage("load"):
            inputs = selectors.value_inputs(as_of=as_of)
        run.customers = len(inputs)
        run.repeat_customers = int((inputs.purchase_days > 1).sum())
        with timer.stage("model"):
            fit = fit_model(
                inputs,
                time_unit=options.time_unit,
                horizon_months=options.horizon_months,
                discount_rate=options.discount_rate,
                churn_window_days=options.churn_window_days,
                as_of=as_of,
            )
        with timer.stage("backtest"):
            run.backtest = _backtest(run=run, inputs_ids=inputs.customer_id, fit=fit)
        run.previous_run = selectors.clv_run_previous(before=run)
        run.model = fit.model.as_json()
        run.params = fit.model.params
        run.log_likelihood = fit.bgnbd.log_likelihood
        run.gg_log_likelihood = fit.gamma_gamma.log_likelihood
        run.gg_customers = fit.gamma_gamma.customers
        run.distinct_rows = len(fit.rows)
        run.durations = dict(timer.durations)
        with transaction.atomic():
            run.save()
            CLVRunBatch.objects.bulk_create(
                _plan(run, inputs.customer_id, options.batch_size or settings.CLV_BATCH_SIZE)
            )
    except ModelFitError as error:
        return _fail(run, str(error), timer.durations), None, None
    except Exception as error:
        logger.exception("CLV run %s failed", run.pk)
        _fail(run, f"{type(error).__name__}: {error}", timer.durations)
        raise
    return run, fit, inputs


def _plan(run: CLVRun, ids: np.ndarray, batch_size: int) -> list[CLVRunBatch]:
    """Id ranges of about ``batch_size`` customers each, covering every id of the base."""
    batches = []
    n = len(ids)
    for index, start in enumerate(range(0, n, batch_size)):
        end = min(start + batch_size, n)
        batches.append(
            CLVRunBatch(
                run=run,
                index=index,
                # the first and last ranges are open-ended, so a batch reloaded from SQL
                # picks up exactly the customers of its slice
                id_from=int(ids[start]) if index else 0,
                id_to=int(ids[end - 1]) if end < n else 2**62,
                customers=end - start,
            )
        )
    return batches


def value_run_batch(*, run_id: int, index: int) -> bool:
    """Step 2 on a worker: predict and write one batch (reloaded from SQL). Idempotent.

    Returns True when this call completed the run's last outstanding batch, so the
    caller enqueues the finish. A batch of a run that is no longer running does nothing.
    """
    run = CLVRun.objects.get(pk=run_id)
    if run.status != CLVRun.Status.RUNNING:
        return False
    batch = run.batches.get(index=index)
    if batch.status != CLVRunBatch.Status.PENDING:
        return False
    timer = _Timer()
    with timer.stage("load"):
        inputs = selectors.value_inputs(as_of=run.as_of, id_range=(batch.id_from, batch.id_to))
    model = FittedModel.from_json(run.model)
    wrote = _write_batch(
        run=run, batch=batch, model=model, ids=inputs.customer_id, part=inputs, timer=timer
    )
    return wrote and not run.batches.exclude(status=CLVRunBatch.Status.DONE).exists()


def value_run_batch_failed(*, run_id: int, index: int, reason: str) -> None:
    """A batch gave up (retries spent): the run fails and its values are removed."""
    CLVRunBatch.objects.filter(run_id=run_id, index=index).update(
        status=CLVRunBatch.Status.FAILED, error=reason[:2000], finished_at=timezone.now()
    )
    run = CLVRun.objects.filter(pk=run_id, status=CLVRun.Status.RUNNING).first()
    if run is not None:
        _fail(run, f"batch {index}: {reason}")


def value_run_finish(*, run_id: int) -> CLVRun | None:
    """Step 3 on a worker: summaries and success, once every batch is done. Idempotent."""
    seconds = CLVRunBatch.objects.filter(run_id=run_id).values_list("seconds", flat=True)
    run = _finish(run_id, durations={"batches": round(sum(s or 0.0 for s in seconds), 3)})
    if run is not None:
        _prune_old_values()
    return run


def _write_batch(*, run: CLVRun, batch: CLVRunBatch, model: FittedModel, ids: np.ndarray,
                 part, timer: _Timer) -> bool:  # fmt: skip
    """Predict and write one batch in one transaction; False if it was already done."""
    started = time.perf_counter()
    with timer.stage("predict"):
        result = predict_batch(model, part)
    with transaction.atomic():
        locked = CLVRunBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != CLVRunBatch.Status.PENDING:
            return False
        with timer.stage("write"):
            previous = _previous_segments(run, ids, batch)
            with connection.cursor() as cursor:
                cursor.execute(
                    "DELETE FROM customers_customervalue"
                    " WHERE run_id = %s AND customer_id BETWEEN %s AND %s",
                    [run.pk, batch.id_from, batch.id_to],
                )
            bulk_write(CustomerValue, _value_columns(run, ids, part, result, previous))
        CLVRunBatch.objects.filter(pk=batch.pk).update(
            status=CLVRunBatch.Status.DONE,
            attempts=F("attempts") + 1,
            seconds=round(time.perf_counter() - started, 3),
            finished_at=timezone.now(),
        )
    return True


def _previous_segments(run: CLVRun, ids: np.ndarray, batch: CLVRunBatch) -> np.ndarray:
    if run.previous_run_id is None:
        return np.full(len(ids), NO_SEGMENT, dtype=np.int64)
    prev_ids, prev_codes = selectors.run_segments(
        run_id=run.previous_run_id, id_range=(batch.id_from, batch.id_to)
    )
    return _align(ids, prev_ids, prev_codes, fill=NO_SEGMENT)


def _value_columns(run: CLVRun, ids: np.ndarray, part, result: BatchResult,
                   previous: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    return {
        "run": np.full(len(ids), run.pk, dtype=np.int64),
        "customer": ids,
        "orders": part.orders,
        "net_revenue": part.net_revenue,
        "avg_order_value": result.avg_order_value,
        "purchase_frequency": result.purchase_frequency,
        "age_days": part.first_to_as_of_days,
        "days_since_last_order": part.last_to_as_of_days,
        "historic_clv": result.historic_clv,
        "frequency": result.frequency,
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
        "segment": result.segment_codes,
        "previous_segment": previous,
    }


def _align(target: np.ndarray, ids: np.ndarray, values: np.ndarray, *, fill: int) -> np.ndarray:
    """``values`` keyed by sorted ``ids``, placed at the positions of sorted ``target``."""
    out = np.full(len(target), fill, dtype=np.int64)
    if len(ids):
        pos = np.minimum(np.searchsorted(ids, target), len(ids) - 1)
        found = ids[pos] == target
        out[found] = values[pos[found]]
    return out


def _fail(run: CLVRun, reason: str, durations: dict[str, float] | None = None) -> CLVRun:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM customers_customervalue WHERE run_id = %s", [run.pk])
        run.status = CLVRun.Status.FAILED
        run.error = reason[:2000]
        run.finished_at = timezone.now()
        if durations is not None:
            run.durations = durations
        run.save()
    return run


def _finish(run_id: int, *, durations: dict[str, float]) -> CLVRun | None:
    """Summaries, movements, changes and success in one transaction; None if not due."""
    with transaction.atomic():
        run = CLVRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != CLVRun.Status.RUNNING:
            return None
        if run.batches.exclude(status=CLVRunBatch.Status.DONE).exists():
            return None
        clock = time.perf_counter()
        has_previous = run.previous_run_id is not None
        _write_summaries(run, has_previous=has_previous)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO customers_segmentchange"
                " (customer_id, run_id, as_of, from_segment, to_segment)"
                " SELECT customer_id, run_id, %s, previous_segment, segment"
                " FROM customers_customervalue WHERE run_id = %s AND segment <> previous_segment",
                [connection.ops.adapt_datefield_value(run.as_of), run.pk],
            )
        # Replace an earlier success for the same date and unit (a re-run).
        older = CLVRun.objects.filter(
            as_of=run.as_of, time_unit=run.time_unit, status=CLVRun.Status.SUCCEEDED
        ).exclude(pk=run.pk)
        for old in older:
            _delete_run(old)
        run.durations = {
            **run.durations,
            **durations,
            "summaries": round(time.perf_counter() - clock, 3),
        }
        run.status = CLVRun.Status.SUCCEEDED
        run.finished_at = timezone.now()
        run.save()
    return run


def _write_summaries(run: CLVRun, *, has_previous: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT segment, COUNT(*), SUM(net_revenue), SUM(predicted_clv), AVG(churn_risk),"
            " SUM(CASE WHEN previous_segment <> segment THEN 1 ELSE 0 END)"
            " FROM customers_customervalue WHERE run_id = %s GROUP BY segment",
            [run.pk],
        )
        by_segment = {row[0]: row[1:] for row in cursor.fetchall()}
        cursor.execute(
            "SELECT previous_segment, segment, COUNT(*) FROM customers_customervalue"
            " WHERE run_id = %s GROUP BY previous_segment, segment",
            [run.pk],
        )
        pairs = cursor.fetchall()
    moved_out: dict[int, int] = {}
    for a, b, n in pairs:
        if a != b:
            moved_out[a] = moved_out.get(a, 0) + n
    summaries = []
    for code in Segment.values:
        n, revenue, clv, churn, moved_in = by_segment.get(code, (0, 0.0, 0.0, 0.0, 0))
        summaries.append(
            SegmentSummary(
                run=run,
                segment=code,
                customers=n,
                net_revenue=float(revenue or 0.0),
                predicted_clv=float(clv or 0.0),
                avg_predicted_clv=float(clv) / n if n else 0.0,
                avg_churn_risk=float(churn or 0.0) if n else 0.0,
                moved_in=int(moved_in or 0) if has_previous else 0,
                moved_out=moved_out.get(code, 0) if has_previous else 0,
            )
        )
    SegmentSummary.objects.bulk_create(summaries)
    if has_previous:
        SegmentMovement.objects.bulk_create(
            SegmentMovement(run=run, from_segment=a, to_segment=b, customers=n) for a, b, n in pairs
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


def _backtest(*, run: CLVRun, inputs_ids: np.ndarray, fit: Fit) -> dict:
    """For a past as-of date: predicted vs actual repeat purchase days after it."""
    last_order = Order.objects.filter(status=Order.Status.PAID).order_by("-ordered_at").first()
    if last_order is None or len(inputs_ids) == 0:
        return {}
    last_day = timezone.localtime(last_order.ordered_at).date()
    end = min(last_day, run.as_of + dt.timedelta(days=365))
    holdout_days = (end - run.as_of).days
    if holdout_days < 7:
        return {}
    predicted = fit.expected_purchases(holdout_days)
    ids, days = selectors.purchase_days_between(start=run.as_of, end=end)
    actual = _align(inputs_ids, ids, days, fill=0).astype(np.float64)
    return backtest_metrics(
        predicted=predicted,
        actual=actual,
        frequency=fit.rows.frequency[fit.rows.inverse].astype(np.int64),
        holdout_days=holdout_days,
    )
