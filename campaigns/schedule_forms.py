"""The forms of scheduled changes: the edit form's time to apply at, and a cancel's reason."""

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

# What a browser's datetime-local input posts (minutes; seconds when a script sets them).
INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class ScheduleTimeField(forms.DateTimeField):
    """A moment in the future, typed in the portal's time zone (TIME_ZONE)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=INPUT_FORMATS[0])

    def __init__(self, **kwargs):
        super().__init__(
            label=_("Apply at"), required=False, input_formats=INPUT_FORMATS,
            help_text=format_lazy(
                _("Leave it empty to send the change now. A later date and time ({zone}) "
                  "saves it, and the portal sends it then."), zone=settings.TIME_ZONE),
            **kwargs,
        )

    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError as error:
            if error.code != "ambiguous_timezone":
                raise
            # Django's own words name the zone but not the cause: the clocks changing.
            raise forms.ValidationError(
                _("%(value)s does not exist or happens twice in %(zone)s, as the clocks "
                  "change then: choose another time."),
                code="clock_change", params={"value": value, "zone": settings.TIME_ZONE},
            ) from None

    def validate(self, value):
        super().validate(value)
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(
                _("This time has passed: choose a later one, or leave it empty to send the "
                  "change now."), code="past")


class CancelForm(forms.Form):
    """Why a waiting change is cancelled; kept in the audit trail."""

    reason = forms.CharField(
        label=_("Why it is cancelled"), max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
