"""Idempotency-Key on creating POSTs: replay, reuse with another body, in flight, and
concurrent duplicates that create exactly one order."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from crm import services
from crm.models import IdempotencyKey
from crm.rest import idempotency
from customers.models import Customer, Order
from tests.crm.test_api import assert_problem
from tests.customers.test_api_ingest import ORDER, post
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def key_client(user) -> Client:
    _, key = services.api_key_create(
        name="Shop", scopes=["customers:write", "orders:write"], created_by=user
    )
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def api(alice) -> Client:
    CustomerFactory(external_id="c-1")
    return key_client(alice)


def test_it_replays_the_first_response_for_the_same_key_and_body(api):
    first = post(api, "/api/orders/", ORDER, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    Order.objects.update(status=Order.Status.CANCELLED)  # changed since: the replay is as stored
    again = post(api, "/api/orders/", ORDER, HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Order.objects.count() == 1


def test_it_refuses_the_same_key_with_a_different_body_with_422(api):
    post(api, "/api/orders/", ORDER, HTTP_IDEMPOTENCY_KEY="k-1")
    response = post(api, "/api/orders/", {**ORDER, "amount": 1}, HTTP_IDEMPOTENCY_KEY="k-1")
    body = assert_problem(response, 422, "idempotency-key-reused")
    assert body["title"] == "Idempotency key reused"
    other_endpoint = post(api, "/api/customers/", {"external_id": "x"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert_problem(other_endpoint, 422, "idempotency-key-reused")
    assert Order.objects.get().amount == Decimal("249.90")


def test_it_answers_409_while_the_first_request_is_in_flight(api, alice):
    post(api, "/api/orders/", ORDER, HTTP_IDEMPOTENCY_KEY="warm-up")
    claim = IdempotencyKey.objects.get(key="warm-up")
    IdempotencyKey.objects.create(
        owner=claim.owner,
        key="k-2",
        method="POST",
        path="/api/orders/",
        request_hash=claim.request_hash,
    )
    response = post(api, "/api/orders/", ORDER, HTTP_IDEMPOTENCY_KEY="k-2")
    assert_problem(response, 409, "idempotency-key-in-flight")


def test_it_releases_a_claim_abandoned_by_a_process_that_died(api):
    post(api, "/api/orders/", ORDER, HTTP_IDEMPOTENCY_KEY="warm-up")
    claim = IdempotencyKey.objects.get(key="warm-up")
    IdempotencyKey.objects.create(
        owner=claim.owner,
        key="k-5",
        method="POST",
        path="/api/orders/",
        request_hash=claim.request_hash,
        created_at=timezone.now() - idempotency.ABANDONED_AFTER * 2,
    )
    response = post(api, "/api/orders/", ORDER, HTTP_IDEMPOTENCY_KEY="k-5")
    assert response.status_code == 200 and "Idempotent-Replayed" not in response
    assert IdempotencyKey.objects.get(key="k-5").response_status == 200


def test_it_keeps_keys_apart_per_api_key(api, alice):
    post(api, "/api/orders/", ORDER, HTTP_IDEMPOTENCY_KEY="k-1")
    other = key_client(alice)
    response = post(other, "/api/orders/", {**ORDER, "amount": 1}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 200  # the same order, updated: not a replay of the other key's
    assert "Idempotent-Replayed" not in response


def test_it_releases_the_key_when_the_request_fails(api):
    bad = post(api, "/api/orders/", {**ORDER, "amount": "x"}, HTTP_IDEMPOTENCY_KEY="k-3")
    assert bad.status_code == 400
    assert not IdempotencyKey.objects.filter(key="k-3").exists()
    good = post(api, "/api/orders/", ORDER, HTTP_IDEMPOTENCY_KEY="k-3")
    assert good.status_code == 201


def test_it_forgets_a_key_after_24_hours(api):
    post(api, "/api/orders/", ORDER, HTTP_IDEMPOTENCY_KEY="k-4")
    IdempotencyKey.objects.update(created_at=timezone.now() - idempotency.TTL * 2)
    response = post(api, "/api/orders/", {**ORDER, "amount": 5}, HTTP_IDEMPOTENCY_KEY="k-4")
    assert response.status_code == 200 and "Idempotent-Replayed" not in response


def test_it_replays_a_bulk_request(api):
    body = {"items": [ORDER, {**ORDER, "external_id": "2"}]}
    first = post(api, "/api/orders/bulk/", body, HTTP_IDEMPOTENCY_KEY="b-1")
    again = post(api, "/api/orders/bulk/", body, HTTP_IDEMPOTENCY_KEY="b-1")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and first.json()["created"] == 2


def test_it_refuses_an_overlong_key(api):
    response = post(api, "/api/orders/", ORDER, HTTP_IDEMPOTENCY_KEY="k" * 256)
    body = assert_problem(response, 400, "validation-error")
    assert body["errors"][0]["field"] == "Idempotency-Key"


@pytest.mark.django_db(transaction=True)
def test_it_creates_one_order_for_twenty_concurrent_identical_posts(require_postgres, alice):
    CustomerFactory(external_id="c-1")
    _, key = services.api_key_create(name="Shop", scopes=["orders:write"], created_by=alice)
    barrier = threading.Barrier(20)
    responses: list = []
    lock = threading.Lock()

    def fire() -> None:
        try:
            client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
            barrier.wait()
            response = post(client, "/api/orders/", ORDER, HTTP_IDEMPOTENCY_KEY="same")
            with lock:
                responses.append(response)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=fire) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(responses) == 20
    assert Order.objects.count() == 1
    done = [r for r in responses if r.status_code == 201]
    in_flight = [r for r in responses if r.status_code == 409]
    assert len(done) + len(in_flight) == 20
    assert sum(1 for r in done if "Idempotent-Replayed" not in r) == 1
    assert len({r.content for r in done}) == 1
    assert all(r.json()["type"].endswith("idempotency-key-in-flight") for r in in_flight)
    # A client told "in flight" retries; by now the first has answered, so it gets that answer.
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    retried = [post(client, "/api/orders/", ORDER, HTTP_IDEMPOTENCY_KEY="same") for _ in in_flight]
    assert all(r["Idempotent-Replayed"] == "true" for r in retried)
    assert len({(r.status_code, r.content) for r in done + retried}) == 1
    assert Order.objects.count() == 1 and Customer.objects.count() == 1
