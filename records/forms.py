"""The record form: `POST outbounds/:id/records`, field for field, with Thulium's rules.

Single additions and bulk imports both validate through this form, so a row of a file
is held to exactly the same rules as a record typed by hand.
"""


from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout, Submit
from django import forms
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from audit.models import Entry
from audit.services import may_see_entry
from donotcall.lookup import ON_THE_LIST, blocked
from portal.invisible import without_invisible
from portal.phones import (
    check_one_number,
    check_own_country,
    normalise_phone,
    number_to_send,
    phone_key,
)
from portal.shown_times import shown_short_time
from portal.spreadsheets import AS_DECIMAL, EXCEL_SCIENTIFIC
from portal.thulium.dates import thulium_datetime, thulium_time_repeated
from portal.typed_moments import LocalMomentField, zone_name

from .models import AddedRecord
from .thulium_choices import ThuliumChoiceField

FIELD_PREFIX = "record_fields."
# System statuses whose records Thulium refuses without these parameters.
REQUIRED_BY_SYSTEM_STATUS = {
    "MY_RECORD": ("agent_login", "next_call_date"),
    "CALL_NO_SOONER_THAN": ("next_call_date",),
}


class RecordForm(forms.Form):
    phone_number = forms.CharField(
        label=_("Phone number"), max_length=40,
        help_text=_("6 to 15 digits; spaces, dashes, dots and brackets are removed."),
    )
    status_id = ThuliumChoiceField(label=_("Status"), required=False, refusal=_(
        "“%(value)s” is neither the id of one of this campaign's statuses nor the name of "
        "only one: %(accepted)s"))
    dictionary_status_id = ThuliumChoiceField(
        label=_("Dictionary status"), required=False,
        refusal=_("“%(value)s” is not one of this campaign's dictionary statuses: "
                  "%(accepted)s"))
    agent_login = ThuliumChoiceField(label=_("Agent"), required=False, refusal=_(
        "“%(value)s” is not the login of one of this campaign's agents: %(accepted)s"))
    next_call_date = LocalMomentField(
        label=_("Next call"), required=False,
        help_text=format_lazy(_("In the portal's time zone, {zone}. A date alone means from "
                                "the start of that day."), zone=zone_name()),
    )
    identifier = forms.CharField(
        label=_("Identifier"), required=False, max_length=64,
        help_text=_("Your own unique id for the record; Thulium edits records only by it."),
    )
    # The range of a record's order is undocumented; the campaign's 1-99999 is used.
    order = forms.IntegerField(label=_("Order"), required=False, min_value=1, max_value=99999)

    # Chosen from Thulium's lists: a page posted when Thulium could not give them keeps the
    # choice, to be checked once it can (`choices_unread`).
    FROM_THULIUM = ("status_id", "dictionary_status_id", "agent_login")

    def __init__(self, *args, campaign, statuses=(), agents=(), earlier=None, viewer=None,
                 choices_unread: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        self.choices_unread = choices_unread
        # Who fills the form in: the earlier addition of a number is linked only for one who
        # may open its entry.
        self.viewer = viewer
        # A bulk import loads its rows' earlier additions a batch at a time (imports.checking).
        self.in_bulk = earlier is not None
        self.earlier = earlier or EarlierAdditions(campaign)
        self.statuses = {
            str(s["status_id"]): s for s in statuses if s.get("status_id") is not None
        }
        self.dictionary_ids = {
            str(s["dictionary_status_id"]): s["dictionary_status_id"]
            for s in statuses if s.get("dictionary_status_id") is not None
        }
        self.fields["status_id"].offer(
            [(key, f"{s.get('name', key)} ({s.get('system_status', '?')})")
             for key, s in self.statuses.items()],
            names={key: s["name"] for key, s in self.statuses.items() if s.get("name")},
        )
        self.fields["dictionary_status_id"].offer([(key, key) for key in self.dictionary_ids])
        self.fields["agent_login"].offer([(a["login"], a["login"]) for a in agents
                                          if a.get("login")])
        if choices_unread and self.is_bound:
            for name in self.FROM_THULIUM:
                if chosen := self.data.get(name):
                    self.fields[name].choices = [*self.fields[name].choices, (chosen, chosen)]
        self.structure_fields = [] if campaign.is_crm else list(campaign.structure_fields)
        for name in self.structure_fields:
            self.fields[FIELD_PREFIX + name] = forms.CharField(
                label=name, required=False, max_length=1000
            )

    @cached_property
    def helper(self) -> FormHelper:
        """The page's layout, built only when the form is shown (not for every import row)."""
        helper = FormHelper()
        own = [name for name in self.fields if not name.startswith(FIELD_PREFIX)]
        layout = [Fieldset(_("Record"), *own)]
        if self.structure_fields:
            layout.append(
                Fieldset(_("Campaign fields"), *[FIELD_PREFIX + n for n in self.structure_fields])
            )
        helper.layout = Layout(*layout, Submit("submit", _("Add to the campaign")))
        return helper

    def rebind(self, data) -> "RecordForm":
        """This form bound to another record's data, for validating many rows.

        Building a form costs ten times more than validating one, so a bulk import binds
        one form to row after row: the same fields and rules, none of the set-up.
        """
        self.data, self.is_bound, self._errors = data, True, None
        self.number_key = ""  # the previous row's, until this one's number is read
        return self

    def clean_phone_number(self):
        typed = self.cleaned_data["phone_number"]
        # Before the separators are removed, which would glue the two numbers into one.
        check_one_number(typed)
        number = normalise_phone(typed)
        # Kept for bulk imports, which also compare the numbers within one file (and key
        # a refused row by it, for an erasure to find).
        self.number_key = phone_key(number)
        # Judged by the country's plan here, not in normalise_phone: an erasure and the
        # do-not-call list still take a number the portal accepted before.
        check_own_country(number)
        # An import's preview asks the list about all its rows at once (imports.checking).
        if not self.in_bulk and blocked(self.campaign, [self.number_key]):
            # Record loaders learn that it is blocked, not why: the note is for compliance.
            raise forms.ValidationError(ON_THE_LIST, code="suppressed")
        earlier = self.earlier.get(self.number_key)
        if earlier:
            when = {"when": shown_short_time(earlier.created_at),
                    "outcome": earlier.get_status_display()}
            if self._may_open(earlier):
                said = format_html('{} <a href="{}">{}</a>',
                                   _("This portal already added this number to the campaign."),
                                   reverse("audit:entry", args=[earlier.entry_id]),
                                   _("See the earlier addition (%(when)s, %(outcome)s).") % when)
            else:
                said = _("This portal already added this number to the campaign (%(when)s, "
                         "%(outcome)s).") % when
            raise forms.ValidationError(said, code="duplicate")
        return number_to_send(number)

    def _may_open(self, earlier) -> bool:
        if self.viewer is None:
            return True
        actor_id = Entry.objects.filter(pk=earlier.entry_id).values_list("actor_id",
                                                                         flat=True).first()
        return may_see_entry(self.viewer, Entry(pk=earlier.entry_id, actor_id=actor_id))

    def clean_identifier(self):
        identifier = identifier_meant(self.cleaned_data["identifier"])
        if EXCEL_SCIENTIFIC.fullmatch(identifier):
            # Long numeric ids from a spreadsheet: sent so, several would become one.
            raise forms.ValidationError(
                _("Excel wrote this identifier in scientific notation (%(value)s), which has "
                  "lost its last digits: upload the .xlsx workbook itself, or format the "
                  "column as Text in Excel and save the CSV again."),
                code="scientific", params={"value": identifier},
            )
        if AS_DECIMAL.fullmatch(identifier):
            # Sent so, it is not the id the customer's system knows the record by.
            raise forms.ValidationError(
                _("This identifier was written as a decimal number (%(value)s): format the "
                  "column as Text, or without decimal places, and save the file again."),
                code="decimal", params={"value": identifier},
            )
        # Thulium refuses an identifier the campaign already has.
        if identifier and self.earlier.has_identifier(identifier):
            raise forms.ValidationError(
                _("This portal already added a record with this identifier to the campaign."),
                code="duplicate",
            )
        return identifier

    def clean_next_call_date(self):
        moment = self.cleaned_data.get("next_call_date")
        # The portal's zone may be another than Poland's, or the time typed with its offset:
        # the form refuses a time the clocks repeat in the portal's zone, not in Thulium's.
        if moment is not None and thulium_time_repeated(moment):
            raise forms.ValidationError(
                _("%(value)s, as Thulium keeps time (Poland), happens twice as the clocks go "
                  "back, and Thulium could take it for either: choose another time."),
                code="clock_change", params={"value": thulium_datetime(moment)})
        return moment

    def clean(self):
        cleaned = super().clean()
        for name in self.FROM_THULIUM if self.choices_unread else ():
            if cleaned.get(name):
                self.add_error(name, _(
                    "Thulium's statuses and agents could not be read, so this choice cannot "
                    "be checked: send again in a moment, or leave it empty."))
        status = self.statuses.get(cleaned.get("status_id") or "")
        required = REQUIRED_BY_SYSTEM_STATUS.get((status or {}).get("system_status"), ())
        for name in required:
            if not cleaned.get(name) and name not in self.errors:
                self.add_error(
                    name,
                    _("Required for the status %(status)s (system status %(system)s).")
                    % {"status": status.get("name", ""), "system": status["system_status"]},
                )
        return cleaned

    def to_payload(self) -> dict:
        """Exactly the JSON body for POST outbounds/:id/records: given values only."""
        data = self.cleaned_data
        payload = {"phone_number": data["phone_number"]}
        if data.get("status_id"):
            payload["status_id"] = self.statuses[data["status_id"]]["status_id"]
        if data.get("dictionary_status_id"):
            payload["dictionary_status_id"] = self.dictionary_ids[data["dictionary_status_id"]]
        for name in ("identifier", "agent_login", "order"):
            if data.get(name) not in (None, ""):
                payload[name] = data[name]
        if data.get("next_call_date"):
            payload["next_call_date"] = thulium_datetime(data["next_call_date"])
        fields = {
            name: data[FIELD_PREFIX + name]
            for name in self.structure_fields if data.get(FIELD_PREFIX + name)
        }
        if fields:
            payload["record_fields"] = fields
        return payload


def identifier_meant(typed: str) -> str:
    """The identifier without the invisible characters a paste brings along: kept, they
    made "OZE-1" another identifier than the one the portal added, and reached Thulium."""
    return without_invisible(typed).strip()


class EarlierAdditions:
    """What the portal added to the campaign, read a batch of a bulk import's rows at a time.

    Only the batch's numbers and identifiers are read (`load`), so a preview costs what its
    file holds, not what the campaign ever received. A number or identifier no batch asked
    about is looked up on its own, so an answer never depends on what was loaded.
    """

    def __init__(self, campaign):
        self.campaign = campaign
        self._by_key: dict[str, AddedRecord] = {}
        self._identifiers: set[str] = set()
        self._asked_keys: set[str] = set()
        self._asked_identifiers: set[str] = set()

    def load(self, keys, identifiers) -> None:
        """Read what the campaign holds of these number keys and identifiers, in place of
        the previous batch's."""
        self._asked_keys, self._asked_identifiers = set(keys), set(filter(None, identifiers))
        # An empty set asks the database nothing (Django knows no row matches).
        records = self._added().filter(phone_key__in=self._asked_keys).only(
            "entry_id", "phone_key", "created_at", "status")
        self._by_key = {record.phone_key: record for record in records}
        self._identifiers = set(self._added().filter(identifier__in=self._asked_identifiers)
                                .values_list("identifier", flat=True))

    def get(self, key: str) -> AddedRecord | None:
        if key in self._asked_keys:
            return self._by_key.get(key)
        # One row at most (a number is known once per campaign): no ordering to ask for.
        found = self._added().filter(phone_key=key).only("entry_id", "created_at", "status")[:1]
        return found[0] if found else None

    def has_identifier(self, identifier: str) -> bool:
        if identifier in self._asked_identifiers:
            return identifier in self._identifiers
        return self._added().filter(identifier=identifier).exists()

    def _added(self):
        return AddedRecord.objects.filter(campaign_id=self.campaign.pk)


def record_field_label(path: str) -> str | None:
    """A field of a sent record by its path, as the form labels it; the campaign's own
    fields ("record_fields.imie") go by their names, which are their labels."""
    field = RecordForm.base_fields.get(path)
    return field.label if field else None
