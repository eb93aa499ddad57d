"""interactions: upsert by (source, external_id), with at most one follow-up each."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model

from customers import services
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
from customers.models import Customer, FollowUp, Interaction

OPTIONAL_FIELDS = ("staff_id", "direction", "outcome")


def follow_up_reason(kind: str, summary: str) -> str:
    # The same wording (and below, the priority) as a follow-up logged on the customer page.
    return services.interaction_follow_up_reason(Interaction(kind=kind, summary=summary))


class FollowUpChange(NamedTuple):
    due_on: dt.date
    assigned_to_id: int | None
    follow_up_id: int | None  # None: create one


class InteractionImporter(Importer):
    kind = "interactions"
    model = Interaction
    columns = {
        "external_id": Column(fields.text(100), required=True),
        "customer_external_id": Column(fields.text(100), required=True),
        "staff": Column(fields.text(150)),
        "kind": Column(fields.choice(Interaction.Kind), required=True),
        "direction": Column(
            fields.choice(Interaction.Direction), default=Interaction.Direction.OUTBOUND
        ),
        "occurred_at": Column(fields.datetime, required=True),
        "summary": Column(str, required=True),
        "outcome": Column(fields.choice(Interaction.Outcome), default=Interaction.Outcome.NEUTRAL),
        "follow_up_on": Column(fields.date),
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        present = {"staff_id" if name == "staff" else name for name in self.present}
        self.optional = [name for name in OPTIONAL_FIELDS if name in present]

    def prepare(self, rows: list[Parsed], reject: Reject) -> list[Plan]:
        customers = dict(
            Customer.objects.filter(
                source=self.source,
                external_id__in={v["customer_external_id"] for _, v in rows},
            ).values_list("external_id", "id")
        )
        usernames = {v["staff"] for _, v in rows if v.get("staff")}
        staff = (
            dict(
                get_user_model()
                .objects.filter(username__in=usernames)
                .values_list("username", "id")
            )
            if usernames
            else {}
        )
        current = {
            i["external_id"]: i
            for i in Interaction.objects.filter(
                source=self.source, external_id__in=[v["external_id"] for _, v in rows]
            ).values(
                "id",
                "external_id",
                "customer_id",
                "kind",
                "occurred_at",
                "summary",
                *OPTIONAL_FIELDS,
            )
        }
        follow_ups = self._follow_ups([i["id"] for i in current.values()])
        plans = []
        for number, values in rows:
            errors = []
            customer_id = customers.get(values["customer_external_id"])
            if customer_id is None:
                message = (
                    f"No customer with external_id {values['customer_external_id']} "
                    f"in source {self.source}; import the customers first."
                )
                errors.append(RowError(number, "customer_external_id", message))
            username = values.get("staff")
            if username and username not in staff:
                errors.append(RowError(number, "staff", f"No user with username {username}."))
            if errors:
                reject(errors)
                continue
            existing = current.get(values["external_id"])
            row_fields = {
                "customer_id": customer_id,
                "kind": values["kind"],
                "occurred_at": values["occurred_at"],
                "summary": values["summary"],
            }
            if "staff" in values:
                row_fields["staff_id"] = staff[username] if username else None
            for name in ("direction", "outcome"):
                if name in values:
                    row_fields[name] = values[name]
            follow_up = self._follow_up_change(
                values.get("follow_up_on"),
                row_fields.get("staff_id", existing and existing["staff_id"]),
                follow_ups.get(existing["id"], []) if existing else [],
            )
            if existing is None:
                status = CREATED
            elif follow_up or self.changed(existing, row_fields):
                status = UPDATED
            else:
                status = UNCHANGED
            outcome = row_fields.get("outcome", existing and existing["outcome"])
            row_fields["external_id"] = values["external_id"]
            pk = existing["id"] if existing else None
            plans.append(Plan(number, status, row_fields, pk, (follow_up, outcome)))
        return plans

    def write(self, plans: list[Plan]) -> None:
        update_fields = ["customer", "kind", "occurred_at", "summary", *self.optional]
        ids = self.upsert(plans, [name.removesuffix("_id") for name in update_fields])
        new, moved = [], []
        for pk, plan in zip(ids, plans, strict=True):
            change, outcome = plan.extra
            if change is None:
                continue
            if change.follow_up_id is not None:
                moved.append(
                    FollowUp(
                        pk=change.follow_up_id,
                        due_on=change.due_on,
                        assigned_to_id=change.assigned_to_id,
                    )
                )
                continue
            new.append(
                FollowUp(
                    customer_id=plan.fields["customer_id"],
                    interaction_id=pk,
                    due_on=change.due_on,
                    reason=follow_up_reason(plan.fields["kind"], plan.fields["summary"]),
                    assigned_to_id=change.assigned_to_id,
                    priority=(
                        FollowUp.Priority.HIGH
                        if outcome == Interaction.Outcome.COMPLAINT
                        else FollowUp.Priority.NORMAL
                    ),
                )
            )
        FollowUp.objects.bulk_create(new)
        FollowUp.objects.bulk_update(moved, ["due_on", "assigned_to"])

    def _follow_ups(self, interaction_ids: list[int]) -> dict[int, list[tuple]]:
        found: dict[int, list[tuple]] = {}
        rows = FollowUp.objects.filter(interaction_id__in=interaction_ids).order_by("id")
        for pk, interaction_id, due_on, assigned_to_id, done_at in rows.values_list(
            "id", "interaction_id", "due_on", "assigned_to_id", "done_at"
        ):
            found.setdefault(interaction_id, []).append((pk, due_on, assigned_to_id, done_at))
        return found

    def _follow_up_change(
        self, due_on: dt.date | None, assigned_to_id: int | None, existing: list[tuple]
    ) -> FollowUpChange | None:
        """One follow-up per imported interaction: create it, or move the open one.

        A done follow-up is never reopened, and an empty date never deletes one: both
        are staff's work since the last import.
        """
        if due_on is None:
            return None
        if not existing:
            return FollowUpChange(due_on, assigned_to_id, None)
        for pk, current_due, current_assignee, done_at in existing:
            if done_at is None:
                if (current_due, current_assignee) != (due_on, assigned_to_id):
                    return FollowUpChange(due_on, assigned_to_id, pk)
                return None
        return None
