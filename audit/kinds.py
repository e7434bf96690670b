"""The kinds of audit entries, registered by the apps that write them.

`audit` knows no feature app: each registers its kinds from its own `AppConfig.ready()`,
with how an entry of the kind reads in the timeline, on its page and in the exports, and
which of its values are personal data (see `audit.personal`). See audit/README.md.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .diff import no_label, no_value_label


def never(entry) -> bool:
    """No pending entry of the kind is in flight (EntryKind.in_flight's default)."""
    return False


@dataclass(frozen=True)
class EntryKind:
    slug: str  # stored in every entry; never change it once entries exist
    label: str  # the action in the user's words, e.g. "record addition"
    summary: Callable[[object], str]  # one line for the timeline
    # This kind's own lines of the entry page.
    template: str = "audit/kinds/plain.html"
    # Places ("sent.identifier", "sent.record_fields.*", "messages") holding personal data.
    # The chain covers their digests: never change them once entries exist.
    personal: tuple[str, ...] = ()
    # Where the phone number of the person the entry concerns is ("sent.phone_number").
    phone: str = ""
    # Places that may hold another number of theirs ("sent.record_fields.*": a mobile beside
    # the landline dialled): a phone number a value spells finds the entry too, in the
    # search box and for an erasure of that number.
    other_phones: tuple[str, ...] = ()
    # Places whose values the search box finds exactly (personal ones by their digest).
    search: tuple[str, ...] = ()
    # The place of what the sent values replaced, for the field-by-field diff.
    before: str = ""
    # The place of the new values in that diff: what was sent, or what was found.
    after: str = "sent"
    # A field of that diff (its path, "parameters.caller_id") in the user's words, or None.
    field_label: Callable[[str], str | None] = no_label
    # A value of such a field (its path, the value) in the user's words, or None.
    value_label: Callable[[str, object], str | None] = no_value_label
    # Reasons the portal gives itself (English, marked with gettext_noop), shown in the
    # reader's language; any other reason is a user's words, shown as typed.
    own_reasons: tuple[str, ...] = ()
    # Columns of this kind in the exports after the shared ones: (column, place).
    export_columns: tuple[tuple[str, str], ...] = ()
    # False for entries of the portal's own doing, which call nothing themselves (an
    # import's receipt): their page shows no Thulium answer and no field-by-field change.
    calls_thulium: bool = True
    # For a kind whose entries each record a step and call nothing (a request rejected, a
    # scheduled change cancelled): the steps its entries keep in `details.step`, each with
    # its words, shown where a completed entry's outcome is, as "succeeded" there read as
    # Thulium's acceptance; the timeline's outcome filter offers them so too. The outcome
    # stored stays.
    steps: tuple[tuple[str, str], ...] = ()
    # True for a kind whose call only reads Thulium (a check lists a campaign's records):
    # its page shows Thulium's answer, and no field-by-field change nor a body sent; its
    # template says what was asked.
    only_reads: bool = False
    # Whether a pending entry of this kind may still be waiting for Thulium's answer (its
    # call under way); one that is not reads as a call that never finished.
    in_flight: Callable[[object], bool] = never
    # The details (`detail`, as stored) that mark a failed entry of this kind as begun for a
    # call then not made (an addition whose number was put on the do-not-call list
    # meanwhile): its page says what was to be sent, and "not sent" where its outcome
    # (failed) is, and the timeline's outcome filter finds it so (audit.services.not_sent).
    not_sent_details: tuple[str, ...] = ()
    # What the entry's user did, for a kind whose action is not theirs (a change found made
    # outside the portal, by whoever's page read the campaign): shown beside their name, which
    # read as the author of the change.
    actor_role: str = ""
    # Entries of this kind concern one campaign: its page offers the kind as a filter of
    # its history (an import's thousands of records can bury its settings' changes).
    of_campaign: bool = False


_registry: dict[str, EntryKind] = {}


def register(kind: EntryKind) -> EntryKind:
    _registry[kind.slug] = kind
    return kind


def all_kinds() -> list[EntryKind]:
    return sorted(_registry.values(), key=lambda kind: kind.slug)


def kinds_by_label() -> list[EntryKind]:
    """Every kind in the order of its label in the reader's language, as a list to choose
    from reads: in the slugs' order, "settings changed" came second and "konto zmienione"
    (account) first."""
    return sorted(_registry.values(), key=lambda kind: str(kind.label).casefold())


def campaign_kinds() -> list[EntryKind]:
    """The kinds a campaign's history may be filtered to, in the user's words' order."""
    return [kind for kind in kinds_by_label() if kind.of_campaign]


def get_kind(slug: str) -> EntryKind | None:
    return _registry.get(slug)


def kind_of(entry) -> EntryKind:
    """The entry's kind; one no app registers any more reads as its bare slug."""
    return _registry.get(entry.kind) or EntryKind(slug=entry.kind, label=entry.kind,
                                                   summary=lambda entry: "")


def personal_held(kind: EntryKind, values: dict) -> tuple[str, ...]:
    """The kind's personal places that hold the person's data in these values ("sent",
    "messages", "detail" by name), those an erasure replaces: a `detail` that is one of
    the kind's not-sent texts is the portal's own words, kept, so that the entry still
    reads "not sent" (audit.services.not_sent). The chain covers its digest all the same."""
    if values.get("detail") in kind.not_sent_details:
        return tuple(place for place in kind.personal if place != "detail")
    return kind.personal


def value_at(entry, place: str):
    """The value at a place ("results.record_id") of an entry, or None."""
    name, *steps = place.split(".")
    value = getattr(entry, name, None)
    for step in steps:
        value = value.get(step) if isinstance(value, dict) else None
    return value


def values_at(entry, place: str) -> list:
    """The values at a place of an entry, a "*" last step taking each item of a dict or a
    list ("sent.record_fields.*"): `audit.personal.places` reads any place, but took half
    of the time of an import row's search terms."""
    within, _dot, last = place.rpartition(".")
    if last != "*":
        return [value_at(entry, place)]
    items = value_at(entry, within)
    if isinstance(items, dict):
        return list(items.values())
    return items if isinstance(items, list) else []


# The portal's own kinds: a person's data erased, and the old tables' chain carried over.
def _erasure_summary(entry) -> str:
    count = (entry.results or {}).get("entries", 0)
    return ngettext("%(count)s entry had a phone number erased (reference %(ref)s)",
                    "%(count)s entries had a phone number erased (reference %(ref)s)",
                    count) % {"count": count, "ref": entry.reason}


def _carried_over_summary(entry) -> str:
    count = sum((entry.details.get("entries") or {}).values())
    return ngettext("%(count)s entry moved into the one audit log",
                    "%(count)s entries moved into the one audit log", count) % {"count": count}


ERASURE = EntryKind(
    slug="erasure",
    label=_("personal data erased"),
    summary=_erasure_summary,
    template="audit/kinds/erasure.html",
    # The timeline finds it by the number, through the digest it names the number by.
    search=("details.number_digest",),
    calls_thulium=False,
)
CARRIED_OVER = EntryKind(
    slug="carried-over",
    label=_("audit trail carried over"),
    summary=_carried_over_summary,
    template="audit/kinds/carried-over.html",
    calls_thulium=False,
)
