from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from customers.models import (
    AcquisitionChannel,
    ConsentEvent,
    ConsentPurpose,
    Customer,
    FollowUp,
    Interaction,
    Order,
    Return,
    Tag,
)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"interest-{n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C{n:06d}")
    name = factory.Faker("name", locale="pl_PL")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    locale = "pl"
    country = "PL"
    acquisition_channel = AcquisitionChannel.ORGANIC_SEARCH
    acquired_at = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=400))


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    external_id = factory.Sequence(lambda n: f"O{n:07d}")
    ordered_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=10))
    amount = Decimal("100.00")
    currency = "PLN"
    base_amount = factory.LazyAttribute(lambda o: o.amount)
    status = Order.Status.PAID


class ReturnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Return

    order = factory.SubFactory(OrderFactory)
    external_id = factory.Sequence(lambda n: f"R{n:07d}")
    returned_at = factory.LazyFunction(timezone.now)
    amount = Decimal("20.00")
    base_amount = factory.LazyAttribute(lambda r: r.amount)
    reason = "Wrong size"


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    kind = Interaction.Kind.CALL
    summary = "Asked about the delivery date."
    occurred_at = factory.LazyFunction(timezone.now)


class FollowUpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUp

    customer = factory.SubFactory(CustomerFactory)
    reason = "Call back about the refund"
    due_on = factory.LazyFunction(timezone.localdate)


class ConsentEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsentEvent

    customer = factory.SubFactory(CustomerFactory)
    purpose = ConsentPurpose.EMAIL_MARKETING
    granted = True
    source = ConsentEvent.Source.FORM
