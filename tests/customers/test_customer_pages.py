import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import ConsentEvent, Customer, FollowUp, Interaction
from tests.factories import (
    ConsentEventFactory,
    CustomerFactory,
    FollowUpFactory,
    InteractionFactory,
    OrderFactory,
    ReturnFactory,
    TagFactory,
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Żółć", True),
        ("lukasz@example", True),
        ("LUKASZ@EXAMPLE.PL", True),
        ("SHOP-77", True),
        ("nobody", False),
    ],
)
def test_it_finds_customers_by_name_email_or_external_id(charlie_client, query, expected):
    CustomerFactory(name="Łukasz Żółć", email="lukasz@example.pl", external_id="SHOP-77")
    CustomerFactory(name="Олена Коваленко", email="olena@example.ua")
    response = charlie_client.get(reverse("customers:list"), {"q": query})
    names = [c.name for c in response.context["page"].object_list]
    assert ("Łukasz Żółć" in names) is expected
    assert "Олена Коваленко" not in names


@pytest.mark.django_db
def test_it_filters_customers_by_channel_and_tag(charlie_client):
    runner = CustomerFactory(name="Runner", acquisition_channel="referral")
    runner.tags.add(TagFactory(name="Running"))
    CustomerFactory(name="Other", acquisition_channel="referral")
    CustomerFactory(name="Paid", acquisition_channel="paid_social")
    by_channel = charlie_client.get(reverse("customers:list"), {"channel": "referral"})
    assert {c.name for c in by_channel.context["page"].object_list} == {"Runner", "Other"}
    by_tag = charlie_client.get(reverse("customers:list"), {"tag": "running"})
    assert [c.name for c in by_tag.context["page"].object_list] == ["Runner"]


@pytest.mark.django_db
def test_it_shows_profile_consent_orders_returns_and_timeline(charlie_client, charlie):
    customer = CustomerFactory(name="Олена Коваленко")
    customer.tags.add(TagFactory(name="hiking"))
    ConsentEventFactory(customer=customer, purpose="email_marketing", granted=True)
    ConsentEventFactory(
        customer=customer,
        purpose="email_marketing",
        granted=False,
        occurred_at=timezone.now() + dt.timedelta(seconds=1),
    )
    order = OrderFactory(
        customer=customer, external_id="ORD-1", amount="300.00", base_amount="300.00"
    )
    ReturnFactory(order=order, amount="100.00", base_amount="100.00", reason="Too small")
    InteractionFactory(customer=customer, staff=charlie, summary="Asked about boots")
    response = charlie_client.get(customer.get_absolute_url())
    body = response.content.decode()
    assert response.status_code == 200
    assert "Олена Коваленко" in body and "hiking" in body
    assert "ORD-1" in body and "Too small" in body and "Asked about boots" in body
    consent = {c.purpose: c.granted for c in response.context["consent"]}
    assert consent == {"email_marketing": False, "surveys": False, "profiling": False}
    assert response.context["summary"].net_revenue == Decimal("200.00")


@pytest.mark.django_db
def test_it_logs_an_interaction_with_a_follow_up(charlie_client, charlie):
    customer = CustomerFactory()
    due = timezone.localdate() + dt.timedelta(days=3)
    response = charlie_client.post(
        reverse("customers:interaction_create", args=[customer.pk]),
        {
            "kind": "call",
            "direction": "inbound",
            "outcome": "complaint",
            "summary": "Parcel arrived damaged",
            "follow_up_on": due.isoformat(),
        },
    )
    assert response.status_code == 302
    interaction = Interaction.objects.get(customer=customer)
    assert interaction.staff == charlie
    assert interaction.outcome == "complaint"
    follow_up = FollowUp.objects.get(interaction=interaction)
    assert follow_up.due_on == due
    assert follow_up.assigned_to == charlie
    assert follow_up.priority == FollowUp.Priority.HIGH
    assert (
        "Parcel arrived damaged" in charlie_client.get(customer.get_absolute_url()).content.decode()
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        (
            {"kind": "call", "direction": "outbound", "outcome": "neutral", "summary": "  "},
            "summary",
        ),
        ({"kind": "fax", "direction": "outbound", "outcome": "neutral", "summary": "x"}, "kind"),
        (
            {"kind": "call", "direction": "outbound", "outcome": "follow_up", "summary": "x"},
            "follow_up_on",
        ),
        (
            {
                "kind": "call",
                "direction": "outbound",
                "outcome": "neutral",
                "summary": "x",
                "follow_up_on": "2001-01-01",
            },
            "follow_up_on",
        ),
    ],
)
def test_it_rejects_a_bad_interaction_form_and_saves_nothing(charlie_client, data, field):
    customer = CustomerFactory()
    response = charlie_client.post(
        reverse("customers:interaction_create", args=[customer.pk]), data
    )
    assert response.status_code == 400
    assert field in response.context["interaction_form"].errors
    assert not Interaction.objects.exists()
    assert not FollowUp.objects.exists()


