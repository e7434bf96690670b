"""Which column of a file goes to which record parameter or campaign field.

The targets are the record form's own fields, so a column can go only where a record
typed by hand can; headers are matched in English and Polish, with or without accents.
"""

import re
import unicodedata
from collections import Counter

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from records.forms import FIELD_PREFIX, RecordForm

PHONE = "phone_number"
# Headers people write for each record parameter, compared after `header_key`.
HEADER_WORDS = {
    PHONE: {"phone", "phone number", "phone no", "telephone", "mobile", "msisdn", "telefon",
            "tel", "nr tel", "nr telefonu", "numer telefonu", "numer", "komorka",
            "telefon komorkowy", "nr komorki"},
    "identifier": {"id", "identifier", "external id", "identyfikator"},
    "status_id": {"status", "status id", "id statusu"},
    "dictionary_status_id": {"dictionary status", "dictionary status id", "status slownikowy"},
    "agent_login": {"agent", "agent login", "login", "login agenta", "konsultant"},
    "next_call_date": {"next call", "next call date", "nastepny kontakt", "data kontaktu",
                       "termin kontaktu", "data nastepnego kontaktu"},
    "order": {"order", "priority", "kolejnosc", "priorytet"},
}
# Words that name a phone column only where no column names it plainly: "Numer" is often a
# customer's number, which passes for a phone number and would be dialled.
WEAK_WORDS = {PHONE: {"numer"}}
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def header_key(header: str) -> str:
    """A header reduced for comparison: "Nr telefonu:" and "nr_telefonu" are the same."""
    text = unicodedata.normalize("NFKD", header.replace("ł", "l").replace("Ł", "L"))
    text = "".join(char for char in text if not unicodedata.combining(char))
    return _NOT_WORD.sub(" ", text.lower()).strip()


def mapping_targets(campaign) -> list[tuple[str, str]]:
    """(target, label) for every field of the campaign's record form."""
    form = RecordForm(campaign=campaign)
    return [(name, str(field.label)) for name, field in form.fields.items()]


def propose_mapping(headers: list[str], campaign, template=None, hidden=()) -> list[str]:
    """A target (or "") per column: from the template's headers, else by known words; none
    for a column Excel hides (`hidden`, their indices): a CRM's old landline, proposed as
    the phone, would be dialled."""
    targets = dict(mapping_targets(campaign))
    words = {target: set(found) | {header_key(target)} for target, found in HEADER_WORDS.items()}
    for target in targets:
        if target.startswith(FIELD_PREFIX):
            words[target] = {header_key(target.removeprefix(FIELD_PREFIX))}
    saved = {header_key(name): target for name, target in (template or {}).items()}
    found = []  # (target, weak) per column
    for index, (header, name) in enumerate(zip(headers, column_names(headers), strict=True), 1):
        keys = [header_key(name)] if header else _headerless_keys(index)
        if index - 1 in hidden:
            found.append(("", False))
        elif key := next((key for key in keys if key in saved), None):
            found.append((saved[key], False))
        else:
            target = _matching(header_key(header), words)
            found.append((target, header_key(header) in WEAK_WORDS.get(target, ())))
    plain = {target for target, weak in found if not weak}
    proposal, used = [], set()
    for target, weak in found:
        if target not in targets or target in used or (weak and target in plain):
            target = ""
        used.add(target)
        proposal.append(target)
    return proposal


def _matching(key, words):
    return next((target for target, known in words.items() if key in known), "")


def mapping_by_header(headers: list[str], mapping: list[str]) -> dict[str, str]:
    """The mapping as column name -> target, for templates and receipts (left-out columns
    too)."""
    return dict(zip(column_names(headers), mapping, strict=True))


def _headerless_keys(index: int) -> list[str]:
    """The keys of a headerless column's name in each of the portal's languages: a template
    saved from the Polish page names it "kolumna 3", from the English one "column 3", and
    either must map the column in the other."""
    keys = []
    for code, _language in settings.LANGUAGES:
        with translation.override(code):
            keys.append(header_key(str(_("column %(n)d") % {"n": index})))
    return keys


def column_names(headers: list[str]) -> list[str]:
    """Each column's name in templates and receipts: its header, numbered where the header
    repeats ("Telefon", "Telefon (2)"), or its place where it has none. By header alone,
    a landline and a mobile column both named "Telefon" were one name, and a saved
    mapping put the phone on the first of them."""
    names, seen = [], Counter()
    for index, header in enumerate(headers, 1):
        if not header:
            names.append(str(_("column %(n)d") % {"n": index}))
            continue
        seen[header_key(header)] += 1
        repeat = seen[header_key(header)]
        names.append(header if repeat == 1 else f"{header} ({repeat})")
    return names
