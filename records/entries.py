"""The records app's kinds of audit entries: a record sent to a campaign, and a check in
Thulium of one whose answer was lost."""

from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from audit.kinds import EntryKind
from portal.shown_times import shown_minute
from portal.thulium.dates import thulium_moment

from .forms import record_field_label
from .landing import in_flight

# Both kinds name a record by its number, identifier and Thulium id: found by the same
# search, written in the same export columns.
_SEARCH = ("sent.identifier", "results.record_id")
_COLUMNS = (("phone_number", "sent.phone_number"), ("identifier", "sent.identifier"),
            ("record_id", "results.record_id"))


# Why a begun addition was not sent, as its detail keeps it (in English; audit's
# `detail_words` says it in the reader's language). The list is looked up again just before
# each POST, as a number may be put on it between the first check (a form's, an import's
# claim) and the call (an import's batch waits minutes for its turn); an import's rows left
# when it is cancelled or stopped, or when its worker failed first, are not sent either.
LISTED_SINCE_CHECKED = gettext_noop("Not sent: the number was put on the do-not-call list "
                                    "after it was checked.")
IMPORT_ENDED_FIRST = gettext_noop("Not sent: the import was cancelled or stopped first.")
IMPORT_NOT_BEGUN = gettext_noop("Not sent yet: the import's worker failed before sending it.")
NOT_SENT_DETAILS = (LISTED_SINCE_CHECKED, IMPORT_ENDED_FIRST, IMPORT_NOT_BEGUN)


def _summary(entry) -> str:
    """"record added" only once Thulium said so; before, and when it refused, the entry is
    the addition ("record added: 601234567 · refused" said it was and was not)."""
    phone = entry.sent.get("phone_number", "")
    record_id = entry.results.get("record_id")
    if record_id:
        return gettext("record added: %(phone)s (record id %(id)s)") % {"phone": phone,
                                                                        "id": record_id}
    return gettext("record addition: %(phone)s") % {"phone": phone}


def _value_label(path: str, value) -> str | None:
    """The next call in the portal's zone, as its other times are shown: Thulium is sent
    Warsaw's wall-clock time, which reads hours off where the portal keeps another zone."""
    if path == "next_call_date" and isinstance(value, str):
        moment = thulium_moment(value)
        return shown_minute(moment) if moment else None
    return None


RECORD_ADDITION = EntryKind(
    slug="record-addition",
    label=_("record addition"),
    summary=_summary,
    template="audit/kinds/record-addition.html",
    # The person's number, identifier and field values; Thulium's answer about them may
    # repeat them.
    personal=("sent.phone_number", "sent.identifier", "sent.record_fields.*", "messages.*",
              "detail"),
    phone="sent.phone_number",
    other_phones=("sent.record_fields.*",),
    search=_SEARCH,
    field_label=record_field_label,
    value_label=_value_label,
    export_columns=_COLUMNS,
    of_campaign=True,
    in_flight=in_flight,
    # Completed as failed, but never sent: its page said "Sent to Thulium, exactly" and
    # "failed", which read as Thulium's failure.
    not_sent_details=NOT_SENT_DETAILS,
)


def _check_summary(entry) -> str:
    phone = entry.sent.get("phone_number", "")
    if entry.results.get("record_id"):
        return gettext("checked in Thulium: %(phone)s is held (record id %(id)s)") % {
            "phone": phone, "id": entry.results["record_id"]}
    if entry.results.get("found"):  # listed without its id (records.services)
        return gettext("checked in Thulium: %(phone)s is held (listed without a record id)") % {
            "phone": phone}
    if entry.results.get("found") is False:
        return gettext("checked in Thulium: %(phone)s is not held") % {"phone": phone}
    return gettext("checked in Thulium: %(phone)s") % {"phone": phone}


RECORD_CHECK = EntryKind(
    slug="record-check",
    label=_("checked in Thulium"),
    summary=_check_summary,
    template="audit/kinds/record-check.html",
    # The number and identifier it looked for; Thulium's answer may repeat them.
    personal=("sent.phone_number", "sent.identifier", "messages.*", "detail"),
    phone="sent.phone_number",
    search=_SEARCH,
    field_label=record_field_label,
    export_columns=_COLUMNS,
    of_campaign=True,
    # Its `sent` is what was looked for, and the days the records were listed from and to.
    only_reads=True,
)
