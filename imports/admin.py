from django.contrib import admin

from .models import ImportJob, ImportTemplate


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
