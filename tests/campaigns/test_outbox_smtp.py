"""The outbox against a real SMTP server on loopback: temporary and permanent failures."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Message, MessageKind
from campaigns.services.outbox import message_queue, messages_send_due
from customers.models import ConsentPurpose
from tests.factories import ConsentEventFactory, CustomerFactory
from tests.smtp import smtp_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings):
    with smtp_server() as (sink, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.OUTBOX_RETRY_BASE_SECONDS = 60
        settings.OUTBOX_MAX_ATTEMPTS = 3
        yield sink


def _survey(email=None):
    customer = CustomerFactory(**({"email": email} if email else {}))
    ConsentEventFactory(customer=customer, purpose=ConsentPurpose.SURVEYS)
    return message_queue(
        customer=customer,
        kind=MessageKind.SURVEY,
        template="message",
        context={"subject": "How did we do?", "body": "Tell us."},
    )


def _later(minutes: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(minutes=minutes)


def test_it_delivers_both_list_unsubscribe_headers_over_smtp(smtp):
    message = _survey()

    assert messages_send_due().sent == 1

    [received] = smtp.wait_for(1)
    links = str(received["List-Unsubscribe"]).strip()  # long headers are folded
    assert links.startswith("<http") and "/u/" in links
    assert "mailto:" in links
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    message.refresh_from_db()
    assert received["Message-ID"] == message.message_id


def test_a_busy_server_is_retried_with_backoff_and_then_delivered_once(smtp):
    smtp.data_replies = ["451 4.3.0 try again later"]
    message = _survey()

    first = messages_send_due()

    assert (first.sent, first.retrying) == (0, 1)
    message.refresh_from_db()
    assert message.status == Message.Status.PENDING
    assert message.attempts == 1 and "451" in message.last_error
    assert message.send_after > _later(0.9)  # backoff, not a hot loop
    assert messages_send_due().sent == 0  # not yet due
    assert messages_send_due(now=_later(2)).sent == 1
    assert len(smtp.wait_for(1)) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Message.Status.SENT, 2)


def test_it_gives_up_after_the_last_attempt_and_shows_failed(smtp):
    smtp.data_replies = ["451 4.3.0 busy"] * 5
    message = _survey()

    for minutes in (0, 5, 30):
        messages_send_due(now=_later(minutes))

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.attempts == 3 and "gave up after 3 attempts" in message.last_error
    assert smtp.messages == []


def test_a_permanent_refusal_fails_at_once_and_the_batch_goes_on(smtp):
    smtp.refuse["gone@example.com"] = "550 5.1.1 no such user"
    refused = _survey(email="gone@example.com")
    fine = _survey()

    report = messages_send_due()

    assert (report.sent, report.failed) == (1, 1)
    refused.refresh_from_db()
    assert refused.status == Message.Status.FAILED and "550" in refused.last_error
    fine.refresh_from_db()
    assert fine.status == Message.Status.SENT


def test_a_server_that_is_down_leaves_the_messages_queued(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    messages = [_survey(), _survey()]

    report = messages_send_due()

    assert report.retrying == 2 and report.sent == 0
    for m in messages:
        m.refresh_from_db()
        assert m.status == Message.Status.PENDING and m.sent_at is None
