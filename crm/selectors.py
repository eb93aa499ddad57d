"""Reads of the project-wide records of crm/models.py."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.models import ApiKey


def api_key_list() -> QuerySet[ApiKey]:
    """Every key, newest first, revoked ones included (the page shows when they went)."""
    return ApiKey.objects.select_related("created_by")
