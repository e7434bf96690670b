"""The outbox in the admin, to see what waits, what was sent and why one was not."""

from django.contrib import admin
from django.utils.translation import gettext

from .kinds import kind_named
from .models import Notice
from .sending import NO_ADDRESS, NO_LONGER_GETS, TURNED_OFF


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "user", "state", "attempts", "next_attempt_at",
                    "sent_at", "error"]
    list_filter = ["state", "kind"]
    list_select_related = ["user"]
    exclude = ["last_error"]
    readonly_fields = ["error"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=Notice._meta.get_field("last_error").verbose_name,
                   ordering="last_error")
    def error(self, notice):
        """Why the portal gave the notice up, in the reader's language; a mail server's
        refusal, kept in the same field, as it came."""
        kind = kind_named(notice.kind)
        own = {NO_ADDRESS, NO_LONGER_GETS, TURNED_OFF, *(kind.outdated_reasons if kind else ())}
        return gettext(notice.last_error) if notice.last_error in own else notice.last_error
