from __future__ import annotations

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def nps(value: float | None) -> str:
    """+42, 0, −12 (a true minus sign), or — for no answers."""
    if value is None:
        return "—"
    rounded = round(float(value))
    if rounded > 0:
        return f"+{rounded}"
    return f"−{-rounded}" if rounded < 0 else "0"


@register.filter
def duration_hours(hours: float | None) -> str:
    if hours is None:
        return "—"
    if hours < 48:
        return f"{number_format(hours, 0 if hours >= 10 else 1, use_l10n=True)} h"
    return f"{number_format(hours / 24, 1, use_l10n=True)} days"
