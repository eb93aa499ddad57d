"""customers: upsert by (source, external_id), with tags and consent."""

from __future__ import annotations

from typing import Any, NamedTuple

from django.db.models.functions import Lower
from django.utils import timezone

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
from customers.models import AcquisitionChannel, ConsentEvent, ConsentPurpose, Customer

# One column per consent purpose: email_marketing_consent, surveys_consent, ...
CONSENT_COLUMNS = {f"{purpose}_consent": purpose for purpose in ConsentPurpose.values}
MODEL_FIELDS = (
    "email",
    "name",
    "phone",
    "locale",
    "country",
    "acquisition_channel",
    "acquired_at",
    "loyalty_member_since",
)


class Changes(NamedTuple):
    tags: list[str] | None  # the full new set, or None to leave tags alone
    consents: list[tuple[str, bool]]  # (purpose, granted) events to record


class CustomerImporter(Importer):
    kind = "customers"
    model = Customer
    columns = {
        "external_id": Column(fields.text(100), required=True),
        "email": Column(fields.email),
        "name": Column(fields.text(200), default=""),
        "phone": Column(fields.text(40), default=""),
        "locale": Column(fields.text(10), default=""),
        "country": Column(fields.country, default=""),
        "acquisition_channel": Column(
            fields.choice(AcquisitionChannel), default=AcquisitionChannel.OTHER
        ),
        "acquired_at": Column(fields.date),
        "tags": Column(fields.tag_names, default=()),
        "loyalty_member_since": Column(fields.date),
        # an empty consent cell says nothing: the current state stays
        **{column: Column(fields.boolean) for column in CONSENT_COLUMNS},
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fields = [name for name in MODEL_FIELDS if name in self.present]
        self.consent_columns = {c: p for c, p in CONSENT_COLUMNS.items() if c in self.present}

    def prepare(self, rows: list[Parsed], reject: Reject) -> list[Plan]:
        current = {
            c["external_id"]: c
            for c in Customer.objects.filter(
                source=self.source, external_id__in=[v["external_id"] for _, v in rows]
            ).values("id", "external_id", *MODEL_FIELDS)
        }
        ids = [c["id"] for c in current.values()]
        owners = self._email_owners([v["email"] for _, v in rows if v.get("email")])
        tags_now = self._tags_now(ids) if "tags" in self.present else {}
        consent_now = self._consent_now(ids) if self.consent_columns else {}
        emails_here: dict[str, int] = {}
        plans = []
        for number, values in rows:
            existing = current.get(values["external_id"])
            pk = existing["id"] if existing else None
            email = values.get("email")
            if email:
                key = email.lower()
                owner = owners.get(key)
                if owner and owner[0] != pk:
                    message = f"{email} already belongs to another customer ({owner[1]})."
                    reject([RowError(number, "email", message)])
                    continue
                if key in emails_here:
                    message = f"{email} is also the email in row {emails_here[key]}."
                    reject([RowError(number, "email", message)])
                    continue
                emails_here[key] = number
            row_fields = {name: values[name] for name in self.fields}
            tags = None
            if "tags" in values:
                wanted = {name.lower(): name for name in values["tags"]}
                if existing is None or set(wanted) != tags_now.get(pk, set()):
                    tags = list(wanted.values())
            consents = [
                (purpose, values[column])
                for column, purpose in self.consent_columns.items()
                if values[column] is not None
                and values[column] != consent_now.get((pk, purpose), False)
            ]
            if existing is None:
                status = CREATED
            elif tags is not None or consents or self.changed(existing, row_fields):
                status = UPDATED
            else:
                status = UNCHANGED
            row_fields["external_id"] = values["external_id"]
            plans.append(Plan(number, status, row_fields, pk, Changes(tags, consents)))
        return plans

    def write(self, plans: list[Plan]) -> None:
        ids = self.upsert(plans, [*self.fields, "updated_at"])
        tagged = [(pk, plan.extra.tags) for pk, plan in zip(ids, plans, strict=True)]
        self._set_tags([(pk, tags) for pk, tags in tagged if tags is not None])
        now = timezone.now()
        ConsentEvent.objects.bulk_create(
            ConsentEvent(
                customer_id=pk,
                purpose=purpose,
                granted=granted,
                source=ConsentEvent.Source.IMPORT,
                recorded_by=self.user,
                note=f"CSV import from {self.source}, row {plan.row}"[:200],
                occurred_at=now,
            )
            for pk, plan in zip(ids, plans, strict=True)
            for purpose, granted in plan.extra.consents
        )

    def _email_owners(self, emails: list[str]) -> dict[str, tuple[int, str]]:
        """Lower-cased email -> (id, how to name the customer) for emails already taken."""
        if not emails:
            return {}
        found = (
            Customer.objects.annotate(email_key=Lower("email"))
            .filter(email_key__in={email.lower() for email in emails})
            .values_list("email_key", "id", "source", "external_id")
        )
        owners = {}
        for key, pk, source, external_id in found:
            if external_id is None:
                name = f"id {pk}"
            elif source == self.source:
                name = f"external_id {external_id}"
            else:
                name = f"external_id {external_id} from {source}"
            owners[key] = (pk, name)
        return owners

    def _tags_now(self, ids: list[int]) -> dict[int, set[str]]:
        tags: dict[int, set[str]] = {pk: set() for pk in ids}
        through = Customer.tags.through.objects.filter(customer_id__in=ids)
        # Lower-cased in Python: SQLite's LOWER() leaves "Ł" as it is.
        for customer_id, name in through.values_list("customer_id", "tag__name"):
            tags[customer_id].add(name.lower())
        return tags

    def _consent_now(self, ids: list[int]) -> dict[tuple[int, str], bool]:
        """(customer id, purpose) -> granted, from the latest event (selectors' rule).

        A missing key means not granted, so a "no" for someone never asked records nothing.
        """
        state: dict[tuple[int, str], bool] = {}
        events = ConsentEvent.objects.filter(
            customer_id__in=ids, purpose__in=list(self.consent_columns.values())
        ).order_by("customer_id", "purpose", "-occurred_at", "-id")
        for customer_id, purpose, granted in events.values_list(
            "customer_id", "purpose", "granted"
        ):
            state.setdefault((customer_id, purpose), granted)
        return state

    def _set_tags(self, wanted: list[tuple[int, list[str]]]) -> None:
        if not wanted:
            return
        names = {name.lower(): name for _, tags in wanted for name in tags}
        by_key = dict(zip(names, services.tags_get_or_create(names=names.values()), strict=True))
        through = Customer.tags.through
        through.objects.filter(customer_id__in=[pk for pk, _ in wanted]).delete()
        through.objects.bulk_create(
            through(customer_id=pk, tag_id=by_key[name.lower()].pk)
            for pk, tags in wanted
            for name in tags
        )
