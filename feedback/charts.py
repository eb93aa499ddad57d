"""Geometry of the Feedback page's server-rendered SVG charts: plain values in, no ORM.

SVG attributes, not style attributes, carry every size, so the strict CSP (no inline
style) holds; colours come from classes in static/css/app.css.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MonthPoint:
    label: str  # "Mar 2026"
    short: str  # "Mar"
    score: float | None  # NPS, -100..100; None: no answers that month
    n: int
    enough: bool


def nps_month_chart(points: Sequence[MonthPoint]) -> dict[str, object]:
    """Bars up from zero for a positive NPS and down for a negative one, per month.

    Months with too few answers to trust get a lighter bar; months with none, no bar.
    """
    # Sized for half a page: drawn about 1:1, so 12px text stays 12px.
    width, height = 480, 250
    left, right, top, bottom = 40, 4, 14, 50
    plot_h = height - top - bottom
    zero = top + plot_h / 2
    slot = (width - left - right) / max(len(points), 1)

    def y(value: float) -> float:
        return round(zero - value / 100 * plot_h / 2, 1)

    bars, labels = [], []
    for i, p in enumerate(points):
        x = left + i * slot
        labels.append({"x": round(x + slot / 2, 1), "text": p.short, "n": p.n})
        if p.score is None:
            continue
        top_y, bottom_y = sorted((y(p.score), zero))
        bars.append(
            {
                "x": round(x + slot * 0.2, 1),
                "y": round(top_y, 1),
                "w": round(slot * 0.6, 1),
                # a visible sliver for an NPS of exactly 0
                "h": round(max(bottom_y - top_y, 1.5), 1),
                "sign": "positive" if p.score >= 0 else "negative",
                "enough": p.enough,
                "label": p.label,
                "score": p.score,
                "n": p.n,
                "value_y": round(top_y - 4 if p.score >= 0 else bottom_y + 13, 1),
                "value_x": round(x + slot / 2, 1),
            }
        )
    grid = [{"value": v, "y": y(v)} for v in (100, 50, 0, -50, -100)]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "zero": round(zero, 1),
        # a negative bar's value sits below it: month labels start below that
        "label_y": height - bottom + 30,
        "count_y": height - bottom + 44,
        "bars": bars,
        "labels": labels,
        "grid": grid,
    }


def distribution_chart(rows: Sequence[dict]) -> dict[str, object]:
    """One bar per score 0-10, height by the number of answers, coloured by NPS group."""
    width, height = 480, 200
    left, right, top, bottom = 4, 4, 18, 26
    plot_h = height - top - bottom
    slot = (width - left - right) / max(len(rows), 1)
    peak = max((r["n"] for r in rows), default=0) or 1
    bars = []
    for i, r in enumerate(rows):
        h = plot_h * r["n"] / peak
        x = left + i * slot
        bars.append(
            {
                "x": round(x + slot * 0.15, 1),
                "y": round(top + plot_h - h, 1),
                "w": round(slot * 0.7, 1),
                "h": round(h, 1),
                "cx": round(x + slot / 2, 1),
                "value_y": round(top + plot_h - h - 4, 1),
                **r,
            }
        )
    return {
        "width": width,
        "height": height,
        "baseline": top + plot_h,
        "label_y": height - 8,
        "bars": bars,
    }
