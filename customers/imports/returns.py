"""returns: upsert by (source, external_id); never more than the order's amount in total."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

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
from customers.models import Order, Return

CENT = Decimal("0.01")


class ReturnImporter(Importer):
    kind = "returns"
    model = Return
    columns = {
        "external_id": Column(fields.text(100), required=True),
        "order_external_id": Column(fields.text(100), required=True),
        "returned_at": Column(fields.datetime, required=True),
        "amount": Column(fields.amount, required=True),
        "reason": Column(fields.text(200), default=""),
    }

    def prepare(self, rows: list[Parsed], reject: Reject) -> list[Plan]:
        ids = [v["external_id"] for _, v in rows]
        orders = {
            external_id: (pk, ordered_at, amount, base_amount)
            for external_id, pk, ordered_at, amount, base_amount in Order.objects.filter(
                source=self.source, external_id__in={v["order_external_id"] for _, v in rows}
            ).values_list("external_id", "id", "ordered_at", "amount", "base_amount")
        }
        current = {
            r["external_id"]: r
            for r in Return.objects.filter(source=self.source, external_id__in=ids).values(
                "id", "external_id", "order_id", "returned_at", "amount", "base_amount", "reason"
            )
        }
        # Returned so far per order, leaving out the returns this batch rewrites.
        returned: dict[int, Decimal] = dict(
            Return.objects.filter(order_id__in=[order[0] for order in orders.values()])
            .exclude(source=self.source, external_id__in=ids)
            .values("order_id")
            .annotate(total=Sum("amount"))
            .values_list("order_id", "total")
        )
        tz = timezone.get_default_timezone()
        plans = []
        for number, values in rows:
            order = orders.get(values["order_external_id"])
            if order is None:
                message = (
                    f"No order with external_id {values['order_external_id']} "
                    f"in source {self.source}; import the orders first."
                )
                reject([RowError(number, "order_external_id", message)])
                continue
            order_id, ordered_at, order_amount, order_base = order
            errors = []
            order_day = timezone.localtime(ordered_at, tz).date()
            if timezone.localtime(values["returned_at"], tz).date() < order_day:
                message = f"Before the order's date ({order_day.isoformat()})."
                errors.append(RowError(number, "returned_at", message))
            total = returned.get(order_id, Decimal(0)) + values["amount"]
            if total > order_amount:
                message = (
                    f"Returns of order {values['order_external_id']} would total {total}, "
                    f"more than its amount {order_amount}."
                )
                errors.append(RowError(number, "amount", message))
            if errors:
                reject(errors)
                continue
            returned[order_id] = total
            # the order's own exchange rate, so a full return nets the order to zero
            base_amount = (
                (values["amount"] * order_base / order_amount).quantize(CENT)
                if order_amount
                else Decimal("0.00")
            )
            row_fields = {
                "order_id": order_id,
                "returned_at": values["returned_at"],
                "amount": values["amount"],
                "base_amount": base_amount,
            }
            if "reason" in values:
                row_fields["reason"] = values["reason"]
            existing = current.get(values["external_id"])
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

    def write(self, plans: list[Plan]) -> None:
        update_fields = ["order", "returned_at", "amount", "base_amount"]
        if "reason" in self.present:
            update_fields.append("reason")
        self.upsert(plans, update_fields)
