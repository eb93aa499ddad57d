import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import FollowUp, Interaction
from tests.e2e.conftest import log_in, screenshot
from tests.factories import (
    ConsentEventFactory,
    CustomerFactory,
    FollowUpFactory,
    OrderFactory,
    ReturnFactory,
    TagFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_logs_in_finds_a_customer_and_logs_a_call(page, charlie):
    customer = CustomerFactory(name="Łukasz Żółć", email="lukasz@example.pl", external_id="SHOP-77")
    customer.tags.add(TagFactory(name="hiking"))
    ConsentEventFactory(customer=customer)
    ReturnFactory(order=OrderFactory(customer=customer, external_id="ORD-9"), reason="Too small")
    CustomerFactory(name="Олена Коваленко")

    log_in(page, "charlie")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Customers").click()
    page.get_by_label("Search").fill("żółć")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#customer-table tbody tr")).to_have_count(1)
    screenshot(page, "customer-list")
    page.get_by_role("link", name="Łukasz Żółć").click()

    expect(page.get_by_role("heading", name="Łukasz Żółć")).to_be_visible()
    expect(page.locator("#orders")).to_contain_text("ORD-9")
    expect(page.locator("#orders")).to_contain_text("Too small")
    expect(page.locator("#consent")).to_contain_text("Marketing email: granted")

    form = page.locator("#log-interaction")
    form.get_by_label("Kind").select_option("call")
    form.get_by_label("Outcome").select_option("complaint")
    form.get_by_label("Summary").fill("Boots leak after two weeks; offered a replacement.")
    due = timezone.localdate() + dt.timedelta(days=2)
    form.get_by_label("Follow up by").fill(due.isoformat())
    form.get_by_role("button", name="Save interaction").click()

    expect(page.get_by_role("status")).to_contain_text("Interaction logged")
    expect(page.locator("#timeline")).to_contain_text("Boots leak after two weeks")
    expect(page.locator("#follow-ups")).to_contain_text(due.strftime("%-d %b %Y"))
    screenshot(page, "customer-360")
    interaction = Interaction.objects.get(customer=customer)
    assert interaction.staff == charlie
    assert FollowUp.objects.get(interaction=interaction).due_on == due


def test_it_shows_form_errors_without_losing_what_was_typed(page, charlie):
    customer = CustomerFactory(name="Ірина Бондар")
    log_in(page, "charlie")
    page.goto(customer.get_absolute_url())
    form = page.locator("#log-interaction")
    form.get_by_label("Outcome").select_option("follow_up")
    form.get_by_label("Summary").fill("Wants a call about the invoice")
    page.allowed_console.append("status of 400")
    form.get_by_role("button", name="Save interaction").click()
    expect(page.locator("#id_follow_up_on-error")).to_contain_text("Pick a date")
    expect(page.locator("#log-interaction").get_by_label("Summary")).to_have_value(
        "Wants a call about the invoice"
    )
    assert not Interaction.objects.exists()


def test_it_works_the_follow_up_queue(page, charlie):
    today = timezone.localdate()
    FollowUpFactory(
        customer=CustomerFactory(name="Overdue Olga"),
        assigned_to=charlie,
        due_on=today - dt.timedelta(days=3),
        reason="Promised a refund update",
    )
    FollowUpFactory(
        customer=CustomerFactory(name="Later Lena"), due_on=today + dt.timedelta(days=4)
    )
    log_in(page, "charlie")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Follow-ups").click()
    rows = page.locator("#followup-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Overdue Olga")
    expect(rows.first).to_contain_text("overdue")
    screenshot(page, "follow-ups")
    rows.first.get_by_role("button", name="Mark done").click()
    expect(page.get_by_role("status")).to_contain_text("marked done")
    expect(page.locator("#followup-table tbody tr")).to_have_count(1)
    assert FollowUp.objects.get(customer__name="Overdue Olga").done_by == charlie


def test_it_keeps_support_staff_out_of_the_admin_page(page, charlie):
    log_in(page, "charlie")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin")
    ).to_have_count(0)
    page.allowed_console.append("status of 403")
    response = page.goto("/team/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="You do not have access to this page")).to_be_visible()


def test_it_lets_an_admin_through_every_page_without_console_errors(page, alice):
    customer = CustomerFactory(name="Anna Kowalska")
    OrderFactory(customer=customer)
    log_in(page, "alice")
    for path, heading in [
        ("/", "Dashboard"),
        ("/customers/", "Customers"),
        (customer.get_absolute_url(), "Anna Kowalska"),
        ("/follow-ups/", "Follow-ups"),
        ("/campaigns/", "Campaigns"),
        ("/feedback/", "Feedback"),
        ("/team/", "Administration"),
    ]:
        response = page.goto(path)
        assert response.status == 200, path
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        screenshot(page, f"admin-{heading}")
    expect(page).to_have_title(re.compile("Rapport"))


def test_it_redirects_to_login_and_back(page, charlie):
    page.goto("/follow-ups/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/follow-ups/"))
    screenshot(page, "login")
    page.get_by_label("Username").fill("charlie")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("enter a correct username and password")
    from tests.conftest import PASSWORD

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Follow-ups")).to_be_visible()
