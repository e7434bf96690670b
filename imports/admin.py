from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .access import readable_imports
from .fallback import batch_refusals_lift
from .models import BatchRefusal, ImportJob, ImportTemplate


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Only the imports the portal lets its user read (imports.access): the admin is no
    second way to others' file names and counts."""

    list_display = ("created_at", "actor_username", "campaign", "file_name", "state",
                    "rows_total", "rows_valid")
    list_filter = ("state",)
    readonly_fields = [field.name for field in ImportJob._meta.fields]

    def get_queryset(self, request):
        return readable_imports(request.user, super().get_queryset(request))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Its rows and their links to the audit entries are what was sent; the portal
        # clears their personal data after IMPORT_KEEP_DAYS (imports.retention).
        return False


@admin.register(ImportTemplate)
class ImportTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "campaign", "saved_by", "saved_at")


@admin.register(BatchRefusal)
class BatchRefusalAdmin(admin.ModelAdmin):
    """Lifting a refusal lets the next import try the batch call again."""

    list_display = ("refused_at", "http_status", "request_id", "detail", "lifted_at",
                    "lifted_by")
    readonly_fields = [field.name for field in BatchRefusal._meta.fields]
    actions = ["lift"]

    @admin.action(description=_("Lift: let imports try the batch call again"))
    def lift(self, request, queryset):
        lifted = batch_refusals_lift(queryset, by=request.user.get_username())
        self.message_user(request, ngettext("%d refusal lifted.", "%d refusals lifted.",
                                            lifted) % lifted)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
