"""The survey loop through real services: the hourly job and the send job on a Celery
worker, the email through SMTP, the answer link back into the site."""

import datetime as dt
import re
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from campaigns.models import Message
from campaigns.tasks import send_due_messages
from feedback.links import score_token_read
from feedback.models import SurveyInvitation
from feedback.tasks import queue_due_surveys
from tests.factories import OrderFactory
from tests.feedback.factories import SurveyFactory, consenting_customer

# The worker harness's fixtures (its conftest only serves tests/integration/ itself).
from tests.integration.conftest import (  # noqa: F401
    celery_worker,
    smtp_sink,
    start_worker,
    worker_env,
)

pytestmark = pytest.mark.services


def test_the_hourly_job_and_the_send_job_email_a_survey_through_a_real_worker(
    celery_worker,  # noqa: F811
    smtp_sink,  # noqa: F811
    client,
):
    sink, _ = smtp_sink
    SurveyFactory(question="How likely are you to recommend Górski Outdoor?")
    customer = consenting_customer(name="Ірина Бондар", email="iryna@example.ua", locale="uk")
    OrderFactory(customer=customer, ordered_at=timezone.now() - dt.timedelta(days=15))

    queued = queue_due_surveys.apply_async(queue=celery_worker.queue)
    celery_worker.wait_for_log(rf"{queued.id}\] succeeded")
    again = queue_due_surveys.apply_async(queue=celery_worker.queue)  # beat fired twice
    celery_worker.wait_for_log(rf"{again.id}\] succeeded")
    invitation = SurveyInvitation.objects.get()

    sent = send_due_messages.apply_async(queue=celery_worker.queue)
    celery_worker.wait_for_log(rf"{sent.id}\] succeeded")
    [email] = sink.wait_for(1)
    assert email["To"] == "iryna@example.ua"
    assert email["List-Unsubscribe"]
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert "How likely are you to recommend Górski Outdoor?" in text
    urls = re.findall(r'href="([^"]+/s/[^"]+)"', html)
    assert len(urls) == 11
    tokens = [urlparse(u).path.split("/")[2] for u in urls]
    assert [score_token_read(t).score for t in tokens] == list(range(11))
    assert {score_token_read(t).invitation_id for t in tokens} == {invitation.pk}
    invitation.message.refresh_from_db()
    assert invitation.message.status == Message.Status.SENT

    page = client.get(urlparse(urls[10]).path)
    assert page.status_code == 200
    assert b'value="10" id="score-10" class="score-input" checked' in page.content
