"""The list as CSV, streamed, every cell safe to open in Excel."""

from django.utils import timezone
from django.utils.translation import gettext as _

from portal.spreadsheets import csv_lines

from .models import Suppression

CHUNK = 2000


def export_lines():
    yield "\ufeff"  # so that Excel reads UTF-8
    yield from csv_lines(_rows())  # ";" between cells, which Polish Excel splits at


def _rows():
    yield [_("phone_number"), _("digest"), _("campaign"), _("reason"), _("note"), _("source"),
           _("added_by"), _("added_at"), _("expires_on"), _("expired")]
    entries = Suppression.objects.select_related("campaign").order_by("pk")
    for entry in entries.iterator(chunk_size=CHUNK):
        # Words in the reader's language under its headers (they were the stored codes):
        # an upload reads only the numbers back.
        yield [f"+{entry.phone_key}" if entry.phone_key else "", entry.digest,
               entry.campaign.thulium_id if entry.campaign else "",
               entry.get_reason_display(), entry.note, entry.get_source_display(),
               entry.added_by_username,
               timezone.localtime(entry.created_at).isoformat(timespec="seconds"),
               entry.expires_on.isoformat() if entry.expires_on else "",
               _("yes") if entry.is_expired else ""]
