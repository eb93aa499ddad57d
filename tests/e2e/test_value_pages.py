"""The customer value pages as the retention and support teams use them.

Every figure on a page is checked against the rows the run wrote (SegmentSummary,
CustomerValue, SegmentChange, CLVRun.backtest), formatted by the filters the templates
use, never recomputed from a formula: how churn risk or CLV are defined may change.
"""

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F
from django.template.defaultfilters import floatformat
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import expect

from crm.templatetags.rapport import money, number, percent
from customers.models import CLVRun, CustomerValue, Segment, SegmentChange, SegmentSummary
from customers.selectors import clv_run_current
from customers.services.value import value_recompute
from customers.value.rfm import BY_CODE
from tests.e2e.conftest import assert_clean, log_in, post_as_page, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MEMBERS_PER_PAGE = 50


@pytest.fixture
def shop(db) -> None:
    """Three years of orders of a few hundred customers, ending yesterday."""
    call_command("seed_demo", "--customers", "300", "--seed", "11", stdout=StringIO())


def _day(value: dt.date) -> str:
    return date_format(value, "j M Y")


def _segment_rows(run: CLVRun) -> list[SegmentSummary]:
    return list(SegmentSummary.objects.filter(run=run).order_by("segment"))


def _top_member(run: CLVRun, segment: int) -> CustomerValue:
    return (
        CustomerValue.objects.filter(run=run, segment=segment)
        .select_related("customer")
        .order_by("-predicted_clv", "customer_id")
        .first()
    )


def _history_lines(customer_id: int) -> list[str]:
    lines = []
    for change in SegmentChange.objects.filter(customer_id=customer_id).order_by("-as_of"):
        moved_from = f"{Segment(change.from_segment).label} → " if change.from_segment else ""
        lines.append(f"{_day(change.as_of)}: {moved_from}{Segment(change.to_segment).label}")
    return lines


def _expect_segment_table(page, run: CLVRun) -> None:
    summaries = _segment_rows(run)
    assert summaries, "the run wrote no segment summaries"
    table = page.locator("#segment-table tbody tr")
    expect(table.locator("td:nth-child(1) a")).to_have_text(
        [Segment(s.segment).label for s in summaries]
    )
    expect(table.locator(".segment-action")).to_have_text(
        [BY_CODE[s.segment].action for s in summaries]
    )
    expect(table.locator("td:nth-child(2)")).to_have_text([number(s.customers) for s in summaries])
    expect(table.locator("td:nth-child(6)")).to_have_text(
        [percent(s.avg_churn_risk) for s in summaries]
    )


def _expect_value_card(page, value: CustomerValue) -> None:
    card = page.locator("#value")
    expect(card.locator(".segment-pill")).to_have_text(Segment(value.segment).label)
    expect(card.locator("[data-value=clv]")).to_contain_text(money(value.predicted_clv))
    expect(card.locator("[data-value=p_alive]")).to_have_text(percent(value.p_alive))
    expect(card.locator("[data-value=churn]")).to_have_text(percent(value.churn_risk))
    expect(card.locator("#segment-history li")).to_have_text(_history_lines(value.customer_id))
    # historic CLV multiplies by the base's retention length, not the customer's own age
    expect(card.locator("[data-value=historic_clv]")).to_have_text(money(value.historic_clv))
    expect(card.locator("#historic-clv-note")).to_have_text(
        f"average order {money(value.avg_order_value)}"
        f" × {floatformat(value.purchase_frequency, 2)} orders a year"
        f" × {floatformat(value.run.model['retention_years'], 1)} years,"
        " how long customers stay on average"
    )


def test_it_takes_the_retention_team_from_no_run_to_a_customers_value(page, bob, shop):
    log_in(page, "bob")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Segments").click()
    empty = page.locator("section.empty")
    expect(empty.get_by_role("heading", name="No customer value run yet")).to_be_visible()
    expect(empty).to_contain_text("Start one now")
    expect(page.get_by_role("button", name="Recompute now")).to_have_count(1)
    assert_clean(page)
    screenshot(page, "value-segments-empty")

    empty.get_by_role("button", name="Recompute now").click()
    run = clv_run_current()
    assert run is not None and run.as_of == timezone.localdate()
    expect(page.get_by_role("status")).to_have_text(
        f"Customer value run as of {_day(run.as_of)} finished:"
        f" {number(run.customers)} customers valued."
    )
    _expect_segment_table(page, run)
    assert_clean(page)
    screenshot(page, "value-segments")

    biggest = max(_segment_rows(run), key=lambda s: (s.customers, -s.segment))
    label = Segment(biggest.segment).label
    page.locator("#segment-table").get_by_role("link", name=label, exact=True).click()
    expect(page.get_by_role("heading", name=label, exact=True)).to_be_visible()
    expect(page.locator(".page-head")).to_contain_text(f"{number(biggest.customers)} customers")
    expect(page.locator(".page-head")).to_contain_text(BY_CODE[biggest.segment].action)
    members = page.locator("#member-table tbody tr")
    expect(members).to_have_count(min(biggest.customers, MEMBERS_PER_PAGE))
    top = _top_member(run, biggest.segment)
    expect(members.first.locator("td").first).to_have_text(str(top.customer))
    expect(members.first.locator("td:nth-child(4)")).to_have_text(money(top.predicted_clv))
    expect(members.first.locator("td:nth-child(5)")).to_have_text(percent(top.churn_risk))
    assert_clean(page)
    screenshot(page, "value-segment-members")

    members.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name=str(top.customer), exact=True)).to_be_visible()
    _expect_value_card(page, top)
    assert_clean(page)
    screenshot(page, "value-customer-card")


