"""Reads of the campaigns app: what the outbox did (campaign reads arrive with campaigns)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone

from campaigns.models import Message
from customers.models import Customer


@dataclass(frozen=True)
class OutboxSummary:
    days: int
    sent: int = 0
    pending: int = 0
    postponed: int = 0  # pending now because the contact limit moved them later
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason label -> count

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def outbox_summary(*, days: int = 7, now: dt.datetime | None = None) -> OutboxSummary:
    """Messages queued in the last ``days`` days by outcome; one grouped query."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    rows = (
        Message.objects.filter(created_at__gte=since)
        .values("status", "skip_reason")
        .annotate(n=Count("id"), held=Count("id", filter=Q(postponed__gt=0)))
    )
    counts: dict[str, int] = {}
    skipped: dict[str, int] = {}
    postponed = 0
    labels = dict(Message.SkipReason.choices)
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + row["n"]
        if row["status"] == Message.Status.SKIPPED:
            skipped[labels.get(row["skip_reason"], row["skip_reason"])] = row["n"]
        if row["status"] == Message.Status.PENDING:
            postponed += row["held"]
    return OutboxSummary(
        days=days,
        sent=counts.get(Message.Status.SENT, 0),
        pending=counts.get(Message.Status.PENDING, 0) + counts.get(Message.Status.SENDING, 0),
        postponed=postponed,
        failed=counts.get(Message.Status.FAILED, 0),
        skipped=dict(sorted(skipped.items(), key=lambda kv: -kv[1])),
    )


def customer_messages(*, customer: Customer, limit: int = 20) -> list[Message]:
    """A customer's latest messages, with why any were held back (customer page)."""
    return list(customer.messages.order_by("-created_at", "-id")[:limit])
