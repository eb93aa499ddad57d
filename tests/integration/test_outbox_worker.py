"""The outbox on real services: a Redis-backed Celery worker, PostgreSQL, SMTP on loopback."""

import collections

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.models import Message, MessageKind
from campaigns.services.outbox import message_queue
from campaigns.tasks import send_due_messages
from campaigns.tokens import unsubscribe_token
from customers.models import ConsentPurpose
from tests.factories import ConsentEventFactory, CustomerFactory

pytestmark = pytest.mark.services


def _customers(n: int) -> list:
    customers = CustomerFactory.create_batch(n)
    for c in customers:
        for purpose in (ConsentPurpose.SURVEYS, ConsentPurpose.EMAIL_MARKETING):
            ConsentEventFactory(customer=c, purpose=purpose)
    return customers


def _queue(customer, kind=MessageKind.SURVEY, subject="How did we do?"):
    return message_queue(
        customer=customer,
        kind=kind,
        template="message",
        context={"subject": subject, "body": "Two minutes of your time?"},
    )


def _run(worker) -> None:
    result = send_due_messages.apply_async(queue=worker.queue)
    worker.wait_for_log(rf"{result.id}\] succeeded", timeout=60)


def test_due_messages_are_sent_once_by_the_worker(celery_worker, smtp_sink):
    sink, _ = smtp_sink
    customers = _customers(12)
    for c in customers:
        _queue(c)

    _run(celery_worker)
    _run(celery_worker)  # the beat job fires again: nothing new

    assert len(sink.wait_for(12)) == 12
    assert sorted(m["To"] for m in sink.messages) == sorted(c.email for c in customers)
    assert Message.objects.filter(status=Message.Status.SENT).count() == 12
    for m in sink.messages:
        assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        links = str(m["List-Unsubscribe"]).strip()
        assert links.startswith("<http") and "/u/" in links and "<mailto:" in links


def test_a_customer_who_unsubscribes_between_queueing_and_sending_receives_nothing(
    celery_worker, smtp_sink
):
    sink, _ = smtp_sink
    leaving, staying = _customers(2)
    _queue(leaving)
    _queue(staying)
    token = unsubscribe_token(customer_id=leaving.pk, purpose=ConsentPurpose.SURVEYS)
    # the mail client's one-click POST: no session, no CSRF token
    response = Client(enforce_csrf_checks=True).post(
        reverse("campaigns:unsubscribe", args=[token]), {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200

    _run(celery_worker)

    assert [m["To"] for m in sink.wait_for(1)] == [staying.email]
    skipped = Message.objects.get(customer=leaving)
    assert skipped.skip_reason == Message.SkipReason.UNSUBSCRIBED


def test_the_contact_limit_holds_across_surveys_marketing_and_two_workers(start_worker, smtp_sink):
    sink, _ = smtp_sink
    customers = _customers(6)
    for c in customers:  # five capped messages each, and a receipt
        _queue(c, subject="Survey")
        for i in range(4):
            _queue(c, kind=MessageKind.MARKETING, subject=f"Offer {i}")
        _queue(c, kind=MessageKind.TRANSACTIONAL, subject="Receipt")
    # small batches, so the two workers interleave on the same customers
    first, second = start_worker(OUTBOX_BATCH_SIZE="4"), start_worker(OUTBOX_BATCH_SIZE="4")

    results = [send_due_messages.apply_async(queue=first.queue) for _ in range(4)]
    for result in results:
        for worker in (first, second):
            if result.id in worker.text():
                break
        else:
            worker = first
        worker.wait_for_log(rf"{result.id}\] succeeded", timeout=60)

    per_customer = collections.Counter()
    receipts = collections.Counter()
    for m in sink.wait_for(18):
        if m["Subject"] == "Receipt":
            receipts[m["To"]] += 1
        else:
            per_customer[m["To"]] += 1
    assert per_customer == {c.email: 2 for c in customers}  # the default limit: 2 in 7 days
    assert receipts == {c.email: 1 for c in customers}
    assert Message.objects.filter(status=Message.Status.PENDING, postponed__gte=1).count() == 18
