"""A check's words as a reader is shown them: verify_audit writes its times in UTC (an
entry's erasure as ISO 8601, an erasure marker's minute), and the check's seal covers those
words; the break's mail to staff writes the times in the portal's zone and the reader's
language, beside the mail's other times."""

import re

from portal.shown_times import shown_json_time, shown_minute

from .personal import marker_moment

_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)")
_MARKER_WHEN = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")


def check_words(problem: str) -> str:
    """The check's words, each time in them as the portal shows times."""
    problem = _ISO_MOMENT.sub(lambda found: shown_json_time(found[0]), problem)
    return _MARKER_WHEN.sub(_marker_shown, problem)


def _marker_shown(found: re.Match) -> str:
    moment = marker_moment(found[0])
    return shown_minute(moment) if moment else found[0]
