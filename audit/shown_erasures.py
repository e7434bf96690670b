"""Erased values as the entry page shows them: a marker is stored in English and UTC, as the
hash chain covers it ("[erased 2026-12-05 21:52 UTC · RODO/14 · <digest>]"); the page says
it in the reader's language and the portal's zone, beside its other times."""

import copy

from django.utils.translation import gettext

from portal.shown_times import shown_minute

from .kinds import kind_of
from .personal import marker_erasure, marker_moment, places

# The entry's fields a kind's personal places start with ("sent.phone_number", "detail").
_FIELDS = ("sent", "details", "results", "messages", "detail")


def erasure_words(value):
    """An erasure marker in the reader's words ("[erased 5 Dec. 2026, 22:52 · RODO/14]"),
    its digest left to the exports; any other value as it is."""
    erasure = marker_erasure(value)
    if erasure is None:
        return value
    when, reference = erasure
    moment = marker_moment(when)
    return gettext("[erased %(when)s · %(reference)s]") % {
        "when": shown_minute(moment) if moment else when, "reference": reference}


def entry_shown(entry):
    """The entry as its page shows it: a copy whose markers, in the personal places of an
    erased entry (the only ones a marker stands for a value in), are in the reader's
    words; any other entry as it is."""
    if entry.erased_at is None:
        return entry
    values = {name: copy.deepcopy(getattr(entry, name)) for name in _FIELDS}
    for container, key in list(places(values, kind_of(entry).personal)):
        container[key] = erasure_words(container[key])
    shown = copy.copy(entry)
    for name, value in values.items():
        setattr(shown, name, value)
    return shown
