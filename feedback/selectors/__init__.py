"""Selectors: reads.

Callers use ``from feedback import selectors`` and ``selectors.<name>``; modules split by area."""

from feedback.selectors.overview import (
    ArticleCheck,
    BreakdownRow,
    GroupValue,
    Headline,
    LoopStatus,
    MonthRow,
    Overview,
    ResponseRate,
    article_check,
    feedback_overview,
    latest_comments,
    loop_status,
    nps_by_channel,
    nps_by_month,
    nps_by_segment,
    nps_by_staff,
    nps_headline,
    response_rate,
    score_distribution,
)
from feedback.selectors.surveys import (
    invitation_for_answer,
    survey_from_param,
    survey_list,
    survey_options,
)

__all__ = [
    "ArticleCheck",
    "BreakdownRow",
    "GroupValue",
    "Headline",
    "LoopStatus",
    "MonthRow",
    "Overview",
    "ResponseRate",
    "article_check",
    "feedback_overview",
    "invitation_for_answer",
    "latest_comments",
    "loop_status",
    "nps_by_channel",
    "nps_by_month",
    "nps_by_segment",
    "nps_by_staff",
    "nps_headline",
    "response_rate",
    "score_distribution",
    "survey_from_param",
    "survey_list",
    "survey_options",
]
