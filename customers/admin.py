from django.contrib import admin
from django.http import HttpRequest

from customers.models import (
    CLVRun,
    CLVRunBatch,
    ConsentEvent,
    Customer,
    CustomerValue,
    FollowUp,
    FollowUpDigest,
    Interaction,
    Order,
    Return,
    SegmentChange,
    SegmentMovement,
    SegmentSummary,
    Tag,
)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]
    list_display = ["name", "created_at"]


class ConsentEventInline(admin.TabularInline):
    model = ConsentEvent
    extra = 0
    can_delete = False
    readonly_fields = ["purpose", "granted", "source", "note", "occurred_at", "recorded_by"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "source", "external_id", "acquisition_channel", "country"]
    list_filter = ["acquisition_channel", "country", "source"]
    search_fields = ["name", "email", "external_id"]
    autocomplete_fields = ["tags"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ConsentEventInline]
    show_full_result_count = False  # no COUNT(*) over a million rows per page view


@admin.register(ConsentEvent)
class ConsentEventAdmin(admin.ModelAdmin):
    """Append-only: events can be added, never edited or deleted."""

    list_display = ["customer", "purpose", "granted", "source", "occurred_at", "recorded_by"]
    list_filter = ["purpose", "granted", "source"]
    raw_id_fields = ["customer", "recorded_by"]
    show_full_result_count = False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReturnInline(admin.TabularInline):
    model = Return
    extra = 0


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["external_id", "customer", "ordered_at", "amount", "currency", "status"]
    list_filter = ["status", "sales_channel", "currency"]
    search_fields = ["external_id"]
    raw_id_fields = ["customer"]
    date_hierarchy = "ordered_at"
    inlines = [ReturnInline]
    show_full_result_count = False


@admin.register(Return)
class ReturnAdmin(admin.ModelAdmin):
    list_display = ["external_id", "order", "returned_at", "amount", "reason"]
    search_fields = ["external_id", "order__external_id"]
    raw_id_fields = ["order"]
    show_full_result_count = False


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["customer", "kind", "direction", "outcome", "staff", "occurred_at"]
    list_filter = ["kind", "direction", "outcome"]
    raw_id_fields = ["customer", "staff"]
    search_fields = ["summary"]
    show_full_result_count = False


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["customer", "reason", "due_on", "priority", "assigned_to", "done_at"]
    list_filter = ["priority"]
    raw_id_fields = ["customer", "interaction", "assigned_to", "done_by"]
    show_full_result_count = False


@admin.register(FollowUpDigest)
class FollowUpDigestAdmin(admin.ModelAdmin):
    list_display = ["user", "day", "follow_ups", "sent_at"]
    list_filter = ["day"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class DerivedDataAdmin(admin.ModelAdmin):
    """Values written by the nightly run: visible for inspection, never edited by hand."""

    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(CLVRun)
class CLVRunAdmin(DerivedDataAdmin):
    list_display = ["as_of", "time_unit", "status", "customers", "trigger", "started_at"]
    list_filter = ["status", "time_unit", "trigger"]
    raw_id_fields = ["previous_run"]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_superuser


@admin.register(CLVRunBatch)
class CLVRunBatchAdmin(DerivedDataAdmin):
    list_display = ["run", "index", "id_from", "id_to", "customers", "status", "seconds"]
    list_filter = ["status"]
    raw_id_fields = ["run"]


@admin.register(CustomerValue)
class CustomerValueAdmin(DerivedDataAdmin):
    list_display = ["customer", "run", "segment", "predicted_clv", "p_alive"]
    list_filter = ["segment"]
    raw_id_fields = ["customer", "run"]


@admin.register(SegmentSummary)
class SegmentSummaryAdmin(DerivedDataAdmin):
    list_display = ["run", "segment", "customers", "avg_predicted_clv", "moved_in", "moved_out"]


@admin.register(SegmentMovement)
class SegmentMovementAdmin(DerivedDataAdmin):
    list_display = ["run", "from_segment", "to_segment", "customers"]


@admin.register(SegmentChange)
class SegmentChangeAdmin(DerivedDataAdmin):
    list_display = ["customer", "as_of", "from_segment", "to_segment"]
    raw_id_fields = ["customer", "run"]
