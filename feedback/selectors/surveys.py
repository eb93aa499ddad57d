"""Reads for the survey management page and the public answer page."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from feedback.models import Survey, SurveyInvitation, SurveyResponse


def _count(model: type, **filters: object) -> Coalesce:
    sub = (
        model.objects.filter(survey_id=OuterRef("pk"), **filters)
        .order_by()
        .values("survey_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(sub, output_field=IntegerField()), 0)


def survey_list() -> QuerySet[Survey]:
    """Every survey, active first, with its invitation and response counts."""
    return Survey.objects.annotate(
        invitation_count=_count(SurveyInvitation),
        response_count=_count(SurveyResponse),
    ).order_by("-active", "name", "id")


def survey_options() -> list[Survey]:
    """Surveys for the Feedback page's filter, active first."""
    return list(Survey.objects.order_by("-active", "name", "id"))


def survey_from_param(raw: str) -> Survey | None:
    """The survey a ?survey= parameter names, or None (missing, malformed, unknown)."""
    if not (raw.isdigit() and len(raw) < 12):  # beyond a bigint is nobody's id
        return None
    return Survey.objects.filter(pk=int(raw)).first()


def invitation_for_answer(*, invitation_id: int) -> SurveyInvitation | None:
    """The invitation behind an answer link with its survey and any earlier answer."""
    return (
        SurveyInvitation.objects.select_related("survey", "response")
        .filter(pk=invitation_id)
        .first()
    )
