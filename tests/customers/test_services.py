import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers import selectors, services
from customers.models import FollowUpDigest, Tag
from tests.factories import CustomerFactory, FollowUpFactory


@pytest.mark.django_db
def test_it_matches_tags_case_insensitively_and_creates_missing_ones():
    Tag.objects.create(name="Running")
    tags = services.tags_get_or_create(names=["running", " Hiking ", "HIKING", ""])
    assert [t.name for t in tags] == ["Running", "Hiking"]
    assert Tag.objects.count() == 2


@pytest.mark.django_db
def test_it_derives_consent_state_from_the_latest_event():
    customer = CustomerFactory()
    now = timezone.now()
    services.consent_record(
        customer=customer, purpose="surveys", granted=True, source="form", occurred_at=now
    )
    services.consent_record(
        customer=customer,
        purpose="surveys",
        granted=False,
        source="unsubscribe",
        occurred_at=now + dt.timedelta(minutes=1),
    )
    state = {c.purpose: c.granted for c in selectors.customer_consent_state(customer=customer)}
    assert state["surveys"] is False
    assert customer.consent_events.count() == 2  # the log keeps both


@pytest.mark.django_db
def test_it_rejects_an_unknown_consent_purpose():
    with pytest.raises(ValidationError):
        services.consent_record(
            customer=CustomerFactory(), purpose="telepathy", granted=True, source="form"
        )


@pytest.mark.django_db
def test_it_rejects_an_unknown_role(db):
    with pytest.raises(ValidationError):
        services.user_create(username="eve", role="overlord")


@pytest.mark.django_db
def test_it_emails_each_staff_member_their_due_follow_ups_once_a_day(charlie, bob):
    today = timezone.localdate()
    customer = CustomerFactory(name="Ірина Бондар")
    FollowUpFactory(customer=customer, assigned_to=charlie, due_on=today - dt.timedelta(days=2))
    FollowUpFactory(assigned_to=charlie, due_on=today + dt.timedelta(days=5))  # not yet due
    FollowUpFactory(assigned_to=bob, due_on=today, done_at=timezone.now())  # done
    assert services.followup_digest_send(today=today) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["charlie@example.com"]
    assert "Ірина Бондар" in message.body and "(overdue)" in message.body
    assert "1 follow-up is due" in message.body
    assert services.followup_digest_send(today=today) == 0  # safe to run twice
    assert len(mail.outbox) == 1
    assert FollowUpDigest.objects.get().follow_ups == 1


@pytest.mark.django_db
def test_it_releases_the_digest_claim_when_sending_fails(charlie, settings):
    settings.EMAIL_BACKEND = "tests.customers.test_services.FailingBackend"
    FollowUpFactory(assigned_to=charlie, due_on=timezone.localdate())
    with pytest.raises(OSError, match="SMTP down"):
        services.followup_digest_send()
    assert not FollowUpDigest.objects.exists()


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("SMTP down")
