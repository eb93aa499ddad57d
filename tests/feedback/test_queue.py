import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Message, MessageKind
from crm.celery import app as celery_app
from customers.models import ConsentEvent, ConsentPurpose, Customer, FollowUp, Interaction, Order
from feedback import links, services
from feedback.models import Survey, SurveyInvitation
from feedback.services.queue import sampled
from tests.factories import ConsentEventFactory, CustomerFactory, InteractionFactory, OrderFactory
from tests.feedback.factories import (
    SurveyFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    consenting_customer,
)

pytestmark = pytest.mark.django_db


def days_ago(n: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=n)


def customer_with_order(*, order_days_ago: float = 15, **fields) -> tuple[Customer, Order]:
    customer = consenting_customer(**fields)
    return customer, OrderFactory(customer=customer, ordered_at=days_ago(order_days_ago))


def test_it_queues_one_invitation_and_its_email_for_a_paid_order_past_the_delay(settings):
    settings.SITE_URL = "https://crm.example.com"
    survey = SurveyFactory(delay_days=14)
    customer, order = customer_with_order(order_days_ago=15)

    report = services.surveys_queue_due()

    invitation = SurveyInvitation.objects.get()
    assert (invitation.survey, invitation.customer, invitation.order) == (survey, customer, order)
    assert invitation.trigger_key == f"order:{order.pk}"
    assert report.invitations == 1 and report.messages == 1
    message = invitation.message
    assert message.kind == MessageKind.SURVEY
    assert message.template == "survey_invitation"
    assert message.dedupe_key == f"survey-invitation:{invitation.pk}"
    assert message.customer_id == customer.pk
    assert message.expires_at > timezone.now() + dt.timedelta(days=20)
    scores = message.context["scores"]
    assert [s["score"] for s in scores] == list(range(11))
    for s in scores:
        assert s["url"].startswith("https://crm.example.com/s/")
        token = s["url"].removeprefix("https://crm.example.com/s/").removesuffix("/")
        assert links.score_token_read(token) == links.LinkData(invitation.pk, s["score"])
    assert message.context["question"] == survey.question


def test_running_it_twice_queues_nothing_new():
    SurveyFactory()
    for _ in range(3):
        customer_with_order()
    first = services.surveys_queue_due()
    second = services.surveys_queue_due()
    assert (first.invitations, first.messages) == (3, 3)
    assert (second.invitations, second.messages) == (0, 0)
    assert SurveyInvitation.objects.count() == Message.objects.count() == 3


def test_it_asks_only_about_paid_orders_whose_delay_ran_out_recently():
    SurveyFactory(delay_days=14)
    customer_with_order(order_days_ago=10)  # not yet
    customer_with_order(order_days_ago=60)  # long past: a new survey does not dig it up
    customer, _ = customer_with_order(order_days_ago=60)
    OrderFactory(customer=customer, ordered_at=days_ago(16), status=Order.Status.REFUNDED)
    due, order = customer_with_order(order_days_ago=16)
    services.surveys_queue_due()
    assert list(SurveyInvitation.objects.values_list("customer", "order")) == [(due.pk, order.pk)]


def test_it_catches_up_on_orders_that_became_due_while_the_job_was_not_running(settings):
    settings.SURVEY_LOOKBACK_DAYS = 7
    SurveyFactory(delay_days=14)
    customer, _ = customer_with_order(order_days_ago=14 + 6)  # due six days ago
    services.surveys_queue_due()
    assert SurveyInvitation.objects.filter(customer=customer).exists()


def test_it_skips_customers_without_an_address_or_without_survey_consent():
    SurveyFactory()
    customer_with_order(email=None)
    customer_with_order(email="")
    withdrawn, _ = customer_with_order()
    ConsentEventFactory(
        customer=withdrawn,
        purpose=ConsentPurpose.SURVEYS,
        granted=False,
        source=ConsentEvent.Source.UNSUBSCRIBE,
    )
    never = CustomerFactory()
    OrderFactory(customer=never, ordered_at=days_ago(15))
    marketing_only = CustomerFactory()
    ConsentEventFactory(customer=marketing_only, purpose=ConsentPurpose.EMAIL_MARKETING)
    OrderFactory(customer=marketing_only, ordered_at=days_ago(15))
    ok, _ = customer_with_order()
    services.surveys_queue_due()
    assert list(SurveyInvitation.objects.values_list("customer", flat=True)) == [ok.pk]


