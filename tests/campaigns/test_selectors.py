import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Message, MessageKind
from campaigns.selectors import outbox_summary
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _message(status, **fields):
    return Message.objects.create(
        customer=CustomerFactory(),
        kind=fields.pop("kind", MessageKind.SURVEY),
        template="message",
        status=status,
        **fields,
    )


@pytest.fixture
def outbox():
    _message("sent")
    _message("sent")
    _message("pending", postponed=1)
    _message("pending")
    _message("skipped", skip_reason="unsubscribed")
    _message("skipped", skip_reason="no_consent")
    _message("skipped", skip_reason="no_consent")
    _message("failed")
    old = _message("sent")
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=9))


def test_the_summary_counts_the_last_days_by_outcome_and_reason(outbox):
    summary = outbox_summary(days=7)

    assert (summary.sent, summary.pending, summary.postponed, summary.failed) == (2, 2, 1, 1)
    assert summary.skipped == {"No consent for this kind of message": 2, "Unsubscribed": 1}
    assert summary.skipped_total == 3


def test_the_dashboard_shows_why_emails_were_held_back(
    outbox, bob_client, django_assert_max_num_queries
):
    page = bob_client.get(reverse("dashboard")).content.decode()

    assert 'data-outbox="sent">2<' in page
    assert "1 held back by the contact limit" in page
    assert "Unsubscribed: 1" in page


def test_support_staff_see_the_outbox_summary_too(outbox, charlie_client):
    # support may read campaigns (crm/roles.py), so the card is theirs as well
    assert "Emails to customers" in charlie_client.get(reverse("dashboard")).content.decode()


def test_the_customer_page_lists_emails_and_why_one_was_held_back(charlie_client):
    customer = CustomerFactory()
    Message.objects.create(
        customer=customer,
        kind="survey",
        template="message",
        status="sent",
        subject="How did we do?",
        sent_at=timezone.now(),
    )
    Message.objects.create(
        customer=customer,
        kind="marketing",
        template="message",
        status="skipped",
        skip_reason="unsubscribed",
    )
    Message.objects.create(
        customer=customer,
        kind="marketing",
        template="message",
        status="pending",
        postponed=1,
        send_after=timezone.now() + dt.timedelta(days=3),
    )

    page = charlie_client.get(reverse("customers:detail", args=[customer.pk])).content.decode()

    assert "How did we do?" in page
    assert "Not sent: unsubscribed" in page
    assert "Held back by the contact limit until" in page
