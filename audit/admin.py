"""Admin for the audit log: visible to those who may see it, changeable by no one."""

from django.contrib import admin

from .models import Entry
from .services import may_see_everyone


class ReadOnlyAuditAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_username", "campaign", "outcome", "request_id")
    list_filter = ("outcome",)
    search_fields = ("actor_username", "request_id", "portal_request_id", "campaign__thulium_id")
    date_hierarchy = "created_at"
    list_select_related = ("campaign",)
    # A million entries: the changelist does not count them (Django's own pagination would).
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Entry)
class EntryAdmin(ReadOnlyAuditAdmin):
    """Everyone's entries in full, so only for who may see them so in the portal (the
    auditors, audit.services): a second way in, past that one rule, showed an administrator
    every person's number."""

    list_display = ("created_at", "kind", "actor_username", "campaign", "outcome", "request_id")
    list_filter = ("kind", "outcome")

    def has_view_permission(self, request, obj=None):
        return may_see_everyone(request.user) and super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return may_see_everyone(request.user)
