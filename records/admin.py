from django.contrib import admin

from portal.admin_readonly import ReadOnlyAuditAdmin

from .models import RecordAddition


@admin.register(RecordAddition)
class RecordAdditionAdmin(ReadOnlyAuditAdmin):
    list_display = ("created_at", "actor_username", "campaign", "phone_number", "outcome",
                    "record_id", "request_id")
    search_fields = ("phone_number", "identifier", "record_id", *ReadOnlyAuditAdmin.search_fields)
