"""The do-not-call list's kinds of audit entries: a number put on the list, and taken off.

Neither calls Thulium. The number and the note are personal data: an erasure finds the
entries by the number's digest and replaces both.
"""

from django.utils.translation import gettext, gettext_noop, ngettext
from django.utils.translation import gettext_lazy as _

from audit.kinds import EntryKind

from .models import Suppression

_PERSONAL = ("sent.phone_number", "sent.note")
# Named apart from the export's shared columns ("reason" is the one a user typed).
_COLUMNS = (("phone_number", "sent.phone_number"), ("donotcall_scope", "sent.campaign"),
            ("donotcall_reason", "sent.reason"), ("donotcall_source", "sent.source"),
            ("donotcall_expires_on", "sent.expires_on"))


def _added(entry) -> str:
    return gettext("put on the do-not-call list: %(phone)s") % {
        "phone": entry.sent.get("phone_number", "")}


def _removed(entry) -> str:
    return gettext("taken off the do-not-call list: %(phone)s") % {
        "phone": entry.sent.get("phone_number", "")}


_WORDS = {"reason": Suppression.Reason, "source": Suppression.Source}


def _value_label(path: str, value) -> str | None:
    """The stored reason and source ("request", "typed") in the user's words."""
    choices = _WORDS.get(path)
    return str(choices(value).label) if choices and value in choices.values else None


# The reason of an expired entry's removal when its number is put on the list again.
RENEWED = gettext_noop("expired; the number was added to the list again")
# The reason of the worker's removal of an entry expired DONOTCALL_KEEP_DAYS before.
EXPIRED_LONG_AGO = gettext_noop("expired longer ago than the list keeps an expired entry")


def _kind(slug: str, label, summary) -> EntryKind:
    return EntryKind(slug=slug, label=label, summary=summary, value_label=_value_label,
                     own_reasons=(RENEWED, EXPIRED_LONG_AGO),
                     template="audit/kinds/donotcall.html", personal=_PERSONAL,
                     phone="sent.phone_number", export_columns=_COLUMNS, calls_thulium=False,
                     # The number's digest, which finds an entry whose number was erased
                     # (its removal, after the erasure) by the number, as the erasure's
                     # own entry is found.
                     search=("details.digest",),
                     of_campaign=True)


def _uploaded(entry) -> str:
    added = entry.details.get("added", 0) + entry.details.get("renewed", 0)
    return ngettext("%(n)d number put on the do-not-call list from %(file)s",
                    "%(n)d numbers put on the do-not-call list from %(file)s", added) % {
        "n": added, "file": entry.sent.get("file_name", "")}


DONOTCALL_ADDITION = _kind("donotcall-addition", _("put on the do-not-call list"), _added)
DONOTCALL_REMOVAL = _kind("donotcall-removal", _("taken off the do-not-call list"), _removed)
# An upload: one entry for its file, not one per number (200,000 entries held the request
# for minutes). The list's rows point at it (Suppression.upload_entry) and it is found by
# each of their numbers; it holds none itself, so an erasure of one leaves it as it is.
# Its numbers whose expired entries it replaced are counted apart ("renewed", not "added"):
# it took those entries off, where a removal entry each took as long as the upload.
DONOTCALL_UPLOAD = EntryKind(
    slug="donotcall-upload", label=_("file uploaded to the do-not-call list"),
    summary=_uploaded, value_label=_value_label, personal=("sent.note",),
    template="audit/kinds/donotcall-upload.html",
    export_columns=(("file_name", "sent.file_name"), ("donotcall_scope", "sent.campaign"),
                    ("donotcall_reason", "sent.reason"),
                    ("donotcall_expires_on", "sent.expires_on"),
                    ("donotcall_added", "details.added"),
                    ("donotcall_renewed", "details.renewed"),
                    ("donotcall_already", "details.already")),
    calls_thulium=False, search=("sent.file_name",), of_campaign=True)
