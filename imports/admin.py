from django.contrib import admin

from .models import ImportJob, ImportReceipt, ImportTemplate


@admin.register(ImportReceipt)
class ImportReceiptAdmin(admin.ModelAdmin):
    """Receipts are part of the audit: visible, changeable by no one."""

    list_display = ("created_at", "actor_username", "campaign", "file_name", "outcome",
                    "rows_total", "added", "refused", "failed")
    list_filter = ("outcome",)
    search_fields = ("file_name", "file_sha256", "actor_username", "campaign__thulium_id")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_username", "campaign", "file_name", "state",
                    "rows_total", "rows_valid")
    list_filter = ("state",)
    readonly_fields = [field.name for field in ImportJob._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(ImportTemplate)
class ImportTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "campaign", "saved_by", "saved_at")
