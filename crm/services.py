"""Writes on the project-wide records of crm/models.py: API keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from crm.models import ApiKey, ApiScope, IdempotencyKey

KEY_PREFIX = "rk_"
# last_used_at is a hint for admins ("is this key still used?"), not an audit log:
# at most one write a minute per key instead of one per request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(
    *, name: str, scopes: Iterable[str], created_by: AbstractBaseUser
) -> tuple[ApiKey, str]:
    """A new key and its full text, which is never stored and so can be shown only once."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in ApiScope.values]
    if unknown:
        raise ValidationError({"scopes": f"Unknown scopes: {', '.join(unknown)}."})
    if not scopes:
        raise ValidationError({"scopes": "Give the key at least one scope."})
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        name=name.strip(),
        prefix=prefix,
        secret_hash=_hash(key),
        scopes=scopes,
        created_by=created_by,
    )
    return api_key, key


def api_key_revoke(*, api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])


def api_key_check(*, key: str) -> ApiKey | None:
    """The active key this text is, or None; notes the use at most once a minute."""
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, _, secret = key.removeprefix(KEY_PREFIX).partition("_")
    if not prefix or not secret:
        return None
    api_key = (
        ApiKey.objects.select_related("created_by")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, _hash(key)):
        return None
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    if api_key.last_used_at is None or api_key.last_used_at < stale:
        # Conditional, so concurrent requests of the same key write once.
        ApiKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)).filter(
            pk=api_key.pk
        ).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def idempotency_keys_purge(*, now: dt.datetime | None = None) -> int:
    """Delete remembered Idempotency-Key responses older than their 24 hours."""
    from crm.rest.idempotency import TTL

    cutoff = (now or timezone.now()) - TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
