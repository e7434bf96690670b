"""The outbox in the admin, to see what waits, what was sent and why one was not."""

from django.contrib import admin
from django.utils.translation import gettext

from .kinds import kind_admin_label, kind_named, kinds_by_admin_label
from .models import Notice
from .sending import NO_ADDRESS, NO_LONGER_GETS, TURNED_OFF


class KindFilter(admin.SimpleListFilter):
    """The kinds the apps register, by their names in the outbox: Django's filter of the
    field offered the slugs the outbox holds ("change-request-waiting"), in Polish too."""

    title = Notice._meta.get_field("kind").verbose_name
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(kind.slug, kind.admin_label) for kind in kinds_by_admin_label()]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind_name", "user", "state", "attempts",
                    "next_attempt_at", "sent_at", "error"]
    list_filter = ["state", KindFilter]
    list_select_related = ["user"]
    exclude = ["last_error"]
    readonly_fields = ["kind_name", "error"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=Notice._meta.get_field("kind").verbose_name, ordering="kind")
    def kind_name(self, notice):
        """The kind as the outbox names it, for an administrator: the list showed its slug
        ("change-request-waiting"), in Polish too."""
        return kind_admin_label(notice.kind)

    def get_fields(self, request, obj=None):
        """A notice's page names its kind as the list does, in its place."""
        return list(dict.fromkeys("kind_name" if field == "kind" else field
                                  for field in super().get_fields(request, obj)))

    @admin.display(description=Notice._meta.get_field("last_error").verbose_name,
                   ordering="last_error")
    def error(self, notice):
        """Why the portal gave the notice up, in the reader's language; a mail server's
        refusal, kept in the same field, as it came."""
        kind = kind_named(notice.kind)
        own = {NO_ADDRESS, NO_LONGER_GETS, TURNED_OFF, *(kind.outdated_reasons if kind else ())}
        return gettext(notice.last_error) if notice.last_error in own else notice.last_error
