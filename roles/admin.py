"""The admin's group pages: a group's permissions are each member's, so a group created,
renamed or deleted there, or given or taken a permission, is an audit entry naming its
members then, committed with the change (Django's own group pages write none)."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _

from .entries import permission_label, permission_labels
from .groups import group_label, portal_groups_shown_with
from .services import group_members, group_roles, group_roles_record

admin.site.unregister(Group)


@admin.register(Group)
class PortalGroupAdmin(GroupAdmin):
    list_display = ("name_shown",)

    @admin.display(description=_("name"), ordering="name")
    def name_shown(self, group):
        return group_label(group)

    def get_search_results(self, request, queryset, search_term):
        """Also the portal's groups whose name in the reader's language, the one the list
        shows, holds the term's words: Django's search knows only the stored English one."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # The term's words as Django's search splits it, a quoted phrase one word.
        words = [unescape_string_literal(bit) if bit[0] in "\"'" and bit[0] == bit[-1] else bit
                 for bit in smart_split(search_term)]
        if words:
            found |= queryset.filter(name__in=portal_groups_shown_with(words))
        return found, may_have_duplicates

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "permissions_shown") if self._read_only(request, obj) else fields

    def get_fields(self, request, obj=None):
        """A group one may only look at shows its permissions by `permissions_shown`:
        Django would show their stored names."""
        fields = super().get_fields(request, obj)
        if not self._read_only(request, obj):
            return fields
        # In the permissions' place; Django lists the read-only fields last, this one too.
        return list(dict.fromkeys(
            "permissions_shown" if field == "permissions" else field for field in fields))

    def _read_only(self, request, obj) -> bool:
        return obj is not None and not self.has_change_permission(request, obj)

    @admin.display(description=Group._meta.get_field("permissions").verbose_name)
    def permissions_shown(self, group):
        return permission_labels(group.permissions.all())

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        field = super().formfield_for_manytomany(db_field, request=request, **kwargs)
        if db_field.name == "permissions":
            field.label_from_instance = permission_label
        return field

    def save_model(self, request, obj, form, change):
        form.roles_before = group_roles(Group.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        group = form.instance
        group_roles_record(actor=request.user, before=form.roles_before,
                           after=group_roles(group), members=group_members(group))

    def delete_model(self, request, obj):
        before, members = group_roles(obj), group_members(obj)
        super().delete_model(request, obj)
        group_roles_record(actor=request.user, before=before, after=None, members=members)

    def delete_queryset(self, request, queryset):
        """The list's delete action, which runs in no transaction of its own: one entry
        each, all committed with the deletions or none."""
        with transaction.atomic():
            for group in queryset:
                self.delete_model(request, group)
