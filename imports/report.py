"""The per-row report of an import as CSV, safe to open in Excel."""

import csv
import re

from django.utils.translation import gettext as _

from .models import ImportAttempt, RowState

# Excel-friendly for Polish users: a BOM so Excel reads UTF-8, `;` as Polish Excel expects.
BOM = "\ufeff"
DELIMITER = ";"
_PLAIN_NUMBER = re.compile(r"[+-]?\d[\d ]*")
CHUNK = 2000


def report_lines(job):
    """The report's CSV text, line by line, so a large import streams."""
    buffer = _Line()
    writer = csv.writer(buffer, delimiter=DELIMITER)
    yield BOM + writer.writerow([
        _("row"), _("phone_number"), _("outcome"), _("record_id"), _("message"),
        _("request_id"),
    ])
    labels = dict(RowState.choices)
    rows = job.rows.order_by("number").values_list("pk", "number", "phone_number", "state",
                                                   "problems")
    for chunk in _chunks(rows.iterator(chunk_size=CHUNK), CHUNK):
        last = _last_sends([pk for pk, *_rest in chunk])
        for pk, number, phone, state, problems in chunk:
            record_id, message, request_id = last.get(pk, ("", " ".join(problems), ""))
            yield writer.writerow([
                number, neutralise(phone), str(labels[state]), neutralise(record_id),
                neutralise(message), neutralise(request_id),
            ])


def _last_sends(row_ids) -> dict[int, tuple[str, str, str]]:
    """(record_id, Thulium's message, request_id) of each row's last send."""
    sends = ImportAttempt.objects.filter(row_id__in=row_ids).order_by(
        "addition__created_at", "pk"
    ).values_list("row_id", "addition__record_id", "addition__messages", "addition__detail",
                  "addition__request_id")
    # Later sends overwrite earlier ones.
    return {row_id: (record_id, "; ".join(messages) or detail, request_id)
            for row_id, record_id, messages, detail, request_id in sends}


def _chunks(items, size):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def neutralise(value: str) -> str:
    """The text with a leading ' if a spreadsheet would run it as a formula.

    Thulium's messages and the file's cells are not ours: "=HYPERLINK(...)" must stay text.
    A plain number such as +48601234567 is left as it is.
    """
    if value and value[0] in "=+-@\t\r" and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class _Line:
    """A file-like object that hands back what csv.writer writes."""

    def write(self, text):
        return text