def test_it_honours_the_minimum_gap_against_invitations_of_any_survey():
    SurveyFactory(min_gap_days=90)
    other = SurveyFactory(trigger=Survey.Trigger.AFTER_INTERACTION, active=False)
    recent, _ = customer_with_order()
    SurveyInvitationFactory(survey=other, customer=recent, created_at=days_ago(30))
    long_ago, _ = customer_with_order()
    SurveyInvitationFactory(survey=other, customer=long_ago, created_at=days_ago(100))
    services.surveys_queue_due()
    invited = set(
        SurveyInvitation.objects.filter(created_at__gt=days_ago(1)).values_list(
            "customer", flat=True
        )
    )
    assert invited == {long_ago.pk}


def test_an_invitation_whose_email_was_skipped_does_not_hold_back_the_next_one():
    survey = SurveyFactory(min_gap_days=90)
    customer, _ = customer_with_order()
    skipped = Message.objects.create(
        customer=customer,
        kind=MessageKind.SURVEY,
        template="survey_invitation",
        status=Message.Status.SKIPPED,
        skip_reason=Message.SkipReason.NO_CONSENT,
    )
    SurveyInvitationFactory(
        survey=survey, customer=customer, message=skipped, created_at=days_ago(5)
    )
    services.surveys_queue_due()
    assert SurveyInvitation.objects.filter(customer=customer).count() == 2


def test_it_asks_about_the_latest_due_order_only_and_the_gap_then_holds_back_the_rest():
    SurveyFactory(delay_days=14, min_gap_days=90)
    customer, _ = customer_with_order(order_days_ago=18)
    latest = OrderFactory(customer=customer, ordered_at=days_ago(15))
    services.surveys_queue_due()
    OrderFactory(customer=customer, ordered_at=days_ago(14.5))
    services.surveys_queue_due()
    assert list(SurveyInvitation.objects.values_list("order", flat=True)) == [latest.pk]


