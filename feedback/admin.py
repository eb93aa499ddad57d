from django.contrib import admin

from feedback.models import Survey, SurveyInvitation, SurveyResponse


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "trigger",
        "delay_days",
        "min_gap_days",
        "sample_percent",
        "active",
        "created_at",
    ]
    list_filter = ["active", "trigger"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(admin.ModelAdmin):
    list_display = ["survey", "customer", "trigger_key", "staff", "message", "created_at"]
    list_filter = ["survey"]
    search_fields = ["trigger_key", "customer__email", "customer__name"]
    raw_id_fields = ["customer", "order", "interaction", "staff", "message"]
    list_select_related = ["survey", "customer", "staff", "message"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(SurveyResponse)
class SurveyResponseAdmin(admin.ModelAdmin):
    list_display = ["survey", "customer", "score", "comment", "staff", "follow_up", "responded_at"]
    list_filter = ["survey", "score"]
    search_fields = ["comment", "customer__email", "customer__name"]
    raw_id_fields = ["invitation", "customer", "staff", "follow_up"]
    list_select_related = ["survey", "customer", "staff", "follow_up"]
    date_hierarchy = "responded_at"
    readonly_fields = ["updated_at"]
    show_full_result_count = False
