"""Reads for customer value: the current run, previous segments, actual purchases."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.db import connection, models
from django.utils import timezone

from customers.models import CLVRun, Customer, CustomerValue, SegmentChange, SegmentSummary
from customers.value.rfm import BY_CODE


def clv_run_current() -> CLVRun | None:
    """The run whose values the pages show: latest succeeded as-of date, newest first."""
    return (
        CLVRun.objects.filter(status=CLVRun.Status.SUCCEEDED)
        .order_by("-as_of", "-finished_at")
        .first()
    )


def clv_run_previous(*, before: CLVRun) -> CLVRun | None:
    return (
        CLVRun.objects.filter(
            status=CLVRun.Status.SUCCEEDED, time_unit=before.time_unit, as_of__lt=before.as_of
        )
        .order_by("-as_of", "-finished_at")
        .first()
    )


def clv_run_list(*, limit: int = 30) -> list[CLVRun]:
    return list(CLVRun.objects.order_by("-started_at")[:limit])


def run_segments(
    *, run_id: int, id_range: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(customer ids ascending, segment codes) of one run, as columns; ids in ``id_range``."""
    lo, hi = id_range if id_range is not None else (0, 2**62)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT customer_id, segment FROM customers_customervalue WHERE run_id = %s"
            " AND customer_id BETWEEN %s AND %s ORDER BY customer_id",
            [run_id, lo, hi],
        )
        rows = cursor.fetchall()
    data = np.array(rows, dtype=np.int64).reshape(-1, 2)
    return data[:, 0], data[:, 1]


