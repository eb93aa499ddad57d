"""Celery tasks: thin doors onto services, safe to run twice."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from customers import services


@shared_task(autoretry_for=(OSError,), retry_backoff=60, retry_backoff_max=900, max_retries=5)
def send_followup_digest() -> int:
    # OSError covers SMTP connection failures; unsent digests are released, so a retry
    # sends exactly those.
    return services.followup_digest_send()


@shared_task
def recompute_customer_value(
    as_of: str | None = None, time_unit: str = "day", trigger: str = "nightly"
) -> int | None:
    """The nightly value run. A second fire for the same date finds the claim and stops."""
    from customers.services.value import RunAlreadyInProgress, value_recompute

    try:
        run = value_recompute(
            as_of=dt.date.fromisoformat(as_of) if as_of else None,
            time_unit=time_unit,
            trigger=trigger,
        )
    except RunAlreadyInProgress:
        return None
    return run.pk
