"""Celery tasks of the campaigns app: thin doors onto services, safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task
def send_due_messages() -> dict:
    """The every-minute outbox job. Several may run at once: rows are claimed with SKIP
    LOCKED, so they share the work and never send a row twice."""
    from campaigns.services.outbox import messages_send_due

    return messages_send_due().as_dict()
