"""Outbound messages (the outbox shared by surveys and campaigns) and, later, campaigns,
budgets (6:3:1), channels and tracked links.

Every email Rapport sends to a customer is a ``Message`` row first. The send job claims
due rows in the database and checks consent, unsubscribe, the address and the contact
frequency cap at send time (campaigns.services.outbox), never only when queued.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from customers.models import ConsentPurpose, Customer


class MessageKind(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    SURVEY = "survey", "Survey"
    TRANSACTIONAL = "transactional", "Transactional"


# The consent each kind needs; transactional mail (receipts, replies to a request) needs
# none and is never capped.
KIND_PURPOSE: dict[str, str | None] = {
    MessageKind.MARKETING: ConsentPurpose.EMAIL_MARKETING,
    MessageKind.SURVEY: ConsentPurpose.SURVEYS,
    MessageKind.TRANSACTIONAL: None,
}
CAPPED_KINDS = (MessageKind.MARKETING, MessageKind.SURVEY)


class Message(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    class SkipReason(models.TextChoices):
        NO_CONSENT = "no_consent", "No consent for this kind of message"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        NO_ADDRESS = "no_address", "No email address"
        INVALID_ADDRESS = "invalid_address", "Invalid email address"
        EXPIRED = "expired", "Held back by the contact limit until it was no longer relevant"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=13, choices=MessageKind.choices)
    template = models.CharField(max_length=80, help_text="emails/<template>.subject.txt/.txt/.html")
    context = models.JSONField(default=dict, blank=True)
    # Makes queueing idempotent: "survey:3:order:981" is queued once however often asked.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    send_after = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    to_email = models.EmailField(max_length=254, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    skip_reason = models.CharField(max_length=16, choices=SkipReason.choices, blank=True)
    postponed = models.PositiveSmallIntegerField(
        default=0, help_text="Times the contact limit moved it later."
    )
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["marketing", "survey", "transactional"]),
                name="message_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending", "sent", "failed", "skipped"]),
                name="message_status_valid",
            ),
        ]
        indexes = [
            # the send job: due pending rows, oldest first (partial: the rest is history)
            models.Index(
                fields=["send_after"], condition=Q(status="pending"), name="message_due_idx"
            ),
            # the send job: stale claims of killed workers
            models.Index(
                fields=["claimed_at"], condition=Q(status="sending"), name="message_sending_idx"
            ),
            # the contact limit: a customer's capped messages sent in the window;
            # the customer page: messages newest first
            models.Index(fields=["customer", "sent_at"], name="message_customer_sent_idx"),
            models.Index(fields=["customer", "-created_at"], name="message_customer_idx"),
            # dashboard: what the outbox did in the last 7 days
            models.Index(fields=["created_at"], name="message_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.template} to {self.customer_id} ({self.status})"
