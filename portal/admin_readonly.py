"""Admin for audit rows: visible to those who may see them, changeable by no one."""

from django.contrib import admin


class ReadOnlyAuditAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_username", "campaign", "outcome", "request_id")
    list_filter = ("outcome",)
    search_fields = ("actor_username", "request_id", "portal_request_id", "campaign__thulium_id")
    date_hierarchy = "created_at"
    list_select_related = ("campaign",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
