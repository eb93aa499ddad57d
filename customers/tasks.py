"""Celery tasks: thin doors onto services, safe to run twice."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from customers import services


@shared_task(autoretry_for=(OSError,), retry_backoff=60, retry_backoff_max=900, max_retries=5)
def send_followup_digest() -> int:
    # OSError covers SMTP connection failures; unsent digests are released, so a retry
    # sends exactly those.
    return services.followup_digest_send()


def _same_queue(task) -> dict[str, str]:
    """Send follow-up tasks to the queue this task came from (workers may serve several)."""
    queue = (task.request.delivery_info or {}).get("routing_key")
    return {"queue": queue} if queue else {}


@shared_task(bind=True)
def recompute_customer_value(
    self, as_of: str | None = None, time_unit: str = "day", trigger: str = "nightly"
) -> int | None:
    """The nightly value run. A second fire for the same date finds the claim and stops.

    With CLV_DISTRIBUTED the batches go to the workers as tasks of their own.
    """
    from customers.services.value import RunAlreadyInProgress, value_recompute, value_run_start

    options = {
        "as_of": dt.date.fromisoformat(as_of) if as_of else None,
        "time_unit": time_unit,
        "trigger": trigger,
    }
    try:
        if not settings.CLV_DISTRIBUTED:
            return value_recompute(**options).pk
        run = value_run_start(**options)
    except RunAlreadyInProgress:
        return None
    for index in run.batches.values_list("index", flat=True):
        value_run_batch.apply_async((run.pk, index), **_same_queue(self))
    return run.pk


# Database hiccups are retried; anything else (a bug, bad data) fails the run at once.
_TRANSIENT = (OperationalError, InterfaceError)


@shared_task(bind=True, max_retries=3)
def value_run_batch(self, run_id: int, index: int) -> None:
    """Predict and write one batch of a distributed run; the last batch starts the finish."""
    from customers.services.value import value_run_batch as batch_service
    from customers.services.value import value_run_batch_failed

    try:
        last = batch_service(run_id=run_id, index=index)
    except _TRANSIENT as error:
        if self.request.retries >= self.max_retries:
            value_run_batch_failed(run_id=run_id, index=index, reason=repr(error))
            raise
        raise self.retry(exc=error, countdown=30 * 2**self.request.retries) from error
    except Exception as error:
        value_run_batch_failed(run_id=run_id, index=index, reason=repr(error))
        raise
    if last:
        value_run_finish.apply_async((run_id,), **_same_queue(self))


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=30, max_retries=3)
def value_run_finish(run_id: int) -> None:
    """Summaries and success of a distributed run once its batches are done."""
    from customers.services.value import value_run_finish as finish_service

    finish_service(run_id=run_id)
