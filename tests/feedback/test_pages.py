"""Staff pages: the Feedback overview and survey management, with their permissions."""

import datetime as dt

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Message, MessageKind
from customers.models import AcquisitionChannel, CLVRun, CustomerValue, FollowUp, Segment
from feedback import selectors, services
from feedback.models import Survey
from tests.factories import CustomerFactory, OrderFactory
from tests.feedback.factories import SurveyFactory, SurveyInvitationFactory, SurveyResponseFactory

pytestmark = pytest.mark.django_db


def answer(score: int, *, days_ago: float = 3, comment: str = "", sent: bool = True, **invitation):
    """A survey answer from a new customer, to an invitation whose email was sent."""
    when = timezone.now() - dt.timedelta(days=days_ago)
    inv = SurveyInvitationFactory(created_at=when - dt.timedelta(days=1), **invitation)
    if sent:
        inv.message = Message.objects.create(
            customer=inv.customer, kind=MessageKind.SURVEY, template="survey_invitation",
            status=Message.Status.SENT, sent_at=when - dt.timedelta(hours=20),
        )  # fmt: skip
        inv.save()
    return SurveyResponseFactory(invitation=inv, score=score, comment=comment, responded_at=when)


def value_run(values: dict[int, tuple[float, int]]) -> CLVRun:
    """A succeeded value run with (predicted CLV, segment) per customer id."""
    run = CLVRun.objects.create(as_of=timezone.localdate(), status=CLVRun.Status.SUCCEEDED)
    CustomerValue.objects.bulk_create(
        CustomerValue(
            run=run,
            customer_id=cid,
            orders=1,
            net_revenue=clv,
            avg_order_value=clv,
            purchase_frequency=1,
            age_days=100,
            days_since_last_order=10,
            historic_clv=clv,
            frequency=0,
            recency=0,
            age=100,
            p_alive=0.9,
            expected_purchases_30=0.1,
            expected_purchases_90=0.3,
            expected_purchases_365=1,
            expected_order_value=clv,
            predicted_clv=clv,
            churn_risk=0.2,
            r_score=3,
            f_score=3,
            m_score=3,
            segment=segment,
        )
        for cid, (clv, segment) in values.items()
    )
    return run


# --- Permissions ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["feedback:index", "feedback:surveys", "feedback:survey_create"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_support_staff_read_the_feedback_page_and_the_surveys_but_cannot_change_them(
    charlie_client,
):
    survey = SurveyFactory(name="After a purchase")
    assert charlie_client.get(reverse("feedback:index")).status_code == 200
    listing = charlie_client.get(reverse("feedback:surveys"))
    assert listing.status_code == 200
    assert b"After a purchase" in listing.content
    assert b"New survey" not in listing.content
    assert b"Deactivate" not in listing.content
    assert charlie_client.get(reverse("feedback:survey_create")).status_code == 403
    assert charlie_client.get(reverse("feedback:survey_edit", args=[survey.pk])).status_code == 403
    assert (
        charlie_client.post(reverse("feedback:survey_create"), {"name": "Mine"}).status_code == 403
    )
    response = charlie_client.post(
        reverse("feedback:survey_active", args=[survey.pk]), {"active": "0"}
    )
    assert response.status_code == 403
    survey.refresh_from_db()
    assert survey.active and Survey.objects.count() == 1


def test_the_retention_team_creates_edits_and_deactivates_surveys(bob_client):
    form = {
        "name": "After a call", "trigger": "after_interaction", "delay_days": "3",
        "period_days": "180", "min_gap_days": "60", "sample_percent": "50",
        "follow_up_working_days": "1", "question": "How likely are you to recommend us?",
        "comment_prompt": "Why?", "resurvey_after_resolution": "on",
    }  # fmt: skip
    response = bob_client.post(reverse("feedback:survey_create"), form)
    assert response.status_code == 302
    survey = Survey.objects.get()
    assert (survey.trigger, survey.delay_days, survey.sample_percent) == (
        "after_interaction",
        3,
        50,
    )
    assert survey.resurvey_after_resolution and survey.active

    edit = bob_client.get(reverse("feedback:survey_edit", args=[survey.pk]))
    assert edit.status_code == 200 and b"After a call" in edit.content
    bob_client.post(reverse("feedback:survey_edit", args=[survey.pk]), {**form, "delay_days": "90"})
    survey.refresh_from_db()
    assert survey.delay_days == 90

    bob_client.post(reverse("feedback:survey_active", args=[survey.pk]), {"active": "0"})
    survey.refresh_from_db()
    assert not survey.active
    listing = bob_client.get(reverse("feedback:surveys")).content.decode()
    assert "Inactive" in listing and "Activate" in listing


