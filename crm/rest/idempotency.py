"""``Idempotency-Key`` on POSTs that create things, as Stripe does it.

The first request with a key claims it by inserting a row under a unique constraint
(owner, key) before doing any work, in its own committed statement: a concurrent
duplicate's insert fails, so exactly one request does the work. Its response (status and
body) is then stored with the row for ``TTL``:

- the same key and the same body again: the stored response, with ``Idempotent-Replayed: true``;
- the same key with a different body (or another endpoint): 422 ``idempotency-key-reused``;
- the same key while the first is still running: 409 ``idempotency-key-in-flight``.

A request that fails with an error (a validation problem, a bug) releases its claim, so
the client can fix and retry with the same key; only answered requests are remembered. A
claim left unanswered by a process that died is released after ``ABANDONED_AFTER``.
Keys are per API key (per user for sessions), so two integrations never collide.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from crm.models import ApiKey, IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
TTL = dt.timedelta(hours=24)
# A claim still unanswered after this is from a process that died mid-request (a bulk of
# 1,000 takes seconds): it is released, or its key would answer 409 for a whole day.
ABANDONED_AFTER = dt.timedelta(minutes=10)
MAX_LENGTH = 255

PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description="A unique key per intended operation (a UUID): a retry with the same key"
    " and body returns the first response instead of doing the work again, with"
    f" {REPLAYED}: true. Remembered for 24 hours.",
)


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used with a different request body."
    problem_title = "Idempotency key reused"


class KeyInFlight(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_flight"
    default_detail = (
        "A request with this Idempotency-Key is still being processed; retry in a moment."
    )
    problem_title = "Idempotency key in flight"


def _owner(request: Request) -> str:
    if isinstance(request.auth, ApiKey):
        return f"key:{request.auth.pk}"
    return f"user:{request.user.pk}"


def _fingerprint(request: Request) -> str:
    canonical = json.dumps(
        [request.method, request.path, request.data], sort_keys=True, default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claim(request: Request, key: str, fingerprint: str) -> IdempotencyKey | None:
    """The new claim, or None when the key is taken (then the stored row is checked)."""
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                owner=_owner(request),
                key=key,
                method=request.method,
                path=request.path[:255],
                request_hash=fingerprint,
            )
    except IntegrityError:
        return None


def idempotent(request: Request, handler: Callable[[], Response]) -> Response:
    """Run ``handler`` once per Idempotency-Key (or every time without the header)."""
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    key = key.strip()
    if not key or len(key) > MAX_LENGTH:
        raise exceptions.ValidationError(
            {HEADER: [f"Give 1 to {MAX_LENGTH} characters, e.g. a UUID."]}
        )
    fingerprint = _fingerprint(request)
    claim = _claim(request, key, fingerprint)
    if claim is None:
        stored = IdempotencyKey.objects.filter(owner=_owner(request), key=key).first()
        now = timezone.now()
        if stored is not None and (
            stored.created_at < now - TTL
            or (stored.response_status is None and stored.created_at < now - ABANDONED_AFTER)
        ):
            # Expired or abandoned: forget it (unless someone else did) and start afresh.
            IdempotencyKey.objects.filter(pk=stored.pk, created_at=stored.created_at).delete()
            claim = _claim(request, key, fingerprint)
            stored = None
        if claim is None:
            if stored is None:  # released or replaced between our insert and this read
                raise KeyInFlight()
            if stored.request_hash != fingerprint:
                raise KeyReused()
            if stored.response_status is None:
                raise KeyInFlight()
            return Response(
                json.loads(stored.response_body),
                status=stored.response_status,
                headers={REPLAYED: "true"},
            )
    try:
        response = handler()
    except BaseException:
        claim.delete()
        raise
    # Stored as the client saw it: the rendered JSON, not Python values (Decimals, dates).
    claim.response_body = JSONRenderer().render(response.data).decode()
    claim.response_status = response.status_code
    claim.save(update_fields=["response_body", "response_status"])
    return response
