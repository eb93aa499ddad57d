"""orders: upsert by (source, external_id); base_amount given or converted with FX_RATES."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from customers.imports import fields
from customers.imports.base import (
    CREATED,
    UNCHANGED,
    UPDATED,
    Column,
    Importer,
    Parsed,
    Plan,
    Reject,
    RowError,
)
from customers.models import Customer, Order

CENT = Decimal("0.01")
AMOUNT_LIMIT = Decimal(10) ** fields.MAX_AMOUNT_DIGITS
OPTIONAL_FIELDS = ("status", "sales_channel", "product_line", "guarantee_days")


def fx_rates() -> dict[str, Decimal]:
    rates = {}
    for code, rate in settings.FX_RATES.items():
        try:
            rates[code] = Decimal(rate)
        except InvalidOperation:
            raise ImproperlyConfigured(f"FX_RATES: {code}={rate!r} is not a number.") from None
    return rates


class OrderImporter(Importer):
    kind = "orders"
    model = Order
    columns = {
        "external_id": Column(fields.text(100), required=True),
        "customer_external_id": Column(fields.text(100), required=True),
        "ordered_at": Column(fields.datetime, required=True),
        "amount": Column(fields.amount, required=True),
        "currency": Column(fields.currency),
        "base_amount": Column(fields.amount),
        "status": Column(fields.choice(Order.Status), default=Order.Status.PAID),
        "sales_channel": Column(fields.choice(Order.SalesChannel), default=Order.SalesChannel.WEB),
        "product_line": Column(fields.text(60), default=""),
        "guarantee_days": Column(fields.days, default=30),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.optional = [name for name in OPTIONAL_FIELDS if name in self.present]
        self.rates = fx_rates()

    def prepare(self, rows: list[Parsed], reject: Reject) -> list[Plan]:
        customers = dict(
            Customer.objects.filter(
                source=self.source,
                external_id__in={v["customer_external_id"] for _, v in rows},
            ).values_list("external_id", "id")
        )
        current = {
            o["external_id"]: o
            for o in Order.objects.filter(
                source=self.source, external_id__in=[v["external_id"] for _, v in rows]
            ).values(
                "id",
                "external_id",
                "customer_id",
                "ordered_at",
                "amount",
                "currency",
                "base_amount",
                *OPTIONAL_FIELDS,
            )
        }
        plans = []
        for number, values in rows:
            existing = current.get(values["external_id"])
            errors = []
            customer_id = customers.get(values["customer_external_id"])
            if customer_id is None:
                message = (
                    f"No customer with external_id {values['customer_external_id']} "
                    f"in source {self.source}; import the customers first."
                )
                errors.append(RowError(number, "customer_external_id", message))
            if "currency" in self.present:
                currency = values["currency"] or settings.DEFAULT_CURRENCY
            else:  # keep an existing order's currency rather than silently relabel its money
                currency = existing["currency"] if existing else settings.DEFAULT_CURRENCY
            base_amount = values.get("base_amount")
            if base_amount is None:
                base_amount, problem = self.convert(values["amount"], currency)
                if problem:
                    errors.append(RowError(number, "currency", problem))
            if base_amount is not None and base_amount >= AMOUNT_LIMIT:
                message = f"Converted to {base_amount} {settings.DEFAULT_CURRENCY}: too large."
                errors.append(RowError(number, "base_amount", message))
            if errors:
                reject(errors)
                continue
            row_fields = {
                "customer_id": customer_id,
                "ordered_at": values["ordered_at"],
                "amount": values["amount"],
                "currency": currency,
                "base_amount": base_amount,
                **{name: values[name] for name in self.optional},
            }
            if existing is None:
                status = CREATED
            elif self.changed(existing, row_fields):
                status = UPDATED
            else:
                status = UNCHANGED
            row_fields["external_id"] = values["external_id"]
            pk = existing["id"] if existing else None
            plans.append(Plan(number, status, row_fields, pk))
        return plans

    def convert(self, amount: Decimal, currency: str) -> tuple[Decimal | None, str]:
        """The amount in DEFAULT_CURRENCY, or None and why not."""
        if currency == settings.DEFAULT_CURRENCY:
            return amount, ""
        rate = self.rates.get(currency)
        if rate is None:
            return None, (
                f"No exchange rate for {currency}: add a base_amount column (the amount in "
                f"{settings.DEFAULT_CURRENCY}) or add {currency} to the FX_RATES setting."
            )
        return (amount * rate).quantize(CENT), ""

    def write(self, plans: list[Plan]) -> None:
        update_fields = [
            "customer",
            "ordered_at",
            "amount",
            "currency",
            "base_amount",
            *self.optional,
            "updated_at",
        ]
        self.upsert(plans, update_fields)
