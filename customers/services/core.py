"""Writes: one function, one atomic change. Pages, commands and (later) the API call these."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.utils import timezone

from crm import roles
from customers import selectors
from customers.models import (
    ConsentEvent,
    ConsentPurpose,
    Customer,
    FollowUp,
    FollowUpDigest,
    Interaction,
    Tag,
)


def tags_get_or_create(*, names: Iterable[str]) -> list[Tag]:
    """Tags by name, matched case-insensitively, creating the missing ones."""
    wanted: dict[str, str] = {}
    for raw in names:
        name = raw.strip()[:64]
        if name:
            wanted.setdefault(name.lower(), name)
    if not wanted:
        return []

    def existing() -> dict[str, Tag]:
        found = Tag.objects.annotate(key=Lower("name")).filter(key__in=list(wanted))
        return {t.key: t for t in found}

    by_key = existing()
    missing = [Tag(name=name) for key, name in wanted.items() if key not in by_key]
    if missing:
        # ignore_conflicts: a concurrent import may create the same tag first.
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        by_key = existing()
    return [by_key[key] for key in wanted]


@transaction.atomic
def customer_save(*, customer: Customer, tag_names: Iterable[str] | None = None) -> Customer:
    """Create or update a customer (already validated by its form) and, if given, its tags."""
    customer.full_clean(validate_unique=False)
    customer.save()
    if tag_names is not None:
        customer_set_tags(customer=customer, names=tag_names)
    return customer


@transaction.atomic
def customer_set_tags(*, customer: Customer, names: Iterable[str]) -> list[Tag]:
    tags = tags_get_or_create(names=names)
    customer.tags.set(tags)
    return tags


def consent_record(
    *,
    customer: Customer,
    purpose: str,
    granted: bool,
    source: str,
    recorded_by: AbstractUser | None = None,
    note: str = "",
    occurred_at: dt.datetime | None = None,
) -> ConsentEvent:
    """Append a consent event; the log is never edited, the latest event is the state."""
    if purpose not in ConsentPurpose.values:
        raise ValidationError({"purpose": f"Unknown consent purpose {purpose!r}."})
    return ConsentEvent.objects.create(
        customer=customer,
        purpose=purpose,
        granted=granted,
        source=source,
        recorded_by=recorded_by,
        note=note[:200],
        occurred_at=occurred_at or timezone.now(),
    )


@transaction.atomic
def interaction_log(
    *,
    customer: Customer,
    staff: AbstractUser | None,
    kind: str,
    summary: str,
    direction: str = Interaction.Direction.OUTBOUND,
    outcome: str = Interaction.Outcome.NEUTRAL,
    occurred_at: dt.datetime | None = None,
    follow_up_on: dt.date | None = None,
    follow_up_reason: str = "",
) -> Interaction:
    """Record a conversation and, when a date is given, the follow-up it promised."""
    interaction = Interaction(
        customer=customer,
        staff=staff,
        kind=kind,
        direction=direction,
        outcome=outcome,
        summary=summary.strip(),
        occurred_at=occurred_at or timezone.now(),
    )
    interaction.full_clean(exclude=["source", "external_id"])
    interaction.save()
    if follow_up_on is not None:
        followup_create(
            customer=customer,
            interaction=interaction,
            due_on=follow_up_on,
            reason=follow_up_reason or interaction_follow_up_reason(interaction),
            assigned_to=staff,
            priority=(
                FollowUp.Priority.HIGH
                if outcome == Interaction.Outcome.COMPLAINT
                else FollowUp.Priority.NORMAL
            ),
        )
    return interaction


def interaction_follow_up_reason(interaction: Interaction) -> str:
    """The follow-up's reason when staff give none: what the interaction was about."""
    return f"Follow up on {interaction.get_kind_display().lower()}: {interaction.summary}"[:200]


def followup_create(
    *,
    customer: Customer,
    due_on: dt.date,
    reason: str,
    interaction: Interaction | None = None,
    assigned_to: AbstractUser | None = None,
    priority: int = FollowUp.Priority.NORMAL,
) -> FollowUp:
    return FollowUp.objects.create(
        customer=customer,
        interaction=interaction,
        due_on=due_on,
        reason=reason[:200],
        assigned_to=assigned_to,
        priority=priority,
    )


def followup_complete(
    *, follow_up_id: int, user: AbstractUser | None, resolution: str = ""
) -> bool:
    """Mark a follow-up done. Returns False when it was already done (a double click).

    A conditional UPDATE, so two people closing the same follow-up record one closer.
    """
    updated = FollowUp.objects.filter(pk=follow_up_id, done_at__isnull=True).update(
        done_at=timezone.now(), done_by=user, resolution=resolution.strip()[:200]
    )
    return updated == 1


def user_create(
    *, username: str, role: str, email: str = "", password: str | None = None, **extra: object
) -> tuple[AbstractUser, str]:
    """Create a staff user with one role; returns the user and the (generated) password."""
    if role not in dict(roles.ROLE_CHOICES):
        raise ValidationError({"role": f"Unknown role {role!r}."})
    password = password or secrets.token_urlsafe(12)
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.create_user(
            username=username,
            email=email,
            password=password,
            # Django's admin site is an administrator's tool only.
            is_staff=role == roles.ADMIN,
            **extra,
        )
        user_set_role(user=user, role=role)
    return user, password


def user_set_role(*, user: AbstractUser, role: str) -> None:
    if role not in dict(roles.ROLE_CHOICES):
        raise ValidationError({"role": f"Unknown role {role!r}."})
    with transaction.atomic():
        if not Group.objects.filter(name=role).exists():
            roles.roles_sync()
        user.groups.set([Group.objects.get(name=role)])
        user.is_staff = role == roles.ADMIN
        user.save(update_fields=["is_staff"])
    user.__dict__.pop("_rapport_roles", None)


def followup_digest_send(*, today: dt.date | None = None, base_url: str = "") -> int:
    """Email each staff member the follow-ups that are overdue or due today.

    Safe to run twice: a FollowUpDigest row per (user, day) is claimed before sending
    and released if sending fails, so a retry sends it, and a repeat sends nothing.
    Returns how many digests were sent.
    """
    today = today or timezone.localdate()
    sent = 0
    for user in selectors.followup_digest_recipients(today=today):
        items = list(selectors.followup_due_for(user_id=user.pk, today=today)[:200])
        if not items:
            continue
        try:
            with transaction.atomic():
                claim = FollowUpDigest.objects.create(user=user, day=today, follow_ups=len(items))
        except IntegrityError:
            continue  # already sent today
        context = {
            "user": user,
            "items": items,
            "today": today,
            "overdue": sum(1 for f in items if f.due_on < today),
            "base_url": base_url or settings.SITE_URL,
        }
        message = EmailMultiAlternatives(
            subject=f"Rapport: {len(items)} follow-up{'s' if len(items) != 1 else ''} due",
            body=render_to_string("emails/followup_digest.txt", context),
            to=[user.email],
        )
        message.attach_alternative(
            render_to_string("emails/followup_digest.html", context), "text/html"
        )
        try:
            message.send()
        except Exception:
            claim.delete()  # let the next run (or the task's retry) send it
            raise
        sent += 1
    return sent
