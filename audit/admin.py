"""Admin for the audit log: visible to those who may see it, changeable by no one."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse_lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from portal.ids import id_from_text
from portal.paging import LongTablePaginator

from .kinds import kind_of, kinds_by_label
from .models import Entry
from .services import may_see_everyone


class ReadOnlyAuditAdmin(admin.ModelAdmin):
    list_select_related = ("campaign",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class KindFilter(admin.SimpleListFilter):
    """The kinds the apps register (audit.kinds), not those the log holds: finding those
    read every entry at every page."""

    title = Entry._meta.get_field("kind").verbose_name
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(kind.slug, kind.label) for kind in kinds_by_label()]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Entry)
class EntryAdmin(ReadOnlyAuditAdmin):
    """Everyone's entries in full, so only for who may see them so in the portal (the
    auditors, audit.services): a second way in, past that one rule, showed an administrator
    every person's number.

    A million entries: no filter, search or count reads them all. The date hierarchy
    (which read every entry's year) is left to the timeline's dates.
    """

    list_display = ("created_at", "action", "actor_username", "campaign", "outcome", "request_id")
    readonly_fields = ("action",)
    list_filter = (KindFilter, "outcome")
    # What get_search_results finds; it finds them exactly, through their indexes.
    search_fields = ("id", "request_id", "actor__username")
    search_help_text = format_lazy(
        _("Finds an entry by its number, Thulium's request_id or its user's username, "
          "exactly. Phone numbers, identifiers and file names are found by the audit trail's "
          "search ({url})."), url=reverse_lazy("audit:timeline"))
    # The whole log estimated, a filtered one counted up to a cap (LongTablePaginator).
    paginator = LongTablePaginator
    # Counting a filtered list's whole log as well: the paginator counts no more than it.
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        """The entries with the term as their id, Thulium request_id or user's username.

        Django's search (UPPER(...) LIKE '%term%' over the columns) read the whole log, half
        a second a million entries. One look in each index, joined: an OR of them made
        PostgreSQL walk the log by time for a term few entries hold (as the timeline's
        search found, audit.services.entries_matching).
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        users = get_user_model().objects.filter(username=term).values("pk")
        looks = [Q(request_id=term), Q(actor__in=users)]
        pk = id_from_text(term)
        if pk is not None:
            looks.append(Q(pk=pk))
        first, *others = (Entry.objects.filter(look).order_by().values("pk") for look in looks)
        return queryset.filter(pk__in=first.union(*others, all=True)), False

    @admin.display(description=Entry._meta.get_field("kind").verbose_name, ordering="kind")
    def action(self, entry):
        """The kind in the reader's words, as the timeline names it: the list showed its
        slug ("campaign-change"), in Polish too."""
        return kind_of(entry).label

    def get_fields(self, request, obj=None):
        """An entry's page names its kind as the list does, in its place: Django showed
        the stored slug ("record-addition"), in Polish too."""
        return list(dict.fromkeys("action" if field == "kind" else field
                                  for field in super().get_fields(request, obj)))

    def has_view_permission(self, request, obj=None):
        return may_see_everyone(request.user) and super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return may_see_everyone(request.user)
