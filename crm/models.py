"""Project-wide records the API needs: integration API keys and idempotency claims."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiScope(models.TextChoices):
    CUSTOMERS_READ = "customers:read", "Read customers and their interactions"
    CUSTOMERS_WRITE = "customers:write", "Create and update customers and interactions"
    ORDERS_READ = "orders:read", "Read orders and returns"
    ORDERS_WRITE = "orders:write", "Create and update orders and returns"
    VALUES_READ = "values:read", "Read value runs, segments and customer values"


class ApiKey(models.Model):
    """A key an integration sends as ``Authorization: Bearer rk_<prefix>_<secret>``.

    Only the SHA-256 of the whole key is stored: the secret has 256 bits of entropy, so a
    plain hash is enough (a slow password hash would cost every request). ``prefix`` is
    public and finds the row; the hash is compared in constant time.
    """

    name = models.CharField(max_length=100, help_text="What uses the key, e.g. Shopify sync.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_keys"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} (rk_{self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class IdempotencyKey(models.Model):
    """The claim and then the stored first response of a POST with ``Idempotency-Key``.

    Inserted before the work is done: the unique constraint makes concurrent duplicates
    wait for, then fail on, the first insert, so exactly one request does the work.
    """

    owner = models.CharField(max_length=40, help_text="key:<id> or user:<id>.")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    # NULL while the first request is still in flight.
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The JSON as sent, as text: jsonb would reorder its keys, and a replay is byte for byte.
    response_body = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_unique"),
        ]
        indexes = [
            # pruning expired claims
            models.Index(fields=["created_at"], name="idempotency_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"
