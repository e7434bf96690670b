"""Erasing a person's phone number everywhere the portal holds it (GDPR art. 17, RODO).

In the audit log each entry that concerns the number has its personal values (as its
kind names them) replaced by markers that say when and under which reference they were
erased, and carry the keyed digest the chain covers: `verify_audit` still passes, and an
edited value still breaks it. The apps that hold the number elsewhere (the records the
portal added, import rows and files) register an eraser from their `AppConfig.ready()`.
The erasure writes an entry of its own, which names the number only by its digest.
"""

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.invisible import without_invisible
from portal.phones import keys_ever, number_key, phone_key, phone_keys_in, spells_number

from .kinds import ERASURE, get_kind, personal_held, value_at, values_at
from .models import ChainHead, Entry, Outcome, SearchTerm
from .personal import digest, erase_values, known_key_ids, marker_when, number_digests_ever
from .recording import chain_hold, entry_begin, entry_complete, guarded_update

REFERENCE_LENGTH = 200


@dataclass(frozen=True)
class Erasure:
    """One erasure: what every eraser marks the values it replaces with."""

    reference: str
    at: datetime

    @property
    def when(self) -> str:
        return marker_when(self.at)

    @property
    def note(self) -> str:
        """A short text for a place that cannot hold a marker with a digest."""
        return f"[erased {self.when} · {self.reference}]"


class Eraser(NamedTuple):
    erase: Callable[[str, Erasure], int]  # (phone key, erasure) -> how many things it erased
    label: str  # what it erases, in the user's words
    hold: Callable[[str], None] | None  # (phone key): locks the rows `erase` will change
    held: Callable[[str], int]  # (phone key) -> how many things `erase` would erase now


# name (kept in the erasure's entry) -> its eraser
_erasers: dict[str, Eraser] = {}
ENTRIES_LABEL = _("audit entries")


def register_eraser(name: str, erase: Callable[[str, Erasure], int], *, label: str,
                    held: Callable[[str], int],
                    hold: Callable[[str], None] | None = None) -> None:
    """`erase` runs in the order apps register; `hold`, for rows that writers lock before
    the chain's head, runs first, in the reverse order: an app's writer locks its own rows
    before those of the apps it builds on (listed before it in INSTALLED_APPS), and the
    head last. The erasure takes them in the same order, so it cannot deadlock with one.
    `held` counts what `erase` would erase, for the page that shows it before erasing."""
    _erasers[name] = Eraser(erase, label, hold, held)


def place_label(name: str) -> str:
    """A place an erasure counts ("added_records") in the user's words; an unknown one as
    it is named."""
    if name == "entries":
        return ENTRIES_LABEL
    return _erasers[name].label if name in _erasers else name


@dataclass(frozen=True)
class ErasureReport:
    entry: Entry  # the erasure's own entry
    counts: dict[str, int]  # what was erased, by place

    @property
    def held(self) -> bool:
        """False when the portal held the number nowhere."""
        return any(self.counts.values())


def entry_keys_missing() -> list[str]:
    """The ids of the keys entries were made under that this process is not given (a
    retired key left out of AUDIT_PII_RETIRED_KEYS), in order: the chain's head keeps the
    keys entries were made under (audit.recording), where the log's own would be read
    whole."""
    head = ChainHead.objects.filter(pk=ChainHead.ONLY).values_list("pii_keys", flat=True)
    return sorted(set(head.first() or ()) - known_key_ids())


def _refuse_while_keys_missing() -> None:
    """Raises ValidationError while entries were made under a key this process is not
    given: a number is found in entries only by its digests under the keys given, so an
    erasure would leave it in theirs, and report it held nowhere."""
    if missing := entry_keys_missing():
        raise ValidationError(
            _("The number cannot be looked for in every audit entry: some were made under a "
              "personal-data key the portal is not given (key id %(key_ids)s). Whoever runs "
              "the portal must put that key back in AUDIT_PII_RETIRED_KEYS; until then "
              "nothing can be erased."),
            code="key_missing", params={"key_ids": ", ".join(missing)})


def number_held(number: str) -> dict[str, int]:
    """What an erasure of the number would erase now, by place, as ErasureReport counts
    it (nothing is changed); raises ValidationError for a value that is not a phone number,
    or while entries were made under a key the portal is not given."""
    key = number_key(number)
    _refuse_while_keys_missing()
    erasure = Erasure("", timezone.now())
    counts = {"entries": sum(1 for _entry in _entries_to_erase(key, erasure))}
    for name, eraser in _erasers.items():
        counts[name] = eraser.held(key)
    return counts


