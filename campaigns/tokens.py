"""Signed, single-purpose tokens in links sent to customers (no login behind them).

Each purpose has its own salt, so a survey token can never be replayed as an
unsubscribe token or the other way round (feedback uses "rapport.survey.v1").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from campaigns.models import CAPPED_KINDS, KIND_PURPOSE

UNSUBSCRIBE_SALT = "rapport.unsubscribe.v1"
ALL_PURPOSES = "*"


@dataclass(frozen=True)
class UnsubscribeRequest:
    customer_id: int
    purpose: str  # a ConsentPurpose value, or ALL_PURPOSES


def unsubscribe_token(*, customer_id: int, purpose: str) -> str:
    return signing.dumps({"c": customer_id, "p": purpose}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_read(token: str) -> UnsubscribeRequest | None:
    """The request a token stands for, or None when forged, tampered or of another kind.

    Unsubscribe links never expire: a years-old newsletter must still let people out.
    """
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    purposes = {p for k, p in KIND_PURPOSE.items() if k in CAPPED_KINDS} | {ALL_PURPOSES}
    if not isinstance(data, dict) or not isinstance(data.get("c"), int):
        return None
    if data.get("p") not in purposes:
        return None
    return UnsubscribeRequest(customer_id=data["c"], purpose=data["p"])


def unsubscribe_url(*, token: str) -> str:
    return settings.SITE_URL + _unsubscribe_path().replace("TOKEN", token)


@functools.cache
def _unsubscribe_path() -> str:
    # reverse() once: the send job builds this URL for every message
    return reverse("campaigns:unsubscribe", args=["TOKEN"])
