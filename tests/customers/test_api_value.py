"""The value engine's REST endpoints, checked against what a real value run stored."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import CLVRun, CustomerValue, SegmentChange, SegmentSummary
from customers.services.value import value_recompute
from customers.value.rfm import BY_CODE, BY_SLUG, SEGMENTS
from tests.factories import CustomerFactory, OrderFactory

END = dt.date(2026, 1, 1)
PROBLEM_JSON = "application/problem+json"
URN = "urn:rapport:problem:"


def _seed(customers: int = 300, seed: int = 7) -> None:
    call_command(
        "seed_demo",
        "--customers",
        str(customers),
        "--seed",
        str(seed),
        "--end-date",
        END.isoformat(),
        stdout=StringIO(),
    )


@pytest.fixture
def run(db) -> CLVRun:
    _seed()
    run = value_recompute(as_of=END)
    assert run.status == CLVRun.Status.SUCCEEDED, run.error
    return run


@pytest.fixture
def two_runs(db) -> tuple[CLVRun, CLVRun]:
    _seed()
    first = value_recompute(as_of=END - dt.timedelta(days=120))
    second = value_recompute(as_of=END)
    assert first.status == second.status == CLVRun.Status.SUCCEEDED
    return first, second


def _walk(api, url: str) -> tuple[list[dict], list[dict]]:
    """All results following next links, and the pages."""
    results, pages = [], []
    while url:
        page = api.get(url)
        assert page.status_code == 200, page.content
        pages.append(page.json())
        results += pages[-1]["results"]
        url = pages[-1]["next"]
    return results, pages


def _segment(code: int) -> dict:
    return {"slug": BY_CODE[code].slug, "label": BY_CODE[code].label}


def _run_ref(run: CLVRun) -> dict:
    return {
        "id": run.pk,
        "as_of": run.as_of.isoformat(),
        "time_unit": run.time_unit,
        "finished_at": run.finished_at.isoformat().replace("+00:00", "Z"),
    }


VALUE_FIELDS = [
    "orders",
    "net_revenue",
    "avg_order_value",
    "purchase_frequency",
    "age_days",
    "days_since_last_order",
    "historic_clv",
    "frequency",
    "recency",
    "age",
    "p_alive",
    "churn_risk",
    "expected_purchases_30",
    "expected_purchases_90",
    "expected_purchases_365",
    "expected_order_value",
    "predicted_clv",
    "r_score",
    "f_score",
    "m_score",
]


def _assert_value_matches(data: dict, value: CustomerValue) -> None:
    for name in VALUE_FIELDS:
        assert data[name] == getattr(value, name), name
    assert data["expected_next_order"] == (
        value.expected_next_order.isoformat() if value.expected_next_order else None
    )
    assert data["segment"] == _segment(value.segment)
    assert data["previous_segment"] == (
        _segment(value.previous_segment) if value.previous_segment else None
    )


# --- runs -----------------------------------------------------------------------------


def test_it_lists_runs_newest_first_with_params_counts_and_timings(bob_client, run):
    failed = CLVRun.objects.create(
        as_of=END, time_unit="week", status=CLVRun.Status.FAILED, error="ModelFitError: nope"
    )
    body = bob_client.get("/api/clv-runs/").json()
    assert [r["id"] for r in body["results"]] == [failed.pk, run.pk]
    assert body["next"] is None and body["previous"] is None
    data = body["results"][1]
    assert data["as_of"] == END.isoformat()
    assert data["status"] == "succeeded" and data["time_unit"] == "day"
    assert data["params"] == run.params
    assert set(data["params"]) == {"r", "alpha", "a", "b", "p", "q", "gamma"}
    assert data["log_likelihood"] == run.log_likelihood
    assert data["counts"] == {
        "customers": run.customers,
        "repeat_customers": run.repeat_customers,
        "gg_customers": run.gg_customers,
        "distinct_rows": run.distinct_rows,
    }
    assert data["durations"] == run.durations and set(data["durations"]) >= {"load", "model"}
    assert data["backtest"] is None  # as of the end of the history: nothing after it
    assert data["error"] == ""
    failed_data = body["results"][0]
    assert failed_data["error"] == "ModelFitError: nope"
    assert failed_data["params"] == dict.fromkeys(data["params"])


def test_it_shows_a_backtest_of_a_run_as_of_a_past_date(charlie_client, two_runs):
    first, _ = two_runs
    data = charlie_client.get(f"/api/clv-runs/{first.pk}/").json()
    first.refresh_from_db()
    assert data["id"] == first.pk
    assert data["backtest"] == first.backtest and data["backtest"]["customers"] > 0


def test_it_filters_runs_by_status_and_time_unit(alice_client, run):
    CLVRun.objects.create(as_of=END, time_unit="week", status=CLVRun.Status.FAILED)
    ids = [r["id"] for r in alice_client.get("/api/clv-runs/?status=succeeded").json()["results"]]
    assert ids == [run.pk]
    weekly = alice_client.get("/api/clv-runs/?time_unit=week").json()["results"]
    assert [r["status"] for r in weekly] == ["failed"]


def test_it_pages_runs_with_a_cursor(alice_client, db):
    for day in range(7):
        CLVRun.objects.create(as_of=END - dt.timedelta(days=day), status=CLVRun.Status.FAILED)
    results, pages = _walk(alice_client, "/api/clv-runs/?page_size=3")
    expected = list(CLVRun.objects.order_by("-started_at", "-id").values_list("pk", flat=True))
    assert [r["id"] for r in results] == expected
    assert len(pages) == 3


# --- segments ----------------------------------------------------------------------------


def test_it_lists_the_current_runs_segments_as_stored(charlie_client, two_runs):
    _, current = two_runs
    body = charlie_client.get("/api/segments/").json()
    assert body["run"] == _run_ref(current)
    summaries = {s.segment: s for s in SegmentSummary.objects.filter(run=current)}
    assert [r["slug"] for r in body["results"]] == [BY_CODE[c].slug for c in sorted(summaries)]
    total = sum(s.customers for s in summaries.values())
    revenue = sum(s.net_revenue for s in summaries.values())
    for row in body["results"]:
        stored = summaries[BY_SLUG[row["slug"]].code]
        assert row["label"] == BY_SLUG[row["slug"]].label
        assert row["action"] == BY_SLUG[row["slug"]].action
        assert row["customers"] == stored.customers
        assert row["share"] == pytest.approx(stored.customers / total)
        assert row["net_revenue"] == stored.net_revenue
        assert row["revenue_share"] == pytest.approx(stored.net_revenue / revenue)
        assert row["predicted_clv"] == stored.predicted_clv
        assert row["avg_predicted_clv"] == stored.avg_predicted_clv
        assert row["avg_churn_risk"] == stored.avg_churn_risk
        assert (row["moved_in"], row["moved_out"]) == (stored.moved_in, stored.moved_out)
    assert sum(r["share"] for r in body["results"]) == pytest.approx(1)
    assert sum(r["moved_in"] for r in body["results"]) > 0


def test_it_lists_the_segments_of_an_earlier_run_on_request(bob_client, two_runs):
    first, _ = two_runs
    body = bob_client.get(f"/api/segments/?run={first.pk}").json()
    assert body["run"]["id"] == first.pk
    assert sum(r["customers"] for r in body["results"]) == first.customers


def test_it_lists_no_segments_before_the_first_run(bob_client):
    assert bob_client.get("/api/segments/").json() == {"run": None, "results": []}
    body = bob_client.get("/api/segments/champions/customers/").json()
    assert body == {"run": None, "next": None, "previous": None, "results": []}


def test_it_rejects_an_unknown_run_as_a_field_error(bob_client, run):
    for url in [f"/api/segments/?run={run.pk + 99}", "/api/segments/?run=abc"]:
        response = bob_client.get(url)
        assert response.status_code == 400
        assert response["Content-Type"] == PROBLEM_JSON
        assert [e["field"] for e in response.json()["errors"]] == ["run"]


def test_it_walks_a_segments_members_once_each_in_predicted_clv_order(bob_client, run):
    summary = max(SegmentSummary.objects.filter(run=run), key=lambda s: s.customers)
    slug = BY_CODE[summary.segment].slug
    results, pages = _walk(bob_client, f"/api/segments/{slug}/customers/?page_size=9")

    expected = list(
        CustomerValue.objects.filter(run=run, segment=summary.segment)
        .order_by("-predicted_clv", "customer_id")
        .select_related("customer")
    )
    assert len(expected) == summary.customers > 2 * 9
    assert [r["customer_id"] for r in results] == [v.customer_id for v in expected]
    assert all(p["run"]["id"] == run.pk for p in pages)
    assert all(f"run={run.pk}" in p["next"] for p in pages[:-1])
    for row, value in zip(results, expected, strict=True):
        assert row["name"] == value.customer.name
        assert row["email"] == value.customer.email
        _assert_value_matches(row, value)

    # and back again from the last page
    back, url = list(pages[-1]["results"]), pages[-1]["previous"]
    while url:
        page = bob_client.get(url).json()
        back = page["results"] + back
        url = page["previous"]
    assert [r["customer_id"] for r in back] == [v.customer_id for v in expected]


def test_it_pages_through_ties_in_predicted_clv(alice_client, run):
    # identical one-time buyers get identical predictions: the cursor must not skip them
    twins = [
        OrderFactory(
            customer=CustomerFactory(), ordered_at=dt.datetime(2025, 12, 1, 12, tzinfo=dt.UTC)
        ).customer_id
        for _ in range(12)
    ]
    run = value_recompute(as_of=END)
    newcomers = CustomerValue.objects.filter(run=run, customer_id__in=twins)
    clv = newcomers.values_list("predicted_clv", flat=True)
    assert len(set(clv)) == 1 and len(clv) == 12
    slug = BY_CODE[newcomers.first().segment].slug
    results, _ = _walk(alice_client, f"/api/segments/{slug}/customers/?page_size=5")
    ids = [r["customer_id"] for r in results]
    assert (
        len(ids)
        == len(set(ids))
        == CustomerValue.objects.filter(run=run, segment=BY_SLUG[slug].code).count()
    )


def test_it_keeps_a_walk_on_the_run_it_began_on(bob_client, two_runs):
    _, second = two_runs
    page = bob_client.get("/api/segments/lost/customers/?page_size=5").json()
    assert page["run"]["id"] == second.pk and page["next"]
    third = value_recompute(as_of=END + dt.timedelta(days=1))
    assert third.status == CLVRun.Status.SUCCEEDED
    assert bob_client.get(page["next"]).json()["run"]["id"] == second.pk
    assert bob_client.get("/api/segments/lost/customers/").json()["run"]["id"] == third.pk

    CustomerValue.objects.filter(run=second).delete()  # as pruning old values does
    response = bob_client.get(page["next"])
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "run"
    assert "omit run" in response.json()["errors"][0]["message"]


def test_it_answers_an_unknown_segment_with_a_not_found_problem(bob_client, run):
    response = bob_client.get("/api/segments/vip/customers/")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"] == URN + "not-found"
    assert "vip" in body["detail"]
    assert body["instance"] == "/api/segments/vip/customers/"


@pytest.mark.parametrize("slug", [s.slug for s in SEGMENTS])
def test_it_knows_every_segment_slug(alice_client, db, slug):
    assert alice_client.get(f"/api/segments/{slug}/customers/").status_code == 200


# --- a customer's value ------------------------------------------------------------------


def test_it_shows_a_customers_current_value_and_segment_history(charlie_client, two_runs):
    _, current = two_runs
    mover = (
        SegmentChange.objects.filter(run=current, from_segment__gt=0)
        .values_list("customer_id", flat=True)
        .first()
    )
    value = CustomerValue.objects.select_related("customer").get(run=current, customer_id=mover)
    body = charlie_client.get(f"/api/customers/{mover}/value/").json()

    customer = value.customer
    assert body["customer"] == {"id": mover, "name": customer.name, "email": customer.email}
    assert body["run"] == _run_ref(current)
    _assert_value_matches(body["value"], value)
    assert body["value"]["previous_segment"] is not None
    changes = list(SegmentChange.objects.filter(customer_id=mover).order_by("-as_of"))
    assert body["segment_history"] == [
        {
            "as_of": c.as_of.isoformat(),
            "run_id": c.run_id,
            "from_segment": _segment(c.from_segment) if c.from_segment else None,
            "to_segment": _segment(c.to_segment),
        }
        for c in changes
    ]
    assert body["segment_history"][0]["to_segment"] == body["value"]["segment"]


def test_it_shows_null_value_for_a_customer_no_run_covers(alice_client, run):
    newcomer = CustomerFactory(email=None)
    body = alice_client.get(f"/api/customers/{newcomer.pk}/value/").json()
    assert body["customer"] == {"id": newcomer.pk, "name": newcomer.name, "email": None}
    assert body["run"]["id"] == run.pk
    assert body["value"] is None
    assert body["segment_history"] == []


def test_it_shows_null_run_and_value_before_the_first_run(alice_client, db):
    customer = CustomerFactory()
    body = alice_client.get(f"/api/customers/{customer.pk}/value/").json()
    assert (body["run"], body["value"], body["segment_history"]) == (None, None, [])


def test_it_answers_an_unknown_customer_with_a_not_found_problem(alice_client, db):
    response = alice_client.get("/api/customers/999999/value/")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM_JSON
    assert response.json()["detail"] == "No customer 999999."


# --- cost ---------------------------------------------------------------------------------


def _queries(api, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(url).status_code == 200
    return len(ctx)


def test_it_reads_a_page_in_the_same_number_of_queries_as_data_grows(bob_client, db):
    _seed(customers=120, seed=3)
    value_recompute(as_of=END - dt.timedelta(days=30))
    urls = [
        "/api/clv-runs/",
        "/api/segments/",
        "/api/segments/hibernating/customers/?page_size=10",
        f"/api/customers/{CustomerValue.objects.first().customer_id}/value/",
    ]
    small = [_queries(bob_client, url) for url in urls]

    _seed(customers=300, seed=11)
    for day in range(4):
        value_recompute(as_of=END - dt.timedelta(days=day))
    current = CLVRun.objects.filter(status="succeeded").order_by("-as_of").first()
    assert current.customers > 300
    page = bob_client.get(urls[2]).json()
    assert page["next"] is not None  # a full page this time
    large = [_queries(bob_client, url) for url in urls]
    assert large == small
    # session, user and permissions (4), then: the page; run + summaries; run + page;
    # customer + run + value + history
    assert large == [5, 6, 6, 8]
