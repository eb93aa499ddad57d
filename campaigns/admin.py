from django.contrib import admin
from django.http import HttpRequest

from campaigns.models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """The outbox, for inspection: rows change only through the send job."""

    list_display = ["created_at", "customer", "kind", "template", "status", "skip_reason",
                    "attempts", "postponed", "sent_at"]  # fmt: skip
    list_filter = ["status", "kind", "skip_reason", "template"]
    search_fields = ["to_email", "message_id", "dedupe_key"]
    raw_id_fields = ["customer"]
    show_full_result_count = False
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
