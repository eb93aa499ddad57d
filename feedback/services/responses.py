"""Recording an answer, and closing the loop: a detractor gets a follow-up at once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm import roles
from customers.models import FollowUp, Interaction
from customers.services import followup_create
from feedback.models import SurveyInvitation, SurveyResponse
from feedback.nps import is_detractor
from feedback.workdays import add_working_days

COMMENT_MAX = 2000


@dataclass(frozen=True)
class ResponseResult:
    response: SurveyResponse
    created: bool
    follow_up_created: bool


def response_record(
    *, invitation_id: int, score: int, comment: str = "", now: dt.datetime | None = None
) -> ResponseResult:
    """Record the answer to an invitation once; a second submit updates the same response.

    The invitation row is locked, so a double click records one response. A detractor
    (0-6) gets an urgent follow-up for support staff unless one is already open;
    changing the answer later never adds another open one.
    """
    if not 0 <= int(score) <= 10:
        raise ValidationError({"score": "Pick a score from 0 to 10."})
    comment = comment.strip()[:COMMENT_MAX]
    now = now or timezone.now()
    with transaction.atomic():
        invitation = (
            SurveyInvitation.objects.select_for_update()
            .select_related("survey")
            .get(pk=invitation_id)
        )
        response = (
            SurveyResponse.objects.filter(invitation=invitation).select_related("follow_up").first()
        )
        created = response is None
        changed = True
        if response is None:
            response = SurveyResponse.objects.create(
                invitation=invitation,
                survey_id=invitation.survey_id,
                customer_id=invitation.customer_id,
                staff_id=invitation.staff_id,
                score=score,
                comment=comment,
                responded_at=now,
            )
        else:
            changed = (response.score, response.comment) != (score, comment)
            response.score, response.comment = score, comment
            response.save(update_fields=["score", "comment", "updated_at"])
        follow_up_created = False
        if is_detractor(score) and changed and _needs_follow_up(response):
            response.follow_up = detractor_follow_up_create(response=response, now=now)
            response.save(update_fields=["follow_up", "updated_at"])
            follow_up_created = True
    return ResponseResult(response, created, follow_up_created)


def _needs_follow_up(response: SurveyResponse) -> bool:
    """No follow-up yet, or the last one was resolved and this is a new unhappy answer."""
    return response.follow_up is None or response.follow_up.done_at is not None


def follow_up_reason(*, score: int, comment: str) -> str:
    reason = f"Detractor: scored {score}/10 in a survey"
    if comment:
        reason += f": “{' '.join(comment.split())}”"
    return reason if len(reason) <= 200 else reason[:199] + "…"


def detractor_follow_up_create(*, response: SurveyResponse, now: dt.datetime) -> FollowUp:
    survey = response.invitation.survey
    return followup_create(
        customer=response.customer,
        interaction=response.invitation.interaction,
        due_on=add_working_days(timezone.localdate(now), survey.follow_up_working_days),
        reason=follow_up_reason(score=response.score, comment=response.comment),
        assigned_to=follow_up_assignee(customer_id=response.customer_id),
        priority=FollowUp.Priority.URGENT,
    )


def follow_up_assignee(*, customer_id: int):  # -> AbstractUser | None
    """Who should call an unhappy customer back.

    The active staff member who last dealt with them (latest interaction), who knows the
    story; else the next active support-role user in turn (round-robin over the loop's
    follow-ups); else nobody, and the queue shows it unassigned.
    """
    User = get_user_model()
    last = (
        Interaction.objects.filter(
            customer_id=customer_id, staff__isnull=False, staff__is_active=True
        )
        .order_by("-occurred_at", "-id")
        .values_list("staff_id", flat=True)
        .first()
    )
    if last is not None:
        return User.objects.get(pk=last)
    support = list(
        User.objects.filter(is_active=True, groups__name=roles.SUPPORT)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if not support:
        return None
    previous = (
        FollowUp.objects.filter(survey_response__isnull=False, assigned_to_id__in=support)
        .order_by("-created_at", "-id")
        .values_list("assigned_to_id", flat=True)
        .first()
    )
    position = support.index(previous) + 1 if previous is not None else 0
    return User.objects.get(pk=support[position % len(support)])