def _names_the_number(entry: Entry, kind, keys: list[str]) -> bool:
    """Whether the entry a search term led to holds the number where its kind keeps one (or
    another of the person's numbers): a term is a row anyone who may write the tables can
    add, and one added to another person's entry made an erasure of this number erase
    theirs. (One erased there already has nothing left to erase.)"""
    if kind is None:
        return False
    number = value_at(entry, kind.phone) if kind.phone else None
    if isinstance(number, str) and number and phone_key(number) in keys:
        return True
    return any(not phone_keys_in(value).isdisjoint(keys)
               for place in kind.other_phones for value in values_at(entry, place))


def clean_reference(reference: str, *, key: str = "") -> str:
    """The reference as kept; raises ValidationError if it is empty or not one line (marks
    that show nothing are no reference: one of them alone was taken for one), or spells
    the number keyed `key`: it is kept in the erasure's entry and every marker, for good,
    where no later erasure would reach it."""
    reference = without_invisible(reference or "").strip()
    if not reference:
        raise ValidationError(_("Give the reference of the request (e.g. its case number)."),
                              code="required")
    # A control character (a line break, a NUL, which PostgreSQL refuses with a server
    # error from the command) is no part of one line.
    if (any(unicodedata.category(char) == "Cc" for char in reference)
            or len(reference) > REFERENCE_LENGTH):
        raise ValidationError(
            _("The reference is one line of at most %(n)d characters.") % {
                "n": REFERENCE_LENGTH}, code="invalid")
    if key and spells_number(reference, key):
        raise ValidationError(
            _("The reference must not hold the phone number: it is kept with the erasure "
              "for good. Give the request's case number."), code="number")
    return reference


def forget_number(*, number: str, reference: str, actor=None,
                  actor_username: str = "") -> ErasureReport:
    """Erase the number everywhere, in one transaction; raises ValidationError for a value
    that is not a phone number, an empty reference, or while entries were made under a key
    the portal is not given (and then changes nothing)."""
    key = number_key(number)
    reference = clean_reference(reference, key=key)
    # Before the locks: an entry written meanwhile is made under the current key.
    _refuse_while_keys_missing()
    with transaction.atomic():
        # Writers that hold the number's rows finish first; those that come later see it
        # erased. With the head held, no entry is completed while its values are erased: a
        # completion waits, then finds its entry erased (audit.recording).
        for eraser in reversed(_erasers.values()):
            if eraser.hold is not None:
                eraser.hold(key)
        chain_hold()
        # Its moment once all it waited for is written: an entry a writer midway wrote
        # meanwhile was erased "before it was written", and verify_audit said so.
        erasure = Erasure(reference, timezone.now())
        _erasing(True)
        erased = _erase_entries(key, erasure)
        counts = {"entries": len(erased)}
        for name, eraser in _erasers.items():
            counts[name] = eraser.erase(key, erasure)
        _erasing(False)
        entry = entry_begin(kind=ERASURE.slug, actor=actor, actor_username=actor_username,
                            reason=erasure.reference,
                            # The moment its markers and the entries' erased_at name, and
                            # the entries it erased, so that verify_audit can tell them
                            # from altered ones (audit.verify_erasures).
                            details={"number_digest": digest(key),
                                     "erased_at": erasure.at.isoformat(),
                                     "entries": erased})
        entry_complete(entry, outcome=Outcome.SUCCEEDED, results=counts)
    return ErasureReport(entry, counts)


def _erase_entries(key: str, erasure: Erasure) -> list[int]:
    """Replace the personal values of every entry found by the number's digest; returns the
    ids of the entries erased."""
    erased = []
    for entry, values in _entries_to_erase(key, erasure):
        guarded_update(Entry.objects.filter(pk=entry.pk), **values, erased_at=erasure.at)
        erased.append(entry.pk)
    return erased


def _entries_to_erase(key: str, erasure: Erasure):
    """(entry, its values with the number's replaced by the erasure's markers) for each
    entry found by the number's digest that still holds it."""
    keys = keys_ever(key)
    found = SearchTerm.objects.filter(term__in=number_digests_ever(key)).values("entry_id")
    entries = Entry.objects.filter(pk__in=found).only("kind", "sent", "messages", "detail",
                                                      "pii_key")
    for entry in entries.iterator():
        kind = get_kind(entry.kind)
        if not _names_the_number(entry, kind, keys):
            continue
        values = {"sent": entry.sent, "messages": entry.messages, "detail": entry.detail}
        if kind is not None and erase_values(values, personal_held(kind, values),
                                             key_id=entry.pii_key, when=erasure.when,
                                             reference=erasure.reference):
            yield entry, values


def _erasing(on: bool) -> None:
    """Tell the PostgreSQL trigger that personal values may be replaced, for this transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('audit.erasing', %s, true)", ["on" if on else "off"])
