"""Services: writes.

Callers use ``from customers import services`` and ``services.<name>``; modules split by area."""

from customers.services.core import (
    consent_record,
    customer_save,
    customer_set_tags,
    followup_complete,
    followup_create,
    followup_digest_send,
    interaction_follow_up_reason,
    interaction_log,
    tags_get_or_create,
    user_create,
    user_set_role,
)

__all__ = [
    "consent_record",
    "customer_save",
    "customer_set_tags",
    "followup_complete",
    "followup_create",
    "followup_digest_send",
    "interaction_follow_up_reason",
    "interaction_log",
    "tags_get_or_create",
    "user_create",
    "user_set_role",
]
