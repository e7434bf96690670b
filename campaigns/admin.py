from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from audit.admin import ReadOnlyAuditAdmin
from audit.models import Entry

from .four_eyes import requests_shown_in_full
from .models import Campaign, ChangeRequest, ScheduledChange
from .scheduling import scheduled_changes_shown_in_full


class StructureFieldsField(forms.CharField):
    """The structure's field names, one per line, as an administrator types them."""

    widget = forms.Textarea(attrs={"rows": 4})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    # A field name becomes a record form field's label and a key of what is sent.
    NAME_LENGTH = 100

    def to_python(self, value):
        names = [line.strip() for line in (value or "").splitlines()]
        return list(dict.fromkeys(name for name in names if name))

    def validate(self, value):
        """Each name, one by one: CharField's own checks saw the list's printed form, where
        a NUL reads as the text \\x00 (PostgreSQL then refused it with a server error)."""
        super().validate(value)
        for name in value:
            if "\x00" in name or len(name) > self.NAME_LENGTH:
                raise forms.ValidationError(
                    _("A field name is one line of at most %(n)d characters, without NUL "
                      "characters: %(name)s") % {"n": self.NAME_LENGTH,
                                                  "name": name[:40].replace("\x00", "\\x00")},
                    code="invalid")


class CampaignAdminForm(forms.ModelForm):
    structure_fields = StructureFieldsField(
        label=_("structure fields"), required=False,
        help_text=_("One field name per line, exactly as in Thulium."),
    )

    class Meta:
        model = Campaign
        fields = ["thulium_id", "name", "kind", "structure_fields", "settings"]


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = ("thulium_id", "name", "kind", "synced_at")
    list_filter = ("kind",)
    search_fields = ("thulium_id", "name")

    def get_readonly_fields(self, request, obj=None):
        # Its settings are Thulium's, changed through the portal's audited form; and the
        # Thulium id of a campaign the trail mentions names it in every entry.
        fixed = ["synced_at", "settings"]
        if obj is not None and Entry.objects.filter(campaign=obj).exists():
            fixed.append("thulium_id")
        return fixed

    def has_delete_permission(self, request, obj=None):
        """Only a campaign the audit trail never mentions (registered by mistake): the trail
        names its entries' campaign by this row, and without it they would lose their
        campaign in the timeline, its filter and the exports."""
        if obj is not None and Entry.objects.filter(campaign=obj).exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        # Deleting a selection would step over the check above, made one campaign at a time.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(ChangeRequest)
class ChangeRequestAdmin(ReadOnlyAuditAdmin):
    """Only the requests the portal shows its user in full (whose, why, which values): a
    second way in showed an administrator who is no editor what the request's page hides."""

    list_display = ("created_at", "actor_username", "campaign", "state", "decided_by_username")
    list_filter = ("state",)
    search_fields = ("actor_username", "decided_by_username", "campaign__thulium_id")
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return requests_shown_in_full(super().get_queryset(request), request.user)


@admin.register(ScheduledChange)
class ScheduledChangeAdmin(ReadOnlyAuditAdmin):
    """Read only: cancelling goes through the portal's page, which writes the audit step.
    Only the changes the portal shows its user in full, as for change requests."""

    list_display = ("apply_at", "created_by_username", "campaign", "state", "finished_at")
    list_filter = ("state",)
    search_fields = ("created_by_username", "campaign__thulium_id")
    date_hierarchy = "apply_at"

    def get_queryset(self, request):
        return scheduled_changes_shown_in_full(super().get_queryset(request), request.user)
