"""The value pages' run button: what the flash message says about the run it started."""

import datetime as dt
from io import StringIO

import pytest
from celery.result import AsyncResult
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from crm.templatetags.rapport import number
from customers import views_value
from customers.models import CLVRun


@pytest.fixture
def shop(db) -> None:
    call_command("seed_demo", "--customers", "150", "--seed", "5", stdout=StringIO())


class QueuedTask:
    """Stands in for the Celery task when a worker, not this process, runs it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def delay(self, **kwargs: object) -> AsyncResult:
        self.calls.append(kwargs)
        return AsyncResult("queued-task-id")


@pytest.fixture
def queued(monkeypatch) -> QueuedTask:
    task = QueuedTask()
    monkeypatch.setattr(views_value, "recompute_customer_value", task)
    return task


def _message(response) -> tuple[str, str]:
    (message,) = get_messages(response.wsgi_request)
    return message.level_tag, str(message)


def _day(value: dt.date) -> str:
    return date_format(value, "j M Y")


def test_it_says_the_run_finished_with_its_customers_when_tasks_run_in_process(shop, bob_client):
    response = bob_client.post(reverse("customers:value_run"))
    assert response.status_code == 302 and response.url == reverse("customers:segments")
    run = CLVRun.objects.get()
    assert run.status == CLVRun.Status.SUCCEEDED, run.error
    assert _message(response) == (
        "success",
        f"Customer value run as of {_day(run.as_of)} finished:"
        f" {number(run.customers)} customers valued.",
    )
    page = bob_client.get(response.url)
    assert "finished" in page.content.decode() and "reload this page" not in page.content.decode()


def test_it_says_the_run_failed_and_why(db, bob_client):
    response = bob_client.post(reverse("customers:value_run"))  # no customers with orders
    run = CLVRun.objects.get()
    assert run.status == CLVRun.Status.FAILED and run.error
    assert _message(response) == (
        "error",
        f"Customer value run as of {_day(run.as_of)} failed: {run.error}",
    )


def test_it_says_a_backtest_finished_and_goes_back_to_model_quality(shop, bob_client):
    as_of = timezone.localdate() - dt.timedelta(days=120)
    response = bob_client.post(
        reverse("customers:value_run"), {"as_of": as_of.isoformat(), "next": "model"}
    )
    assert response.url == reverse("customers:model")
    run = CLVRun.objects.get(as_of=as_of)
    assert run.backtest
    level, text = _message(response)
    assert level == "success" and text.startswith(
        f"Customer value run as of {_day(as_of)} finished"
    )


def test_it_says_the_run_is_queued_when_a_worker_runs_tasks(db, bob_client, queued):
    response = bob_client.post(reverse("customers:value_run"), {"time_unit": "week"})
    assert queued.calls == [{"as_of": None, "time_unit": "week", "trigger": "manual"}]
    assert not CLVRun.objects.exists()
    level, text = _message(response)
    assert level == "info"
    assert text.startswith("Customer value run queued.") and "reload this page" in text
    assert "finished" not in text


def test_it_names_the_date_of_a_queued_backtest(db, bob_client, queued):
    as_of = timezone.localdate() - dt.timedelta(days=30)
    response = bob_client.post(
        reverse("customers:value_run"), {"as_of": as_of.isoformat(), "time_unit": "bogus"}
    )
    assert queued.calls == [{"as_of": as_of.isoformat(), "time_unit": "day", "trigger": "manual"}]
    assert _message(response)[1].startswith(f"Customer value run as of {_day(as_of)} queued.")


def test_it_says_when_a_run_for_the_day_is_already_in_progress(db, bob_client):
    CLVRun.objects.create(as_of=timezone.localdate(), status=CLVRun.Status.RUNNING)
    response = bob_client.post(reverse("customers:value_run"))
    assert CLVRun.objects.count() == 1
    level, text = _message(response)
    assert level == "warning" and "already in progress" in text


@pytest.mark.parametrize(
    ("as_of", "reason"),
    [("yesterday", "is not a date"), ("2999-01-01", "cannot be in the future")],
)
def test_it_refuses_an_as_of_date_it_cannot_run(db, bob_client, queued, as_of, reason):
    response = bob_client.post(reverse("customers:value_run"), {"as_of": as_of, "next": "model"})
    assert response.url == reverse("customers:model")
    assert queued.calls == []
    level, text = _message(response)
    assert level == "error" and reason in text


def test_it_refuses_support_staff(db, charlie_client, queued):
    assert charlie_client.post(reverse("customers:value_run")).status_code == 403
    assert queued.calls == []


def test_it_offers_the_run_button_only_to_the_retention_team(db, bob_client, charlie_client):
    assert "Recompute now" in bob_client.get(reverse("customers:segments")).content.decode()
    page = charlie_client.get(reverse("customers:segments")).content.decode()
    assert "Recompute now" not in page and "Ask the retention team" in page
