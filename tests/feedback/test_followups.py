"""Closing the loop: a detractor's answer becomes an urgent follow-up for support staff."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from crm import roles
from customers import services as customer_services
from customers.models import FollowUp
from feedback import services
from tests.factories import CustomerFactory, FollowUpFactory, InteractionFactory
from tests.feedback.factories import SurveyInvitationFactory

pytestmark = pytest.mark.django_db

# A Friday at noon in the project's time zone: two working days later is Tuesday.
FRIDAY_NOON = dt.datetime(2026, 3, 6, 12, 0, tzinfo=dt.UTC)


def support_user(username: str, **extra):
    user, _ = customer_services.user_create(username=username, role=roles.SUPPORT, **extra)
    return user


def test_a_detractor_gets_one_urgent_follow_up_due_in_working_days_with_score_and_comment(charlie):
    customer = CustomerFactory()
    InteractionFactory(
        customer=customer, staff=charlie, occurred_at=FRIDAY_NOON - dt.timedelta(days=20)
    )
    invitation = SurveyInvitationFactory(customer=customer, survey__follow_up_working_days=2)

    result = services.response_record(
        invitation_id=invitation.pk, score=3, comment="Parcel arrived\nbroken.", now=FRIDAY_NOON
    )

    follow_up = FollowUp.objects.get()
    assert result.follow_up_created
    assert result.response.follow_up == follow_up
    assert follow_up.customer == customer
    assert follow_up.priority == FollowUp.Priority.URGENT
    assert follow_up.due_on == dt.date(2026, 3, 10)  # Tuesday, not Sunday
    assert follow_up.assigned_to == charlie  # who last dealt with the customer
    assert follow_up.reason == "Detractor: scored 3/10 in a survey: “Parcel arrived broken.”"
    assert follow_up.done_at is None


def test_the_reason_stays_within_the_follow_up_field():
    invitation = SurveyInvitationFactory()
    services.response_record(invitation_id=invitation.pk, score=0, comment="x" * 1500)
    reason = FollowUp.objects.get().reason
    assert len(reason) == 200 and reason.endswith("…")


@pytest.mark.parametrize("score", [7, 8, 9, 10])
def test_passives_and_promoters_get_no_follow_up(score):
    invitation = SurveyInvitationFactory()
    result = services.response_record(invitation_id=invitation.pk, score=score, comment="ok")
    assert not result.follow_up_created
    assert not FollowUp.objects.exists()


def test_without_a_past_interaction_it_goes_round_robin_to_active_support_staff(charlie, bob):
    dana = support_user("dana")
    support_user("gone", is_active=False)
    customers = [CustomerFactory() for _ in range(4)]
    InteractionFactory(customer=customers[0], staff=None)  # logged by an integration
    assigned = []
    for customer in customers:
        invitation = SurveyInvitationFactory(customer=customer)
        services.response_record(invitation_id=invitation.pk, score=1)
        assigned.append(FollowUp.objects.get(customer=customer).assigned_to)
    assert assigned == [charlie, dana, charlie, dana]


def test_an_inactive_last_contact_is_skipped_for_the_one_before(charlie):
    left = support_user("left")
    customer = CustomerFactory()
    InteractionFactory(
        customer=customer, staff=charlie, occurred_at=timezone.now() - dt.timedelta(days=9)
    )
    InteractionFactory(
        customer=customer, staff=left, occurred_at=timezone.now() - dt.timedelta(days=2)
    )
    left.is_active = False
    left.save()
    services.response_record(invitation_id=SurveyInvitationFactory(customer=customer).pk, score=4)
    assert FollowUp.objects.get().assigned_to == charlie


def test_with_nobody_in_support_the_follow_up_waits_unassigned(bob):
    services.response_record(invitation_id=SurveyInvitationFactory().pk, score=2)
    assert FollowUp.objects.get().assigned_to is None


def test_answering_again_never_adds_a_second_open_follow_up():
    invitation = SurveyInvitationFactory()
    services.response_record(invitation_id=invitation.pk, score=2, comment="Bad")
    services.response_record(invitation_id=invitation.pk, score=2, comment="Bad")  # double click
    services.response_record(invitation_id=invitation.pk, score=5, comment="Still bad")
    services.response_record(invitation_id=invitation.pk, score=9, comment="Sorted, thanks")
    services.response_record(invitation_id=invitation.pk, score=1, comment="No, it broke again")
    assert FollowUp.objects.count() == 1


def test_a_non_detractor_who_changes_to_a_detractor_gets_the_follow_up_then():
    invitation = SurveyInvitationFactory()
    services.response_record(invitation_id=invitation.pk, score=8)
    assert not FollowUp.objects.exists()
    result = services.response_record(invitation_id=invitation.pk, score=4, comment="Actually...")
    assert result.follow_up_created and FollowUp.objects.count() == 1


def test_a_new_unhappy_answer_after_the_follow_up_was_resolved_opens_a_new_one(charlie):
    invitation = SurveyInvitationFactory()
    first = services.response_record(invitation_id=invitation.pk, score=2, comment="Bad").response
    assert customer_services.followup_complete(
        follow_up_id=first.follow_up_id, user=charlie, resolution="Called, sent a replacement"
    )
    resolved = FollowUp.objects.get()
    assert (resolved.done_by, resolved.resolution) == (charlie, "Called, sent a replacement")
    services.response_record(invitation_id=invitation.pk, score=2, comment="Bad")  # same answer
    assert FollowUp.objects.count() == 1
    again = services.response_record(
        invitation_id=invitation.pk, score=3, comment="Replacement broke too"
    )
    assert again.follow_up_created
    assert FollowUp.objects.filter(done_at__isnull=True).count() == 1
    assert again.response.follow_up.done_at is None


def test_the_queue_shows_detractor_follow_ups_first_with_the_comment(charlie_client, charlie):
    today = timezone.localdate()
    FollowUpFactory(
        customer=CustomerFactory(name="Overdue Olga"), due_on=today - dt.timedelta(days=5)
    )
    FollowUpFactory(customer=CustomerFactory(name="Routine Rita"), due_on=today)
    unhappy = CustomerFactory(name="Unhappy Ula")
    invitation = SurveyInvitationFactory(customer=unhappy)
    services.response_record(
        invitation_id=invitation.pk, score=1, comment="Nobody answered my three emails."
    )

    response = charlie_client.get(reverse("customers:followups"))

    queue = list(response.context["page"].object_list)
    assert [f.customer.name for f in queue] == ["Unhappy Ula", "Overdue Olga", "Routine Rita"]
    page = response.content.decode()
    assert "Nobody answered my three emails." in page
    assert page.index("Unhappy Ula") < page.index("Overdue Olga")
    assert "NPS 1" in page


def test_the_queue_query_count_does_not_grow_with_detractor_follow_ups(charlie_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            charlie_client.get(reverse("customers:followups"))
        return len(ctx.captured_queries)

    services.response_record(invitation_id=SurveyInvitationFactory().pk, score=1, comment="a")
    few = queries()
    for _ in range(5):
        services.response_record(invitation_id=SurveyInvitationFactory().pk, score=1, comment="b")
    assert queries() == few
