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
            # NULL external ids never collide (SQL), so no condition is needed, and an
            # unconditional constraint is what INSERT ... ON CONFLICT upserts can target.
            models.UniqueConstraint(
                fields=["source", "external_id"], name="customer_external_id_unique"
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
                fields=["source", "external_id"], name="interaction_external_id_unique"
            ),
        ]
        indexes = [
            # customer page timeline, newest first
            models.Index(fields=["customer", "-occurred_at"], name="interaction_timeline_idx"),
            # staff view: interactions per staff member over a period
            models.Index(fields=["staff", "occurred_at"], name="interaction_staff_idx"),
            # the hourly survey job: interactions some days ago, whoever had them
            models.Index(fields=["occurred_at"], name="interaction_date_idx"),
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


class Segment(models.IntegerChoices):
    """Retention segments from the R x F grid (docs/segments.md).

    Stored as small integers: the nightly run writes a million rows with binary COPY,
    which needs fixed-width columns. ``slug`` is the stable name used in URLs and the API.
    """

    CHAMPIONS = 1, "Champions"
    LOYAL = 2, "Loyal"
    POTENTIAL_LOYALIST = 3, "Potential loyalist"
    NEW = 4, "New"
    PROMISING = 5, "Promising"
    NEED_ATTENTION = 6, "Need attention"
    ABOUT_TO_SLEEP = 7, "About to sleep"
    AT_RISK = 8, "At risk"
    CANT_LOSE = 9, "Can't lose them"
    HIBERNATING = 10, "Hibernating"
    LOST = 11, "Lost"

    @property
    def slug(self) -> str:
        return self.name.lower()

    @classmethod
    def from_slug(cls, slug: str) -> Segment:
        return cls[slug.upper()]


NO_SEGMENT = 0  # previous_segment of a customer the previous run did not have


class CLVRun(models.Model):
    """One recompute of customer value: model parameters, fit quality, counts, timings.

    The "current" values are those of the latest succeeded run with the latest as-of
    date; a run as of a past date is a backtest and also stores how well it predicted
    the period after it.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class TimeUnit(models.TextChoices):
        DAY = "day", "Day"
        WEEK = "week", "Week"

    as_of = models.DateField()
    time_unit = models.CharField(max_length=4, choices=TimeUnit.choices, default=TimeUnit.DAY)
    horizon_months = models.PositiveSmallIntegerField(default=12)
    discount_rate = models.FloatField(default=0.10, help_text="Annual.")
    churn_window_days = models.PositiveSmallIntegerField(
        default=365, help_text="Churn risk: the probability of no purchase within this many days."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=20, default="manual")  # nightly, manual, backtest
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # BG/NBD r, alpha, a, b and Gamma-Gamma p, q, gamma, named as in the papers.
    params = models.JSONField(default=dict, blank=True)
    log_likelihood = models.FloatField(null=True, blank=True)
    gg_log_likelihood = models.FloatField(null=True, blank=True)
    customers = models.PositiveIntegerField(default=0)
    repeat_customers = models.PositiveIntegerField(default=0)
    gg_customers = models.PositiveIntegerField(default=0)
    distinct_rows = models.PositiveIntegerField(default=0)
    durations = models.JSONField(default=dict, blank=True)  # seconds per stage
    backtest = models.JSONField(default=dict, blank=True)
    # The fitted model and base-wide figures every batch needs (pipeline.FittedModel):
    # batch tasks on other workers rebuild it from here instead of refitting.
    model = models.JSONField(default=dict, blank=True)
    # Segments moved from this run's values (fixed when the run starts, for all batches).
    previous_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-as_of", "-started_at"]
        constraints = [
            # Every attempt is a row. One succeeded run per as-of date and unit: a re-run
            # replaces it only once it has succeeded, so a failure leaves the old values.
            models.UniqueConstraint(
                fields=["as_of", "time_unit"],
                condition=Q(status="succeeded"),
                name="clvrun_one_success_per_day_unit",
            ),
            # The claim: a second fire of the nightly job cannot start a parallel run.
            models.UniqueConstraint(
                fields=["as_of", "time_unit"],
                condition=Q(status="running"),
                name="clvrun_one_running_per_day_unit",
            ),
        ]
        indexes = [
            # the current run: latest succeeded by as-of date
            models.Index(fields=["status", "-as_of", "-finished_at"], name="clvrun_current_idx"),
        ]

    def __str__(self) -> str:
        return f"CLV run as of {self.as_of} ({self.status})"


class CLVRunBatch(models.Model):
    """One slice of a run's customers (an id range) to predict and write.

    The rows are the run's work list: a batch task (on any worker) locks its row, writes
    the slice's values in the same transaction and marks it done, so a redelivered task
    finds it done; the task that completes the last batch enqueues the run's finish.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    run = models.ForeignKey(CLVRun, on_delete=models.CASCADE, related_name="batches")
    index = models.PositiveIntegerField()
    id_from = models.BigIntegerField()
    id_to = models.BigIntegerField()  # inclusive
    customers = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="clvrunbatch_once"),
            models.CheckConstraint(
                condition=Q(id_from__lte=models.F("id_to")), name="clvrunbatch_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Batch {self.index} of run {self.run_id} ({self.status})"


class CustomerValue(models.Model):
    """What one customer is worth as of one run: history, predictions, RFM, segment."""

    # No database-level foreign keys: checking two per row doubles the time of the nightly
    # million-row COPY (measured in docs/benchmarks.md). Django still cascades deletes,
    # and the rows are only ever written by the run for ids it has just read.
    run = models.ForeignKey(
        CLVRun, on_delete=models.CASCADE, related_name="values", db_constraint=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="values", db_constraint=False
    )
    # history (default currency, net of returns; paid orders up to the as-of date)
    orders = models.PositiveIntegerField()
    net_revenue = models.FloatField()
    avg_order_value = models.FloatField()
    purchase_frequency = models.FloatField(help_text="Orders per year over the customer's age.")
    age_days = models.PositiveIntegerField()
    days_since_last_order = models.PositiveIntegerField()
    historic_clv = models.FloatField()
    # model inputs: repeat purchase days, age at last purchase, age at as-of (time units)
    frequency = models.PositiveIntegerField()
    recency = models.FloatField()
    age = models.FloatField()
    # predictions
    p_alive = models.FloatField()
    expected_purchases_30 = models.FloatField()
    expected_purchases_90 = models.FloatField()
    expected_purchases_365 = models.FloatField()
    expected_order_value = models.FloatField()
    predicted_clv = models.FloatField()
    expected_next_order = models.DateField(null=True, blank=True)
    churn_risk = models.FloatField()
    # RFM
    r_score = models.PositiveSmallIntegerField()
    f_score = models.PositiveSmallIntegerField()
    m_score = models.PositiveSmallIntegerField()
    segment = models.PositiveSmallIntegerField(choices=Segment.choices)
    previous_segment = models.PositiveSmallIntegerField(default=NO_SEGMENT)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "customer"], name="customervalue_once_per_run"),
            models.CheckConstraint(
                condition=Q(p_alive__gte=0) & Q(p_alive__lte=1), name="customervalue_p_alive_0_1"
            ),
        ]
        indexes = [
            # customer page: the customer's values, newest run first
            models.Index(fields=["customer", "run"], name="customervalue_customer_idx"),
            # segment page: a segment's members by predicted CLV
            models.Index(
                fields=["run", "segment", "-predicted_clv"], name="customervalue_segment_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Value of {self.customer_id} in run {self.run_id}"


class SegmentSummary(models.Model):
    """Per run and segment aggregates, written by the run so pages never scan 1M rows."""

    run = models.ForeignKey(CLVRun, on_delete=models.CASCADE, related_name="segment_summaries")
    segment = models.PositiveSmallIntegerField(choices=Segment.choices)
    customers = models.PositiveIntegerField()
    net_revenue = models.FloatField()
    predicted_clv = models.FloatField()
    avg_predicted_clv = models.FloatField()
    avg_churn_risk = models.FloatField()
    moved_in = models.PositiveIntegerField()
    moved_out = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "segment"], name="segmentsummary_once"),
        ]

    def __str__(self) -> str:
        return f"{self.segment} in run {self.run_id}"


class SegmentMovement(models.Model):
    """How many customers moved from one segment to another between two runs."""

    run = models.ForeignKey(CLVRun, on_delete=models.CASCADE, related_name="movements")
    from_segment = models.PositiveSmallIntegerField(default=NO_SEGMENT)  # 0: new this run
    to_segment = models.PositiveSmallIntegerField(choices=Segment.choices)
    customers = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "from_segment", "to_segment"], name="segmentmovement_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_segment} -> {self.to_segment}: {self.customers}"


class SegmentChange(models.Model):
    """A customer's move between segments (sparse history for the customer page)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="segment_changes")
    run = models.ForeignKey(CLVRun, on_delete=models.CASCADE, related_name="segment_changes")
    as_of = models.DateField()
    from_segment = models.PositiveSmallIntegerField(default=NO_SEGMENT)
    to_segment = models.PositiveSmallIntegerField(choices=Segment.choices)

    class Meta:
        ordering = ["-as_of"]
        indexes = [
            # customer page: segment history
            models.Index(fields=["customer", "-as_of"], name="segmentchange_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.from_segment} -> {self.to_segment}"
