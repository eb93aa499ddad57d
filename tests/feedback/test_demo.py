"""The demo feedback that seed_demo writes, so the Feedback page is not empty at first."""

import datetime as dt
from io import StringIO
from urllib.parse import urlparse

import pytest
from django.core.management import call_command
from django.db.models import Count, F, Max, Min
from django.urls import reverse

from campaigns.models import Message
from customers.models import FollowUp
from feedback import selectors
from feedback.demo import feedback_demo_seed
from feedback.models import Survey, SurveyInvitation, SurveyResponse

pytestmark = pytest.mark.django_db

END = dt.date(2026, 6, 15)


@pytest.fixture
def seeded() -> str:
    out = StringIO()
    call_command(
        "seed_demo", "--customers", "400", "--seed", "5", "--end-date", END.isoformat(), stdout=out
    )
    return out.getvalue()


def test_seed_demo_adds_surveys_invitations_answers_and_the_loop(seeded):
    assert "Feedback: 2 surveys" in seeded
    assert Survey.objects.filter(active=True).count() == 2
    invitations = SurveyInvitation.objects.all()
    assert invitations.count() > 50
    assert not invitations.filter(message__isnull=True).exists()
    assert not Message.objects.exclude(status=Message.Status.SENT).exists()
    answers = SurveyResponse.objects.all()
    assert 0.25 < answers.count() / invitations.count() < 0.5
    detractors = answers.filter(score__lte=6)
    assert detractors.exists()
    assert not detractors.filter(follow_up__isnull=True).exists()
    assert not answers.filter(score__gte=7, follow_up__isnull=False).exists()
    assert set(
        FollowUp.objects.filter(survey_response__isnull=False).values_list("priority", flat=True)
    ) == {FollowUp.Priority.URGENT}
    end = dt.datetime.combine(END, dt.time(), tzinfo=dt.UTC)
    assert answers.aggregate(m=Max("responded_at"))["m"] < end
    assert not answers.filter(responded_at__lt=F("invitation__created_at")).exists()
    # one invitation per customer per 90 days
    spans = invitations.values("customer").annotate(
        n=Count("id"), first=Min("created_at"), last=Max("created_at")
    )
    for row in spans.filter(n__gt=1):
        assert row["last"] - row["first"] >= dt.timedelta(days=90)


def test_the_demo_answer_links_open_the_question(seeded, client):
    message = SurveyInvitation.objects.filter(response__isnull=True).first().message
    url = message.context["scores"][9]["url"]
    response = client.get(urlparse(url).path)
    assert response.status_code == 200
    assert b'value="9" id="score-9" class="score-input" checked' in response.content


def test_the_feedback_page_has_figures_after_seeding(seeded, charlie_client):
    o = selectors.feedback_overview(now=dt.datetime.combine(END, dt.time(), tzinfo=dt.UTC))
    assert o.has_answers
    assert sum(m.nps.n for m in o.months) > 20
    assert o.by_staff and o.by_channel
    groups = {g.group: g for g in o.article.groups}
    assert groups["promoter"].repeat_rate > groups["detractor"].repeat_rate
    assert charlie_client.get(reverse("feedback:index")).status_code == 200


def test_seeding_feedback_twice_adds_nothing(seeded):
    before = SurveyInvitation.objects.count()
    assert feedback_demo_seed(seed=5).invitations == 0
    assert SurveyInvitation.objects.count() == before


def test_seed_demo_can_leave_feedback_out():
    call_command("seed_demo", "--customers", "40", "--no-feedback", stdout=StringIO())
    assert not Survey.objects.exists()
