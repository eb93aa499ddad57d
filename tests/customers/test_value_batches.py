"""A value run in batches: in one process, or spread over workers as one task per batch."""

import datetime as dt
import itertools
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from customers import tasks
from customers.models import (
    CLVRun,
    CLVRunBatch,
    CustomerValue,
    SegmentChange,
    SegmentMovement,
    SegmentSummary,
)
from customers.selectors import clv_run_current
from customers.services.value import (
    value_recompute,
    value_run_batch,
    value_run_batch_failed,
    value_run_finish,
    value_run_start,
)

END = dt.date(2026, 1, 1)
FIGURES = [
    "orders", "net_revenue", "historic_clv", "frequency", "recency", "age", "p_alive",
    "expected_purchases_30", "expected_purchases_365", "expected_order_value",
    "predicted_clv", "expected_next_order", "churn_risk", "r_score", "f_score", "m_score",
    "segment", "previous_segment",
]  # fmt: skip


@pytest.fixture
def base(db):
    call_command(
        "seed_demo", "--customers", "300", "--seed", "3", "--end-date", END.isoformat(),
        stdout=StringIO(),
    )  # fmt: skip


def _figures(run: CLVRun) -> dict[int, tuple]:
    rows = CustomerValue.objects.filter(run=run).values_list("customer_id", *FIGURES)
    return {
        row[0]: tuple(round(v, 9) if isinstance(v, float) else v for v in row[1:]) for row in rows
    }


def _summaries(run: CLVRun) -> list[tuple]:
    return list(
        SegmentSummary.objects.filter(run=run)
        .order_by("segment")
        .values_list("segment", "customers", "moved_in", "moved_out")
    )


def test_small_batches_give_the_same_values_as_one_batch(base):
    whole = value_recompute(as_of=END, batch_size=10_000)
    expected, summaries = _figures(whole), _summaries(whole)
    assert whole.batches.count() == 1

    batched = value_recompute(as_of=END, batch_size=37)

    assert batched.status == CLVRun.Status.SUCCEEDED, batched.error
    assert batched.batches.count() == -(-batched.customers // 37)
    assert set(batched.batches.values_list("status", flat=True)) == {"done"}
    assert _figures(batched) == expected
    assert _summaries(batched) == summaries


def test_batches_cover_every_customer_exactly_once(base):
    run = value_recompute(as_of=END, batch_size=50)
    batches = list(run.batches.order_by("index"))

    assert batches[0].id_from == 0 and batches[-1].id_to >= 2**62
    for before, after in itertools.pairwise(batches):
        assert before.id_to < after.id_from
    assert sum(b.customers for b in batches) == run.customers
    ids = np.array(
        sorted(CustomerValue.objects.filter(run=run).values_list("customer_id", flat=True))
    )
    for b in batches:
        assert ((ids >= b.id_from) & (ids <= b.id_to)).sum() == b.customers


def test_a_distributed_run_gives_the_same_values_whatever_the_order_of_its_batches(base):
    reference = value_recompute(as_of=END - dt.timedelta(days=60), batch_size=80)
    expected = _figures(value_recompute(as_of=END, batch_size=80))
    CLVRun.objects.filter(as_of=END).delete()
    CustomerValue.objects.exclude(run=reference).delete()

    run = value_run_start(as_of=END, batch_size=80, trigger="nightly")
    assert run.status == CLVRun.Status.RUNNING
    indexes = list(run.batches.values_list("index", flat=True))
    assert len(indexes) >= 3
    last_flags = []
    for index in reversed(indexes):
        last_flags.append(value_run_batch(run_id=run.pk, index=index))
        # pages keep showing the previous run while batches land
        assert clv_run_current() == reference
    assert last_flags == [False] * (len(indexes) - 1) + [True]
    # a redelivered batch task finds its batch done and writes nothing
    assert value_run_batch(run_id=run.pk, index=indexes[0]) is False

    finished = value_run_finish(run_id=run.pk)

    assert finished.status == CLVRun.Status.SUCCEEDED
    assert clv_run_current() == finished
    assert _figures(finished) == expected
    assert finished.previous_run == reference
    assert SegmentMovement.objects.filter(run=finished).exists()
    assert SegmentChange.objects.filter(run=finished).count() == sum(
        1 for v in expected.values() if v[FIGURES.index("segment")] != v[-1]
    )
    # a second finish (two last batches racing, a redelivery) changes nothing
    assert value_run_finish(run_id=run.pk) is None
    assert SegmentSummary.objects.filter(run=finished).count() == 11


def test_the_finish_waits_for_every_batch(base):
    run = value_run_start(as_of=END, batch_size=100)
    value_run_batch(run_id=run.pk, index=0)

    assert value_run_finish(run_id=run.pk) is None
    run.refresh_from_db()
    assert run.status == CLVRun.Status.RUNNING
    assert not SegmentSummary.objects.filter(run=run).exists()


def test_a_failed_batch_fails_the_run_and_keeps_the_previous_values(base):
    good = value_recompute(as_of=END - dt.timedelta(days=30))
    run = value_run_start(as_of=END, batch_size=100)
    value_run_batch(run_id=run.pk, index=0)
    assert CustomerValue.objects.filter(run=run).exists()

    value_run_batch_failed(run_id=run.pk, index=1, reason="OperationalError('gone')")

    run.refresh_from_db()
    assert run.status == CLVRun.Status.FAILED
    assert "batch 1" in run.error
    assert not CustomerValue.objects.filter(run=run).exists()
    assert clv_run_current() == good
    assert CustomerValue.objects.filter(run=good).count() == good.customers
    # the remaining batches of a failed run do nothing
    assert value_run_batch(run_id=run.pk, index=2) is False
    assert run.batches.get(index=1).status == CLVRunBatch.Status.FAILED


def test_the_nightly_task_spreads_batches_as_tasks_when_distributed(base, settings):
    settings.CLV_DISTRIBUTED = True
    settings.CLV_BATCH_SIZE = 90

    run_id = tasks.recompute_customer_value.apply(kwargs={"as_of": END.isoformat()}).get()

    run = CLVRun.objects.get(pk=run_id)
    assert run.status == CLVRun.Status.SUCCEEDED, run.error
    assert run.batches.count() == -(-run.customers // 90)
    assert CustomerValue.objects.filter(run=run).count() == run.customers
    assert "batches" in run.durations


def test_a_run_that_cannot_be_fitted_plans_no_batches(db, settings):
    settings.CLV_DISTRIBUTED = True
    run_id = tasks.recompute_customer_value.apply(kwargs={"as_of": END.isoformat()}).get()

    run = CLVRun.objects.get(pk=run_id)
    assert run.status == CLVRun.Status.FAILED
    assert not run.batches.exists()
