"""The campaign form: `PUT outbounds/:id`, field for field, with Thulium's documented rules."""

import datetime
from decimal import Decimal

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout, Submit
from django import forms
from django.core import signing
from django.core.validators import RegexValidator
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from portal.kept_text import validate_no_phone_number
from portal.phones import without_separators
from portal.typed_moments import TypedDateField

from .labels import LABELS, PARAMETERS, TOP_LEVEL
from .models import Dialer
from .risk import risk_labels, risky_changes
from .schedule_forms import ScheduleTimeField
from .services import merged_settings

EDITABLE = (*TOP_LEVEL, *PARAMETERS)
_BASE_SALT = "campaigns.form-base"


class CallerIdField(forms.CharField):
    """A caller ID typed as people write phone numbers ("22 123-45-67"), kept as its digits."""

    def to_python(self, value):
        return without_separators(super().to_python(value))


class RatioField(forms.DecimalField):
    """An over-dialing ratio. A value that is no number ("NaN", "sNaN", "Infinity") is
    refused as it is read: Django's field reads them as decimals, and comparing a
    signalling NaN with the value shown raised an error instead of naming the field."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and not value.is_finite():
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return value


def _ratio_field(label):
    return RatioField(
        label=label, required=False, min_value=Decimal("0.01"), max_value=Decimal("1000"),
        max_digits=6, decimal_places=2, localize=True,
    )


class CampaignForm(forms.Form):
    """Shows the settings the portal last knew; only what the user changes is sent."""

    name = forms.CharField(label=LABELS["name"], max_length=255)
    dialer = forms.ChoiceField(label=LABELS["dialer"],
                               choices=[("", "---------"), *Dialer.choices], required=False)
    active = forms.NullBooleanField(label=LABELS["active"], required=False)
    start_date = TypedDateField(label=LABELS["start_date"], required=False)
    end_date = TypedDateField(label=LABELS["end_date"], required=False)
    order = forms.IntegerField(label=LABELS["order"], required=False, min_value=1,
                               max_value=99999)
    parity = forms.IntegerField(label=LABELS["parity"], required=False, min_value=1,
                                max_value=100)
    group_id = forms.IntegerField(label=LABELS["group_id"], required=False, min_value=1,
                                  max_value=2_147_483_647)
    caller_id = CallerIdField(
        label=LABELS["caller_id"], required=False, max_length=20,
        # [0-9], not \d: \d also matches non-ASCII digits (e.g. full-width) no dialer takes.
        validators=[RegexValidator(
            r"^[0-9]+\Z", _("A caller ID is digits only, with no +; spaces and dashes between "
                            "them are removed."))],
    )
    preview_timeout = forms.IntegerField(
        label=LABELS["preview_timeout"], required=False, min_value=1, max_value=86400
    )
    predictive_max_calls = _ratio_field(LABELS["predictive_max_calls"])
    predictive_min_calls = _ratio_field(LABELS["predictive_min_calls"])
    reason = forms.CharField(
        label=_("Reason for the change"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}), validators=[validate_no_phone_number],
        help_text=_("Kept in the audit trail; not sent to Thulium. Required for risky changes."),
    )
    # The settings and their version that the form showed, signed: saving a form opened
    # before another change is refused instead of overwriting that change.
    base = forms.CharField(widget=forms.HiddenInput, required=False)
    # The entry whose change this one restores ("Restore previous values").
    reverts = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    apply_at = ScheduleTimeField()

    def __init__(self, *args, known_settings: dict | None = None, version: int = 0,
                 proposed: dict | None = None, initial: dict | None = None, **kwargs):
        """`proposed` (a PUT body) is shown instead of the known values, and sent unless
        the user changes it back; `initial` gives the other fields' starting values."""
        self.known_settings = known_settings or {}
        # Filled by clean(): what makes the change risky (see campaigns/risk.py).
        self.risks = []
        shown = merged_settings(self.known_settings, proposed or {})
        super().__init__(*args, initial={
            **(initial or {}), **initial_from_settings(shown),
            "base": signing.dumps({"version": version, "settings": self.known_settings},
                                  salt=_BASE_SALT, compress=True),
        }, **kwargs)
        self._offer_held_dialer()

    def _offer_held_dialer(self) -> None:
        """Offer a dialer Thulium holds that the form does not ("power"), as Thulium names
        it: without an option for it, the browser posted "" and every change to the
        campaign was refused as clearing the dialer. Kept as it is, it is not sent."""
        held = self.known_settings.get("dialer")
        field = self.fields["dialer"]
        if isinstance(held, str) and held and held not in dict(field.choices):
            field.choices = [*field.choices, (held, held)]

    @cached_property
    def helper(self) -> FormHelper:
        """The page's layout, built only when the form is shown."""
        helper = FormHelper()
        helper.layout = Layout(
            Fieldset(_("Campaign"), *TOP_LEVEL),
            Fieldset(_("Parameters"), *PARAMETERS),
            "reason",
            "apply_at",
            "base", "reverts",
            Submit("submit", _("Send to Thulium")),
        )
        return helper

    def clean(self):
        cleaned = super().clean()
        for name in set(EDITABLE) - set(self.changed_data):
            if name in self._errors and self.initial.get(name) is not None:
                # What Thulium holds and the user left as it is, though outside the
                # portal's own limits (2.345, a timeout over a day): Thulium accepted it,
                # and judging it would block every other change to the campaign.
                del self._errors[name]
                cleaned[name] = self.initial[name]
        for name in set(self.changed_data) & set(EDITABLE):
            if cleaned.get(name, 0) in (None, "") and self.initial.get(name) not in (None, ""):
                # The API has no way to unset a value; sending null would be refused.
                self.add_error(name, _("Thulium cannot clear this setting; enter a value."))
        start, end = self._effective("start_date"), self._effective("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("The end date cannot be before the start date."))
        low, high = self._effective("predictive_min_calls"), self._effective("predictive_max_calls")
        if low is not None and high is not None and low > high:
            self.add_error(
                "predictive_min_calls", _("The minimum cannot be above the maximum.")
            )
        self.risks = risky_changes(self.to_payload(), self.known_settings)
        if self.risks and not cleaned.get("reason") and "reason" not in self.errors:
            risks = "; ".join(risk_labels(self.risks))
            self.add_error("reason", _("Say why: this change %(risks)s.") % {"risks": risks})
        return cleaned

    def clean_base(self) -> dict | None:
        """The version and settings the form was opened on; None if the token is damaged."""
        try:
            base = signing.loads(self.cleaned_data["base"], salt=_BASE_SALT)
        except signing.BadSignature:
            return None
        return base if isinstance(base, dict) else None

    def _effective(self, name):
        """The value Thulium will hold after the change (the form starts from the known one)."""
        return self.cleaned_data.get(name)

    def to_payload(self) -> dict:
        """Exactly the JSON body for PUT outbounds/:id: changed fields only."""
        payload, parameters = {}, {}
        for name in self.changed_data:
            if name not in EDITABLE:
                continue
            # A field with an error has no cleaned value and is not sent.
            value = self.cleaned_data.get(name)
            if value is None or value == "":
                continue
            target = parameters if name in PARAMETERS else payload
            target[name] = _to_json(value)
        if parameters:
            payload["parameters"] = parameters
        return payload


def initial_from_settings(known: dict) -> dict:
    """The known settings as typed form values, so that unchanged fields compare equal.

    Values that the form could not show (an unexpected type from Thulium) are left out,
    so they count as unknown rather than breaking the page.
    """
    parameters = known.get("parameters")
    flat = {**known, **(parameters if isinstance(parameters, dict) else {})}
    initial = {}
    for name in EDITABLE:
        if flat.get(name) is None:
            continue
        try:
            initial[name] = CampaignForm.base_fields[name].to_python(_as_form_input(flat[name]))
        except forms.ValidationError:
            continue
    return initial


def _as_form_input(value):
    """A stored JSON value as a browser would post it (booleans as the select's words)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
def settings_rows(known: dict) -> list[tuple[str, object]]:
    """The known settings as (label, value) in the user's words, in the form's order."""
    flat = initial_from_settings(known)
    rows = [(CampaignForm.base_fields[name].label, shown_value(name, flat[name]))
            for name in EDITABLE if name in flat]
    # Settings Thulium sends that the form does not edit are shown by their API name.
    editable = {*TOP_LEVEL, *PARAMETERS, "parameters"}
    rows += [(name, value) for name, value in known.items() if name not in editable]
    return rows


def shown_value(name: str, value):
    """A form value in the user's words ("—" when unknown)."""
    if value is None:
        return "—"
    if name == "dialer" and value in Dialer.values:
        return Dialer(value).label
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return value


def _to_json(value):
    if isinstance(value, datetime.date):
        # isoformat pads years below 1000 to four digits; strftime("%Y") does not on Linux.
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class RejectionForm(forms.Form):
    """Why a change request is refused; optional, kept with the decision."""

    note = forms.CharField(
        label=_("Why it is rejected"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}), validators=[validate_no_phone_number],
    )
