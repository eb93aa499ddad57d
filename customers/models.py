"""Customers, their orders and returns, consent and the conversations staff have with them.

Money: ``amount`` is in the order's own ``currency``; ``base_amount`` is the same money in
``settings.DEFAULT_CURRENCY`` (given by the pushing system or converted at import), and is
what every report and the CLV engine add up, so mixed-currency shops still sum correctly.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

DEFAULT_SOURCE = "rapport"


class AcquisitionChannel(models.TextChoices):
    ORGANIC_SEARCH = "organic_search", "Organic search"
    PAID_SEARCH = "paid_search", "Paid search"
    PAID_SOCIAL = "paid_social", "Paid social"
    ORGANIC_SOCIAL = "organic_social", "Organic social"
    EMAIL = "email", "Email"
    REFERRAL = "referral", "Referral"
    DIRECT = "direct", "Direct"
    MARKETPLACE = "marketplace", "Marketplace"
    RETAIL = "retail", "Retail store"
    EVENTS = "events", "Events"
    PARTNER = "partner", "Partner"
    OTHER = "other", "Other"


class Tag(models.Model):
    """An interest or label ("running", "b2b", "vip") used to segment and personalise."""

    name = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="tag_name_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    source = models.CharField(
        max_length=40, default=DEFAULT_SOURCE, help_text="System the customer came from."
    )
    # NULL, not "", for unknown: the unique constraints below must ignore missing values.
    external_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    email = models.EmailField(max_length=254, null=True, blank=True)  # noqa: DJ001
    name = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    locale = models.CharField(max_length=10, blank=True, help_text="Language, e.g. pl, uk, en.")
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2.")
    acquisition_channel = models.CharField(
        max_length=20, choices=AcquisitionChannel.choices, default=AcquisitionChannel.OTHER
    )
    acquired_at = models.DateField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers")
    loyalty_member_since = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=Q(external_id__isnull=False),
                name="customer_external_id_unique",
            ),
            models.UniqueConstraint(
                Lower("email"), condition=Q(email__isnull=False), name="customer_email_unique_ci"
            ),
        ]
        indexes = [
            # customer list: default ordering and name search prefix
            models.Index(fields=["name", "id"], name="customer_name_idx"),
            # customer list filter by channel
            models.Index(fields=["acquisition_channel"], name="customer_channel_idx"),
            # API sync: ?updated_since=
            models.Index(fields=["updated_at"], name="customer_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.email or f"Customer {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("customers:detail", args=[self.pk])


class ConsentPurpose(models.TextChoices):
    EMAIL_MARKETING = "email_marketing", "Marketing email"
    SURVEYS = "surveys", "Feedback surveys"
    PROFILING = "profiling", "Personalisation and profiling"


class ConsentEvent(models.Model):
    """Append-only log; the current state per purpose is the latest event (selectors)."""

    class Source(models.TextChoices):
        FORM = "form", "Sign-up form"
        STAFF = "staff", "Recorded by staff"
        IMPORT = "import", "Import"
        API = "api", "API"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribe link"
        SYSTEM = "system", "System"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consent_events")
    purpose = models.CharField(max_length=20, choices=ConsentPurpose.choices)
    granted = models.BooleanField()
    source = models.CharField(max_length=20, choices=Source.choices)
    note = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # current state: latest event per (customer, purpose)
            models.Index(fields=["customer", "purpose", "-occurred_at"], name="consent_latest_idx"),
        ]

    def __str__(self) -> str:
        verb = "granted" if self.granted else "withdrew"
        return f"{self.customer_id} {verb} {self.purpose}"


class Order(models.Model):
    class Status(models.TextChoices):
        PAID = "paid", "Paid"
        REFUNDED = "refunded", "Refunded"
        CANCELLED = "cancelled", "Cancelled"

    class SalesChannel(models.TextChoices):
        WEB = "web", "Web shop"
        APP = "app", "Mobile app"
        STORE = "store", "Store"
        MARKETPLACE = "marketplace", "Marketplace"
        PHONE = "phone", "Phone"
        OTHER = "other", "Other"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    source = models.CharField(max_length=40, default=DEFAULT_SOURCE)
    external_id = models.CharField(max_length=100)
    ordered_at = models.DateTimeField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    base_amount = models.DecimalField(
        max_digits=14, decimal_places=2, help_text="Amount in the default currency."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PAID)
    sales_channel = models.CharField(
        max_length=12, choices=SalesChannel.choices, default=SalesChannel.WEB
    )
    product_line = models.CharField(max_length=60, blank=True)
    guarantee_days = models.PositiveIntegerField(default=30)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-ordered_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="order_external_id_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_gte_0"),
            models.CheckConstraint(condition=Q(base_amount__gte=0), name="order_base_amount_gte_0"),
            models.CheckConstraint(
                condition=Q(status__in=["paid", "refunded", "cancelled"]), name="order_status_valid"
            ),
        ]
        indexes = [
            # customer page (orders newest first) and the per-customer CLV summary
            models.Index(fields=["customer", "ordered_at"], name="order_customer_date_idx"),
            # dashboard revenue over a period
            models.Index(fields=["ordered_at"], name="order_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.amount} {self.currency})"


class Return(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="returns")
    source = models.CharField(max_length=40, default=DEFAULT_SOURCE)
    external_id = models.CharField(max_length=100)
    returned_at = models.DateTimeField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    base_amount = models.DecimalField(max_digits=14, decimal_places=2)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-returned_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="return_external_id_unique"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="return_amount_gte_0"),
            models.CheckConstraint(
                condition=Q(base_amount__gte=0), name="return_base_amount_gte_0"
            ),
        ]
        indexes = [
            # return rate over a period
            models.Index(fields=["returned_at"], name="return_date_idx"),
        ]

    def __str__(self) -> str:
        return f"Return {self.external_id} of {self.order_id}"


class Interaction(models.Model):
    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        CHAT = "chat", "Chat"
        VISIT = "visit", "Visit"
        NOTE = "note", "Note"

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"
        INTERNAL = "internal", "Internal"

    class Outcome(models.TextChoices):
        RESOLVED = "resolved", "Resolved"
        FOLLOW_UP = "follow_up", "Needs follow-up"
        POSITIVE = "positive", "Positive"
        NEUTRAL = "neutral", "Neutral"
        COMPLAINT = "complaint", "Complaint"
        NO_ANSWER = "no_answer", "No answer"
        SALE = "sale", "Sale"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="interactions")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
    )
    source = models.CharField(max_length=40, default=DEFAULT_SOURCE)
    # NULL for interactions logged here; unique per source when they come from a helpdesk.
    external_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    kind = models.CharField(max_length=10, choices=Kind.choices)
    direction = models.CharField(
        max_length=10, choices=Direction.choices, default=Direction.OUTBOUND
    )
    occurred_at = models.DateTimeField(default=timezone.now)
    summary = models.TextField()
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.NEUTRAL)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=Q(external_id__isnull=False),
                name="interaction_external_id_unique",
            ),
        ]
        indexes = [
            # customer page timeline, newest first
            models.Index(fields=["customer", "-occurred_at"], name="interaction_timeline_idx"),
            # staff view: interactions per staff member over a period
            models.Index(fields=["staff", "occurred_at"], name="interaction_staff_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with {self.customer_id} on {self.occurred_at:%Y-%m-%d}"


class FollowUp(models.Model):
    """A promise to get back to a customer by a date.

    Created when an interaction asks for one, and later by the feedback loop for
    detractors; the follow-up queue lists the open ones, overdue first.
    """

    class Priority(models.IntegerChoices):
        # Lower sorts first: unhappy customers are worked before routine call-backs.
        URGENT = 1, "Urgent"
        HIGH = 2, "High"
        NORMAL = 3, "Normal"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="follow_ups")
    interaction = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    reason = models.CharField(max_length=200)
    due_on = models.DateField()
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_ups",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["due_on", "priority", "id"]
        indexes = [
            # follow-up queue: open ones by due date (partial: done ones never queried there)
            models.Index(
                fields=["due_on", "priority"],
                condition=Q(done_at__isnull=True),
                name="followup_open_queue_idx",
            ),
            models.Index(fields=["customer", "due_on"], name="followup_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"Follow up {self.customer_id} by {self.due_on}: {self.reason}"

    @property
    def is_open(self) -> bool:
        return self.done_at is None

    def is_overdue(self, today: object | None = None) -> bool:
        return self.is_open and self.due_on < (today or timezone.localdate())


class FollowUpDigest(models.Model):
    """One morning email per staff member per day; the row is the claim that makes the
    digest job safe to run twice (a second run finds the row and sends nothing)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    follow_ups = models.PositiveIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="followup_digest_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"Digest for {self.user_id} on {self.day}"
