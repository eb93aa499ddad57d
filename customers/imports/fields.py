"""Cell parsers: one CSV cell (already stripped, never empty) to a Python value.

Pure functions, no ORM: each returns the value or raises ``CellError`` with a message
meant for the person who fixes the spreadsheet.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.utils import timezone

Parser = Callable[[str], object]

MAX_AMOUNT_DIGITS = 12  # DecimalField(max_digits=14, decimal_places=2)
MAX_INT = 2_147_483_647  # PositiveIntegerField on every backend

_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_COMMA_DECIMAL = re.compile(r"[0-9]+,[0-9]{1,2}")
_TRUE = {"yes", "true", "1"}
_FALSE = {"no", "false", "0"}


class CellError(ValueError):
    pass


def text(max_length: int) -> Parser:
    def parse(value: str) -> str:
        if len(value) > max_length:
            raise CellError(
                f"Ensure this value has at most {max_length} characters (it has {len(value)})."
            )
        return value

    return parse


def email(value: str) -> str:
    try:
        validate_email(value)
    except ValidationError:
        raise CellError("Enter a valid email address.") from None
    return text(254)(value)


def country(value: str) -> str:
    if len(value) != 2 or not (value.isascii() and value.isalpha()):
        raise CellError("Enter a 2-letter country code (ISO 3166-1), e.g. PL.")
    return value.upper()


def currency(value: str) -> str:
    if len(value) != 3 or not (value.isascii() and value.isalpha()):
        raise CellError("Enter a 3-letter currency code (ISO 4217), e.g. PLN or EUR.")
    return value.upper()


def date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CellError("Enter a date as YYYY-MM-DD, e.g. 2024-03-15.") from None


def datetime(value: str) -> dt.datetime:
    """ISO 8601; a date alone is midnight, and a time without offset is local time,
    both in settings.TIME_ZONE (not the activated one: an import has no user's zone)."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise CellError(
            "Enter a date or a date and time in ISO 8601, "
            "e.g. 2024-03-15, 2024-03-15 14:30 or 2024-03-15T14:30:00+01:00."
        ) from None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
    return parsed


def amount(value: str) -> Decimal:
    if _AMOUNT.fullmatch(value):
        whole, _, cents = value.partition(".")
        if len(cents) > 2:
            raise CellError("Use at most 2 decimal places, e.g. 12.50.")
        if len(whole.lstrip("0")) > MAX_AMOUNT_DIGITS:
            raise CellError(f"Too large: at most {MAX_AMOUNT_DIGITS} digits before the point.")
        return Decimal(value).quantize(Decimal("0.01"))
    if value.startswith("-"):
        raise CellError("Must be 0 or more.")
    if _COMMA_DECIMAL.fullmatch(value):
        raise CellError(f"Use a dot for decimals: {value.replace(',', '.')}, not {value}.")
    if "," in value or " " in value:
        raise CellError("Use a dot for decimals and no thousands separators, e.g. 1234.50.")
    raise CellError("Enter an amount such as 12.50.")


def boolean(value: str) -> bool:
    key = value.lower()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise CellError("Enter yes or no (also accepted: true/false, 1/0), or leave it empty.")


def choice(choices: type[models.Choices]) -> Parser:
    """A value or its label, case-insensitively ("paid_search" or "Paid search")."""
    lookup: dict[str, str] = {}
    for value, label in choices.choices:
        lookup[str(label).lower()] = value
        lookup[str(value).lower()] = value
    allowed = ", ".join(str(v) for v in choices.values)

    def parse(value: str) -> str:
        try:
            return lookup[value.lower()]
        except KeyError:
            raise CellError(f"Unknown value {value!r}; use one of: {allowed}.") from None

    return parse


def days(value: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) > MAX_INT:
        raise CellError("Enter a whole number of days, 0 or more.")
    return int(value)


def tag_names(value: str) -> list[str]:
    names = [name.strip() for name in value.split(";")]
    for name in names:
        if len(name) > 64:
            raise CellError(f"Tag {name[:20]!r}... is longer than 64 characters.")
    return [name for name in names if name]
