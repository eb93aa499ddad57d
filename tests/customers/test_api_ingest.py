"""Ingest over the API: customers, orders, returns, interactions, one at a time or in bulk,
validated by the CSV importers and upserted on (source, external_id)."""

from decimal import Decimal
from io import StringIO

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext

from crm import services
from customers.imports import import_csv
from customers.models import ConsentEvent, Customer, Interaction, Order, Return
from tests.crm.test_api import assert_problem
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

ORDER = {
    "external_id": "1001",
    "customer_external_id": "c-1",
    "ordered_at": "2026-01-05T14:30:00Z",
    "amount": 249.9,
    "currency": "PLN",
}


@pytest.fixture
def api(alice) -> Client:
    _, key = services.api_key_create(
        name="Shop",
        scopes=["customers:read", "customers:write", "orders:read", "orders:write"],
        created_by=alice,
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def post(client: Client, url: str, body, **headers):
    return client.post(url, body, content_type="application/json", **headers)


def shop_customer(external_id: str = "c-1") -> Customer:
    return CustomerFactory(source="shop", external_id=external_id)


def test_it_creates_a_customer_with_tags_and_consent(api, alice):
    response = post(
        api,
        "/api/customers/",
        {
            "source": "shop",
            "external_id": "c-1",
            "email": "Olena@example.com",
            "name": "Olena",
            "tags": ["running", "vip"],
            "email_marketing_consent": True,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source"] == "shop" and body["external_id"] == "c-1"
    assert sorted(body["tags"]) == ["running", "vip"]
    event = ConsentEvent.objects.get()
    assert event.granted and event.recorded_by == alice


def test_it_upserts_an_order_so_a_retried_webhook_does_not_double_revenue(api):
    shop_customer()
    first = post(api, "/api/orders/", {"source": "shop", **ORDER})
    assert first.status_code == 201, first.content
    again = post(api, "/api/orders/", {"source": "shop", **ORDER})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1
    assert Order.objects.aggregate(total=Sum("base_amount"))["total"] == Decimal("249.90")
    changed = post(api, "/api/orders/", {"source": "shop", **ORDER, "status": "refunded"})
    assert changed.status_code == 200 and changed.json()["status"] == "refunded"
    assert Order.objects.count() == 1


def test_it_reports_the_import_errors_as_field_errors(api):
    body = assert_problem(
        post(
            api,
            "/api/orders/",
            {**ORDER, "amount": "12,50", "customer_external_id": "nobody", "colour": "red"},
        ),
        400,
        "validation-error",
    )
    fields = {e["field"] for e in body["errors"]}
    assert {"amount", "colour"} <= fields
    assert any("12.50" in e["message"] for e in body["errors"])
    assert not Order.objects.exists()


def test_it_gives_the_same_error_as_the_csv_import(api):
    csv_result = import_csv(
        kind="orders",
        file=StringIO(
            'external_id,customer_external_id,ordered_at,amount\n1,c-1,2026-01-05,"12,50"\n'
        ),
    )
    api_body = post(api, "/api/orders/", {**ORDER, "amount": "12,50"}).json()
    api_messages = {e["message"] for e in api_body["errors"]}
    csv_messages = {e.message for e in csv_result.errors}
    assert "Use a dot for decimals: 12.50, not 12,50." in api_messages & csv_messages


def test_it_requires_the_required_fields(api):
    body = assert_problem(post(api, "/api/orders/", {"amount": 1}), 400, "validation-error")
    fields = {e["field"] for e in body["errors"] if e["code"] == "required"}
    assert fields == {"external_id", "customer_external_id", "ordered_at"}


def test_it_lands_the_good_items_of_a_bulk_and_reports_the_bad_ones(api):
    shop_customer("c-1")
    items = [
        {**ORDER, "external_id": "1"},
        {**ORDER, "external_id": "2", "amount": "-5"},
        {**ORDER, "external_id": "3", "customer_external_id": "nobody"},
        {**ORDER, "external_id": "4", "amount": 10},
        {**ORDER, "external_id": "1"},
        "not an object",
    ]
    response = post(api, "/api/orders/bulk/", {"source": "shop", "items": items})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["failed"]) == (2, 4)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["created", "error", "error", "created", "error", "error"]
    assert body["results"][1]["errors"][0]["field"] == "amount"
    assert body["results"][2]["errors"][0]["field"] == "customer_external_id"
    assert body["results"][4]["errors"][0]["code"] == "duplicate"
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["1", "4"]
    assert body["results"][0]["id"] == Order.objects.get(external_id="1").pk


def test_it_writes_a_bulk_with_set_based_statements_not_one_per_item(api):
    shop_customer("c-1")
    items = [{**ORDER, "external_id": str(n)} for n in range(300)]
    with CaptureQueriesContext(connection) as queries:
        response = post(api, "/api/orders/bulk/", {"source": "shop", "items": items})
    assert response.json()["created"] == 300
    assert len(queries) < 25


def test_it_updates_existing_items_in_a_bulk(api):
    customer = shop_customer("c-1")
    OrderFactory(customer=customer, source="shop", external_id="1", amount=Decimal(5))
    items = [{**ORDER, "external_id": "1"}, {**ORDER, "external_id": "2"}]
    body = post(api, "/api/orders/bulk/", {"source": "shop", "items": items}).json()
    assert [r["status"] for r in body["results"]] == ["updated", "created"]
    assert Order.objects.get(external_id="1").amount == Decimal("249.90")
    again = post(api, "/api/orders/bulk/", {"source": "shop", "items": items}).json()
    assert again["unchanged"] == 2 and Order.objects.count() == 2


def test_it_refuses_more_than_a_thousand_items(api):
    items = [{**ORDER, "external_id": str(n)} for n in range(1001)]
    body = assert_problem(
        post(api, "/api/customers/bulk/", {"items": items}), 400, "validation-error"
    )
    assert body["errors"][0]["field"] == "items"


def test_it_ingests_customers_in_bulk(api):
    items = [
        {"external_id": "a", "email": "a@example.com"},
        {"external_id": "b", "email": "a@example.com"},
        {"external_id": "c", "country": "Poland"},
    ]
    body = post(api, "/api/customers/bulk/", {"source": "shop", "items": items}).json()
    assert [r["status"] for r in body["results"]] == ["created", "error", "error"]
    assert body["results"][1]["errors"][0]["field"] == "email"
    assert body["results"][2]["errors"][0]["field"] == "country"
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["a"]


def test_it_creates_returns_and_interactions(api):
    customer = shop_customer("c-1")
    OrderFactory(
        customer=customer, source="shop", external_id="1001", ordered_at="2026-01-01T00:00:00Z"
    )
    response = post(
        api,
        "/api/returns/",
        {
            "source": "shop",
            "external_id": "r-1",
            "order_external_id": "1001",
            "returned_at": "2026-01-09T10:00:00Z",
            "amount": 20,
        },
    )
    assert response.status_code == 201, response.content
    assert Return.objects.get().amount == Decimal(20)
    response = post(
        api,
        "/api/interactions/",
        {
            "source": "shop",
            "external_id": "t-1",
            "customer_external_id": "c-1",
            "kind": "chat",
            "occurred_at": "2026-01-09T10:00:00Z",
            "summary": "Asked about sizes.",
        },
    )
    assert response.status_code == 201, response.content
    assert Interaction.objects.get().customer == customer


def test_it_lists_orders_with_filters_and_cursor_pages(api):
    one, two = shop_customer("c-1"), shop_customer("c-2")
    for n in range(3):
        OrderFactory(customer=one, external_id=f"a{n}")
    OrderFactory(customer=two, external_id="b0", status=Order.Status.REFUNDED)
    page = api.get(f"/api/orders/?customer={one.pk}&page_size=2").json()
    assert len(page["results"]) == 2 and page["next"]
    rest = api.get(page["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    refunded = api.get("/api/orders/?status=refunded").json()["results"]
    assert [o["external_id"] for o in refunded] == ["b0"]
    assert refunded[0]["customer_external_id"] == "c-2"
    assert api.get(f"/api/orders/{refunded[0]['id']}/").json()["amount"] == 100.0
    body = assert_problem(api.get("/api/orders/?status=lost"), 400, "validation-error")
    assert body["errors"][0]["field"] == "status"


def test_it_lists_customers_changed_since_a_time(api):
    old = shop_customer("old")
    Customer.objects.filter(pk=old.pk).update(updated_at="2020-01-01T00:00:00Z")
    shop_customer("new")
    results = api.get("/api/customers/?updated_since=2025-01-01T00:00:00Z").json()["results"]
    assert [c["external_id"] for c in results] == ["new"]
    assert api.get(f"/api/customers/{old.pk}/").json()["external_id"] == "old"


def test_it_lets_sessions_write_by_model_permission(bob_client, charlie_client):
    assert post(bob_client, "/api/customers/", {"external_id": "c-9"}).status_code == 201
    order = {**ORDER, "customer_external_id": "c-9"}
    assert post(bob_client, "/api/orders/", order).status_code == 201
    # support corrects contact details and logs interactions, but adds no customers or orders
    assert_problem(
        post(charlie_client, "/api/customers/", {"external_id": "c-8"}), 403, "permission-denied"
    )
    assert_problem(
        post(charlie_client, "/api/orders/bulk/", {"items": [order]}), 403, "permission-denied"
    )
    assert Customer.objects.count() == 1 and Order.objects.count() == 1


def patch(client: Client, url: str, body):
    return client.patch(url, body, content_type="application/json")


def test_it_changes_only_the_fields_a_patch_sends(api):
    customer = CustomerFactory(source="shop", external_id="c-1", name="Olena", phone="123")
    response = patch(api, f"/api/customers/{customer.pk}/", {"phone": "+48 600", "tags": ["vip"]})
    assert response.status_code == 200, response.content
    assert response.json()["phone"] == "+48 600" and response.json()["tags"] == ["vip"]
    customer.refresh_from_db()
    assert (customer.name, customer.phone) == ("Olena", "+48 600")
    body = assert_problem(
        patch(api, f"/api/customers/{customer.pk}/", {"country": "Poland", "external_id": "x"}),
        400,
        "validation-error",
    )
    assert {e["field"] for e in body["errors"]} == {"external_id"}
    body = assert_problem(
        patch(api, f"/api/customers/{customer.pk}/", {"country": "Poland"}), 400, "validation-error"
    )
    assert body["errors"][0]["field"] == "country"


def test_it_refuses_a_patch_of_a_customer_made_in_rapport(api):
    customer = CustomerFactory(external_id=None)
    body = assert_problem(
        patch(api, f"/api/customers/{customer.pk}/", {"phone": "1"}), 400, "validation-error"
    )
    assert body["errors"][0]["field"] is None
    assert_problem(patch(api, "/api/customers/999999/", {"phone": "1"}), 404, "not-found")


def test_it_lets_support_patch_customers_with_a_session(charlie_client):
    customer = CustomerFactory(source="shop", external_id="c-1")
    response = patch(charlie_client, f"/api/customers/{customer.pk}/", {"phone": "555"})
    assert response.status_code == 200, response.content
