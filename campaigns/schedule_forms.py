"""The forms of scheduled changes: the edit form's time to apply at, and a cancel's reason."""

from django import forms
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from portal.kept_text import validate_no_phone_number
from portal.typed_moments import LocalMomentField, zone_name

PASSED = _("This time has passed: choose a later one, or leave it empty to send the change "
           "now.")


class ScheduleTimeField(LocalMomentField):
    """A moment in the future, typed in the portal's time zone (TIME_ZONE)."""

    def __init__(self, **kwargs):
        super().__init__(
            label=_("Apply at"), required=False,
            help_text=format_lazy(
                _("Leave it empty to send the change now. A later date and time ({zone}) "
                  "saves it, and the portal sends it then."), zone=zone_name()),
            **kwargs,
        )

    def validate(self, value):
        super().validate(value)
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(PASSED, code="past")


class CancelForm(forms.Form):
    """Why a waiting change is cancelled; kept in the audit trail."""

    reason = forms.CharField(
        label=_("Why it is cancelled"), max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}), validators=[validate_no_phone_number],
    )
