import datetime as dt
import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from customers.models import (
    CLVRun,
    CustomerValue,
    Order,
    Segment,
    SegmentChange,
    SegmentMovement,
    SegmentSummary,
)
from customers.selectors import clv_run_current, value_inputs
from customers.services.value import RunAlreadyInProgress, value_recompute
from customers.tasks import recompute_customer_value
from tests.factories import CustomerFactory, OrderFactory

END = dt.date(2026, 1, 1)


@pytest.fixture
def base(db):
    call_command(
        "seed_demo",
        "--customers",
        "400",
        "--seed",
        "7",
        "--end-date",
        END.isoformat(),
        stdout=StringIO(),
    )


def _values(run: CLVRun) -> dict[int, CustomerValue]:
    return {v.customer_id: v for v in CustomerValue.objects.filter(run=run)}


def test_it_values_every_customer_with_paid_orders(base):
    run = value_recompute(as_of=END)
    assert run.status == CLVRun.Status.SUCCEEDED, run.error
    inputs = value_inputs(as_of=END)
    values = _values(run)
    assert set(values) == set(inputs.customer_id.tolist())
    assert run.customers == len(inputs)
    assert run.repeat_customers == int((inputs.purchase_days > 1).sum())
    assert set(run.params) == {"r", "alpha", "a", "b", "p", "q", "gamma"}
    assert all(v > 0 for v in run.params.values())
    assert np.isfinite(run.log_likelihood)
    for v in values.values():
        assert 0 <= v.p_alive <= 1
        assert 1 - v.p_alive - 1e-9 <= v.churn_risk <= 1
        assert v.expected_purchases_30 <= v.expected_purchases_90 <= v.expected_purchases_365
        assert v.predicted_clv >= 0
        assert 1 <= v.r_score <= 5 and 1 <= v.f_score <= 5 and 1 <= v.m_score <= 5
        assert v.segment in Segment.values
    # a one-off buyer has frequency 0 and the population's expected order value
    one_off = next(v for v in values.values() if v.frequency == 0)
    assert one_off.expected_order_value > 0
    assert set(run.durations) >= {"load", "model", "write"}


def test_it_writes_segment_summaries_that_add_up(base):
    run = value_recompute(as_of=END)
    summaries = SegmentSummary.objects.filter(run=run)
    assert summaries.count() == len(Segment.values)
    assert sum(s.customers for s in summaries) == run.customers
    for s in summaries:
        members = CustomerValue.objects.filter(run=run, segment=s.segment)
        assert members.count() == s.customers
        if s.customers:
            clv = [m.predicted_clv for m in members]
            assert s.avg_predicted_clv == pytest.approx(sum(clv) / len(clv))


def test_it_records_movement_between_runs(base):
    first = value_recompute(as_of=END - dt.timedelta(days=90))
    second = value_recompute(as_of=END)
    assert first.status == second.status == CLVRun.Status.SUCCEEDED
    before, after = _values(first), _values(second)
    moved = [c for c, v in after.items() if before.get(c) is None or before[c].segment != v.segment]
    assert SegmentChange.objects.filter(run=second).count() == len(moved)
    for c in moved[:20]:
        assert after[c].previous_segment == (before[c].segment if c in before else 0)
    movements = SegmentMovement.objects.filter(run=second)
    moves = {(m.from_segment, m.to_segment): m.customers for m in movements}
    assert sum(moves.values()) == second.customers
    for s in SegmentSummary.objects.filter(run=second):
        into = sum(n for (a, b), n in moves.items() if b == s.segment and a != s.segment)
        out = sum(n for (a, b), n in moves.items() if a == s.segment and b != s.segment)
        assert (s.moved_in, s.moved_out) == (into, out)
    assert clv_run_current() == second


def test_it_replaces_a_run_for_the_same_date_and_unit(base):
    first = value_recompute(as_of=END)
    second = value_recompute(as_of=END)
    assert not CLVRun.objects.filter(pk=first.pk).exists()
    assert CustomerValue.objects.filter(run=second).count() == second.customers
    assert CustomerValue.objects.count() == second.customers
    week = value_recompute(as_of=END, time_unit="week")
    assert week.status == CLVRun.Status.SUCCEEDED
    assert CLVRun.objects.filter(as_of=END, status="succeeded").count() == 2


def test_it_refuses_a_second_run_while_one_is_running(base):
    CLVRun.objects.create(as_of=END, status=CLVRun.Status.RUNNING)
    with pytest.raises(RunAlreadyInProgress):
        value_recompute(as_of=END)
    # the nightly task treats it as done, not as an error
    assert recompute_customer_value.apply(kwargs={"as_of": END.isoformat()}).get() is None


