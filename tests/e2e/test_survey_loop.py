"""The feedback loop in a browser: a customer answers from the email's link, support
sees the unhappy answer first in the follow-up queue."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.services.outbox import messages_send_due
from customers.models import FollowUp
from feedback import services
from feedback.models import SurveyInvitation, SurveyResponse
from tests.e2e.conftest import assert_clean, log_in, screenshot
from tests.factories import CustomerFactory, FollowUpFactory, InteractionFactory, OrderFactory
from tests.feedback.factories import SurveyFactory, consenting_customer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

COMMENT = "The boots leaked on the first walk and nobody answered my email."


def test_a_customer_answers_from_the_email_and_support_sees_it_first(
    page, charlie, live_server, settings
):
    settings.SITE_URL = live_server.url
    SurveyFactory(
        name="After a purchase", question="How likely are you to recommend Górski Outdoor?"
    )
    customer = consenting_customer(name="Marta Zielińska")
    OrderFactory(customer=customer, ordered_at=timezone.now() - dt.timedelta(days=15))
    InteractionFactory(customer=customer, staff=charlie, summary="Asked about sizes")
    FollowUpFactory(
        customer=CustomerFactory(name="Overdue Olga"),
        assigned_to=charlie,
        due_on=timezone.localdate() - dt.timedelta(days=3),
        reason="Promised a refund update",
    )
    services.surveys_queue_due()
    invitation = SurveyInvitation.objects.get()
    messages_send_due()
    email = mail.outbox[-1]
    html = email.alternatives[0][0]
    assert html.count('href="' + live_server.url + "/s/") == 11
    link = invitation.message.context["scores"][3]["url"]
    assert link in email.body

    # What the customer sees in the mail program (rendered outside the site, no CSP).
    page.set_viewport_size({"width": 620, "height": 520})
    page.set_content(html)
    screenshot(page, "survey-email")

    # The customer, on a phone, opens the "3" link: preselected, nothing recorded yet.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(link)
    expect(
        page.get_by_role("heading", name="How likely are you to recommend Górski Outdoor?")
    ).to_be_visible()
    expect(page.locator("#score-3")).to_be_checked()
    assert not SurveyResponse.objects.exists()
    screenshot(page, "survey-answer-mobile")
    page.get_by_label("What is the main reason for your score?").fill(COMMENT)
    page.get_by_role("button", name="Send my answer").click()
    expect(page.get_by_role("heading", name="Thank you for your answer")).to_be_visible()
    expect(page.locator(".thanks-score")).to_contain_text("3 out of 10")
    screenshot(page, "survey-thanks-mobile")
    assert_clean(page)
    answer = SurveyResponse.objects.get()
    assert (answer.score, answer.comment) == (3, COMMENT)

    # Changing the score on the same page updates the answer instead of adding one.
    page.get_by_role("link", name="Change your answer").click()
    page.locator("label[for=score-2]").click()
    page.get_by_role("button", name="Update my answer").click()
    expect(page.locator(".thanks-score")).to_contain_text("2 out of 10")
    assert SurveyResponse.objects.get().score == 2
    assert FollowUp.objects.filter(priority=FollowUp.Priority.URGENT).count() == 1

    # A tampered link gets a clear page, not an error.
    page.allowed_console.append("status of 400")
    response = page.goto(link.replace(f"/{invitation.pk}.3:", f"/{invitation.pk}.9:"))
    assert response.status == 400
    expect(page.get_by_role("heading", name="This link is not valid")).to_be_visible()
    screenshot(page, "survey-link-invalid")

    # Support: the detractor's follow-up is first, with the comment.
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, "charlie")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Follow-ups").click()
    rows = page.locator("#followup-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Marta Zielińska")
    expect(rows.first).to_contain_text(COMMENT)
    expect(rows.first).to_contain_text("Urgent")
    expect(rows.first).to_contain_text("Charlie")
    expect(rows.nth(1)).to_contain_text("Overdue Olga")
    screenshot(page, "survey-follow-ups")
    assert_clean(page)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Feedback").click()
    expect(page.get_by_role("heading", name="Feedback", exact=True)).to_be_visible()
    expect(page.locator("#nps-now")).to_have_text(re.compile("−100"))
    expect(page.locator("#latest-comments")).to_contain_text(COMMENT)
    screenshot(page, "survey-feedback-page")
    page.get_by_role("link", name="Surveys").click()
    expect(page.locator("#survey-table")).to_contain_text("After a purchase")
    screenshot(page, "survey-list-support")