def test_a_survey_form_with_errors_keeps_what_was_typed(bob_client):
    response = bob_client.post(
        reverse("feedback:survey_create"),
        {"name": "Half done", "trigger": "after_order", "delay_days": "14", "sample_percent": "0"},
    )
    assert response.status_code == 400
    assert b"Half done" in response.content
    assert not Survey.objects.exists()


def test_the_feedback_page_links_to_the_surveys_for_those_who_may_see_them(
    charlie_client, bob_client
):
    surveys_link = f'href="{reverse("feedback:surveys")}"'.encode()
    assert surveys_link in bob_client.get(reverse("feedback:index")).content
    assert surveys_link in charlie_client.get(reverse("feedback:index")).content


# --- Figures ----------------------------------------------------------------------


def test_the_feedback_page_figures_match_the_answers(charlie_client, charlie):
    for _ in range(6):
        answer(10)
    answer(9, comment="Lovely staff", staff=charlie)
    answer(8)
    answer(7)
    detractor = answer(2, comment="Came broken", staff=charlie)
    answer(3)
    SurveyInvitationFactory(created_at=timezone.now() - dt.timedelta(days=2))  # queued, not sent
    detractor.follow_up = services.detractor_follow_up_create(
        response=detractor, now=timezone.now()
    )
    detractor.save()

    response = charlie_client.get(reverse("feedback:index"))

    o = response.context["o"]
    # 7 promoters, 2 passives, 2 detractors of 11: NPS = (7 - 2) / 11
    assert o.headline.current.n == 11
    assert o.headline.current.score == pytest.approx(100 * 5 / 11)
    assert (o.rate.invitations, o.rate.sent, o.rate.answered) == (12, 11, 11)
    assert [d["n"] for d in o.distribution] == [0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 6]
    assert [r.label for r in o.by_staff] == ["Charlie"]
    assert o.by_staff[0].nps.n == 2 and o.by_staff[0].nps.score == 0
    assert o.loop.open == 1
    page = response.content.decode()
    assert f'<span class="kpi-value" id="nps-now">+{round(500 / 11)}</span>' in page
    assert "Came broken" in page and "Lovely staff" in page
    assert "100%" in page  # response rate of the sent emails


def test_nps_by_month_counts_each_answer_in_its_month():
    def at(day: dt.date, score: int) -> None:
        moment = dt.datetime.combine(day, dt.time(12), tzinfo=timezone.get_current_timezone())
        SurveyResponseFactory(score=score, responded_at=moment)

    for day, score in [
        (dt.date(2026, 3, 1), 10), (dt.date(2026, 3, 31), 10), (dt.date(2026, 3, 15), 0),
        (dt.date(2026, 3, 15), 8), (dt.date(2026, 6, 2), 3), (dt.date(2025, 6, 30), 10),
    ]:  # fmt: skip
        at(day, score)
    months = selectors.nps_by_month(today=dt.date(2026, 6, 15))
    assert [m.month for m in months][:2] == [dt.date(2025, 7, 1), dt.date(2025, 8, 1)]
    assert months[-1].month == dt.date(2026, 6, 1)
    by_month = {m.month: m.nps for m in months}
    assert (by_month[dt.date(2026, 3, 1)].n, by_month[dt.date(2026, 3, 1)].score) == (4, 25)
    assert (by_month[dt.date(2026, 6, 1)].n, by_month[dt.date(2026, 6, 1)].score) == (1, -100)
    assert sum(m.nps.n for m in months) == 5  # June 2025 is before the chart
    assert by_month[dt.date(2026, 4, 1)].score is None


def test_nps_by_segment_and_channel_group_answers_in_sql(charlie_client):
    referral, paid = AcquisitionChannel.REFERRAL, AcquisitionChannel.PAID_SOCIAL
    loyal = [answer(10, customer=CustomerFactory(acquisition_channel=referral)) for _ in range(3)]
    risky = [answer(2, customer=CustomerFactory(acquisition_channel=paid)) for _ in range(2)]
    answer(8)  # not in the run
    value_run(
        {r.customer_id: (500.0, Segment.LOYAL) for r in loyal}
        | {r.customer_id: (100.0, Segment.AT_RISK) for r in risky}
    )
    o = charlie_client.get(reverse("feedback:index")).context["o"]
    segments = {r.label: (r.nps.n, r.nps.score) for r in o.by_segment}
    assert segments == {"Loyal": (3, 100), "At risk": (2, -100), "Not in the run": (1, 0)}
    channels = {r.label: r.nps.n for r in o.by_channel}
    assert channels == {"Referral": 3, "Paid social": 2, "Organic search": 1}


