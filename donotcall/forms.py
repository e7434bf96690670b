"""The list page's forms: one number, a file of numbers, a removal, the search."""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from imports.forms import UploadForm
from portal.campaign_choice import CampaignField
from portal.kept_text import validate_no_phone_number
from portal.phones import accepted_number_key
from portal.typed_moments import TypedDateField

from .models import Suppression
from .services import suppression_existing


class DateInput(forms.DateInput):
    input_type = "date"


class EntryFieldsMixin(forms.Form):
    """What every way of putting numbers on the list asks: where, why, until when."""

    campaign = CampaignField(label=_("Campaign"), empty_label=_("every campaign"))
    reason = forms.ChoiceField(label=_("Reason"), choices=Suppression.Reason.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=1000,
                           widget=forms.Textarea(attrs={"rows": 2}),
                           validators=[validate_no_phone_number])
    expires_on = TypedDateField(
        # Any year: "31.12.9999" is how some lists write "for good".
        label=_("Blocks until"), required=False, widget=DateInput(), validators=(),
        help_text=_("Optional: the last day on which it blocks. Empty: for good."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].fit(Campaign.objects)

    def expiry_note(self) -> str:
        """A warning when the expiry is past: accepted (old lists), but it does not block."""
        expires_on = self.cleaned_data.get("expires_on")
        if expires_on and expires_on < timezone.localdate():
            return str(_("The expiry date is past: the entry is kept but does not block."))
        return ""


class SuppressionForm(EntryFieldsMixin):
    phone_number = forms.CharField(label=_("Phone number"), max_length=40)

    field_order = ["phone_number", "campaign", "reason", "note", "expires_on"]

    def clean_phone_number(self):
        # Held to the record form's rules: a number it refuses is never sent, and listed
        # it would block nothing.
        self.key = accepted_number_key(self.cleaned_data["phone_number"])
        return self.cleaned_data["phone_number"]

    def clean(self):
        cleaned = super().clean()
        existing = suppression_existing(self.key, cleaned["campaign"]) if (
            hasattr(self, "key") and "campaign" in cleaned) else None
        # An expired entry is replaced by the new one (donotcall.services.suppression_add).
        if existing is not None and not existing.is_expired:
            self.refuse_duplicate()
        return cleaned

    def refuse_duplicate(self) -> None:
        self.add_error("phone_number", ValidationError(
            _("This number is on the do-not-call list for this scope already."),
            code="duplicate"))


class SuppressionUploadForm(EntryFieldsMixin, UploadForm):
    """A CSV or XLSX file of numbers, read like an import's file."""

    field_order = ["file", "campaign", "reason", "note", "expires_on"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        most = _("At most %(most)s numbers a file.") % {
            "most": number_format(settings.DONOTCALL_UPLOAD_MOST, force_grouping=True)}
        self.fields["file"].help_text = f"{self.fields['file'].help_text} {most}"


class RemovalForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is it taken off the list?"), max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}), validators=[validate_no_phone_number],
        help_text=_("Kept in the audit trail."))


class SearchForm(forms.Form):
    number = forms.CharField(label=_("Number"), required=False, max_length=40)
    ALL = "all"

    scope = CampaignField(
        label=_("Campaigns"), empty_label=_("any scope"), extra=[(ALL, _("every campaign"))],
        typed_help=_("A campaign's Thulium id or its exact name, “all” for the entries that "
                     "cover every campaign, or empty for any."))
    reason = forms.ChoiceField(label=_("Reason"), required=False,
                               choices=[("", _("any reason")), *Suppression.Reason.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scope"].fit(Campaign.objects)

    def clean_number(self):
        number = self.cleaned_data["number"]
        return accepted_number_key(number) if number else ""
