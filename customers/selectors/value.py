"""Reads for customer value: the current run, previous segments, actual purchases."""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.db import connection, models
from django.utils import timezone

from customers.models import CLVRun, CustomerValue, SegmentChange, SegmentSummary


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


def run_segments(*, run_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(customer ids ascending, segment codes) of one run, as columns."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT customer_id, segment FROM customers_customervalue WHERE run_id = %s"
            " ORDER BY customer_id",
            [run_id],
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
