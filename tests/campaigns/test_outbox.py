"""The outbox: queueing, the checks made at send time, the contact limit, headers."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from campaigns.models import Message, MessageKind
from campaigns.services.outbox import message_queue, messages_queue_bulk, messages_send_due
from customers.models import ConsentEvent, ConsentPurpose
from tests.factories import ConsentEventFactory, CustomerFactory, OrderFactory, TagFactory

pytestmark = pytest.mark.django_db


def _customer(*purposes, **fields):
    customer = CustomerFactory(**fields)
    for purpose in purposes:
        ConsentEventFactory(customer=customer, purpose=purpose, granted=True)
    return customer


def _queue(customer, kind=MessageKind.SURVEY, **fields):
    return message_queue(
        customer=customer,
        kind=kind,
        template="message",
        context={"subject": fields.pop("subject", "How did we do?"), "body": "Tell us."},
        **fields,
    )


BOTH = (ConsentPurpose.SURVEYS, ConsentPurpose.EMAIL_MARKETING)


def test_it_sends_a_due_message_with_one_click_unsubscribe_headers(settings):
    settings.SITE_URL = "https://rapport.example.com"
    customer = _customer(ConsentPurpose.SURVEYS, name="Ola Nowak", locale="en")
    message = _queue(customer)

    report = messages_send_due()

    assert report.sent == 1
    [email] = mail.outbox
    assert email.to == [customer.email]
    assert email.subject == "How did we do?"
    unsubscribe = email.extra_headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://rapport.example.com/u/")
    assert "<mailto:" in unsubscribe
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Hello Ola," in email.body
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.to_email == customer.email
    assert email.extra_headers["Message-ID"] == message.message_id
    assert message.attempts == 1 and message.sent_at is not None
    # running the job again sends nothing more
    assert messages_send_due().sent == 0
    assert len(mail.outbox) == 1


def test_it_waits_until_a_message_is_due():
    customer = _customer(ConsentPurpose.SURVEYS)
    message = _queue(customer, send_after=timezone.now() + dt.timedelta(hours=1))

    assert messages_send_due().sent == 0
    message.refresh_from_db()
    assert message.status == Message.Status.PENDING
    assert messages_send_due(now=timezone.now() + dt.timedelta(hours=2)).sent == 1


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda: _customer(), "no_consent"),
        (lambda: _customer(ConsentPurpose.EMAIL_MARKETING), "no_consent"),
        (lambda: _customer(ConsentPurpose.SURVEYS, email=None), "no_address"),
        (lambda: _customer(ConsentPurpose.SURVEYS, email="not-an-address"), "invalid_address"),
    ],
)
def test_it_skips_with_a_reason_instead_of_sending(setup, reason):
    message = _queue(setup())

    report = messages_send_due()

    assert report.skip_reasons == {reason: 1}
    message.refresh_from_db()
    assert (message.status, message.skip_reason) == (Message.Status.SKIPPED, reason)
    assert mail.outbox == []


def test_a_customer_who_unsubscribes_after_queueing_gets_nothing():
    customer = _customer(*BOTH)
    message = _queue(customer)
    ConsentEventFactory(
        customer=customer,
        purpose=ConsentPurpose.SURVEYS,
        granted=False,
        source=ConsentEvent.Source.UNSUBSCRIBE,
    )

    messages_send_due()

    message.refresh_from_db()
    assert message.skip_reason == Message.SkipReason.UNSUBSCRIBED
    assert mail.outbox == []


def test_transactional_mail_needs_no_consent_and_is_never_capped(settings):
    settings.CONTACT_LIMIT_MESSAGES = 1
    customer = _customer()  # no consent at all
    for i in range(3):
        _queue(customer, kind=MessageKind.TRANSACTIONAL, subject=f"Receipt {i}")

    assert messages_send_due().sent == 3
    assert "List-Unsubscribe" not in mail.outbox[0].extra_headers


def test_the_contact_limit_counts_surveys_and_marketing_together_and_postpones(settings):
    settings.CONTACT_LIMIT_MESSAGES = 2
    settings.CONTACT_LIMIT_DAYS = 7
    customer = _customer(*BOTH)
    survey = _queue(customer, subject="Survey")
    offer = _queue(customer, kind=MessageKind.MARKETING, subject="Offer")
    third = _queue(customer, kind=MessageKind.MARKETING, subject="Another offer")
    _queue(customer, kind=MessageKind.TRANSACTIONAL, subject="Receipt")

    report = messages_send_due()

    assert (report.sent, report.postponed) == (3, 1)
    assert sorted(e.subject for e in mail.outbox) == ["Offer", "Receipt", "Survey"]
    third.refresh_from_db()
    survey.refresh_from_db()
    assert third.status == Message.Status.PENDING
    assert third.postponed == 1
    # the first moment the window holds fewer than 2: when the first send leaves it
    assert third.send_after == survey.sent_at + dt.timedelta(days=7, seconds=1)
    assert messages_send_due().sent == 0  # not before then

    later = third.send_after + dt.timedelta(seconds=1)
    Message.objects.filter(pk__in=[survey.pk, offer.pk]).update(
        sent_at=timezone.now() - dt.timedelta(days=8)
    )
    assert messages_send_due(now=later).sent == 1
    third.refresh_from_db()
    assert third.status == Message.Status.SENT


def test_a_message_held_back_past_its_expiry_is_skipped():
    customer = _customer(ConsentPurpose.SURVEYS)
    message = _queue(customer, expires_at=timezone.now() - dt.timedelta(minutes=1))

    messages_send_due()

    message.refresh_from_db()
    assert message.skip_reason == Message.SkipReason.EXPIRED


def test_it_personalises_with_name_interests_and_last_order():
    customer = _customer(ConsentPurpose.EMAIL_MARKETING, name="Jan Kowalski", locale="en")
    customer.tags.add(TagFactory(name="running"), TagFactory(name="trail"))
    OrderFactory(customer=customer, product_line="shoes")
    message_queue(
        customer=customer,
        kind=MessageKind.MARKETING,
        template="message",
        context={
            "subject": "For you",
            "body": "New arrivals.",
        },
    )

    messages_send_due()

    [email] = mail.outbox
    assert "Hello Jan," in email.body
    html = email.alternatives[0][0]
    assert "Hello Jan," in html and "Unsubscribe" in html


def test_a_message_a_killed_worker_left_sending_is_sent_again_with_its_message_id(settings):
    settings.OUTBOX_SENDING_TIMEOUT = 60
    customer = _customer(ConsentPurpose.SURVEYS)
    message = _queue(customer)
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENDING,
        claimed_at=timezone.now() - dt.timedelta(minutes=5),
        message_id="<abc@rapport>",
    )

    report = messages_send_due()

    assert (report.requeued_stale, report.sent) == (1, 1)
    assert mail.outbox[0].extra_headers["Message-ID"] == "<abc@rapport>"


def test_a_recent_claim_is_left_alone():
    customer = _customer(ConsentPurpose.SURVEYS)
    message = _queue(customer)
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENDING, claimed_at=timezone.now()
    )

    assert messages_send_due().sent == 0


def test_queueing_with_a_key_twice_queues_once():
    customer = _customer()
    first = _queue(customer, dedupe_key="survey:1:order:9")
    second = _queue(customer, dedupe_key="survey:1:order:9", subject="other")

    assert first.pk == second.pk
    assert Message.objects.count() == 1


def test_bulk_queueing_returns_ids_of_new_and_existing_rows():
    a, b = _customer(), _customer()
    existing = _queue(a, dedupe_key="k-a")
    specs = [
        {"customer": c.pk, "kind": "survey", "template": "message", "dedupe_key": f"k-{n}"}
        for n, c in (("a", a), ("b", b))
    ]

    ids = messages_queue_bulk(specs=specs)

    assert ids["k-a"] == existing.pk
    assert Message.objects.get(pk=ids["k-b"]).customer == b
    assert messages_queue_bulk(specs=specs) == ids
    assert Message.objects.count() == 2


def test_a_template_error_fails_the_message_without_stopping_the_batch():
    customer = _customer(ConsentPurpose.SURVEYS)
    broken = message_queue(customer=customer, kind=MessageKind.SURVEY, template="no_such")
    fine = _queue(_customer(ConsentPurpose.SURVEYS))

    report = messages_send_due()

    assert (report.sent, report.failed) == (1, 1)
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.status == Message.Status.FAILED and "rendering" in broken.last_error
    assert fine.status == Message.Status.SENT


@pytest.mark.parametrize(
    ("locale", "greeting", "unsubscribe"),
    [("pl", "Dzień dobry, Ola,", "Wypisz się"), ("uk", "Вітаємо, Ola,", "Відписатися"),
     ("de", "Hello Ola,", "Unsubscribe")],
)  # fmt: skip
def test_it_writes_in_the_customers_language_where_a_translation_exists(
    locale, greeting, unsubscribe
):
    customer = _customer(ConsentPurpose.SURVEYS, name="Ola Nowak", locale=locale)
    _queue(customer)

    messages_send_due()

    [email] = mail.outbox
    assert greeting in email.body
    assert unsubscribe in email.body
