"""API keys: created by an admin on a page, shown once, stored hashed, scoped, revocable."""

import datetime as dt
import hashlib

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from rest_framework.throttling import UserRateThrottle

from crm import services
from crm.models import ApiKey, IdempotencyKey
from crm.tasks import purge_idempotency_keys
from tests.crm.test_api import assert_problem
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def key_for(user, *scopes: str) -> str:
    _, key = services.api_key_create(name="Shop sync", scopes=scopes, created_by=user)
    return key


def bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_it_shows_a_new_key_once_and_stores_only_its_hash(alice_client):
    response = alice_client.post(
        "/team/api-keys/", {"name": "Shopify", "scopes": ["orders:write", "customers:read"]}
    )
    assert response.status_code == 200
    key = response.context["created_key"]
    assert key.startswith("rk_") and len(key) > 40
    assert key in response.content.decode()
    api_key = ApiKey.objects.get()
    assert api_key.scopes == ["customers:read", "orders:write"]
    assert api_key.secret_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(ApiKey.objects.values().get())
    again = alice_client.get("/team/api-keys/").content.decode()
    assert key not in again and f"rk_{api_key.prefix}_" in again


def test_it_links_the_api_keys_page_from_the_team_page(alice_client):
    assert b"/team/api-keys/" in alice_client.get("/team/").content


@pytest.mark.parametrize("persona", ["bob_client", "charlie_client"])
def test_it_lets_only_admins_manage_api_keys(persona, request, alice):
    client = request.getfixturevalue(persona)
    assert client.get("/team/api-keys/").status_code == 403
    assert client.post("/team/api-keys/", {"name": "x", "scopes": ["orders:read"]}).status_code
    assert not ApiKey.objects.exists()
    api_key, _ = services.api_key_create(name="x", scopes=["orders:read"], created_by=alice)
    assert client.post(f"/team/api-keys/{api_key.pk}/revoke/").status_code == 403


def test_it_refuses_a_revoked_key(alice, alice_client):
    key = key_for(alice, "values:read")
    assert Client().get("/api/clv-runs/", **bearer(key)).status_code == 200
    api_key = ApiKey.objects.get()
    assert alice_client.post(f"/team/api-keys/{api_key.pk}/revoke/").status_code == 302
    response = Client().get("/api/clv-runs/", **bearer(key))
    assert_problem(response, 401, "authentication-failed")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "key",
    ["rk_nope_nope", "garbage", "rk_", "a b"],
)
def test_it_refuses_a_wrong_key_with_401(key, alice):
    real = key_for(alice, "values:read")
    assert_problem(Client().get("/api/clv-runs/", **bearer(key)), 401, "authentication-failed")
    prefix = real.split("_")[1]
    forged = f"rk_{prefix}_{'x' * 43}"
    assert_problem(Client().get("/api/clv-runs/", **bearer(forged)), 401, "authentication-failed")


def test_it_answers_401_with_a_challenge_without_credentials(client):
    response = client.get("/api/customers/")
    assert_problem(response, 401, "not-authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_a_key_without_the_scope_and_leaks_no_data(alice):
    customer = CustomerFactory(name="Secret Person")
    OrderFactory(customer=customer)
    key = key_for(alice, "orders:write")
    for url in ("/api/customers/", f"/api/customers/{customer.pk}/", "/api/orders/"):
        response = Client().get(url, **bearer(key))
        body = assert_problem(response, 403, "permission-denied")
        assert "read scope" in body["detail"]
        assert b"Secret Person" not in response.content
    assert_problem(Client().get("/api/segments/", **bearer(key)), 403, "permission-denied")


def test_it_lets_a_key_use_the_endpoints_its_scopes_name(alice):
    CustomerFactory(name="Olena")
    key = key_for(alice, "customers:read", "values:read")
    assert Client().get("/api/customers/", **bearer(key)).json()["results"][0]["name"] == "Olena"
    assert Client().get("/api/segments/", **bearer(key)).status_code == 200


def test_it_needs_no_csrf_token_for_writes_with_a_key(alice):
    key = key_for(alice, "customers:write")
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/customers/", {"external_id": "c-1"}, content_type="application/json", **bearer(key)
    )
    assert response.status_code == 201, response.content


def test_it_notes_the_last_use_at_most_once_a_minute(alice):
    key = key_for(alice, "values:read")
    Client().get("/api/clv-runs/", **bearer(key))
    first = ApiKey.objects.get().last_used_at
    assert first is not None
    Client().get("/api/clv-runs/", **bearer(key))
    assert ApiKey.objects.get().last_used_at == first
    ApiKey.objects.update(last_used_at=first - dt.timedelta(minutes=2))
    Client().get("/api/clv-runs/", **bearer(key))
    assert ApiKey.objects.get().last_used_at > first - dt.timedelta(seconds=1)
    assert ApiKey.objects.get().last_used_at <= timezone.now()


def test_it_throttles_each_key_on_its_own_with_a_429_and_retry_after(alice, monkeypatch):
    monkeypatch.setitem(UserRateThrottle.THROTTLE_RATES, "user", "2/minute")
    one, two = key_for(alice, "values:read"), key_for(alice, "values:read")
    cache_keys = [f"throttle_key_{k.pk}" for k in ApiKey.objects.all()]
    cache.delete_many(cache_keys)
    try:
        assert Client().get("/api/clv-runs/", **bearer(one)).status_code == 200
        assert Client().get("/api/clv-runs/", **bearer(one)).status_code == 200
        response = Client().get("/api/clv-runs/", **bearer(one))
        assert_problem(response, 429, "throttled")
        assert 0 < int(response["Retry-After"]) <= 60
        assert Client().get("/api/clv-runs/", **bearer(two)).status_code == 200
    finally:
        cache.delete_many(cache_keys)


@pytest.mark.django_db
def test_the_daily_job_forgets_idempotency_keys_older_than_a_day():
    fields = {"owner": "user:1", "method": "POST", "path": "/api/orders/", "request_hash": "x"}
    old = IdempotencyKey.objects.create(key="old", **fields)
    IdempotencyKey.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=25)
    )
    fresh = IdempotencyKey.objects.create(key="fresh", **fields)

    assert purge_idempotency_keys.apply().get() == 1
    assert list(IdempotencyKey.objects.values_list("pk", flat=True)) == [fresh.pk]
