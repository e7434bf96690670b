"""The kinds of entries the audit timeline shows, and how a new kind joins it.

A kind is a model subclassing `portal.auditing.AuditAttempt` (which brings the
append-only guards, the hash chain and the columns the timeline filters on) plus an
`EntryKind` registered here from its app's `AppConfig.ready()`. Its app also adds
`timeline_indexes()` to the model's Meta and, in a migration, `append_only_trigger()`
from `audit.dbtriggers`. See audit/README.md.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from portal.auditing import Outcome

from .diff import flat_paths


@dataclass(frozen=True)
class EntryKind:
    slug: str  # in URLs, cursors and exports; never change it once entries exist
    model_label: str  # "app_label.ModelName"
    label: str  # the action in the user's words, e.g. "record added"
    summary: Callable[[object], str]  # one line for the timeline
    # Fields compared exactly with the search box; the phone field with its canonical form.
    search_fields: tuple[str, ...] = ("request_id",)
    phone_field: str = ""
    # A JSON field holding what the sent values replaced, for the field-by-field diff.
    before_field: str = ""
    # Columns of this kind in the exports, after the columns every kind shares.
    export_fields: tuple[str, ...] = ()
    # False for entries of the portal's own doing, which call nothing themselves (an
    # import's receipt): their page shows no Thulium answer and no field-by-field change.
    calls_thulium: bool = True

    @property
    def model(self):
        return apps.get_model(self.model_label)

    @property
    def detail_template(self) -> str:
        """This kind's own part of the entry page."""
        return f"audit/kinds/{self.slug}.html"


_registry: dict[str, EntryKind] = {}


def register(kind: EntryKind) -> None:
    _registry[kind.slug] = kind


def all_kinds() -> list[EntryKind]:
    """Every kind, in the fixed order that breaks ties between entries of the same instant."""
    return sorted(_registry.values(), key=lambda kind: kind.slug)


def get_kind(slug: str) -> EntryKind | None:
    return _registry.get(slug)


def kind_of(entry) -> EntryKind:
    label = type(entry)._meta.label
    return next(kind for kind in _registry.values() if kind.model_label == label)


def _campaign_change_summary(entry) -> str:
    return gettext("settings changed: %(fields)s") % {"fields": ", ".join(flat_paths(entry.sent))}


def _record_addition_summary(entry) -> str:
    if entry.record_id:
        return gettext("record added: %(phone)s (record id %(id)s)") % {
            "phone": entry.phone_number, "id": entry.record_id,
        }
    return gettext("record added: %(phone)s") % {"phone": entry.phone_number}


CAMPAIGN_CHANGE = EntryKind(
    slug="campaign-change",
    model_label="campaigns.CampaignChange",
    label=_("settings changed"),
    summary=_campaign_change_summary,
    before_field="settings_before",
    export_fields=("reason", "settings_before"),
)
RECORD_ADDITION = EntryKind(
    slug="record-addition",
    model_label="records.RecordAddition",
    label=_("record added"),
    summary=_record_addition_summary,
    search_fields=("request_id", "identifier", "record_id"),
    phone_field="phone_key",
    export_fields=("phone_number", "identifier", "record_id"),
)


def _change_request_summary(entry) -> str:
    return gettext("change request #%(id)s %(step)s: %(fields)s") % {
        "id": entry.change_request_id, "step": entry.get_action_display(),
        "fields": ", ".join(flat_paths(entry.sent)),
    }


CHANGE_REQUEST = EntryKind(
    slug="change-request",
    model_label="campaigns.ChangeRequestEvent",
    label=_("four-eyes step"),
    summary=_change_request_summary,
    before_field="settings_before",
    export_fields=("action", "change_request_id", "reason", "note"),
)


# What became of an import's rows, in the summary's order; counts of 0 are left out.
_IMPORT_COUNTS = (
    ("added", ngettext_lazy("%(n)d added", "%(n)d added", "n")),
    ("added_earlier", ngettext_lazy("%(n)d added earlier", "%(n)d added earlier", "n")),
    ("refused", ngettext_lazy("%(n)d refused", "%(n)d refused", "n")),
    ("failed", ngettext_lazy("%(n)d failed", "%(n)d failed", "n")),
    ("unknown", ngettext_lazy("%(n)d unknown", "%(n)d unknown", "n")),
    ("not_sent", ngettext_lazy("%(n)d not sent", "%(n)d not sent", "n")),
    ("rows_invalid", ngettext_lazy("%(n)d invalid", "%(n)d invalid", "n")),
    ("rows_duplicate", ngettext_lazy("%(n)d repeated in the file", "%(n)d repeated in the file",
                                     "n")),
    ("rows_already_added", ngettext_lazy("%(n)d already added", "%(n)d already added", "n")),
)


def _import_summary(entry) -> str:
    counts = ", ".join(str(words % {"n": getattr(entry, name)})
                       for name, words in _IMPORT_COUNTS if getattr(entry, name))
    if entry.outcome == Outcome.SUCCEEDED:  # the import ran to its end
        text = gettext("import of %(file)s: %(counts)s")
    else:
        text = gettext("import of %(file)s (%(result)s): %(counts)s")
    return text % {"file": entry.file_name, "result": entry.get_result_display(),
                   "counts": counts or gettext("no rows")}


IMPORT = EntryKind(
    slug="import",
    model_label="imports.ImportReceipt",
    label=_("records imported"),
    summary=_import_summary,
    search_fields=("file_sha256", "file_name"),
    export_fields=("job_id", "file_name", "file_sha256", "result", "rows_total", "added",
                   "added_earlier", "refused", "failed", "unknown", "not_sent", "rows_invalid",
                   "rows_duplicate", "rows_already_added"),
    calls_thulium=False,
)
