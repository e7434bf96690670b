"""The list as CSV, streamed, every cell safe to open in Excel.

A million entries have to stream within the web worker's timeout: each is read as a row of
plain values (a model instance, with its campaign's, cost ten times as much), its codes
are put in the reader's words from a dict made once, and the lines go out some hundreds
at a time (a piece of the response per line cost more than the line).
"""

from itertools import islice

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.spreadsheets import csv_lines

from .models import Suppression

FETCH_ROWS = 2000  # rows per round trip of the database cursor
CHUNK_LINES = 500  # lines per piece of the HTTP response


def export_lines():
    yield "\ufeff"  # so that Excel reads UTF-8
    lines = csv_lines(_rows())  # ";" between cells, which Polish Excel splits at
    while chunk := "".join(islice(lines, CHUNK_LINES)):
        yield chunk


def _rows():
    # The time added and the last day blocked are the portal's zone's: the header says which.
    # Marked outside the f-strings, where makemessages does not look.
    zone, added_at, expires_on = settings.TIME_ZONE, _("added_at"), _("expires_on")
    yield [_("phone_number"), _("digest"), _("campaign"), _("reason"), _("note"), _("source"),
           _("added_by"), f"{added_at} ({zone})", f"{expires_on} ({zone})", _("expired")]
    # Words in the reader's language under its headers (they were the stored codes): an
    # upload reads only the numbers back. A code no longer among the choices is written as
    # stored, as get_FOO_display() does.
    reasons = {code: str(label) for code, label in Suppression.Reason.choices}
    sources = {code: str(label) for code, label in Suppression.Source.choices}
    expired, today = _("yes"), timezone.localdate()
    entries = Suppression.objects.order_by("pk").values_list(
        "phone_key", "digest", "campaign__thulium_id", "reason", "note", "source",
        "added_by_username", "created_at", "expires_on")
    for (phone_key, digest, campaign, reason, note, source, added_by, created_at,
         expires_on) in entries.iterator(chunk_size=FETCH_ROWS):
        yield [f"+{phone_key}" if phone_key else "", digest, campaign or "",
               reasons.get(reason, reason), note, sources.get(source, source), added_by,
               timezone.localtime(created_at).isoformat(timespec="seconds"),
               expires_on.isoformat() if expires_on else "",
               expired if expires_on is not None and expires_on < today else ""]