def test_it_backtests_from_model_quality_and_shows_how_segments_moved(page, bob, shop):
    value_recompute(as_of=timezone.localdate())
    as_of = timezone.localdate() - dt.timedelta(days=180)
    log_in(page, "bob")
    page.goto("/segments/")
    page.get_by_role("link", name="model quality").click()
    expect(page.get_by_role("heading", name="Model quality", exact=True)).to_be_visible()
    form = page.locator("form", has=page.get_by_role("button", name="Run as of this date"))
    form.get_by_label("As of").fill(as_of.isoformat())
    form.get_by_role("button", name="Run as of this date").click()

    backtest = CLVRun.objects.get(as_of=as_of)
    assert backtest.status == CLVRun.Status.SUCCEEDED, backtest.error
    bt = backtest.backtest
    expect(page.get_by_role("status")).to_contain_text(
        f"as of {_day(as_of)} finished: {number(backtest.customers)} customers valued"
    )
    section = page.locator("#backtest")
    expect(section.get_by_role("heading")).to_have_text(
        f"How the run as of {_day(as_of)} predicted the next {bt['holdout_days']} days"
    )
    kpis = section.locator(".kpi-value")
    metrics = [bt["aggregate_ratio"], bt["mae"], bt["correlation"]]
    expect(kpis).to_have_text([floatformat(m, 3) for m in metrics])
    expect(section.locator(".kpi-note").first).to_have_text(
        f"{floatformat(bt['predicted_total'], 0)} vs {floatformat(bt['actual_total'], 0)}"
    )
    chart = section.get_by_role("img", name=re.compile(r"^Predicted and actual repeat purchases"))
    expect(chart).to_be_visible()
    expect(chart.locator("title#calib-title")).to_have_text(
        "Predicted and actual repeat purchases per customer by past frequency"
    )
    expect(chart.locator("rect.bar")).to_have_count(2 * len(bt["calibration"]))
    expect(chart.locator("text.tick")).to_have_text([g["label"] for g in bt["calibration"]])
    figures = section.locator("#calibration-table tbody tr")
    expect(figures).to_have_text(
        [
            re.compile(
                rf"^{re.escape(g['label'])}\s+{re.escape(number(g['customers']))}"
                rf"\s+{floatformat(g['predicted'], 2)}\s+{floatformat(g['actual'], 2)}$"
            )
            for g in bt["calibration"]
        ],
        use_inner_text=True,  # tabs between the cells
    )
    assert_clean(page)
    screenshot(page, "value-model-quality")

    # today's run again, now with the backtest as the previous run: customers move
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Segments").click()
    page.get_by_role("button", name="Recompute now").click()
    run = clv_run_current()
    assert run.as_of == timezone.localdate()
    expect(page.get_by_role("status")).to_contain_text("finished")
    expect(page.locator("#moves")).to_be_visible()
    _expect_segment_table(page, run)
    assert_clean(page)
    screenshot(page, "value-segments-moves")
    moved = (
        SegmentChange.objects.filter(run=run, from_segment__gt=0)
        .exclude(from_segment=F("to_segment"))
        .order_by("customer_id")
        .first()
    )
    assert moved is not None, "no customer changed segment between the two runs"
    page.goto(f"/customers/{moved.customer_id}/")
    value = CustomerValue.objects.get(run=run, customer_id=moved.customer_id)
    _expect_value_card(page, value)
    assert len(_history_lines(moved.customer_id)) == 2
    assert_clean(page)
    screenshot(page, "value-customer-card-moved")


def test_it_shows_support_the_values_but_not_the_run_button(page, charlie, shop):
    run = value_recompute(as_of=timezone.localdate())
    runs_before = CLVRun.objects.count()
    log_in(page, "charlie")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Segments").click()
    _expect_segment_table(page, run)
    expect(page.get_by_role("button", name="Recompute now")).to_have_count(0)
    assert_clean(page)
    screenshot(page, "value-segments-support")

    page.get_by_role("link", name="model quality").click()
    expect(page.locator("#run-table tbody tr")).to_have_count(1)
    expect(page.get_by_role("button", name="Run as of this date")).to_have_count(0)
    assert_clean(page)
    screenshot(page, "value-model-quality-support")

    top = _top_member(run, _segment_rows(run)[0].segment)
    page.goto(f"/customers/{top.customer_id}/")
    _expect_value_card(page, top)
    assert_clean(page)

    refused = post_as_page(page, "/value/run/", {"time_unit": "day"})
    assert refused.status == 403
    assert "You do not have access to this page" in refused.text()  # not a CSRF failure
    assert CLVRun.objects.count() == runs_before
