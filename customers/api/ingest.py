"""Ingest endpoints for integrations: customers, orders, returns and interactions.

Writes go through the CSV importers (``customers.imports.items.ingest_items``), so the
API validates exactly as ``import_csv`` does and upserts on (source, external_id): a
retried webhook updates the order it created, it never adds a second one. Every creating
POST honours ``Idempotency-Key`` (crm/rest/idempotency.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

import django_filters
from django.db import models
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from crm.rest import idempotency
from customers.imports.items import ERROR, MAX_ITEMS, ItemResult, ingest_items
from customers.models import (
    DEFAULT_SOURCE,
    AcquisitionChannel,
    Customer,
    Interaction,
    Order,
    Return,
)
from customers.selectors import api as selectors

# --- representations --------------------------------------------------------------------

Money = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)


class CustomerSerializer(serializers.ModelSerializer):
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "source",
            "external_id",
            "email",
            "name",
            "phone",
            "locale",
            "country",
            "acquisition_channel",
            "acquired_at",
            "loyalty_member_since",
            "tags",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    customer_id = serializers.IntegerField(read_only=True)
    customer_external_id = serializers.CharField(source="customer.external_id", read_only=True)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)
    base_amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)

    class Meta:
        model = Order
        fields = [
            "id",
            "customer_id",
            "customer_external_id",
            "source",
            "external_id",
            "ordered_at",
            "amount",
            "currency",
            "base_amount",
            "status",
            "sales_channel",
            "product_line",
            "guarantee_days",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ReturnSerializer(serializers.ModelSerializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)
    base_amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)

    class Meta:
        model = Return
        fields = [
            "id",
            "order_id",
            "source",
            "external_id",
            "returned_at",
            "amount",
            "base_amount",
            "reason",
            "created_at",
        ]
        read_only_fields = fields


class InteractionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Interaction
        fields = [
            "id",
            "customer_id",
            "source",
            "external_id",
            "kind",
            "direction",
            "occurred_at",
            "summary",
            "outcome",
            "created_at",
        ]
        read_only_fields = fields


# Request bodies, for the schema only: the importers validate (the same rules as CSV).
SOURCE = serializers.CharField(
    max_length=40,
    required=False,
    default=DEFAULT_SOURCE,
    help_text="The system the records come from; (source, external_id) is the upsert key.",
)


class CustomerInSerializer(serializers.Serializer):
    source = SOURCE
    external_id = serializers.CharField(max_length=100)
    email = serializers.EmailField(required=False, allow_null=True)
    name = serializers.CharField(max_length=200, required=False, allow_null=True)
    phone = serializers.CharField(max_length=40, required=False, allow_null=True)
    locale = serializers.CharField(max_length=10, required=False, allow_null=True)
    country = serializers.CharField(max_length=2, required=False, allow_null=True)
    acquisition_channel = serializers.ChoiceField(
        choices=AcquisitionChannel.choices, required=False, allow_null=True
    )
    acquired_at = serializers.DateField(required=False, allow_null=True)
    loyalty_member_since = serializers.DateField(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    email_marketing_consent = serializers.BooleanField(required=False, allow_null=True)
    surveys_consent = serializers.BooleanField(required=False, allow_null=True)
    profiling_consent = serializers.BooleanField(required=False, allow_null=True)


class OrderInSerializer(serializers.Serializer):
    source = SOURCE
    external_id = serializers.CharField(max_length=100)
    customer_external_id = serializers.CharField(
        max_length=100, help_text="The customer's external_id in the same source."
    )
    ordered_at = serializers.DateTimeField()
    amount = Money
    currency = serializers.CharField(max_length=3, required=False, allow_null=True)
    base_amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, coerce_to_string=False, required=False, allow_null=True
    )
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
    sales_channel = serializers.ChoiceField(choices=Order.SalesChannel.choices, required=False)
    product_line = serializers.CharField(max_length=60, required=False, allow_null=True)
    guarantee_days = serializers.IntegerField(min_value=0, required=False, allow_null=True)


class ReturnInSerializer(serializers.Serializer):
    source = SOURCE
    external_id = serializers.CharField(max_length=100)
    order_external_id = serializers.CharField(max_length=100)
    returned_at = serializers.DateTimeField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=False)
    reason = serializers.CharField(max_length=200, required=False, allow_null=True)


class InteractionInSerializer(serializers.Serializer):
    source = SOURCE
    external_id = serializers.CharField(max_length=100)
    customer_external_id = serializers.CharField(max_length=100)
    staff = serializers.CharField(
        max_length=150, required=False, allow_null=True, help_text="A username."
    )
    kind = serializers.ChoiceField(choices=Interaction.Kind.choices)
    direction = serializers.ChoiceField(choices=Interaction.Direction.choices, required=False)
    occurred_at = serializers.DateTimeField()
    summary = serializers.CharField()
    outcome = serializers.ChoiceField(choices=Interaction.Outcome.choices, required=False)
    follow_up_on = serializers.DateField(required=False, allow_null=True)


ITEM_STATUSES = ["created", "updated", "unchanged", "error"]


class ItemErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    code = serializers.CharField()


class ItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the item in the request.")
    external_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=ITEM_STATUSES)
    id = serializers.IntegerField(allow_null=True)
    errors = ItemErrorSerializer(many=True)


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = ItemResultSerializer(many=True)


def _bulk_in(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    fields = {
        "source": serializers.CharField(max_length=40, required=False, default=DEFAULT_SOURCE),
        "items": serializers.ListField(child=item(), max_length=MAX_ITEMS),
    }
    return type(name, (serializers.Serializer,), fields)


# --- writing ----------------------------------------------------------------------------


def _source(value: Any) -> str:
    if value is None:
        return DEFAULT_SOURCE
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 40:
        raise ValidationError({"source": ["The source must be 1 to 40 characters."]})
    return value.strip()


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise ValidationError({api_settings.NON_FIELD_ERRORS_KEY: ["Send a JSON object."]})
    return dict(request.data)


def _raise_errors(result: ItemResult) -> None:
    if result.status != ERROR:
        return
    errors: dict[str, list[serializers.ErrorDetail]] = {}
    for e in result.errors:
        key = e["field"] or api_settings.NON_FIELD_ERRORS_KEY
        errors.setdefault(key, []).append(serializers.ErrorDetail(e["message"], code=e["code"]))
    raise ValidationError(errors)


class IngestMixin:
    """POST / (one item) and POST /bulk/ (up to 1,000) for one importer kind."""

    kind: ClassVar[str]
    model: ClassVar[type[models.Model]]
    output: ClassVar[type[serializers.Serializer]]

    def _ingest_one(self, request: Request) -> Response:
        item = _body(request)
        source = _source(item.pop("source", None))
        [result] = ingest_items(kind=self.kind, items=[item], source=source, user=request.user)
        _raise_errors(result)
        obj = self.model._default_manager.get(pk=result.id)
        code = status.HTTP_201_CREATED if result.status == "created" else status.HTTP_200_OK
        return Response(self.output(obj).data, status=code)

    def _ingest_bulk(self, request: Request) -> Response:
        body = _body(request)
        source = _source(body.get("source"))
        items = body.get("items")
        if not isinstance(items, list) or not items:
            raise ValidationError({"items": ["Send a list of 1 to 1000 items."]})
        if len(items) > MAX_ITEMS:
            raise ValidationError(
                {"items": [f"At most {MAX_ITEMS} items at a time; you sent {len(items)}."]}
            )
        results = ingest_items(kind=self.kind, items=items, source=source, user=request.user)
        counts = dict.fromkeys(("created", "updated", "unchanged"), 0)
        for result in results:
            if result.status != ERROR:
                counts[result.status] += 1
        failed = sum(1 for r in results if r.status == ERROR)
        data = {
            **counts,
            "failed": failed,
            "results": [
                {
                    "index": r.index,
                    "external_id": r.external_id,
                    "status": r.status,
                    "id": r.id,
                    "errors": r.errors,
                }
                for r in results
            ],
        }
        return Response(data)

    def create(self, request: Request) -> Response:
        return idempotency.idempotent(request, lambda: self._ingest_one(request))

    @action(detail=False, methods=["post"], url_path="bulk", url_name="bulk")
    def bulk(self, request: Request) -> Response:
        return idempotency.idempotent(request, lambda: self._ingest_bulk(request))


# --- endpoints --------------------------------------------------------------------------

ORDER_EXAMPLE = {
    "source": "shopify",
    "external_id": "1001",
    "customer_external_id": "c-42",
    "ordered_at": "2026-01-05T14:30:00Z",
    "amount": 249.9,
    "currency": "PLN",
    "status": "paid",
    "sales_channel": "web",
}
CUSTOMER_EXAMPLE = {
    "source": "shopify",
    "external_id": "c-42",
    "email": "olena@example.com",
    "name": "Olena Kovalenko",
    "country": "PL",
    "tags": ["running"],
    "email_marketing_consent": True,
}
BULK_RESULT_EXAMPLE = {
    "created": 1,
    "updated": 0,
    "unchanged": 0,
    "failed": 1,
    "results": [
        {"index": 0, "external_id": "1001", "status": "created", "id": 5120, "errors": []},
        {
            "index": 1,
            "external_id": "1002",
            "status": "error",
            "id": None,
            "errors": [
                {
                    "field": "amount",
                    "message": "Use a dot for decimals: 12.50, not 12,50.",
                    "code": "invalid",
                }
            ],
        },
    ],
}


def _write_docs(
    noun: str, item: type[serializers.Serializer], output: Any, example: dict[str, Any]
) -> dict[str, Any]:
    bulk_name = f"{item.__name__.removesuffix('InSerializer')}BulkIn"
    return {
        "create": extend_schema(
            summary=f"Create or update one {noun} by (source, external_id)",
            description="201 when created, 200 when it existed (updated or unchanged): a"
            " retried webhook never counts twice. Validated as the CSV import validates.",
            parameters=[idempotency.PARAMETER],
            request=item,
            responses={201: output, 200: output},
            examples=[OpenApiExample(f"A {noun}", value=example, request_only=True)],
        ),
        "bulk": extend_schema(
            summary=f"Create or update up to {MAX_ITEMS} {noun}s",
            description="One result per item, in order: created, updated, unchanged or"
            " error with the field and reason. The good items land even when others fail;"
            " the writes are one bulk upsert, not one per item.",
            parameters=[idempotency.PARAMETER],
            request=_bulk_in(item, bulk_name),
            responses=BulkResultSerializer,
            examples=[
                OpenApiExample(
                    "Items", value={"source": "shopify", "items": [example]}, request_only=True
                ),
                OpenApiExample(
                    "One created, one refused", value=BULK_RESULT_EXAMPLE, response_only=True
                ),
            ],
        ),
    }


class CustomerFilter(django_filters.FilterSet):
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after (ISO 8601)."
    )

    class Meta:
        model = Customer
        fields = ["source", "external_id", "updated_since"]


class OrderFilter(django_filters.FilterSet):
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after (ISO 8601)."
    )
    ordered_after = django_filters.IsoDateTimeFilter(
        field_name="ordered_at", lookup_expr="gte", help_text="Ordered at or after (ISO 8601)."
    )
    ordered_before = django_filters.IsoDateTimeFilter(
        field_name="ordered_at", lookup_expr="lt", help_text="Ordered before (ISO 8601)."
    )
    customer = django_filters.NumberFilter(field_name="customer_id", help_text="Customer id.")

    class Meta:
        model = Order
        fields = ["source", "external_id", "status", "customer", "updated_since"]


TAGS_CUSTOMERS = ["Customers"]
TAGS_ORDERS = ["Orders"]


class CustomerPatchSerializer(CustomerInSerializer):
    """The fields of a customer that PATCH changes; the upsert key cannot change."""

    source = None
    external_id = None


@extend_schema(tags=TAGS_CUSTOMERS)
@extend_schema_view(
    partial_update=extend_schema(
        summary="Change some fields of a customer",
        description="Only the fields sent change (null resets one to its default), validated"
        " as the CSV import validates. Works for customers that came with an external_id"
        " (every customer from the API or an import); others are edited on their page.",
        request=CustomerPatchSerializer,
        responses=CustomerSerializer,
        examples=[
            OpenApiExample(
                "New email and consent",
                value={"email": "olena.k@example.com", "email_marketing_consent": False},
                request_only=True,
            )
        ],
    ),
    list=extend_schema(
        summary="Customers, least recently changed first",
        description="Cursor-paginated on (updated_at, id): sync with ?updated_since= and"
        " follow next.",
    ),
    retrieve=extend_schema(summary="One customer"),
    **_write_docs("customer", CustomerInSerializer, CustomerSerializer, CUSTOMER_EXAMPLE),
)
class CustomerRecordViewSet(
    IngestMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    kind = "customers"
    model = Customer
    output = CustomerSerializer
    serializer_class = CustomerSerializer
    permission_model = Customer
    filterset_class = CustomerFilter
    cursor_ordering = ("updated_at", "id")
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> Any:
        return selectors.customer_api_queryset()

    def partial_update(self, request: Request, pk: str) -> Response:
        customer = self.get_object()
        item = _body(request)
        for name in ("source", "external_id"):
            if name in item:
                raise ValidationError({name: ["The upsert key of a customer cannot change."]})
        if customer.external_id is None:
            raise ValidationError(
                {
                    api_settings.NON_FIELD_ERRORS_KEY: [
                        "This customer has no external_id (made in Rapport); edit it on its page."
                    ]
                }
            )
        item["external_id"] = customer.external_id
        [result] = ingest_items(
            kind=self.kind, items=[item], source=customer.source, user=request.user
        )
        _raise_errors(result)
        return Response(self.output(self.get_object()).data)


@extend_schema(tags=TAGS_ORDERS)
@extend_schema_view(
    list=extend_schema(
        summary="Orders, newest first",
        description="Cursor-paginated on (ordered_at, id), newest first. Filters: customer,"
        " status, source, ordered_after/ordered_before, updated_since.",
    ),
    retrieve=extend_schema(summary="One order"),
    **_write_docs("order", OrderInSerializer, OrderSerializer, ORDER_EXAMPLE),
)
class OrderViewSet(
    IngestMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    kind = "orders"
    model = Order
    output = OrderSerializer
    serializer_class = OrderSerializer
    permission_model = Order
    filterset_class = OrderFilter
    cursor_ordering = ("-ordered_at", "-id")
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> Any:
        return selectors.order_api_queryset()


@extend_schema(tags=TAGS_ORDERS)
@extend_schema_view(
    **_write_docs(
        "return",
        ReturnInSerializer,
        ReturnSerializer,
        {
            "source": "shopify",
            "external_id": "r-7",
            "order_external_id": "1001",
            "returned_at": "2026-01-09T10:00:00Z",
            "amount": 49.9,
            "reason": "Too small",
        },
    )
)
class ReturnViewSet(IngestMixin, viewsets.GenericViewSet):
    kind = "returns"
    model = Return
    output = ReturnSerializer
    serializer_class = ReturnSerializer
    permission_model = Return
    filter_backends: ClassVar[list[type]] = []
    pagination_class = None


@extend_schema(tags=TAGS_CUSTOMERS)
@extend_schema_view(
    **_write_docs(
        "interaction",
        InteractionInSerializer,
        InteractionSerializer,
        {
            "source": "zendesk",
            "external_id": "t-981",
            "customer_external_id": "c-42",
            "kind": "chat",
            "direction": "inbound",
            "occurred_at": "2026-01-09T10:00:00Z",
            "summary": "Asked about the return window.",
            "outcome": "resolved",
        },
    )
)
class InteractionViewSet(IngestMixin, viewsets.GenericViewSet):
    kind = "interactions"
    model = Interaction
    output = InteractionSerializer
    serializer_class = InteractionSerializer
    permission_model = Interaction
    filter_backends: ClassVar[list[type]] = []
    pagination_class = None
