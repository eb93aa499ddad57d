"""Reads for customer pages, the follow-up queue and the dashboard."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from customers.models import (
    ConsentEvent,
    ConsentPurpose,
    Customer,
    FollowUp,
    Interaction,
    Order,
    Return,
    Tag,
)

ZERO = Decimal("0.00")


def customer_list(
    *, query: str = "", channel: str = "", tag: str = "", country: str = ""
) -> QuerySet[Customer]:
    """Customers matching a search over name, email and external id, with optional filters."""
    qs = Customer.objects.all()
    query = query.strip()
    if query:
        qs = qs.filter(
            Q(name__icontains=query)
            | Q(email__iexact=query)
            | Q(email__istartswith=query)
            | Q(external_id=query)
        )
    if channel:
        qs = qs.filter(acquisition_channel=channel)
    if country:
        qs = qs.filter(country=country.upper())
    if tag:
        # EXISTS rather than a join keeps one row per customer without DISTINCT.
        qs = qs.filter(
            Exists(
                Customer.tags.through.objects.filter(
                    customer_id=OuterRef("pk"), tag__name__iexact=tag
                )
            )
        )
    return qs.order_by("name", "id")


def tag_list() -> QuerySet[Tag]:
    return Tag.objects.order_by("name")


@dataclass(frozen=True)
class ConsentState:
    purpose: str
    label: str
    granted: bool
    event: ConsentEvent | None


def customer_consent_state(*, customer: Customer) -> list[ConsentState]:
    """The current state per purpose: the latest event wins; no event means not granted."""
    latest: dict[str, ConsentEvent] = {}
    for event in customer.consent_events.order_by("purpose", "-occurred_at", "-id"):
        latest.setdefault(event.purpose, event)
    return [
        ConsentState(
            purpose=value,
            label=label,
            granted=bool(latest.get(value) and latest[value].granted),
            event=latest.get(value),
        )
        for value, label in ConsentPurpose.choices
    ]


def customer_consent_log(*, customer: Customer) -> QuerySet[ConsentEvent]:
    return customer.consent_events.select_related("recorded_by").order_by("-occurred_at", "-id")


def customer_orders(*, customer: Customer) -> QuerySet[Order]:
    return customer.orders.prefetch_related(
        Prefetch("returns", queryset=Return.objects.order_by("returned_at"))
    ).order_by("-ordered_at", "-id")


def customer_timeline(*, customer: Customer) -> QuerySet[Interaction]:
    return (
        customer.interactions.select_related("staff")
        .prefetch_related(
            Prefetch("follow_ups", queryset=FollowUp.objects.select_related("done_by"))
        )
        .order_by("-occurred_at", "-id")
    )


def customer_open_follow_ups(*, customer: Customer) -> QuerySet[FollowUp]:
    return customer.follow_ups.filter(done_at__isnull=True).select_related("assigned_to")


@dataclass(frozen=True)
class CustomerSummary:
    orders: int
    gross_revenue: Decimal
    returned: Decimal
    net_revenue: Decimal
    first_order_at: dt.datetime | None
    last_order_at: dt.datetime | None


def customer_summary(*, customer: Customer) -> CustomerSummary:
    """Historic figures in the default currency; only paid orders count as revenue."""
    paid = Order.objects.filter(customer=customer, status=Order.Status.PAID)
    agg = paid.aggregate(
        n=Count("id"),
        gross=Coalesce(Sum("base_amount"), Value(ZERO), output_field=DecimalField()),
        first=Min("ordered_at"),
        last=Max("ordered_at"),
    )
    returned = Return.objects.filter(order__in=paid).aggregate(
        s=Coalesce(Sum("base_amount"), Value(ZERO), output_field=DecimalField())
    )["s"]
    return CustomerSummary(
        orders=agg["n"],
        gross_revenue=agg["gross"],
        returned=returned,
        net_revenue=agg["gross"] - returned,
        first_order_at=agg["first"],
        last_order_at=agg["last"],
    )


def followup_queue(
    *, assigned_to_id: int | None = None, today: dt.date | None = None
) -> QuerySet[FollowUp]:
    """Open follow-ups: unhappy survey answers (the feedback loop's detractors) first, then
    overdue, then by priority (unhappy customers first), then date. Each comes with the
    survey answer behind it, if any."""
    today = today or timezone.localdate()
    qs = FollowUp.objects.filter(done_at__isnull=True)
    if assigned_to_id is not None:
        qs = qs.filter(assigned_to_id=assigned_to_id)
    return (
        qs.select_related("customer", "assigned_to", "interaction", "survey_response")
        .annotate(
            detractor_rank=Case(
                When(survey_response__isnull=False, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            overdue_rank=Case(
                When(due_on__lt=today, then=Value(0)), default=Value(1), output_field=IntegerField()
            ),
        )
        .order_by("detractor_rank", "overdue_rank", "priority", "due_on", "id")
    )


@dataclass(frozen=True)
class FollowUpCounts:
    open: int
    overdue: int
    due_today: int


def followup_counts(
    *, today: dt.date | None = None, assigned_to_id: int | None = None
) -> FollowUpCounts:
    today = today or timezone.localdate()
    qs = FollowUp.objects.filter(done_at__isnull=True)
    if assigned_to_id is not None:
        qs = qs.filter(assigned_to_id=assigned_to_id)
    agg = qs.aggregate(
        open=Count("id"),
        overdue=Count("id", filter=Q(due_on__lt=today)),
        due_today=Count("id", filter=Q(due_on=today)),
    )
    return FollowUpCounts(**agg)


@dataclass(frozen=True)
class DashboardFigures:
    customers: int
    orders_30d: int
    revenue_30d: Decimal
    returns_30d: Decimal
    interactions_7d: int
    follow_ups: FollowUpCounts


def dashboard_figures(*, now: dt.datetime | None = None) -> DashboardFigures:
    # Foundation figures; the retention overview (segments, CLV, NPS) reads precomputed
    # aggregates once the nightly value run exists.
    now = now or timezone.now()
    since = now - dt.timedelta(days=30)
    orders = Order.objects.filter(ordered_at__gte=since, status=Order.Status.PAID).aggregate(
        n=Count("id"), s=Coalesce(Sum("base_amount"), Value(ZERO), output_field=DecimalField())
    )
    returned = Return.objects.filter(returned_at__gte=since).aggregate(
        s=Coalesce(Sum("base_amount"), Value(ZERO), output_field=DecimalField())
    )["s"]
    return DashboardFigures(
        customers=Customer.objects.count(),
        orders_30d=orders["n"],
        revenue_30d=orders["s"],
        returns_30d=returned,
        interactions_7d=Interaction.objects.filter(
            occurred_at__gte=now - dt.timedelta(days=7)
        ).count(),
        follow_ups=followup_counts(today=timezone.localdate(now)),
    )


def followup_digest_recipients(*, today: dt.date) -> QuerySet:
    """Active staff with an email address and open follow-ups due today or earlier."""
    from django.contrib.auth import get_user_model

    due = FollowUp.objects.filter(
        assigned_to_id=OuterRef("pk"), done_at__isnull=True, due_on__lte=today
    )
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .exclude(email="")
        .filter(Exists(due))
        .order_by("pk")
    )


def followup_due_for(*, user_id: int, today: dt.date) -> QuerySet[FollowUp]:
    return followup_queue(assigned_to_id=user_id, today=today).filter(due_on__lte=today)


@dataclass(frozen=True)
class ValueInputs:
    """Per-customer purchase summary as of a date, as columns (one entry per customer).

    Days are calendar days in settings.TIME_ZONE. ``purchase_days`` counts distinct
    days with a paid order; BG/NBD frequency is ``purchase_days - 1``.
    """

    customer_id: np.ndarray  # int64
    purchase_days: np.ndarray  # int64
    first_to_last_days: np.ndarray  # int64, BG/NBD recency before unit conversion
    first_to_as_of_days: np.ndarray  # int64, BG/NBD age T before unit conversion
    last_to_as_of_days: np.ndarray  # int64, RFM recency
    orders: np.ndarray  # int64
    net_revenue: np.ndarray  # float64, default currency, returns subtracted
    repeat_net_revenue: np.ndarray  # float64, net spend on days after the first one

    def __len__(self) -> int:
        return len(self.customer_id)


_VALUE_INPUTS_SQL = """
WITH ret AS (
    SELECT r.order_id, SUM(r.base_amount) AS amount
    FROM customers_return r
    WHERE r.returned_at < %(end)s
    GROUP BY r.order_id
), per_day AS (
    SELECT o.customer_id, {day} AS day, COUNT(*) AS orders,
           SUM(o.base_amount - COALESCE(ret.amount, 0)) AS spend
    FROM customers_order o
    LEFT JOIN ret ON ret.order_id = o.id
    WHERE o.status = 'paid' AND o.ordered_at < %(end)s{id_range}
    GROUP BY o.customer_id, {day}
), firsts AS (
    SELECT customer_id, day, orders, spend,
           MIN(day) OVER (PARTITION BY customer_id) AS first_day
    FROM per_day
)
SELECT customer_id,
       COUNT(*) AS purchase_days,
       {diff_last_first} AS first_to_last,
       {diff_as_of_first} AS first_to_as_of,
       {diff_as_of_last} AS last_to_as_of,
       SUM(orders) AS orders,
       CAST(SUM(spend) AS {float}) AS net_revenue,
       CAST(SUM(CASE WHEN day > first_day THEN spend ELSE 0 END) AS {float}) AS repeat_net
FROM firsts
GROUP BY customer_id
ORDER BY customer_id
"""

_VALUE_COLUMNS = (
    "customer_id",
    "purchase_days",
    "first_to_last_days",
    "first_to_as_of_days",
    "last_to_as_of_days",
    "orders",
    "net_revenue",
    "repeat_net_revenue",
)
_VALUE_INT_COLUMNS = 6  # the first six are int64, the last two float64

# The PostgreSQL summary comes back as binary COPY, parsed by numpy a chunk at a time: no
# Python object per customer, and memory is the result columns plus one chunk. Every
# column is NOT NULL int8 or float8, so each row is a fixed 98 bytes: a field count, then
# a 4-byte length before each 8-byte big-endian value.
_COPY_ROW = np.dtype(
    [("fields", ">i2")]
    + [
        field
        for i, name in enumerate(_VALUE_COLUMNS)
        for field in ((f"size{i}", ">i4"), (name, ">i8" if i < _VALUE_INT_COLUMNS else ">f8"))
    ]
)
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, no flags, no extension
_COPY_TRAILER = b"\xff\xff"
_COPY_CHUNK_BYTES = 65_536 * _COPY_ROW.itemsize

_VALUE_INPUTS_PG_SQL = """
COPY (
    WITH ret AS (
        SELECT r.order_id, SUM(r.base_amount) AS amount
        FROM customers_return r
        WHERE r.returned_at < %(end)s
        GROUP BY r.order_id
    ), per_day AS (
        SELECT o.customer_id, (o.ordered_at AT TIME ZONE %(tz)s)::date AS day,
               COUNT(*) AS orders, SUM(o.base_amount - COALESCE(ret.amount, 0)) AS spend
        FROM customers_order o
        LEFT JOIN ret ON ret.order_id = o.id
        WHERE o.status = 'paid' AND o.ordered_at < %(end)s{id_range}
        GROUP BY 1, 2
    ), firsts AS (
        SELECT customer_id, day, orders, spend,
               MIN(day) OVER (PARTITION BY customer_id) AS first_day
        FROM per_day
    )
    SELECT customer_id::int8,
           COUNT(*)::int8,
           (MAX(day) - MIN(day))::int8,
           (%(as_of)s::date - MIN(day))::int8,
           (%(as_of)s::date - MAX(day))::int8,
           SUM(orders)::int8,
           SUM(spend)::float8,
           COALESCE(SUM(spend) FILTER (WHERE day > first_day), 0)::float8
    FROM firsts
    GROUP BY customer_id
    ORDER BY customer_id
) TO STDOUT (FORMAT BINARY)
"""


def value_inputs(*, as_of: dt.date, id_range: tuple[int, int] | None = None) -> ValueInputs:
    """Aggregate paid orders (net of returns) up to and including ``as_of``, in SQL.

    ``id_range`` (lo, hi), both inclusive, limits it to customers with ids in that range:
    one batch of a run spread over several workers.
    """
    tz = timezone.get_current_timezone()
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    # adapt like a DateTimeField would: on SQLite a raw aware datetime becomes
    # "... 00:00:00+00:00", which sorts after the stored "... 00:00:00".
    params: dict[str, object] = {
        "end": connection.ops.adapt_datetimefield_value(end),
        "tz": str(tz),
        "as_of": as_of.isoformat(),
    }
    id_filter = ""
    if id_range is not None:
        id_filter = " AND o.customer_id BETWEEN %(id_lo)s AND %(id_hi)s"
        params["id_lo"], params["id_hi"] = int(id_range[0]), int(id_range[1])
    if connection.vendor == "postgresql":
        columns = _value_columns_postgresql(_VALUE_INPUTS_PG_SQL.format(id_range=id_filter), params)
    else:
        columns = _value_columns_fetched(id_filter, params)
    return ValueInputs(**columns)


def _value_columns_postgresql(sql: str, params: dict[str, object]) -> dict[str, np.ndarray]:
    pieces: dict[str, list[np.ndarray]] = {name: [] for name in _VALUE_COLUMNS}
    pending = bytearray()
    # No planner settings: work_mem up to 512MB and JIT off measured no faster at 10M
    # orders (docs/benchmarks.md).
    with connection.cursor() as cursor, cursor.cursor.copy(sql, params) as copy:
        for data in copy:  # one message per row
            pending += data
            if len(pending) >= len(_COPY_HEADER) + _COPY_CHUNK_BYTES:
                _strip_copy_header(pending)
                _take_copy_rows(pending, len(pending) // _COPY_ROW.itemsize, pieces)
    _strip_copy_header(pending)
    if pending[-len(_COPY_TRAILER) :] != _COPY_TRAILER:
        raise ValueError("binary COPY ended without its trailer")
    del pending[-len(_COPY_TRAILER) :]
    if len(pending) % _COPY_ROW.itemsize:
        raise ValueError("binary COPY rows are not the expected fixed width")
    _take_copy_rows(pending, len(pending) // _COPY_ROW.itemsize, pieces)
    # one column at a time, so the pieces of only one are held twice
    columns = {}
    for i, name in enumerate(_VALUE_COLUMNS):
        dtype = np.int64 if i < _VALUE_INT_COLUMNS else np.float64
        columns[name] = np.concatenate(pieces.pop(name)) if pieces[name] else np.empty(0, dtype)
    return columns


def _strip_copy_header(pending: bytearray) -> None:
    if pending.startswith(b"PGCOPY"):
        if not pending.startswith(_COPY_HEADER):
            raise ValueError("unexpected binary COPY header")
        del pending[: len(_COPY_HEADER)]


def _take_copy_rows(pending: bytearray, n: int, pieces: dict[str, list[np.ndarray]]) -> None:
    rows = np.frombuffer(pending, dtype=_COPY_ROW, count=n)
    widths_ok = all((rows[f"size{i}"] == 8).all() for i in range(len(_VALUE_COLUMNS)))
    if not ((rows["fields"] == len(_VALUE_COLUMNS)).all() and widths_ok):
        raise ValueError("binary COPY rows are not the expected fixed width")
    for i, name in enumerate(_VALUE_COLUMNS):
        pieces[name].append(rows[name].astype(np.int64 if i < _VALUE_INT_COLUMNS else np.float64))
    del rows  # release the view of the buffer before resizing it
    del pending[: n * _COPY_ROW.itemsize]


def _value_columns_fetched(id_filter: str, params: dict[str, object]) -> dict[str, np.ndarray]:
    # SQLite: Django registers django_datetime_cast_date on its connections
    sql = _VALUE_INPUTS_SQL.format(
        day="django_datetime_cast_date(o.ordered_at, %(tz)s, 'UTC')",
        diff_last_first="CAST(julianday(MAX(day)) - julianday(MIN(day)) AS INTEGER)",
        diff_as_of_first="CAST(julianday(%(as_of)s) - julianday(MIN(day)) AS INTEGER)",
        diff_as_of_last="CAST(julianday(%(as_of)s) - julianday(MAX(day)) AS INTEGER)",
        float="REAL",
        id_range=id_filter,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    ints = np.array([r[:_VALUE_INT_COLUMNS] for r in rows], dtype=np.int64).reshape(-1, 6)
    floats = np.array([r[_VALUE_INT_COLUMNS:] for r in rows], dtype=np.float64).reshape(-1, 2)
    return {
        name: ints[:, i] if i < _VALUE_INT_COLUMNS else floats[:, i - _VALUE_INT_COLUMNS]
        for i, name in enumerate(_VALUE_COLUMNS)
    }
