"""Celery tasks: thin doors onto services, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from customers import services


@shared_task(autoretry_for=(OSError,), retry_backoff=60, retry_backoff_max=900, max_retries=5)
def send_followup_digest() -> int:
    # OSError covers SMTP connection failures; unsent digests are released, so a retry
    # sends exactly those.
    return services.followup_digest_send()
