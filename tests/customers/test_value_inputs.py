import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.selectors import core, value_inputs
from tests.factories import CustomerFactory, OrderFactory, ReturnFactory


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


@pytest.mark.django_db
def test_it_summarises_purchase_days_ages_and_net_spend_per_customer():
    as_of = dt.date(2026, 6, 30)
    loyal = CustomerFactory()
    # two orders on the first day count as one purchase day
    OrderFactory(customer=loyal, ordered_at=at(dt.date(2026, 1, 1), 9), base_amount="10.00")
    OrderFactory(customer=loyal, ordered_at=at(dt.date(2026, 1, 1), 18), base_amount="5.00")
    second = OrderFactory(customer=loyal, ordered_at=at(dt.date(2026, 1, 11)), base_amount="40.00")
    OrderFactory(customer=loyal, ordered_at=at(dt.date(2026, 3, 1)), base_amount="60.00")
    ReturnFactory(order=second, base_amount="15.00", returned_at=at(dt.date(2026, 1, 20)))
    # after the as-of date: ignored, as are its returns
    OrderFactory(customer=loyal, ordered_at=at(dt.date(2026, 7, 1), 0), base_amount="999.00")
    # refunded and cancelled orders are not purchases
    OrderFactory(customer=loyal, ordered_at=at(dt.date(2026, 4, 1)), status="refunded")
    once = CustomerFactory()
    OrderFactory(customer=once, ordered_at=at(as_of, 23), base_amount="20.00")
    CustomerFactory()  # no orders: not in the summary

    inputs = value_inputs(as_of=as_of)

    assert list(inputs.customer_id) == [loyal.pk, once.pk]
    assert list(inputs.purchase_days) == [3, 1]
    assert list(inputs.first_to_last_days) == [59, 0]  # 1 Jan -> 1 Mar
    assert list(inputs.first_to_as_of_days) == [180, 0]
    assert list(inputs.last_to_as_of_days) == [121, 0]
    assert list(inputs.orders) == [4, 1]
    assert inputs.net_revenue.tolist() == [100.0, 20.0]  # 10 + 5 + (40 - 15) + 60
    assert inputs.repeat_net_revenue.tolist() == [85.0, 0.0]


@pytest.mark.django_db
def test_it_counts_days_in_the_configured_time_zone(settings):
    settings.TIME_ZONE = "Europe/Warsaw"
    timezone.activate("Europe/Warsaw")
    try:
        customer = CustomerFactory()
        utc = dt.UTC
        # 23:30 UTC on 1 Jan is 00:30 on 2 Jan in Warsaw: two different days there
        OrderFactory(customer=customer, ordered_at=dt.datetime(2026, 1, 1, 10, tzinfo=utc))
        OrderFactory(customer=customer, ordered_at=dt.datetime(2026, 1, 1, 23, 30, tzinfo=utc))
        inputs = value_inputs(as_of=dt.date(2026, 1, 10))
    finally:
        timezone.deactivate()
    assert list(inputs.purchase_days) == [2]
    assert list(inputs.first_to_last_days) == [1]


@pytest.mark.django_db
def test_it_returns_empty_columns_for_an_empty_base():
    inputs = value_inputs(as_of=dt.date(2026, 1, 1))
    assert len(inputs) == 0
    assert inputs.net_revenue.dtype.kind == "f"


@pytest.mark.django_db
def test_it_keeps_a_fully_returned_repeat_purchase_as_a_day_with_zero_spend():
    customer = CustomerFactory()
    OrderFactory(customer=customer, ordered_at=at(dt.date(2026, 1, 1)), base_amount="30.00")
    order = OrderFactory(customer=customer, ordered_at=at(dt.date(2026, 2, 1)), base_amount="50.00")
    ReturnFactory(order=order, base_amount=Decimal("50.00"), returned_at=at(dt.date(2026, 2, 5)))
    inputs = value_inputs(as_of=dt.date(2026, 3, 1))
    assert list(inputs.purchase_days) == [2]
    assert inputs.repeat_net_revenue.tolist() == [0.0]


@pytest.mark.django_db
def test_it_limits_the_summary_to_an_id_range():
    customers = [CustomerFactory() for _ in range(4)]
    for customer in customers:
        OrderFactory(customer=customer, ordered_at=at(dt.date(2026, 1, 1)))
    lo, hi = customers[1].pk, customers[2].pk
    inputs = value_inputs(as_of=dt.date(2026, 1, 31), id_range=(lo, hi))
    assert list(inputs.customer_id) == [lo, hi]
    assert list(inputs.first_to_as_of_days) == [30, 30]


@pytest.mark.django_db
def test_it_reads_the_same_columns_in_chunks_of_any_size(monkeypatch):
    for n in range(1, 6):
        customer = CustomerFactory()
        for day in range(n):
            OrderFactory(customer=customer, ordered_at=at(dt.date(2026, 1, 1 + 3 * day)))
    whole = value_inputs(as_of=dt.date(2026, 2, 1))
    # PostgreSQL parses the binary COPY stream a chunk at a time: make chunks of 2 rows
    monkeypatch.setattr(core, "_COPY_CHUNK_BYTES", 2 * core._COPY_ROW.itemsize)
    chunked = value_inputs(as_of=dt.date(2026, 2, 1))
    assert list(chunked.purchase_days) == [1, 2, 3, 4, 5]
    for name in core._VALUE_COLUMNS:
        assert getattr(chunked, name).tolist() == getattr(whole, name).tolist()
        assert getattr(chunked, name).dtype == getattr(whole, name).dtype