@pytest.mark.parametrize(
    "trigger", [lambda c: c * 7, lambda c: c, lambda c: 10**9 - c, lambda c: c // 3]
)
def test_sampling_is_deterministic_and_takes_roughly_the_given_share(trigger):
    def draws(survey_id: int, percent: int) -> list[bool]:
        return [
            sampled(survey_id=survey_id, customer_id=c, trigger_id=trigger(c), percent=percent)
            for c in range(1, 20001)
        ]

    thirty = draws(3, 30)
    assert thirty == draws(3, 30)
    assert 0.28 < sum(thirty) / len(thirty) < 0.32
    assert 0.09 < sum(draws(3, 10)) / 20000 < 0.11
    other_survey = draws(4, 30)
    overlap = sum(a and b for a, b in zip(thirty, other_survey, strict=True)) / sum(thirty)
    assert 0.2 < overlap < 0.4  # each survey draws its own sample, not the same customers
    assert all(draws(3, 100))


def test_a_sampled_survey_makes_the_same_choice_when_run_again():
    survey = SurveyFactory(sample_percent=40)
    orders = [customer_with_order()[1] for _ in range(60)]
    report = services.surveys_queue_due()
    chosen = set(SurveyInvitation.objects.values_list("customer", flat=True))
    assert 10 <= len(chosen) <= 40
    assert report.invitations == len(chosen)
    # The database's draw is the documented formula's.
    expected = {
        o.customer_id
        for o in orders
        if sampled(survey_id=survey.pk, customer_id=o.customer_id, trigger_id=o.pk, percent=40)
    }
    assert chosen == expected
    SurveyInvitation.objects.all().delete()
    Message.objects.all().delete()
    services.surveys_queue_due()
    assert set(SurveyInvitation.objects.values_list("customer", flat=True)) == chosen


def test_after_interaction_surveys_follow_conversations_and_name_the_staff_member(charlie):
    SurveyFactory(trigger=Survey.Trigger.AFTER_INTERACTION, delay_days=3)
    customer = consenting_customer()
    talk = InteractionFactory(customer=customer, staff=charlie, occurred_at=days_ago(4))
    noted = consenting_customer()
    InteractionFactory(
        customer=noted, staff=charlie, kind=Interaction.Kind.NOTE, occurred_at=days_ago(4)
    )
    services.surveys_queue_due()
    invitation = SurveyInvitation.objects.get()
    assert (invitation.customer, invitation.interaction, invitation.staff) == (
        customer,
        talk,
        charlie,
    )
    assert invitation.trigger_key == f"interaction:{talk.pk}"


def test_periodic_surveys_ask_active_customers_spread_over_the_period(settings):
    settings.SURVEY_LOOKBACK_DAYS = 7
    SurveyFactory(trigger=Survey.Trigger.PERIODIC, period_days=70, min_gap_days=0)
    active = [customer_with_order(order_days_ago=100)[0] for _ in range(140)]
    customer_with_order(order_days_ago=500)  # not active
    now = timezone.now()
    first = services.surveys_queue_due(now=now)
    week_later = services.surveys_queue_due(now=now + dt.timedelta(days=7))
    again = services.surveys_queue_due(now=now + dt.timedelta(days=7))
    # A 7-day window of a 70-day period: a tenth of the active customers each week.
    assert first.invitations == week_later.invitations == 14
    assert again.invitations == 0
    invited = list(SurveyInvitation.objects.values_list("customer", flat=True))
    assert len(set(invited)) == 28
    assert set(invited) <= {c.pk for c in active}
    assert all(
        k.startswith("period:")
        for k in SurveyInvitation.objects.values_list("trigger_key", flat=True)
    )
    # The whole period covers everyone once; the next period asks them again.
    for week in range(2, 11):
        services.surveys_queue_due(now=now + dt.timedelta(days=7 * week))
    assert SurveyInvitation.objects.count() == 140 + 14
    assert SurveyInvitation.objects.values("customer").distinct().count() == 140


def test_periodic_surveys_sample_by_customer_and_period(settings):
    settings.SURVEY_LOOKBACK_DAYS = 7
    survey = SurveyFactory(trigger=Survey.Trigger.PERIODIC, period_days=7, sample_percent=50)
    customers = [customer_with_order(order_days_ago=30)[0] for _ in range(80)]
    services.surveys_queue_due()
    invited = dict(SurveyInvitation.objects.values_list("customer", "trigger_key"))
    assert 20 <= len(invited) <= 60
    day = (timezone.localdate() - dt.date(1970, 1, 1)).days
    expected = {
        c.pk
        for c in customers
        if sampled(
            survey_id=survey.pk,
            customer_id=c.pk,
            trigger_id=(day + c.pk % 7) // 7,
            percent=50,
        )
    }
    assert set(invited) == expected


def test_a_deactivated_survey_queues_nothing():
    SurveyFactory(active=False)
    customer_with_order()
    assert services.surveys_queue_due().invitations == 0
    assert not SurveyInvitation.objects.exists()


def test_invitations_left_without_an_email_are_queued_by_the_next_run():
    survey = SurveyFactory()
    customer = consenting_customer()
    orphan = SurveyInvitationFactory(survey=survey, customer=customer)  # a run died here
    report = services.surveys_queue_due()
    orphan.refresh_from_db()
    assert report.messages == 1
    assert orphan.message.dedupe_key == f"survey-invitation:{orphan.pk}"


def test_it_asks_a_detractor_again_once_the_follow_up_is_resolved_if_the_survey_says_so():
    survey = SurveyFactory(resurvey_after_resolution=True, delay_days=14, min_gap_days=90)
    plain = SurveyFactory(
        resurvey_after_resolution=False, trigger=Survey.Trigger.PERIODIC, active=False
    )
    customer = consenting_customer()
    response = SurveyResponseFactory(
        invitation=SurveyInvitationFactory(
            survey=survey, customer=customer, created_at=days_ago(40)
        ),
        score=3,
    )
    follow_up = FollowUp.objects.create(
        customer=customer, reason="x", due_on=timezone.localdate(), done_at=days_ago(15)
    )
    response.follow_up = follow_up
    response.save()
    other = SurveyResponseFactory(invitation=SurveyInvitationFactory(survey=plain), score=2)
    other.follow_up = FollowUp.objects.create(
        customer=other.customer, reason="x", due_on=timezone.localdate(), done_at=days_ago(15)
    )
    other.save()

    services.surveys_queue_due()
    services.surveys_queue_due()

    resurvey = SurveyInvitation.objects.get(trigger_key__startswith="resurvey:")
    assert (resurvey.survey, resurvey.customer) == (survey, customer)
    assert resurvey.trigger_key == f"resurvey:{follow_up.pk}"
    assert resurvey.message is not None


def test_queueing_runs_the_same_number_of_queries_for_5_or_40_due_customers():
    SurveyFactory()
    SurveyFactory(trigger=Survey.Trigger.AFTER_INTERACTION)

    def queries_for(n: int) -> int:
        for _ in range(n):
            customer_with_order()
        with CaptureQueriesContext(connection) as ctx:
            report = services.surveys_queue_due()
        assert report.invitations == n
        return len(ctx.captured_queries)

    assert queries_for(5) == queries_for(40)


def test_the_command_and_the_hourly_task_run_the_same_job():
    SurveyFactory()
    customer_with_order()
    out = StringIO()
    call_command("queue_due_surveys", stdout=out)
    assert "1 new invitation" in out.getvalue()
    assert "1 email queued" in out.getvalue()
    from feedback.tasks import queue_due_surveys

    customer_with_order()
    assert queue_due_surveys.delay().get()["invitations"] == 1
    entry = celery_app.conf.beat_schedule["queue-due-surveys"]
    assert entry["task"] == "feedback.tasks.queue_due_surveys"
