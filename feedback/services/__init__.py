"""Services: writes.

Callers use ``from feedback import services`` and ``services.<name>``; modules split by area."""

from feedback.services.queue import (
    QueueReport,
    invitation_messages_queue,
    sampled,
    surveys_queue_due,
)
from feedback.services.responses import (
    ResponseResult,
    detractor_follow_up_create,
    follow_up_assignee,
    follow_up_reason,
    response_record,
)
from feedback.services.surveys import survey_default_get_or_create, survey_save, survey_set_active

__all__ = [
    "QueueReport",
    "ResponseResult",
    "detractor_follow_up_create",
    "follow_up_assignee",
    "follow_up_reason",
    "invitation_messages_queue",
    "response_record",
    "sampled",
    "survey_default_get_or_create",
    "survey_save",
    "survey_set_active",
    "surveys_queue_due",
]
