"""Read-only representations of the value engine's results.

Segments are named by their stable slug (``champions``) with label and retention action
from ``customers.value.rfm``; the stored small integers never leave the server.
Money is in settings.DEFAULT_CURRENCY, net of returns.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from customers.models import CLVRun, CustomerValue, SegmentChange
from customers.value.rfm import BY_CODE, SEGMENTS

SEGMENT_SLUGS = [s.slug for s in SEGMENTS]


class SegmentRefSerializer(serializers.Serializer):
    """A segment by its stable slug, with its label."""

    slug = serializers.ChoiceField(choices=SEGMENT_SLUGS)
    label = serializers.CharField()


@extend_schema_field(SegmentRefSerializer)
class SegmentCodeField(serializers.Field):
    """A stored segment code as {slug, label}; null for NO_SEGMENT (0: new this run)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: int) -> dict[str, str] | None:
        segment = BY_CODE.get(value)
        return {"slug": segment.slug, "label": segment.label} if segment else None


class RunRefSerializer(serializers.ModelSerializer):
    """Which run the figures come from."""

    class Meta:
        model = CLVRun
        fields = ["id", "as_of", "time_unit", "finished_at"]
        read_only_fields = fields


class ModelParamsSerializer(serializers.Serializer):
    """BG/NBD (r, alpha, a, b) and Gamma-Gamma (p, q, gamma), named as in the papers;
    null until the run has fitted them (running or failed runs)."""

    r = serializers.FloatField(allow_null=True)
    alpha = serializers.FloatField(allow_null=True)
    a = serializers.FloatField(allow_null=True)
    b = serializers.FloatField(allow_null=True)
    p = serializers.FloatField(allow_null=True)
    q = serializers.FloatField(allow_null=True)
    gamma = serializers.FloatField(allow_null=True)


class RunCountsSerializer(serializers.Serializer):
    customers = serializers.IntegerField(help_text="Customers valued (paid orders by as-of).")
    repeat_customers = serializers.IntegerField(help_text="... with more than one purchase day.")
    gg_customers = serializers.IntegerField(help_text="... used to fit Gamma-Gamma (spend).")
    distinct_rows = serializers.IntegerField(
        help_text="Distinct (frequency, recency, age) rows the BG/NBD fit ran on."
    )


class CLVRunSerializer(serializers.ModelSerializer):
    params = ModelParamsSerializer()
    counts = RunCountsSerializer(source="*")
    durations = serializers.DictField(
        child=serializers.FloatField(), help_text="Seconds per stage (load, model, write ...)."
    )
    backtest = serializers.SerializerMethodField()

    class Meta:
        model = CLVRun
        fields = [
            "id",
            "as_of",
            "time_unit",
            "horizon_months",
            "discount_rate",
            "status",
            "trigger",
            "started_at",
            "finished_at",
            "error",
            "params",
            "log_likelihood",
            "gg_log_likelihood",
            "counts",
            "durations",
            "backtest",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "additionalProperties": True,
            "description": "For a run as of a past date: predicted vs actual purchases in"
            " the holdout period after it (holdout_days, customers, predicted_purchases,"
            " actual_purchases, total_error_pct, mae, rmse, correlation, by_frequency);"
            " null otherwise.",
        }
    )
    def get_backtest(self, run: CLVRun) -> dict[str, Any] | None:
        return run.backtest or None


class SegmentSerializer(serializers.Serializer):
    """One segment of a run (from its stored summary: no scan of the values)."""

    slug = serializers.ChoiceField(choices=SEGMENT_SLUGS)
    label = serializers.CharField()
    action = serializers.CharField(help_text="What the segment means for the retention team.")
    customers = serializers.IntegerField()
    share = serializers.FloatField(help_text="Of the run's customers, 0..1.")
    net_revenue = serializers.FloatField(help_text="Net of returns, up to the as-of date.")
    revenue_share = serializers.FloatField(help_text="Of the run's net revenue, 0..1.")
    predicted_clv = serializers.FloatField(help_text="Sum over the segment's customers.")
    avg_predicted_clv = serializers.FloatField()
    avg_churn_risk = serializers.FloatField(help_text="Mean of 1 - P(alive).")
    moved_in = serializers.IntegerField(help_text="Customers who came from another segment.")
    moved_out = serializers.IntegerField(help_text="Customers who left for another segment.")


@extend_schema_serializer(many=False)  # served by a viewset's list action, but not a list
class SegmentListSerializer(serializers.Serializer):
    run = RunRefSerializer(allow_null=True, help_text="Null until the first run succeeds.")
    results = SegmentSerializer(many=True)


class CustomerValueSerializer(serializers.ModelSerializer):
    """What a customer is worth as of one run: history, predictions, RFM, segment."""

    segment = SegmentCodeField()
    previous_segment = SegmentCodeField(
        allow_null=True, help_text="Segment in the previous run; null if new this run."
    )

    class Meta:
        model = CustomerValue
        fields = [
            # history
            "orders",
            "net_revenue",
            "avg_order_value",
            "purchase_frequency",
            "age_days",
            "days_since_last_order",
            "historic_clv",
            # model inputs (time units of the run)
            "frequency",
            "recency",
            "age",
            # predictions
            "p_alive",
            "churn_risk",
            "expected_purchases_30",
            "expected_purchases_90",
            "expected_purchases_365",
            "expected_order_value",
            "predicted_clv",
            "expected_next_order",
            # RFM
            "r_score",
            "f_score",
            "m_score",
            "segment",
            "previous_segment",
        ]
        read_only_fields = fields


class SegmentMemberSerializer(CustomerValueSerializer):
    """A member of a segment: the customer and their value in the run."""

    customer_id = serializers.IntegerField()
    name = serializers.CharField(source="customer.name")
    email = serializers.EmailField(source="customer.email", allow_null=True)

    class Meta(CustomerValueSerializer.Meta):
        fields = ["customer_id", "name", "email", *CustomerValueSerializer.Meta.fields]
        read_only_fields = fields


class SegmentMemberPageSerializer(serializers.Serializer):
    run = RunRefSerializer(allow_null=True, help_text="Null until the first run succeeds.")
    next = serializers.URLField(allow_null=True, help_text="The following page, or null.")
    previous = serializers.URLField(allow_null=True, help_text="The page before, or null.")
    results = SegmentMemberSerializer(many=True)


class CustomerRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField(allow_null=True)


class SegmentChangeSerializer(serializers.ModelSerializer):
    from_segment = SegmentCodeField(allow_null=True, help_text="Null: first valued in this run.")
    to_segment = SegmentCodeField()

    class Meta:
        model = SegmentChange
        fields = ["as_of", "run_id", "from_segment", "to_segment"]
        read_only_fields = fields


class CustomerValueDetailSerializer(serializers.Serializer):
    customer = CustomerRefSerializer()
    run = RunRefSerializer(allow_null=True, help_text="The current run; null before the first.")
    value = CustomerValueSerializer(
        allow_null=True, help_text="Null when no run covers the customer yet."
    )
    segment_history = SegmentChangeSerializer(
        many=True, help_text="Moves between segments, newest first (the latest 50)."
    )
