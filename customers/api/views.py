"""REST endpoints of the value engine (read-only): runs, segments, a segment's customers
and one customer's value. Each parses its input, calls one selector and serializes.

Permissions are model permissions (crm/rest/permissions.py): runs need
``customers.view_clvrun``; segments and values ``customers.view_customervalue``, as the
segment pages do.
"""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from crm.rest.pagination import CursorPagination, cursor_parameters
from customers import selectors
from customers.api import serializers as api
from customers.models import CLVRun, Customer, CustomerValue
from customers.value.rfm import BY_SLUG

TAGS = ["Customer value"]

# --- examples (OpenAPI) -----------------------------------------------------------------

RUN_REF = {
    "id": 42,
    "as_of": "2026-01-01",
    "time_unit": "day",
    "finished_at": "2026-01-01T02:31:07Z",
}
RUN_EXAMPLE = {
    "id": 42,
    "as_of": "2026-01-01",
    "time_unit": "day",
    "horizon_months": 12,
    "discount_rate": 0.1,
    "status": "succeeded",
    "trigger": "nightly",
    "started_at": "2026-01-01T02:30:00Z",
    "finished_at": "2026-01-01T02:31:07Z",
    "error": "",
    "params": {
        "r": 0.243,
        "alpha": 4.414,
        "a": 0.793,
        "b": 2.426,
        "p": 6.25,
        "q": 3.74,
        "gamma": 15.44,
    },
    "log_likelihood": -9582.43,
    "gg_log_likelihood": -4031.2,
    "counts": {
        "customers": 18450,
        "repeat_customers": 6911,
        "gg_customers": 6911,
        "distinct_rows": 5213,
    },
    "durations": {"load": 1.92, "model": 3.41, "write": 2.07},
    "backtest": None,
}
VALUE_EXAMPLE = {
    "orders": 7,
    "net_revenue": 2140.5,
    "avg_order_value": 305.79,
    "purchase_frequency": 3.1,
    "age_days": 824,
    "days_since_last_order": 12,
    "historic_clv": 642.15,
    "frequency": 6,
    "recency": 812.0,
    "age": 824.0,
    "p_alive": 0.97,
    "churn_risk": 0.03,
    "expected_purchases_30": 0.24,
    "expected_purchases_90": 0.71,
    "expected_purchases_365": 2.81,
    "expected_order_value": 298.4,
    "predicted_clv": 731.6,
    "expected_next_order": "2026-02-03",
    "r_score": 5,
    "f_score": 5,
    "m_score": 5,
    "segment": {"slug": "champions", "label": "Champions"},
    "previous_segment": {"slug": "loyal", "label": "Loyal"},
}


# --- query parameters ------------------------------------------------------------------


class RunParam(serializers.Serializer):
    run = serializers.IntegerField(
        required=False, min_value=1, help_text="A succeeded run's id instead of the current run."
    )


class MemberRunParam(serializers.Serializer):
    run = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="A run's id instead of the current run, while its values are kept. The"
        " next/previous links carry it, so a walk begun before a new run stays on its run.",
    )


def _run(request: Request, *, with_values: bool) -> CLVRun | None:
    """The run asked for with ?run=, or else the current run (None before the first)."""
    params = (MemberRunParam if with_values else RunParam)(data=request.query_params)
    params.is_valid(raise_exception=True)
    run_id = params.validated_data.get("run")
    if run_id is None:
        return selectors.clv_run_current()
    run = selectors.clv_run_succeeded(run_id=run_id, with_values=with_values)
    if run is None:
        raise ValidationError(
            {
                "run": [
                    f"No succeeded run {run_id} with customer values (values are kept for"
                    " the latest runs only); omit run for the current one."
                    if with_values
                    else f"No succeeded run {run_id}."
                ]
            }
        )
    return run


# --- endpoints ---------------------------------------------------------------------------


class CLVRunFilter(django_filters.FilterSet):
    class Meta:
        model = CLVRun
        fields = ["status", "time_unit", "trigger"]


@extend_schema(tags=TAGS)
@extend_schema_view(
    list=extend_schema(
        summary="Value runs, newest first",
        description="Every attempt, running, succeeded or failed, with the fitted"
        " parameters, fit quality, counts and stage timings.",
        examples=[OpenApiExample("A succeeded nightly run", value=RUN_EXAMPLE)],
    ),
    retrieve=extend_schema(
        summary="One value run",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
        examples=[
            OpenApiExample("A succeeded nightly run", value=RUN_EXAMPLE),
            OpenApiExample(
                "A failed run",
                value={
                    **RUN_EXAMPLE,
                    "status": "failed",
                    "trigger": "manual",
                    "error": "ModelFitError: BG/NBD fit did not converge",
                    "params": dict.fromkeys(RUN_EXAMPLE["params"]),
                    "log_likelihood": None,
                    "gg_log_likelihood": None,
                    "counts": dict.fromkeys(RUN_EXAMPLE["counts"], 0),
                    "durations": {"load": 1.88},
                },
            ),
        ],
    ),
)
class CLVRunViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = api.CLVRunSerializer
    permission_model = CLVRun
    filterset_class = CLVRunFilter
    cursor_ordering = ("-started_at", "-id")
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> Any:
        return selectors.clv_run_queryset()


