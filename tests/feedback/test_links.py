"""The signed answer tokens."""

import time

import pytest
from django.core import signing

from campaigns.tokens import unsubscribe_token
from feedback import links


def test_a_token_carries_the_invitation_and_the_score():
    token = links.score_token(invitation_id=981, score=9)
    assert links.score_token_read(token) == links.LinkData(981, 9)


def test_the_batch_signer_writes_exactly_what_django_signing_writes(monkeypatch):
    monkeypatch.setattr(signing.time, "time", lambda: 1_780_000_000.0)
    plain = signing.TimestampSigner(salt=links.SALT, algorithm="sha256")
    batch = links.BatchSigner()
    for invitation, score in [(42, 0), (7, 10), (123456789, 5)]:
        token = batch.token(invitation_id=invitation, score=score)
        assert token == plain.sign(f"{invitation}.{score}")
        assert plain.unsign(token) == f"{invitation}.{score}"


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace("12.3:", "12.9:", 1),  # another score
        lambda t: t.replace("12.3:", "13.3:", 1),  # another invitation
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # the signature
        lambda t: t.split(":")[0],  # truncated
        lambda t: "",
    ],
    ids=["score", "invitation", "signature", "truncated", "empty"],
)
def test_an_edited_token_is_refused(edit):
    token = links.score_token(invitation_id=12, score=3)
    with pytest.raises(links.LinkInvalid):
        links.score_token_read(edit(token))


def test_a_forged_token_and_one_made_for_another_purpose_are_refused(settings):
    forged = signing.TimestampSigner(key="not-our-secret-key-at-all", salt=links.SALT).sign("1.10")
    with pytest.raises(links.LinkInvalid):
        links.score_token_read(forged)
    other_salt = signing.TimestampSigner(salt="rapport.unsubscribe.v1").sign("1.10")
    with pytest.raises(links.LinkInvalid):
        links.score_token_read(other_salt)
    with pytest.raises(links.LinkInvalid):
        links.score_token_read(unsubscribe_token(customer_id=1, purpose="surveys"))
    ours_but_not_an_answer = signing.TimestampSigner(salt=links.SALT).sign("hello")
    with pytest.raises(links.LinkInvalid, match="not a survey answer"):
        links.score_token_read(ours_but_not_an_answer)


def test_a_token_past_the_maximum_age_is_refused_as_expired(settings, monkeypatch):
    settings.SURVEY_LINK_MAX_AGE_DAYS = 120
    real = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: real - 121 * 86400)
    old = links.score_token(invitation_id=5, score=7)
    monkeypatch.setattr(signing.time, "time", lambda: real - 119 * 86400)
    recent = links.score_token(invitation_id=5, score=7)
    monkeypatch.undo()
    with pytest.raises(links.LinkExpired):
        links.score_token_read(old)
    assert links.score_token_read(recent).score == 7


def test_it_refuses_to_sign_a_score_outside_0_to_10():
    with pytest.raises(ValueError, match="0-10"):
        links.score_token(invitation_id=1, score=11)


def test_score_links_are_eleven_absolute_urls(settings):
    prefix = links.link_prefix("https://crm.example.com/")
    assert prefix == "https://crm.example.com/s/"
    urls = links.score_links(links.BatchSigner(), invitation_id=7, prefix=prefix)
    assert [u["score"] for u in urls] == list(range(11))
    assert len({u["url"] for u in urls}) == 11
