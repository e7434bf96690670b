"""Which accounts the identity provider signs on, for administrators; read only: an
identity is made at a first sign-on, and goes with its user."""

from django.contrib import admin

from .models import Identity


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
    list_display = ("user", "subject", "issuer", "created_at")
    search_fields = ("user__username", "subject")
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
