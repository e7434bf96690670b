"""The timeline's filters, read from the query string; nonsense is marked, never obeyed."""

import datetime

from django import forms
from django.contrib.auth import get_user_model
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from portal.campaign_choice import CampaignField
from portal.ids import id_from_text
from portal.phones import number_key
from portal.typed_moments import DATE_RANGE, TypedDateField, day_start

from .erasure import REFERENCE_LENGTH, clean_reference
from .kinds import kinds_by_label
from .models import Entry, Outcome
from .services import (
    NOT_SENT,
    Cursor,
    TimelineFilters,
    former_username,
    may_see_everyone,
    step_choice,
)

# The user filter's choice of the entries no user made.
PORTAL_ITSELF = "portal"


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self):
        super().__init__(format="%Y-%m-%d")


def _date_field(label):
    return TypedDateField(label=label, required=False, widget=DateInput(),
                          validators=DATE_RANGE)


class CursorField(forms.Field):
    """A page link's position; anything not made by the portal is refused."""

    widget = forms.HiddenInput

    def to_python(self, value):
        if not value:
            return None
        try:
            return Cursor.parse(str(value))
        except ValueError:
            raise forms.ValidationError(
                _("This page link is not valid: start again from the newest entries."),
                code="invalid",
            ) from None


class TimelineFilterForm(forms.Form):
    """Filters that combine; user and campaign are chosen among those that exist."""

    user = forms.ChoiceField(label=_("User"), required=False)
    campaign = CampaignField(label=_("Campaign"), empty_label=_("all campaigns"))
    kind = forms.ChoiceField(label=_("Action"), required=False)
    outcome = forms.ChoiceField(label=_("Outcome"), required=False)
    date_from = _date_field(_("From"))
    date_to = _date_field(_("To"))
    q = forms.CharField(
        # As long as a search term may be (an import's file name: up to 255 characters).
        label=_("Search"), required=False, max_length=255,
        help_text=_("A phone number, identifier, record id, request_id, or an import's file "
                    "name or SHA-256, exactly."),
    )
    before = CursorField(required=False)
    after = CursorField(required=False)

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.sees_everyone = may_see_everyone(viewer)
        users = (get_user_model().objects.order_by(get_user_model().USERNAME_FIELD)
                 if self.sees_everyone else [viewer])
        self.fields["user"].choices = [
            # Also for one who sees only their own: others' entries are listed, in outline.
            ("", _("everyone")),
            *((str(user.pk), user.get_username()) for user in users),
            *self._deleted_user_choice(),
            # The entries of the portal's own doing (its worker's, a command's) have no user.
            *([(PORTAL_ITSELF, _("the portal itself (no user)"))] if self.sees_everyone else []),
        ]
        # The campaigns the log can name, without audit knowing the app that keeps them.
        self.fields["campaign"].fit(Entry._meta.get_field("campaign").related_model.objects)
        self.fields["kind"].choices = [
            ("", _("any action")), *((kind.slug, kind.label) for kind in kinds_by_label())
        ]
        # What the outcome column shows: an outcome, "not sent" for a call not made, or the
        # step a kind records in its place (a request rejected reads "rejected", and is not
        # found as "succeeded"; an addition not sent is not found as "failed").
        self.fields["outcome"].choices = [
            ("", _("any outcome")), *Outcome.choices,
            *([(NOT_SENT, _("not sent"))] if any(kind.not_sent_details
                                                 for kind in kinds_by_label()) else []),
            *((capfirst(kind.label), [(step_choice(kind, step), label)
                                      for step, label in kind.steps])
              for kind in kinds_by_label() if kind.steps),
        ]
        for field in self.fields.values():
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs["class"] = "form-select" if is_select else "form-control"

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["class"] += " is-invalid"

    def _deleted_user_choice(self) -> list[tuple[str, str]]:
        """A deleted user asked for by id (from an entry's link), named as the entries name them."""
        wanted = self.data.get("user", "")
        pk = id_from_text(wanted)
        if not self.sees_everyone or pk is None:
            return []
        if get_user_model().objects.filter(pk=pk).exists():
            return []
        name = former_username(pk)
        return [(wanted, _("%(name)s (deleted)") % {"name": name})] if name else []

    def clean_campaign(self):
        campaign = self.cleaned_data["campaign"]
        return campaign.pk if campaign else None

    def clean_user(self):
        user = self.cleaned_data["user"]
        if not user:
            return None
        return user if user == PORTAL_ITSELF else int(user)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end date cannot be before the start date."))
        if cleaned.get("before") and cleaned.get("after"):
            self.add_error("after", _("A page cannot be both older and newer than another."))
        return cleaned

    def filters(self) -> TimelineFilters:
        """The valid filters, dates as instants in the portal's time zone (the end day whole)."""
        data = self.cleaned_data
        return TimelineFilters(
            actor_id=data["user"] if isinstance(data["user"], int) else None,
            by_portal=data["user"] == PORTAL_ITSELF,
            campaign_id=data["campaign"],
            kind=data["kind"],
            outcome=data["outcome"],
            since=day_start(data["date_from"]) if data["date_from"] else None,
            until=(day_start(data["date_to"] + datetime.timedelta(days=1))
                   if data["date_to"] else None),
            search=data["q"].strip(),
        )


class ForgetNumberForm(forms.Form):
    """A person's request to be forgotten: their number, and the request's reference."""

    number = forms.CharField(label=_("Phone number"), max_length=40)
    reference = forms.CharField(
        label=_("Reference"), max_length=REFERENCE_LENGTH,
        help_text=_("The request's case number or other reference, kept in the audit trail."),
    )

    def clean_number(self):
        number = self.cleaned_data["number"]
        number_key(number)  # raises ValidationError when it is not a phone number
        return number

    def clean_reference(self):
        return clean_reference(self.cleaned_data["reference"])

    def clean(self):
        data = super().clean()
        if "number" in data and "reference" in data:
            try:
                clean_reference(data["reference"], key=number_key(data["number"]))
            except forms.ValidationError as error:
                self.add_error("reference", error)
        return data
