"""The public answer pages behind the links of a survey email."""

import re
import time

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from feedback import links
from feedback.models import SurveyResponse
from tests.factories import CustomerFactory
from tests.feedback.factories import SurveyInvitationFactory, SurveyResponseFactory

pytestmark = pytest.mark.django_db


def answer_url(invitation, score: int) -> str:
    return reverse(
        "feedback:answer", args=[links.score_token(invitation_id=invitation.pk, score=score)]
    )


def csrf_token(response) -> str:
    return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.content)[1].decode()


def test_opening_a_score_link_shows_the_score_preselected_and_records_nothing(client):
    invitation = SurveyInvitationFactory(survey__question="Would you recommend Sklep Górski?")
    url = answer_url(invitation, 8)
    for method in (client.get, client.head, client.get):  # a scanner, a preview, a person
        response = method(url)
        assert response.status_code == 200
    page = client.get(url).content.decode()
    assert "Would you recommend Sklep Górski?" in page
    assert re.search(r'value="8" id="score-8" class="score-input" checked', page)
    assert page.count(" checked") == 1
    assert 'name="csrfmiddlewaretoken"' in page
    assert "noindex" in page
    assert not SurveyResponse.objects.exists()


def test_the_pages_need_no_login_and_are_not_cached_or_indexed(client):
    invitation = SurveyInvitationFactory()
    response = client.get(answer_url(invitation, 3))
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_submitting_records_the_answer_once_with_the_staff_member_of_the_interaction(charlie):
    client = Client(enforce_csrf_checks=True)
    invitation = SurveyInvitationFactory(staff=charlie)
    url = answer_url(invitation, 9)
    token = csrf_token(client.get(url))
    response = client.post(
        url,
        {
            "score": "9",
            "comment": "  Fast delivery, friendly call.  ",
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith("/thanks/")
    answer = SurveyResponse.objects.get()
    assert (answer.invitation, answer.survey, answer.customer) == (
        invitation,
        invitation.survey,
        invitation.customer,
    )
    assert (answer.score, answer.comment, answer.staff) == (
        9,
        "Fast delivery, friendly call.",
        charlie,
    )
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    assert b"Thank you for your answer" in thanks.content
    assert b"<strong>9</strong> out of 10" in thanks.content


def test_a_second_submit_updates_the_same_answer(client):
    invitation = SurveyInvitationFactory()
    url = answer_url(invitation, 9)
    client.post(url, {"score": "9", "comment": ""})
    first = SurveyResponse.objects.get()
    client.post(answer_url(invitation, 4), {"score": "7", "comment": "On second thought: slow."})
    answer = SurveyResponse.objects.get()
    assert answer.pk == first.pk
    assert (answer.score, answer.comment) == (7, "On second thought: slow.")
    assert answer.responded_at == first.responded_at
    assert answer.updated_at >= first.updated_at
    page = client.get(url).content.decode()
    assert "On second thought: slow." in page  # their own comment, to edit
    assert "Update my answer" in page


def test_the_score_submitted_wins_over_the_one_in_the_link(client):
    invitation = SurveyInvitationFactory()
    client.post(answer_url(invitation, 2), {"score": "10"})
    assert SurveyResponse.objects.get().score == 10


@pytest.mark.parametrize("score", ["", "11", "-1", "nine"])
def test_a_submit_without_a_valid_score_records_nothing_and_says_why(client, score):
    invitation = SurveyInvitationFactory()
    response = client.post(answer_url(invitation, 5), {"score": score, "comment": "kept"})
    assert response.status_code == 400
    assert (
        b"Pick a score from 0 to 10" in response.content
        or b"Select a valid choice" in response.content
    )
    assert b"kept" in response.content
    assert not SurveyResponse.objects.exists()


def test_a_submit_without_the_csrf_token_is_refused():
    client = Client(enforce_csrf_checks=True)
    invitation = SurveyInvitationFactory()
    response = client.post(answer_url(invitation, 5), {"score": "5"})
    assert response.status_code == 403
    assert not SurveyResponse.objects.exists()


def _tokens(invitation_id: int, monkeypatch) -> dict[str, str]:
    good = links.score_token(invitation_id=invitation_id, score=3)
    real = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: real - 200 * 86400)
    expired = links.score_token(invitation_id=invitation_id, score=3)
    monkeypatch.undo()
    return {
        "tampered": good.replace(f"{invitation_id}.3:", f"{invitation_id}.9:"),
        "forged": signing.TimestampSigner(key="guessed-secret", salt=links.SALT).sign(
            f"{invitation_id}.3"
        ),
        "other-salt": signing.TimestampSigner(salt="rapport.unsubscribe.v1").sign(
            f"{invitation_id}.3"
        ),
        "garbage": "hello-there",
        "expired": expired,
    }


@pytest.mark.parametrize("kind", ["tampered", "forged", "other-salt", "garbage", "expired"])
def test_a_bad_token_is_refused_with_a_clear_page_for_get_and_post(
    client, kind, monkeypatch, settings
):
    settings.SURVEY_LINK_MAX_AGE_DAYS = 120
    invitation = SurveyInvitationFactory()
    token = _tokens(invitation.pk, monkeypatch)[kind]
    url = reverse("feedback:answer", args=[token])
    for response in (client.get(url), client.post(url, {"score": "9"})):
        assert response.status_code == 400
        text = response.content.decode()
        assert "has expired" in text if kind == "expired" else "This link is not valid" in text
        assert "<form" not in text
    assert client.get(reverse("feedback:thanks", args=[token])).status_code == 400
    assert not SurveyResponse.objects.exists()


def test_a_link_to_an_invitation_that_no_longer_exists_is_not_found(client):
    invitation = SurveyInvitationFactory()
    url = answer_url(invitation, 5)
    invitation.delete()
    response = client.get(url)
    assert response.status_code == 404
    assert b"no longer available" in response.content


def test_the_pages_show_nothing_about_the_customer_or_anyone_else(client):
    mine = SurveyInvitationFactory(
        customer=CustomerFactory(name="Zofia Mazur", email="zofia@example.pl")
    )
    SurveyResponseFactory(
        invitation__survey=mine.survey,
        invitation__customer=CustomerFactory(name="Other Person", email="other@example.pl"),
        comment="Secret complaint of someone else",
    )
    url = answer_url(mine, 6)
    client.post(url, {"score": "6", "comment": "mine"})
    for page in (client.get(url), client.get(reverse("feedback:thanks", args=[url.split("/")[2]]))):
        text = page.content.decode()
        for private in (
            "Zofia",
            "zofia@example.pl",
            "Other Person",
            "other@example.pl",
            "Secret complaint",
        ):
            assert private not in text


def test_the_thank_you_page_before_an_answer_goes_to_the_question(client):
    invitation = SurveyInvitationFactory()
    token = links.score_token(invitation_id=invitation.pk, score=5)
    response = client.get(reverse("feedback:thanks", args=[token]))
    assert response.status_code == 302
    assert response["Location"] == reverse("feedback:answer", args=[token])


def test_a_detractor_is_told_someone_will_get_in_touch(client):
    invitation = SurveyInvitationFactory()
    url = answer_url(invitation, 2)
    response = client.post(url, {"score": "2", "comment": "Broken on arrival"}, follow=True)
    assert b"get in touch" in response.content
