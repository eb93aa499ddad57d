"""A distributed value run on a real Celery worker: one task per batch, then the finish."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from customers.models import CLVRun, CLVRunBatch, CustomerValue, SegmentSummary
from customers.tasks import recompute_customer_value

pytestmark = pytest.mark.services

END = dt.date(2026, 1, 1)


@pytest.fixture
def worker_env() -> dict[str, str]:
    return {"CLV_DISTRIBUTED": "true", "CLV_BATCH_SIZE": "60"}


def test_a_distributed_run_is_done_by_the_worker_batch_by_batch(celery_worker):
    call_command(
        "seed_demo", "--customers", "250", "--seed", "5", "--end-date", END.isoformat(),
        stdout=StringIO(),
    )  # fmt: skip

    result = recompute_customer_value.apply_async(
        kwargs={"as_of": END.isoformat()}, queue=celery_worker.queue
    )
    celery_worker.wait_for_log(rf"{result.id}\] succeeded", timeout=120)
    celery_worker.wait_for_log(r"value_run_finish\[[^\]]+\] succeeded", timeout=120)

    run = CLVRun.objects.get()
    assert run.status == CLVRun.Status.SUCCEEDED, run.error
    batches = run.batches.count()
    assert batches == -(-run.customers // 60) >= 4
    assert run.batches.filter(status=CLVRunBatch.Status.DONE).count() == batches
    assert len(celery_worker.text().split("value_run_batch[")) - 1 >= batches
    assert CustomerValue.objects.filter(run=run).count() == run.customers
    assert sum(SegmentSummary.objects.filter(run=run).values_list("customers", flat=True)) == (
        run.customers
    )
