"""The one-click answer links of a survey email: signed, single-purpose tokens.

A token carries an invitation id and a score ("981.9"), a timestamp and an HMAC under
its own salt, so it cannot be forged, edited (another invitation, another score) or
replayed as an unsubscribe token (which the outbox signs with a different salt), and
it stops working ``SURVEY_LINK_MAX_AGE_DAYS`` after the email was queued.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.encoding import force_bytes

SALT = "rapport.survey.v1"
SCORES = range(11)
DEFAULT_MAX_AGE_DAYS = 120


def max_age() -> dt.timedelta:
    return dt.timedelta(days=getattr(settings, "SURVEY_LINK_MAX_AGE_DAYS", DEFAULT_MAX_AGE_DAYS))


class LinkInvalid(Exception):
    """Forged, edited, truncated or made for something else."""


class LinkExpired(LinkInvalid):
    """Genuine but older than the maximum age."""


@dataclass(frozen=True)
class LinkData:
    invitation_id: int
    score: int


class BatchSigner(signing.TimestampSigner):
    """Signs many tokens at one instant with the HMAC key derived once.

    TimestampSigner derives the key and reads the clock for every token (about 30 us);
    a queue run of 100,000 invitations signs 1.1 million. Here the HMAC's inner and
    outer hash states are prepared once and copied per token (RFC 2104 by hand, about
    1 us). The output is exactly TimestampSigner's (tests/feedback/test_links.py).
    """

    def __init__(self) -> None:
        super().__init__(salt=SALT, algorithm="sha256")
        self._timestamp = super().timestamp()
        key = hashlib.sha256(force_bytes(self.salt + "signer") + force_bytes(self.key)).digest()
        block = key.ljust(hashlib.sha256().block_size, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def timestamp(self) -> str:
        return self._timestamp

    def signature(self, value: str | bytes, key: str | bytes | None = None) -> str:
        if key is not None:
            return super().signature(value, key)
        inner = self._inner.copy()
        inner.update(force_bytes(value))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return base64.urlsafe_b64encode(outer.digest()).rstrip(b"=").decode()

    def token(self, *, invitation_id: int, score: int) -> str:
        value = f"{int(invitation_id)}.{int(score)}{self.sep}{self._timestamp}"
        return f"{value}{self.sep}{self.signature(value)}"


def score_token(*, invitation_id: int, score: int) -> str:
    if score not in SCORES:
        raise ValueError(f"an NPS score is 0-10, not {score}")
    return BatchSigner().token(invitation_id=invitation_id, score=score)


def score_token_read(token: str) -> LinkData:
    """The invitation and score a token was made for; raises LinkInvalid or LinkExpired."""
    signer = signing.TimestampSigner(salt=SALT, algorithm="sha256")
    try:
        value = signer.unsign(token, max_age=max_age())
    except signing.SignatureExpired as error:
        raise LinkExpired(str(error)) from error
    except signing.BadSignature as error:
        raise LinkInvalid(str(error)) from error
    invitation, _, score = value.partition(".")
    if not (invitation.isdigit() and score.isdigit()) or int(score) not in SCORES:
        raise LinkInvalid("not a survey answer token")  # signed by us, but not this shape
    return LinkData(int(invitation), int(score))


def answer_path(token: str) -> str:
    return reverse("feedback:answer", args=[token])


def link_prefix(site_url: str | None = None) -> str:
    """The absolute URL of an answer page without its token (reversed once per batch)."""
    base = (site_url if site_url is not None else settings.SITE_URL).rstrip("/")
    return base + answer_path("TOKEN").removesuffix("TOKEN/")


def score_links(signer: BatchSigner, *, invitation_id: int, prefix: str) -> list[dict]:
    """The eleven absolute answer URLs of one invitation, 0 to 10, for the email context."""
    return [
        {"score": s, "url": f"{prefix}{signer.token(invitation_id=invitation_id, score=s)}/"}
        for s in SCORES
    ]
