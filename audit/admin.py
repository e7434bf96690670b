"""Admin for the audit log: visible to those who may see it, changeable by no one."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Q
from django.urls import reverse_lazy
from django.utils.functional import cached_property
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .kinds import all_kinds
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
        return [(kind.slug, kind.label) for kind in all_kinds()]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


class EntryPaginator(Paginator):
    """Pages of the log that never count all of it: COUNT(*) read every entry at every
    page (170 ms at a million entries).

    The whole log, on PostgreSQL, is as long as the planner's estimate of the table
    (pg_class.reltuples, which ANALYZE and autovacuum keep within a few per cent): its
    pages are shown as "about" so many. Otherwise the entries are counted up to
    COUNTED_AT_MOST, through an index for each filter and search the list offers; a list
    that long is shown as "at least" so many, and pages as far as that (the timeline
    pages through all of it, by time).
    """

    COUNTED_AT_MOST = 10_000

    @cached_property
    def estimated(self) -> bool:
        return self._estimate is not None

    @cached_property
    def count(self) -> int:
        if self._estimate is not None:
            return self._estimate
        return self.object_list.order_by()[:self.COUNTED_AT_MOST].count()

    @property
    def counted_at_most(self) -> bool:
        return not self.estimated and self.count >= self.COUNTED_AT_MOST

    @cached_property
    def _estimate(self) -> int | None:
        """The table's estimated rows when the list is all of it and long; else None (a
        table never analysed is estimated at -1, a short one is counted)."""
        if connection.vendor != "postgresql" or self.object_list.query.where:
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                           [self.object_list.model._meta.db_table])
            (rows,) = cursor.fetchone()
        return rows if rows >= self.COUNTED_AT_MOST else None


@admin.register(Entry)
class EntryAdmin(ReadOnlyAuditAdmin):
    """Everyone's entries in full, so only for who may see them so in the portal (the
    auditors, audit.services): a second way in, past that one rule, showed an administrator
    every person's number.

    A million entries: no filter, search or count reads them all. The date hierarchy
    (which read every entry's year) is left to the timeline's dates.
    """

    list_display = ("created_at", "kind", "actor_username", "campaign", "outcome", "request_id")
    list_filter = (KindFilter, "outcome")
    # What get_search_results finds; it finds them exactly, through their indexes.
    search_fields = ("id", "request_id", "actor__username")
    search_help_text = format_lazy(
        _("Finds an entry by its number, Thulium's request_id or its user's username, "
          "exactly. Phone numbers, identifiers and file names are found by the audit trail's "
          "search ({url})."), url=reverse_lazy("audit:timeline"))
    paginator = EntryPaginator
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
        if term.isascii() and term.isdigit() and int(term) < 2**63:  # not "²"
            looks.append(Q(pk=int(term)))
        first, *others = (Entry.objects.filter(look).order_by().values("pk") for look in looks)
        return queryset.filter(pk__in=first.union(*others, all=True)), False

    def has_view_permission(self, request, obj=None):
        return may_see_everyone(request.user) and super().has_view_permission(request, obj)

    def has_module_permission(self, request):
        return may_see_everyone(request.user)