def test_it_takes_over_an_abandoned_run(base):
    stale = CLVRun.objects.create(as_of=END, status=CLVRun.Status.RUNNING)
    CLVRun.objects.filter(pk=stale.pk).update(started_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    run = value_recompute(as_of=END)
    assert run.status == CLVRun.Status.SUCCEEDED
    stale.refresh_from_db()
    assert stale.status == CLVRun.Status.FAILED and "abandoned" in stale.error


@pytest.mark.django_db
def test_it_fails_cleanly_on_an_empty_base():
    run = value_recompute(as_of=END)
    assert run.status == CLVRun.Status.FAILED
    assert run.error
    assert not CustomerValue.objects.exists()


@pytest.mark.django_db
def test_it_fails_cleanly_without_repeat_buyers_and_keeps_the_previous_values():
    # a base with repeat buyers gets values; then (as if orders were corrected) every
    # repeat order disappears and the re-run for the same date cannot fit: old values stay
    tz = dt.UTC
    for i in range(30):
        c = CustomerFactory()
        OrderFactory(customer=c, ordered_at=dt.datetime(2025, 1, 1 + i % 28, tzinfo=tz))
        for k in range(i % 4):
            OrderFactory(customer=c, ordered_at=dt.datetime(2025, 3 + k, 2 + i % 20, tzinfo=tz))
    good = value_recompute(as_of=END)
    assert good.status == CLVRun.Status.SUCCEEDED, good.error
    Order.objects.filter(ordered_at__gte=dt.datetime(2025, 2, 1, tzinfo=tz)).delete()
    bad = value_recompute(as_of=END)
    assert bad.status == CLVRun.Status.FAILED
    assert "repeat" in bad.error
    assert clv_run_current() == good
    assert CustomerValue.objects.filter(run=good).count() == 30


def test_it_backtests_a_past_as_of_date(base):
    run = value_recompute(as_of=END - dt.timedelta(days=180))
    bt = run.backtest
    assert bt["holdout_days"] >= 170
    assert bt["actual_total"] > 0
    assert 0.5 < bt["aggregate_ratio"] < 2.0  # the demo data follow the model
    assert bt["correlation"] > 0.3
    assert bt["mae"] >= 0
    assert [g["label"] for g in bt["calibration"]][:2] == ["0", "1"]
    assert sum(g["customers"] for g in bt["calibration"]) == run.customers


def test_it_prints_the_run_as_json(base):
    out = StringIO()
    call_command("recompute_clv", "--as-of", END.isoformat(), "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["status"] == "succeeded"
    assert set(data["params"]) == {"r", "alpha", "a", "b", "p", "q", "gamma"}
    assert data["customers"] > 0 and "load" in data["durations"]


def test_it_shows_values_on_the_pages(base, charlie_client, bob_client):
    run = value_recompute(as_of=END)
    page = charlie_client.get(reverse("customers:segments"))
    assert page.status_code == 200
    assert len(page.context["rows"]) == len(Segment.values)
    biggest = max(SegmentSummary.objects.filter(run=run), key=lambda s: s.customers)
    members = charlie_client.get(reverse("customers:segment", args=[Segment(biggest.segment).slug]))
    assert members.status_code == 200
    assert members.context["page"].paginator.count == biggest.customers
    members_qs = CustomerValue.objects.filter(run=run, segment=biggest.segment)
    top = members_qs.order_by("-predicted_clv").first()
    assert members.context["page"].object_list[0].customer_id == top.customer_id
    detail = charlie_client.get(reverse("customers:detail", args=[top.customer_id]))
    assert detail.context["value"].pk == top.pk
    assert "Predicted CLV" in detail.content.decode()
    quality = charlie_client.get(reverse("customers:model"))
    assert quality.status_code == 200 and quality.context["runs"][0] == run
    # support reads values but cannot start runs; the retention team can
    assert charlie_client.post(reverse("customers:value_run")).status_code == 403
    before = CLVRun.objects.count()
    assert bob_client.post(reverse("customers:value_run"), {"time_unit": "week"}).status_code == 302
    assert CLVRun.objects.count() == before + 1  # eager tasks on the embedded default


@pytest.mark.django_db
def test_it_explains_the_empty_state(charlie_client):
    page = charlie_client.get(reverse("customers:segments"))
    assert "No customer value run yet" in page.content.decode()


def test_it_never_writes_nan(base):
    run = value_recompute(as_of=END)
    cols = [f.column for f in CustomerValue._meta.fields if f.get_internal_type() == "FloatField"]
    with connection.cursor() as cursor:
        for col in cols:
            # NaN is the only value not equal to itself
            sql = (
                f"SELECT COUNT(*) FROM customers_customervalue WHERE run_id = %s AND {col} <> {col}"
            )
            cursor.execute(sql, [run.pk])
            assert cursor.fetchone()[0] == 0, col
