"""The per-row report of an import as CSV, safe to open in Excel."""

import csv
import re

from django.utils.translation import gettext as _

from .models import ImportRow

# Excel-friendly for Polish users: a BOM so Excel reads UTF-8, `;` as Polish Excel expects.
BOM = "\ufeff"
DELIMITER = ";"
_PLAIN_NUMBER = re.compile(r"[+-]?\d[\d ]*")


def report_lines(job):
    """The report's CSV text, line by line, so a large import streams."""
    buffer = _Line()
    writer = csv.writer(buffer, delimiter=DELIMITER)
    yield BOM + writer.writerow([
        _("row"), _("phone_number"), _("outcome"), _("record_id"), _("message"),
        _("request_id"),
    ])
    labels = dict(ImportRow._meta.get_field("state").choices)
    rows = job.rows.order_by("number").values_list(
        "number", "phone_number", "state", "record_id", "message", "request_id", "problems"
    )
    for number, phone, state, record_id, message, request_id, problems in rows.iterator(
        chunk_size=2000
    ):
        yield writer.writerow([
            number, neutralise(phone), str(labels[state]), neutralise(record_id),
            neutralise(message or " ".join(problems)), neutralise(request_id),
        ])


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
