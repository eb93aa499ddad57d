"""The unsubscribe link: GET changes nothing, POST (one-click, no session) withdraws once."""

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from campaigns.tokens import ALL_PURPOSES, unsubscribe_token
from customers.models import ConsentEvent, ConsentPurpose
from customers.selectors import customer_consent_state
from tests.factories import ConsentEventFactory, CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    customer = CustomerFactory(email="ola.nowak@example.com")
    for purpose in (ConsentPurpose.SURVEYS, ConsentPurpose.EMAIL_MARKETING):
        ConsentEventFactory(customer=customer, purpose=purpose, granted=True)
    return customer


def _url(customer, purpose=ConsentPurpose.SURVEYS):
    return reverse(
        "campaigns:unsubscribe", args=[unsubscribe_token(customer_id=customer.pk, purpose=purpose)]
    )


def _granted(customer) -> dict[str, bool]:
    return {s.purpose: s.granted for s in customer_consent_state(customer=customer)}


def test_opening_the_link_only_asks_and_changes_nothing(customer):
    response = Client().get(_url(customer))

    assert response.status_code == 200
    page = response.content.decode()
    assert "feedback surveys" in page
    assert "o***@example.com" in page and "ola.nowak" not in page
    assert _granted(customer)[ConsentPurpose.SURVEYS] is True
    assert customer.consent_events.count() == 2


def test_a_one_click_post_without_session_or_csrf_token_unsubscribes_once(customer):
    client = Client(enforce_csrf_checks=True)
    url = _url(customer)

    first = client.post(url, {"List-Unsubscribe": "One-Click"})
    second = client.post(url, {"List-Unsubscribe": "One-Click"})

    assert first.status_code == second.status_code == 200
    state = _granted(customer)
    assert state[ConsentPurpose.SURVEYS] is False
    assert state[ConsentPurpose.EMAIL_MARKETING] is True  # only what the link was for
    withdrawn = customer.consent_events.filter(granted=False)
    assert withdrawn.count() == 1
    assert withdrawn.get().source == ConsentEvent.Source.UNSUBSCRIBE


def test_the_page_offers_unsubscribing_from_everything(customer):
    response = Client().post(_url(customer), {"scope": "all"})

    assert response.status_code == 200
    assert "all marketing email and surveys" in response.content.decode()
    assert not any(
        _granted(customer)[p] for p in (ConsentPurpose.SURVEYS, ConsentPurpose.EMAIL_MARKETING)
    )
    assert _url(customer, ALL_PURPOSES)  # an all-purpose token is valid too


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        signing.dumps({"c": 1, "p": "surveys"}, salt="rapport.survey.v1"),  # another purpose's salt
        signing.dumps({"c": 1, "p": "profiling"}, salt="rapport.unsubscribe.v1"),  # not a list
    ],
)
def test_forged_or_other_purpose_tokens_are_refused(customer, token):
    response = Client().post(reverse("campaigns:unsubscribe", args=[token]))

    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert customer.consent_events.filter(granted=False).count() == 0


def test_a_tampered_token_is_refused(customer):
    token = unsubscribe_token(customer_id=customer.pk, purpose=ConsentPurpose.SURVEYS)
    other = CustomerFactory()
    payload, _, signature = token.rpartition(":")
    forged = signing.dumps({"c": other.pk, "p": "surveys"}, salt="x").rpartition(":")[0]

    assert (
        Client().post(reverse("campaigns:unsubscribe", args=[f"{forged}:{signature}"])).status_code
        == 400
    )
    assert (
        Client()
        .get(reverse("campaigns:unsubscribe", args=[payload + ":x" + signature]))
        .status_code
        == 400
    )