SLUG_PARAM = OpenApiParameter(
    "slug", str, OpenApiParameter.PATH, enum=api.SEGMENT_SLUGS, description="Segment slug."
)


@extend_schema(tags=TAGS)
class SegmentViewSet(viewsets.GenericViewSet):
    permission_model = CustomerValue
    # The segment list is short and whole; only the members action pages (below).
    pagination_class = None
    filter_backends: list[type] = []
    lookup_field = "slug"
    lookup_value_regex = r"[a-z_]+"
    cursor_ordering = ("-predicted_clv", "customer_id")

    @extend_schema(
        summary="The current run's segments",
        description="Per segment: customers, net revenue and predicted CLV with their shares,"
        " churn risk and moves since the previous run. Empty, with run null, before the"
        " first run.",
        parameters=[RunParam],
        responses=api.SegmentListSerializer,
        examples=[
            OpenApiExample(
                "Segments of the current run",
                value={
                    "run": RUN_REF,
                    "results": [
                        {
                            "slug": "champions",
                            "label": "Champions",
                            "action": BY_SLUG["champions"].action,
                            "customers": 1804,
                            "share": 0.0978,
                            "net_revenue": 1913822.4,
                            "revenue_share": 0.3121,
                            "predicted_clv": 1206313.9,
                            "avg_predicted_clv": 668.69,
                            "avg_churn_risk": 0.041,
                            "moved_in": 212,
                            "moved_out": 187,
                        }
                    ],
                },
            ),
            OpenApiExample("Before the first run", value={"run": None, "results": []}),
        ],
    )
    def list(self, request: Request) -> Response:
        run = _run(request, with_values=False)
        rows = selectors.segment_overview(run=run) if run else []
        return Response(api.SegmentListSerializer({"run": run, "results": rows}).data)

    @extend_schema(
        summary="A segment's customers, highest predicted CLV first",
        description="Members of the segment in the current run (or ?run=), cursor-paginated"
        " on (predicted CLV descending, customer id). Follow next until it is null.",
        parameters=[SLUG_PARAM, MemberRunParam, *cursor_parameters()],
        responses=api.SegmentMemberPageSerializer,
        examples=[
            OpenApiExample(
                "First page of champions",
                value={
                    "run": RUN_REF,
                    "next": "https://rapport.example.com/api/segments/champions/customers/"
                    "?cursor=eyJrIjpbNzMxLjYsMTAyNF19&run=42",
                    "previous": None,
                    "results": [
                        {
                            "customer_id": 1024,
                            "name": "Olena Kovalenko",
                            "email": "olena@example.com",
                            **VALUE_EXAMPLE,
                        }
                    ],
                },
            )
        ],
    )
    @action(
        detail=True, url_path="customers", url_name="customers", pagination_class=CursorPagination
    )
    def customers(self, request: Request, slug: str) -> Response:
        segment = BY_SLUG.get(slug)
        if segment is None:
            raise NotFound(f"No segment {slug!r}; the segments are listed at /api/segments/.")
        run = _run(request, with_values=True)
        if run is None:
            return Response({"run": None, "next": None, "previous": None, "results": []})
        members = selectors.segment_members(run=run, segment=segment.code)
        page = self.paginator.paginate_queryset(
            members, request, view=self, link_params={"run": run.pk}
        )
        data = api.SegmentMemberSerializer(page, many=True).data
        return Response({"run": api.RunRefSerializer(run).data, **self.paginator.page_data(data)})


@extend_schema(tags=TAGS)
class CustomerViewSet(viewsets.GenericViewSet):
    """Customers; for now only their value (customer CRUD arrives with ingest)."""

    permission_model = Customer
    filter_backends: list[type] = []
    lookup_value_regex = r"\d+"

    @extend_schema(
        summary="A customer's current value and segment history",
        description="History, predictions, RFM and segment as of the current run (value is"
        " null when no run covers the customer yet: no paid order by its as-of date), and"
        " the customer's latest 50 moves between segments.",
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
        responses=api.CustomerValueDetailSerializer,
        examples=[
            OpenApiExample(
                "A valued customer",
                value={
                    "customer": {
                        "id": 1024,
                        "name": "Olena Kovalenko",
                        "email": "olena@example.com",
                    },
                    "run": RUN_REF,
                    "value": VALUE_EXAMPLE,
                    "segment_history": [
                        {
                            "as_of": "2026-01-01",
                            "run_id": 42,
                            "from_segment": {"slug": "loyal", "label": "Loyal"},
                            "to_segment": {"slug": "champions", "label": "Champions"},
                        },
                        {
                            "as_of": "2025-06-14",
                            "run_id": 17,
                            "from_segment": None,
                            "to_segment": {"slug": "new", "label": "New"},
                        },
                    ],
                },
            ),
            OpenApiExample(
                "Not valued yet",
                value={
                    "customer": {"id": 2048, "name": "Jan Nowak", "email": None},
                    "run": RUN_REF,
                    "value": None,
                    "segment_history": [],
                },
            ),
        ],
    )
    @action(detail=True, url_path="value", url_name="value", permission_model=CustomerValue)
    def value(self, request: Request, pk: str) -> Response:
        detail = selectors.customer_value_detail(customer_id=int(pk))
        if detail is None:
            raise NotFound(f"No customer {pk}.")
        return Response(api.CustomerValueDetailSerializer(detail).data)
