"""The outbox in the admin, to see what waits, what was sent and why one was not."""

from django.contrib import admin

from .models import Notice


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "user", "state", "attempts", "next_attempt_at",
                    "sent_at", "last_error"]
    list_filter = ["state", "kind"]
    list_select_related = ["user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
