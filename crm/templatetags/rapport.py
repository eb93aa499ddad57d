from __future__ import annotations

from decimal import Decimal

from django import template
from django.conf import settings
from django.utils.formats import number_format

register = template.Library()


@register.filter
def money(value: Decimal | float | None, currency: str | None = None) -> str:
    """1234.5 -> '1,234.50 PLN' (grouping and separators follow the active locale)."""
    if value is None or value == "":
        return "—"
    amount = number_format(Decimal(value), 2, use_l10n=True, force_grouping=True)
    return f"{amount} {currency or settings.DEFAULT_CURRENCY}"


@register.filter
def number(value: int | float | None) -> str:
    if value is None:
        return "—"
    return number_format(value, 0, use_l10n=True, force_grouping=True)


@register.filter
def person(user: object, empty: str = "—") -> str:
    """A staff member's full name, else username; ``empty`` for no user."""
    if user is None:
        return empty
    return user.get_full_name() or user.get_username()  # type: ignore[attr-defined]


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{number_format(float(value) * 100, digits, use_l10n=True)}%"


@register.filter
def get(mapping: dict, key: object) -> object:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def years(days: int | None) -> str:
    if days is None:
        return "—"
    return number_format(days / 365.25, 1, use_l10n=True)