def test_the_article_check_compares_value_repeat_buying_and_recommending_by_group(charlie_client):
    promoters = [answer(10) for _ in range(2)]
    passives = [answer(7) for _ in range(2)]
    detractors = [answer(1)]
    for r in promoters + passives[:1]:
        OrderFactory.create_batch(2, customer=r.customer)  # repeat buyers
    # The same customer's earlier answer does not count: their latest does.
    SurveyResponseFactory(
        invitation=SurveyInvitationFactory(customer=detractors[0].customer),
        score=10,
        responded_at=timezone.now() - dt.timedelta(days=30),
    )
    value_run(
        {r.customer_id: (400.0, Segment.CHAMPIONS) for r in promoters}
        | {r.customer_id: (100.0, Segment.LOYAL) for r in passives}
        | {r.customer_id: (50.0, Segment.LOST) for r in detractors}
    )
    a = charlie_client.get(reverse("feedback:index")).context["o"].article
    groups = {g.group: g for g in a.groups}
    assert [groups[g].customers for g in ("promoter", "passive", "detractor")] == [2, 2, 1]
    assert groups["promoter"].avg_clv == pytest.approx(400)
    assert groups["passive"].avg_clv == pytest.approx(100)
    assert groups["promoter"].repeat_rate == 1.0 and groups["passive"].repeat_rate == 0.5
    assert groups["detractor"].repeat_rate == 0.0
    assert a.promoter_clv_lift == pytest.approx(3.0)  # 300% higher; the article says 306%
    assert a.recommend_all == pytest.approx(2 / 5)
    assert a.recommend_repeat == pytest.approx(2 / 3)


def test_close_the_loop_status_counts_open_overdue_and_the_median_time_to_contact(
    charlie_client, charlie
):
    now = timezone.now()
    for hours, done in ((4, True), (10, True), (30, True), (None, False)):
        r = answer(1, days_ago=5)
        fu = services.detractor_follow_up_create(response=r, now=r.responded_at)
        if done:
            FollowUp.objects.filter(pk=fu.pk).update(
                done_at=r.responded_at + dt.timedelta(hours=hours), done_by=charlie
            )
        r.follow_up = fu
        r.save()
    FollowUp.objects.filter(done_at__isnull=True).update(
        due_on=timezone.localdate(now) - dt.timedelta(days=1)
    )
    loop = charlie_client.get(reverse("feedback:index")).context["o"].loop
    assert (loop.open, loop.overdue, loop.resolved, loop.detractors) == (1, 1, 3, 4)
    assert loop.median_hours_to_contact == pytest.approx(10)


def test_the_survey_filter_narrows_every_figure(charlie_client):
    one, two = SurveyFactory(name="One"), SurveyFactory(name="Two")
    answer(10, survey=one)
    answer(0, survey=two)
    answer(1, survey=two)
    o = charlie_client.get(reverse("feedback:index"), {"survey": two.pk}).context["o"]
    assert o.headline.current.n == 2 and o.headline.current.score == -100
    assert (
        charlie_client.get(
            reverse("feedback:index"), {"survey": "99999999999999999999"}
        ).status_code
        == 200
    )


def test_an_empty_feedback_page_says_so(charlie_client):
    page = charlie_client.get(reverse("feedback:index")).content.decode()
    assert "No survey answers yet" in page
    assert 'role="img"' in page  # the chart is there, with its text alternative


def test_the_feedback_page_runs_the_same_number_of_queries_as_answers_grow(charlie_client, charlie):
    value_run({})

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert charlie_client.get(reverse("feedback:index")).status_code == 200
        return len(ctx.captured_queries)

    def add(n: int) -> None:
        for i in range(n):
            r = answer(
                i % 11,
                comment=f"comment {i}",
                days_ago=i * 13 % 300,
                staff=charlie if i % 2 else None,
            )
            if r.score <= 6:
                r.follow_up = services.detractor_follow_up_create(response=r, now=r.responded_at)
                r.save()

    add(5)
    few = queries()
    add(30)
    assert queries() == few


# --- Admin ------------------------------------------------------------------------

MODELS = list(apps.get_app_config("feedback").get_models())


def test_it_registers_every_feedback_model_in_the_admin():
    assert [m.__name__ for m in MODELS if m not in admin.site._registry] == []


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_it_opens_every_feedback_admin_list_and_change_page_for_an_administrator(
    alice_client, model
):
    answer(3, comment="Admin sees this")
    opts = model._meta
    response = alice_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert response.status_code == 200
    obj = model.objects.first()
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    assert alice_client.get(url).status_code == 200