@pytest.mark.django_db
def test_it_records_consent_changes_said_on_the_phone(charlie_client, charlie):
    customer = CustomerFactory()
    response = charlie_client.post(
        reverse("customers:consent_create", args=[customer.pk]),
        {"purpose": "email_marketing", "granted": "0", "note": "Asked to stop newsletters"},
    )
    assert response.status_code == 302
    event = ConsentEvent.objects.get(customer=customer)
    assert (event.granted, event.source, event.recorded_by) == (False, "staff", charlie)


@pytest.mark.django_db
def test_it_puts_overdue_follow_ups_first_then_by_priority(charlie_client):
    today = timezone.localdate()
    later = FollowUpFactory(reason="later", due_on=today + dt.timedelta(days=2), priority=1)
    overdue_normal = FollowUpFactory(reason="overdue normal", due_on=today - dt.timedelta(days=1))
    overdue_urgent = FollowUpFactory(
        reason="overdue urgent", due_on=today - dt.timedelta(days=1), priority=1
    )
    FollowUpFactory(reason="done", due_on=today - dt.timedelta(days=5), done_at=timezone.now())
    response = charlie_client.get(reverse("customers:followups"))
    queue = list(response.context["page"].object_list)
    assert queue == [overdue_urgent, overdue_normal, later]
    assert response.context["counts"].overdue == 2


@pytest.mark.django_db
def test_it_shows_only_my_follow_ups_when_asked(charlie_client, charlie, bob):
    mine = FollowUpFactory(assigned_to=charlie)
    FollowUpFactory(assigned_to=bob)
    response = charlie_client.get(reverse("customers:followups"), {"mine": "1"})
    assert list(response.context["page"].object_list) == [mine]


@pytest.mark.django_db
def test_it_marks_a_follow_up_done_once(charlie_client, charlie):
    follow_up = FollowUpFactory()
    url = reverse("customers:followup_done", args=[follow_up.pk])
    charlie_client.post(url, {"resolution": "Refund sent"})
    follow_up.refresh_from_db()
    first_done = follow_up.done_at
    assert follow_up.done_by == charlie and follow_up.resolution == "Refund sent"
    charlie_client.post(url, {"resolution": "again"})
    follow_up.refresh_from_db()
    assert follow_up.done_at == first_done and follow_up.resolution == "Refund sent"


@pytest.mark.django_db
def test_it_refuses_page_writes_to_users_without_the_permission(client, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="x-long-password")
    client.force_login(viewer)
    customer = CustomerFactory()
    assert client.get(customer.get_absolute_url()).status_code == 403
    response = client.post(
        reverse("customers:interaction_create", args=[customer.pk]),
        {"kind": "call", "direction": "outbound", "outcome": "neutral", "summary": "x"},
    )
    assert response.status_code == 403
    assert not Interaction.objects.exists()


@pytest.mark.django_db
def test_it_renders_the_customer_page_in_constant_queries(
    charlie_client, django_assert_max_num_queries
):
    customer = CustomerFactory()
    OrderFactory(customer=customer)
    InteractionFactory(customer=customer)
    with django_assert_max_num_queries(30) as few:
        charlie_client.get(customer.get_absolute_url())
    for _ in range(10):
        ReturnFactory(order=OrderFactory(customer=customer))
        FollowUpFactory(customer=customer, interaction=InteractionFactory(customer=customer))
    with django_assert_max_num_queries(len(few.captured_queries)):
        charlie_client.get(customer.get_absolute_url())


@pytest.mark.django_db
def test_it_lets_the_retention_team_add_a_customer_with_interests(bob_client):
    response = bob_client.post(
        reverse("customers:create"),
        {
            "name": "Ігор Петренко",
            "email": "Igor@Example.UA",
            "country": "ua",
            "acquisition_channel": "referral",
            "tags_text": "running, Eco , running",
        },
    )
    customer = Customer.objects.get(name="Ігор Петренко")
    assert response.status_code == 302
    assert response["Location"] == customer.get_absolute_url()
    assert customer.country == "UA"
    assert sorted(t.name for t in customer.tags.all()) == ["Eco", "running"]


@pytest.mark.django_db
def test_it_refuses_a_second_customer_with_the_same_email_in_another_case(bob_client):
    CustomerFactory(email="olena@example.ua")
    response = bob_client.post(
        reverse("customers:create"),
        {"name": "Olena", "email": "OLENA@example.ua", "acquisition_channel": "other"},
    )
    assert response.status_code == 400
    assert "already has this email" in str(response.context["form"].errors["email"])
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_it_lets_support_correct_a_phone_number_but_not_add_customers(charlie_client):
    customer = CustomerFactory(phone="+48 600 000 000", external_id="SHOP-1")
    assert charlie_client.get(reverse("customers:create")).status_code == 403
    response = charlie_client.post(
        reverse("customers:edit", args=[customer.pk]),
        {
            "name": customer.name,
            "email": customer.email,
            "phone": "+48 601 111 222",
            "external_id": customer.external_id,
            "acquisition_channel": customer.acquisition_channel,
            "tags_text": "",
        },
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.phone == "+48 601 111 222"
    assert customer.external_id == "SHOP-1"
