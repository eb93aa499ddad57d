from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from customers.models import ConsentEvent, ConsentPurpose, Customer
from feedback.models import Survey, SurveyInvitation, SurveyResponse
from tests.factories import ConsentEventFactory, CustomerFactory


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Survey

    name = factory.Sequence(lambda n: f"Survey {n}")
    trigger = Survey.Trigger.AFTER_ORDER
    delay_days = 14
    min_gap_days = 90
    sample_percent = 100
    follow_up_working_days = 2


class SurveyInvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyInvitation

    survey = factory.SubFactory(SurveyFactory)
    customer = factory.SubFactory(CustomerFactory)
    trigger_key = factory.Sequence(lambda n: f"order:{900000 + n}")
    created_at = factory.LazyFunction(timezone.now)


class SurveyResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyResponse

    invitation = factory.SubFactory(SurveyInvitationFactory)
    survey = factory.LazyAttribute(lambda r: r.invitation.survey)
    customer = factory.LazyAttribute(lambda r: r.invitation.customer)
    staff = factory.LazyAttribute(lambda r: r.invitation.staff)
    score = 9
    comment = ""
    responded_at = factory.LazyFunction(timezone.now)


def consenting_customer(**fields: object) -> Customer:
    """A customer whose latest surveys consent is a grant."""
    customer = CustomerFactory(**fields)
    ConsentEventFactory(
        customer=customer,
        purpose=ConsentPurpose.SURVEYS,
        granted=True,
        source=ConsentEvent.Source.FORM,
        occurred_at=timezone.now() - dt.timedelta(days=500),
    )
    return customer
