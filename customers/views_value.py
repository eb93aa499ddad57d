"""Pages of the value engine: segments, a segment's customers, model quality."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import cached_property
from django.views.decorators.http import require_POST

from customers import selectors
from customers.models import CLVRun, CustomerValue, Segment
from customers.tasks import recompute_customer_value

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
    summaries = selectors.segment_summaries(run=run) if run else []
    total = sum(s.customers for s in summaries) or 1
    revenue = sum(s.net_revenue for s in summaries) or 1.0
    rows = [
        {
            "summary": s,
            "label": Segment(s.segment).label,
            "slug": Segment(s.segment).slug,
            "share": s.customers / total,
            "revenue_share": s.net_revenue / revenue,
        }
        for s in summaries
    ]
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
        },
    )


@require_POST
@permission_required("customers.add_clvrun", raise_exception=True)
def value_run_start(request: HttpRequest) -> HttpResponse:
    unit = request.POST.get("time_unit", CLVRun.TimeUnit.DAY)
    if unit not in CLVRun.TimeUnit.values:
        unit = CLVRun.TimeUnit.DAY
    as_of = request.POST.get("as_of") or None
    recompute_customer_value.delay(as_of=as_of, time_unit=unit, trigger="manual")
    messages.success(
        request,
        "Customer value run started. It takes a few seconds to minutes depending on the size"
        " of the base; reload this page to see it.",
    )
    target = "customers:model" if request.POST.get("next") == "model" else "customers:segments"
    return redirect(target)
