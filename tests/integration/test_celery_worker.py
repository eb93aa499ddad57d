import datetime as dt

import pytest
from django.utils import timezone

from customers.models import FollowUpDigest
from customers.tasks import send_followup_digest
from tests.factories import CustomerFactory, FollowUpFactory

pytestmark = pytest.mark.services


def test_it_sends_the_follow_up_digest_through_a_real_worker_and_smtp(
    celery_worker, smtp_sink, charlie
):
    sink, _ = smtp_sink
    customer = CustomerFactory(name="Тарас Мельник")
    FollowUpFactory(
        customer=customer,
        assigned_to=charlie,
        due_on=timezone.localdate() - dt.timedelta(days=1),
        reason="Promised a call about the warranty",
    )

    first = send_followup_digest.apply_async(queue=celery_worker.queue)
    celery_worker.wait_for_log(rf"{first.id}\] succeeded in [0-9.]+s: 1")
    [message] = sink.wait_for(1)
    assert message["To"] == "charlie@example.com"
    assert "1 follow-up" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "Тарас Мельник" in text
    assert "Promised a call about the warranty" in text
    assert "(overdue)" in text

    # The beat job may fire twice (a restarted beat, a manual run): nothing new is sent.
    second = send_followup_digest.apply_async(queue=celery_worker.queue)
    celery_worker.wait_for_log(rf"{second.id}\] succeeded in [0-9.]+s: 0")
    assert len(sink.messages) == 1
    assert FollowUpDigest.objects.filter(user=charlie).count() == 1
