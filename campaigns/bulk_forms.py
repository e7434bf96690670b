"""The form of a change to several campaigns: the edit form's fields, all left blank."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .forms import EDITABLE, CampaignForm
from .models import Campaign

# The edit form's settings, `name` excepted: one name for many campaigns makes no sense.
# Its time to apply a change at is not one: a bulk change is sent at once, and showing the
# field made users believe a change they had timed was kept for then.
CHANGEABLE = [name for name in EDITABLE if name != "name"]


class BulkChangeForm(forms.Form):
    """The selection and the values to give every selected campaign.

    A blank field is left as each campaign has it. The values are checked by the edit
    form's own fields here, and again per campaign by the edit form itself (bulk.py), whose
    cross-field rules need each campaign's other settings.
    """

    campaign = forms.ModelMultipleChoiceField(
        queryset=Campaign.objects.all(), to_field_name="thulium_id",
        widget=forms.MultipleHiddenInput,
        error_messages={
            "required": _("Choose at least one campaign on the list."),
            "invalid_choice": _("No campaign has the id %(value)s: choose again on the list."),
            "invalid_pk_value": _("“%(pk)s” is not a campaign id: choose again on the list."),
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The unknown choice of a yes/no select means here: leave it as it is.
        self.fields["active"].widget.choices = [
            ("unknown", _("(leave as it is)")), ("true", _("Yes")), ("false", _("No")),
        ]
        self.fields["dialer"].choices = [("", _("(leave as it is)")),
                                         *self.fields["dialer"].choices[1:]]

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not self.values():
            raise forms.ValidationError(
                _("Set at least one field to change; blank fields are left as they are.")
            )
        return cleaned

    def values(self) -> dict:
        """The fields the user set, as typed values."""
        return {name: self.cleaned_data[name] for name in CHANGEABLE
                if self.cleaned_data.get(name) not in (None, "")}

    def stored_data(self) -> dict[str, list[str]]:
        """The input as posted, to carry in the preview and show again if need be."""
        return {name: self.data.getlist(name) for name in self.fields if name in self.data}


# The edit form's fields and validators, shared rather than copied; each form instance
# copies them (Django deep-copies base_fields), so changing a widget here is local.
BulkChangeForm.base_fields.update(
    (name, CampaignForm.base_fields[name]) for name in (*CHANGEABLE, "reason")
)
