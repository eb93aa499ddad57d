"""Project-level Celery tasks: thin doors onto crm services."""

from __future__ import annotations

from celery import shared_task


@shared_task
def purge_idempotency_keys() -> int:
    from crm.services import idempotency_keys_purge

    return idempotency_keys_purge()
