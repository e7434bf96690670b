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
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

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
