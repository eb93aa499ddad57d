"""Celery tasks: thin doors onto services, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from feedback import services


@shared_task(autoretry_for=(OperationalError, InterfaceError), retry_backoff=60, max_retries=3)
def queue_due_surveys() -> dict[str, object]:
    # Safe to run twice: the invitation constraint and the outbox's dedupe keys make a
    # second run (or a retry after a half-done one) queue only what is still missing.
    return services.surveys_queue_due().as_dict()
