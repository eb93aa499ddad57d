from decimal import Decimal

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.factories import CustomerFactory, FollowUpFactory, OrderFactory

PAGES = ["dashboard", "customers:list", "customers:followups", "campaigns:index", "feedback:index"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", [*PAGES, "team"])
def test_it_sends_anonymous_visitors_to_the_login_page(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_it_shows_every_main_page_to_support_staff(charlie_client, name):
    response = charlie_client.get(reverse(name))
    assert response.status_code == 200
    assert b"Log out" in response.content


@pytest.mark.django_db
def test_it_refuses_the_admin_page_to_support_and_retention(charlie_client, bob_client):
    assert charlie_client.get(reverse("team")).status_code == 403
    assert bob_client.get(reverse("team")).status_code == 403


@pytest.mark.django_db
def test_it_hides_the_admin_link_from_support(charlie_client, alice_client):
    assert b'href="/team/"' not in charlie_client.get(reverse("dashboard")).content
    assert b'href="/team/"' in alice_client.get(reverse("dashboard")).content


@pytest.mark.django_db
def test_it_logs_in_with_the_form(client, charlie):
    response = client.post(reverse("login"), {"username": "charlie", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200


@pytest.mark.django_db
def test_it_locks_out_after_repeated_failed_logins(client, charlie, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "charlie", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "charlie", "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content


@pytest.mark.django_db
def test_it_serves_a_strict_content_security_policy(charlie_client):
    policy = charlie_client.get(reverse("dashboard"))["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


@pytest.mark.django_db
def test_it_answers_the_health_check_without_login(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_it_shows_dashboard_figures_from_the_database(charlie_client):
    orders = OrderFactory.create_batch(3, base_amount="50.00", amount="50.00")
    FollowUpFactory(customer=orders[0].customer, due_on="2000-01-01")
    response = charlie_client.get(reverse("dashboard"))
    figures = response.context["figures"]
    assert figures.customers == 3
    assert figures.orders_30d == 3
    assert figures.revenue_30d == Decimal("150.00")
    assert figures.follow_ups.overdue == 1


@pytest.mark.django_db
def test_it_lets_an_admin_create_a_user_and_shows_the_password_once(alice_client):
    response = alice_client.post(
        reverse("team"), {"username": "dana", "email": "dana@example.com", "role": "support"}
    )
    assert response.status_code == 200
    created = response.context["created"]
    assert created["username"] == "dana"
    from django.contrib.auth import get_user_model

    dana = get_user_model().objects.get(username="dana")
    assert dana.check_password(created["password"])
    assert list(dana.groups.values_list("name", flat=True)) == ["support"]
    assert not dana.is_staff


@pytest.mark.django_db
def test_it_rejects_a_duplicate_username_on_the_team_page(alice_client, charlie):
    response = alice_client.post(reverse("team"), {"username": "Charlie", "role": "support"})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert response.context["created"] is None


@pytest.mark.django_db
def test_it_renders_the_customer_list_in_a_constant_number_of_queries(
    charlie_client, django_assert_max_num_queries
):
    CustomerFactory.create_batch(5)
    with django_assert_max_num_queries(12) as small:
        charlie_client.get(reverse("customers:list"))
    CustomerFactory.create_batch(40)
    with django_assert_max_num_queries(len(small.captured_queries)):
        charlie_client.get(reverse("customers:list"))
