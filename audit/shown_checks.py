"""A check's words as a reader is shown them: verify_audit writes its times in UTC (an
entry's erasure as ISO 8601, an erasure marker's minute), and the check's seal covers those
words; the break's mail to staff writes the times in the portal's zone and the reader's
language, beside the mail's other times. A check that kept its finding (audit.findings) is
shown wholly in the reader's language."""

import re

from django.utils.translation import gettext

from portal.shown_times import shown_json_time, shown_minute

from .findings import BREAKS, STAGES, Finding
from .personal import marker_moment

_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)")
_MARKER_WHEN = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")


def check_words(problem: str) -> str:
    """The check's words, each time in them as the portal shows times."""
    problem = _ISO_MOMENT.sub(lambda found: shown_json_time(found[0]), problem)
    return _MARKER_WHEN.sub(lambda found: _minute_shown(found[0]), problem)


def finding_words(kept, problem: str) -> str:
    """The check's finding (`kept`, ChainCheck.finding) in the reader's language, its times
    as the portal shows times, if it says what the check's sealed words (`problem`) say;
    else "": a check kept before findings were, its finding altered, or of a kind this
    portal no longer knows, is shown in its words (check_words)."""
    try:
        finding = Finding.kept(kept)
        if str(finding) != problem:
            return ""
        return gettext(BREAKS[finding.code]) % {
            name: _value_shown(name, value) for name, value in finding.values.items()}
    except (KeyError, TypeError, ValueError):
        return ""


def _value_shown(name: str, value):
    if name == "stage":
        return STAGES.get(value, value)
    if name == "erased_at":
        return shown_json_time(value)
    if name == "minute":
        return _minute_shown(value)
    return value


def _minute_shown(when: str) -> str:
    moment = marker_moment(when)
    return shown_minute(moment) if moment else when
