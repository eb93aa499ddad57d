"""Survey definitions: create, edit, deactivate."""

from __future__ import annotations

from feedback.models import Survey


def survey_save(*, survey: Survey) -> Survey:
    """Create or update a survey already validated by its form."""
    survey.full_clean()
    survey.save()
    return survey


def survey_set_active(*, survey_id: int, active: bool) -> bool:
    """Switch a survey on or off; returns False when it already was.

    A deactivated survey queues nothing more, but the links already emailed keep
    working: a customer's late answer is still an answer.
    """
    return Survey.objects.filter(pk=survey_id).exclude(active=active).update(active=active) == 1


def survey_default_get_or_create() -> tuple[Survey, bool]:
    """The survey a new installation starts with: NPS 14 days after a paid order."""
    existing = Survey.objects.order_by("id").first()
    if existing is not None:
        return existing, False
    survey = Survey(
        name="After a purchase",
        trigger=Survey.Trigger.AFTER_ORDER,
        delay_days=14,
        min_gap_days=90,
        sample_percent=100,
        follow_up_working_days=2,
    )
    return survey_save(survey=survey), True
