"""The admin's user pages: an administrator resets a lost second factor from the user
list, and sees who has one; what an administrator who is not a superuser may do to
accounts is bounded, so that none can raise their own powers.

django-otp's own device pages are taken out: they show the secret, and a device deleted
there would leave no audit entry.

An administrator (staff, not a superuser) manages the accounts of others, but may not make
a superuser or give a permission by itself, nor change their own roles, nor give, take or
manage (a password, a second factor) the role of reading the whole audit trail: auditors
watch what administrators do, and a superuser's or an auditor's account taken over would
open everything. Before, one could tick "superuser" on their own account.

Nor does anyone set their own password or reset their own second factor here: the portal's
own pages ask for the current password or a code first, so that a session left open is not
enough to take the account over.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop, ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.services import AUDIT_VIEW_PERMISSION
from roles.entries import permission_label, permission_labels
from roles.groups import group_label, group_name_shown
from roles.services import account_password_record, account_roles, account_roles_record

from .services import second_factor_remove

admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)
admin.site.unregister(User)


class GroupShownFilter(admin.RelatedFieldListFilter):
    """The user list's filter by group, naming the portal's own groups in the reader's
    language as the user's page does."""

    def field_choices(self, field, request, model_admin):
        return [(pk, group_name_shown(name))
                for pk, name in super().field_choices(field, request, model_admin)]


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    list_display = (*UserAdmin.list_display, "second_factor")
    list_filter = ("is_staff", "is_superuser", "is_active", ("groups", GroupShownFilter))
    actions = ["second_factor_reset"]

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (
            obj is None or may_manage(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (
            obj is None or may_manage(request.user, obj))

    def get_readonly_fields(self, request, obj=None):
        fields = (*super().get_readonly_fields(request, obj),
                  *self._shown_instead(request, obj).values())
        if request.user.is_superuser:
            return fields
        fields = (*fields, "is_superuser", "user_permissions")
        if obj is not None and obj.pk == request.user.pk:
            fields = (*fields, "is_staff", "groups")
        return fields

    def get_fieldsets(self, request, obj=None):
        """Groups and permissions that may not be changed here are shown by `groups_shown`
        and `user_permissions_shown`: Django would show their stored names."""
        fieldsets = super().get_fieldsets(request, obj)
        shown = self._shown_instead(request, obj)
        return [(name, {**options, "fields": tuple(
            shown.get(field, field) for field in options["fields"])})
            for name, options in fieldsets]

    def _shown_instead(self, request, obj) -> dict[str, str]:
        """The fields of roles read-only here, each with the one that shows it in words."""
        shown = {}
        if self._groups_read_only(request, obj):
            shown["groups"] = "groups_shown"
        if obj is not None and not request.user.is_superuser:
            shown["user_permissions"] = "user_permissions_shown"
        return shown

    def _groups_read_only(self, request, obj) -> bool:
        """One's own account's, for all but a superuser, and any account one may only see."""
        return obj is not None and not (request.user.is_superuser or (
            obj.pk != request.user.pk and self.has_change_permission(request, obj)))

    @admin.display(description=User._meta.get_field("groups").verbose_name)
    def groups_shown(self, user):
        return ", ".join(map(group_label, user.groups.order_by("name")))

    @admin.display(description=User._meta.get_field("user_permissions").verbose_name)
    def user_permissions_shown(self, user):
        return permission_labels(user.user_permissions.all())

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = grantable_groups()
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "user_permissions":
            field.label_from_instance = permission_label
        if db_field.name == "groups":
            field.label_from_instance = group_label
        return field

    # Each change of an account's roles is an audit entry, in the admin's transaction.
    def save_model(self, request, obj, form, change):
        form.roles_before = account_roles(User.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        account_roles_record(account_name=form.instance.get_username(), actor=request.user,
                             before=form.roles_before, after=account_roles(form.instance))

    def user_change_password(self, request, id, form_url=""):
        """The password page; a password set or disabled is an audit entry, committed with
        it (with a second factor reset, it is how one could log in as another). One's own
        goes to the portal's page, which asks for the current password."""
        if unquote(id) == str(request.user.pk):
            self.message_user(request, _(
                "Change your own password here: this page asks for your current one first."),
                messages.INFO)
            return redirect("admin:password_change")
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            account = self.get_object(request, unquote(id))
            # Done, it goes back to the account's page; refused, it shows the form again.
            if request.method == "POST" and response.status_code == 302 and (
                    response.url == reverse("admin:auth_user_change", args=[account.pk])):
                account_password_record(account=account, actor=request.user)
        return response

    def delete_model(self, request, obj):
        before = account_roles(obj)
        super().delete_model(request, obj)
        account_roles_record(account_name=obj.get_username(), actor=request.user,
                             before=before, after=None)

    def delete_queryset(self, request, queryset):
        """The list's delete action (which has asked `has_delete_permission` of each): one
        entry each, as deleting one by one records, all committed with the deletions or
        none (the action runs in no transaction of its own)."""
        with transaction.atomic():
            for account in queryset:
                self.delete_model(request, account)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(has_second_factor=Exists(
            TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)))

    @admin.display(boolean=True, description=_("two-factor login"),
                   ordering="has_second_factor")
    def second_factor(self, user):
        return user.has_second_factor

    @admin.action(permissions=["change"],
                  description=_("Reset two-factor login (for a lost phone: the user sets it "
                                "up again)"))
    def second_factor_reset(self, request, queryset):
        """Not one's own: the portal's two-factor page asks for a code before turning it off."""
        if queryset.filter(pk=request.user.pk).exists():
            self.message_user(request, _(
                "Your own two-factor login is not reset here: turn it off on your Two-factor "
                "login page, which asks for a code first."), messages.WARNING)
        reset = sum(self._second_factor_remove(request, user)
                    for user in queryset.exclude(pk=request.user.pk)
                    if may_manage(request.user, user))
        self.message_user(request, ngettext(
            "Two-factor login reset for %(count)d user.",
            "Two-factor login reset for %(count)d users.", reset) % {"count": reset},
            messages.SUCCESS)

    def _second_factor_remove(self, request, user) -> bool:
        """Also in the admin's log, as the admin's other changes of an account are: whoever
        resets it may set it up in their stead, so the four-eyes rule reads it there."""
        with transaction.atomic():
            removed = second_factor_remove(user=user, actor=request.user)
            if removed:
                self.log_change(request, user, [{"changed": {"fields": [SECOND_FACTOR_FIELD]}}])
        return removed


# Kept untranslated in the admin's log, which translates it when shown.
SECOND_FACTOR_FIELD = gettext_noop("two-factor login")


def may_manage(manager, account) -> bool:
    """Whether `manager` may change `account` (its details, password, roles, second factor)
    or delete it: a superuser any; another administrator neither a superuser's nor one that
    may read the whole audit trail."""
    if manager.is_superuser:
        return True
    # By its roles, not has_perm, which says nothing of an account made inactive.
    return not (account.is_superuser
                or account.groups.filter(_READS_WHOLE_TRAIL).exists()
                or account.user_permissions.filter(_READ_PERMISSION).exists())


def grantable_groups():
    """The groups an administrator who is not a superuser may give or take: those without
    the permission to read the whole audit trail."""
    return Group.objects.exclude(_READS_WHOLE_TRAIL)


_APP_LABEL, _CODENAME = AUDIT_VIEW_PERMISSION.split(".")
_READ_PERMISSION = Q(content_type__app_label=_APP_LABEL, codename=_CODENAME)
_READS_WHOLE_TRAIL = Q(permissions__content_type__app_label=_APP_LABEL,
                       permissions__codename=_CODENAME)
