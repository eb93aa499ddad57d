"""Pages of the value engine: segments, a segment's customers, model quality."""

from __future__ import annotations

import datetime as dt

from celery.result import AsyncResult, EagerResult
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.views.decorators.http import require_POST

from crm.templatetags.rapport import number
from customers import selectors
from customers.models import CLVRun, CustomerValue, Segment
from customers.tasks import recompute_customer_value
from customers.value.rfm import BY_CODE

PAGE_SIZE = 50


class KnownCountPaginator(Paginator):
    """A paginator told its count (from the run's segment summary): no COUNT(*) scan."""

    def __init__(self, object_list, per_page, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @cached_property
    def count(self) -> int:
        return self._known_count


@permission_required("customers.view_customervalue", raise_exception=True)
def segment_list(request: HttpRequest) -> HttpResponse:
    run = selectors.clv_run_current()
    rows = selectors.segment_overview(run=run) if run else []
    return render(
        request,
        "customers/segments.html",
        {
            "run": run,
            "rows": rows,
            "movements": selectors.segment_movements(run=run) if run else [],
            "last_attempt": selectors.clv_run_list(limit=1),
            "can_run": request.user.has_perm("customers.add_clvrun"),
        },
    )


@permission_required("customers.view_customervalue", raise_exception=True)
def segment_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        segment = Segment.from_slug(slug)
    except KeyError:
        raise Http404("No such segment") from None
    run = selectors.clv_run_current()
    if run is None:
        return redirect("customers:segments")
    summary = run.segment_summaries.filter(segment=segment).first()
    members = (
        CustomerValue.objects.filter(run=run, segment=segment)
        .select_related("customer")
        .order_by("-predicted_clv", "customer_id")
    )
    paginator = KnownCountPaginator(members, PAGE_SIZE, count=summary.customers if summary else 0)
    return render(
        request,
        "customers/segment_detail.html",
        {
            "run": run,
            "segment": segment,
            "summary": summary,
            "action": BY_CODE[segment].action,
            "page": paginator.get_page(request.GET.get("page")),
            "segment_labels": dict(Segment.choices),
        },
    )


@permission_required("customers.view_clvrun", raise_exception=True)
def model_quality(request: HttpRequest) -> HttpResponse:
    runs = selectors.clv_run_list(limit=30)
    selected = next((r for r in runs if str(r.pk) == request.GET.get("run")), None)
    selected = (
        selected or next((r for r in runs if r.backtest), None) or (runs[0] if runs else None)
    )
    return render(
        request,
        "customers/model_quality.html",
        {
            "runs": runs,
            "selected": selected,
            "chart": selectors.calibration_chart(run=selected) if selected else None,
            "can_run": request.user.has_perm("customers.add_clvrun"),
            "backtest_latest": timezone.localdate() - dt.timedelta(days=1),
        },
    )


@require_POST
@permission_required("customers.add_clvrun", raise_exception=True)
def value_run_start(request: HttpRequest) -> HttpResponse:
    target = "customers:model" if request.POST.get("next") == "model" else "customers:segments"
    unit = request.POST.get("time_unit", CLVRun.TimeUnit.DAY)
    if unit not in CLVRun.TimeUnit.values:
        unit = CLVRun.TimeUnit.DAY
    as_of = None
    if raw := request.POST.get("as_of", "").strip():
        try:
            as_of = dt.date.fromisoformat(raw)
        except ValueError:
            messages.error(request, f"No run started: {raw!r} is not a date (YYYY-MM-DD).")
            return redirect(target)
        # A future date would become the current run and hide today's values.
        if as_of > timezone.localdate():
            messages.error(request, "No run started: the as-of date cannot be in the future.")
            return redirect(target)
    result = recompute_customer_value.delay(
        as_of=as_of.isoformat() if as_of else None, time_unit=unit, trigger="manual"
    )
    _report_run(request, result, as_of=as_of)
    return redirect(target)


def _report_run(request: HttpRequest, result: AsyncResult, *, as_of: dt.date | None) -> None:
    """Tell what became of the run: finished already (in-process tasks) or queued.

    The result says which, not settings.CELERY_TASK_ALWAYS_EAGER: the Celery app can be
    switched to in-process tasks without the setting (the test suite does so on Redis).
    """
    when = f" as of {date_format(as_of, 'j M Y')}" if as_of else ""
    if not isinstance(result, EagerResult):
        messages.info(
            request,
            f"Customer value run{when} queued. It takes a few seconds to minutes depending on"
            " the size of the base; reload this page to see it.",
        )
        return
    run = CLVRun.objects.filter(pk=result.result).first() if result.result else None
    if run is None:  # the task found a run for that date and unit in progress
        messages.warning(
            request,
            f"A customer value run{when} is already in progress; reload this page in a few"
            " minutes to see it.",
        )
        return
    when = f" as of {date_format(run.as_of, 'j M Y')}"
    if run.status == CLVRun.Status.SUCCEEDED:
        messages.success(
            request,
            f"Customer value run{when} finished: {number(run.customers)} customers valued.",
        )
    elif run.status == CLVRun.Status.FAILED:
        messages.error(request, f"Customer value run{when} failed: {run.error}")
    else:  # batches handed to other workers
        messages.info(request, f"Customer value run{when} is running; reload this page to see it.")