def purchase_days_between(*, start: dt.date, end: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Per customer, distinct paid purchase days in (start, end], in TIME_ZONE days."""
    tz = timezone.get_current_timezone()
    lo = dt.datetime.combine(start + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    day = (
        "(ordered_at AT TIME ZONE %(tz)s)::date"
        if connection.vendor == "postgresql"
        else "django_datetime_cast_date(ordered_at, %(tz)s, 'UTC')"
    )
    sql = (
        f"SELECT customer_id, COUNT(DISTINCT {day}) FROM customers_order"  # noqa: S608
        " WHERE status = 'paid' AND ordered_at >= %(lo)s AND ordered_at < %(hi)s"
        " GROUP BY customer_id ORDER BY customer_id"
    )
    params = {
        "tz": str(tz),
        "lo": connection.ops.adapt_datetimefield_value(lo),
        "hi": connection.ops.adapt_datetimefield_value(hi),
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    data = np.array(rows, dtype=np.int64).reshape(-1, 2)
    return data[:, 0], data[:, 1]


def segment_summaries(*, run: CLVRun) -> list[SegmentSummary]:
    return list(run.segment_summaries.order_by("segment"))


def customer_value_current(*, customer_id: int) -> CustomerValue | None:
    run = clv_run_current()
    if run is None:
        return None
    return (
        CustomerValue.objects.filter(run=run, customer_id=customer_id).select_related("run").first()
    )


def customer_segment_history(*, customer_id: int, limit: int = 20) -> list[SegmentChange]:
    return list(SegmentChange.objects.filter(customer_id=customer_id).order_by("-as_of")[:limit])


def segment_movements(*, run: CLVRun) -> list[dict[str, object]]:
    """Moves between segments since the previous run, largest first (staying put excluded)."""
    from customers.models import NO_SEGMENT, Segment

    labels = dict(Segment.choices)
    rows = run.movements.exclude(from_segment=models.F("to_segment")).order_by("-customers")[:15]
    return [
        {
            "from": labels.get(
                m.from_segment, "New customer" if m.from_segment == NO_SEGMENT else "?"
            ),
            "to": labels[m.to_segment],
            "customers": m.customers,
        }
        for m in rows
    ]


def calibration_chart(*, run: CLVRun) -> dict[str, object] | None:
    """Bar geometry for predicted vs actual repeat purchases by frequency group (SVG)."""
    groups = (run.backtest or {}).get("calibration") or []
    if not groups:
        return None
    top = max(max(g["predicted"], g["actual"]) for g in groups) or 1.0
    width, height, pad = 640, 240, 32
    slot = (width - 2 * pad) / len(groups)
    bars = []
    for i, g in enumerate(groups):
        x = pad + i * slot
        for j, key in enumerate(("predicted", "actual")):
            h = (height - 2 * pad) * g[key] / top
            bars.append(
                {
                    "x": round(x + slot * (0.15 + 0.35 * j), 1),
                    "y": round(height - pad - h, 1),
                    "w": round(slot * 0.33, 1),
                    "h": round(h, 1),
                    "kind": key,
                    "value": g[key],
                    "label": g["label"],
                }
            )
    labels = [
        {"x": round(pad + (i + 0.5) * slot, 1), "text": g["label"], "customers": g["customers"]}
        for i, g in enumerate(groups)
    ]
    return {
        "width": width,
        "height": height,
        "baseline": height - pad,
        "bars": bars,
        "labels": labels,
        "top": top,
        "groups": groups,
    }


# --- Reads shared by the pages and the REST API (customers/api/) ------------------------


@dataclass(frozen=True)
class SegmentRow:
    """One segment of a run: the stored summary plus shares and the retention action."""

    segment: int
    slug: str
    label: str
    action: str
    customers: int
    share: float
    net_revenue: float
    revenue_share: float
    predicted_clv: float
    avg_predicted_clv: float
    avg_churn_risk: float
    moved_in: int
    moved_out: int


@dataclass(frozen=True)
class CustomerValueDetail:
    """A customer's current value (None when no run covers them) and segment history."""

    customer: Customer
    run: CLVRun | None
    value: CustomerValue | None
    segment_history: list[SegmentChange]


def clv_run_queryset() -> models.QuerySet[CLVRun]:
    """Every run attempt (running, succeeded, failed); callers order and paginate."""
    return CLVRun.objects.all()


def clv_run_succeeded(*, run_id: int, with_values: bool = False) -> CLVRun | None:
    """A succeeded run by id; with ``with_values``, only while its values are still kept
    (values are pruned to the latest runs, summaries are kept for all)."""
    runs = CLVRun.objects.filter(pk=run_id, status=CLVRun.Status.SUCCEEDED)
    if with_values:
        runs = runs.filter(models.Exists(CustomerValue.objects.filter(run=models.OuterRef("pk"))))
    return runs.first()


def segment_overview(*, run: CLVRun) -> list[SegmentRow]:
    """The run's segments in code order, with customer and revenue shares (one query)."""
    summaries = segment_summaries(run=run)
    total = sum(s.customers for s in summaries) or 1
    revenue = sum(s.net_revenue for s in summaries) or 1.0
    return [
        SegmentRow(
            segment=s.segment,
            slug=BY_CODE[s.segment].slug,
            label=BY_CODE[s.segment].label,
            action=BY_CODE[s.segment].action,
            customers=s.customers,
            share=s.customers / total,
            net_revenue=s.net_revenue,
            revenue_share=s.net_revenue / revenue,
            predicted_clv=s.predicted_clv,
            avg_predicted_clv=s.avg_predicted_clv,
            avg_churn_risk=s.avg_churn_risk,
            moved_in=s.moved_in,
            moved_out=s.moved_out,
        )
        for s in summaries
    ]


def segment_members(*, run: CLVRun, segment: int) -> models.QuerySet[CustomerValue]:
    """A segment's members in one run with their customer, best predicted CLV first.

    Served by the index on (run, segment, -predicted_clv); customer_id breaks ties so a
    keyset cursor on (-predicted_clv, customer_id) visits every member exactly once.
    """
    return (
        CustomerValue.objects.filter(run=run, segment=segment)
        .select_related("customer")
        .order_by("-predicted_clv", "customer_id")
    )


def customer_value_detail(
    *, customer_id: int, history_limit: int = 50
) -> CustomerValueDetail | None:
    """None when the customer does not exist; four queries whatever the history length."""
    customer = Customer.objects.filter(pk=customer_id).only("id", "name", "email").first()
    if customer is None:
        return None
    run = clv_run_current()
    value = (
        CustomerValue.objects.filter(run=run, customer_id=customer_id).first()
        if run is not None
        else None
    )
    return CustomerValueDetail(
        customer=customer,
        run=run,
        value=value,
        segment_history=customer_segment_history(customer_id=customer_id, limit=history_limit),
    )
