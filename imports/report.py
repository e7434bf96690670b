"""The per-row report of an import as CSV, safe to open in Excel."""

import json
from itertools import groupby, islice
from operator import itemgetter

from django.db.models import TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from donotcall.lookup import ON_THE_LIST
from portal.spreadsheets import csv_lines

from .erasure import ERASED
from .models import ImportAttempt, RowState

# Excel-friendly for Polish users: a BOM so Excel reads UTF-8, `;` as Polish Excel expects.
BOM = "\ufeff"
DELIMITER = ";"
CHUNK = 2000  # rows read at a time
PIECE_LINES = 500  # lines per piece of the response: a piece a line cost more than its row


def report_lines(job):
    """The report's CSV text, some hundreds of lines at a time, so a large import streams."""
    yield BOM
    lines = csv_lines(_report_rows(job), delimiter=DELIMITER)
    while piece := "".join(islice(lines, PIECE_LINES)):
        yield piece


def _report_rows(job):
    yield [_("row"), _("phone_number"), _("outcome"), _("record_id"), _("message"),
           _("request_id")]
    labels = {state: str(label) for state, label in RowState.choices}
    # Once the rows' data is cleared (imports.retention), so are Thulium's words about each
    # row, which may repeat it: the audit trail keeps them, as evidence, for those who may
    # read it; the report keeps the ids.
    cleared = job.rows_cleared_at is not None
    rows = (job.rows.order_by("number")
            .values_list("number", "phone_number", "state", Cast("problems", TextField()))
            .iterator(chunk_size=CHUNK))
    sends = _last_sends(job)
    send = next(sends, None)
    for number, phone, state, problems in rows:
        while send is not None and send[0] < number:
            send = next(sends, None)
        # A row found on the list as it was claimed has no problem written: say why.
        why = " ".join(_json_list(problems)) or (
            str(ON_THE_LIST) if state == RowState.SUPPRESSED else "")
        record_id, message, request_id = (send[1:] if send is not None and send[0] == number
                                          else ("", why, ""))
        if phone == ERASED or cleared:
            # An erased row: when and under which reference, not the erased answer's
            # marker; a cleared one: nothing.
            message = why
        if state == RowState.SUPPRESSED:
            # Listed before a retry: why it stopped, not the failed send before it.
            record_id, message, request_id = "", why, ""
        yield [number, phone, labels[state], record_id, message, request_id]


def _last_sends(job):
    """(row number, record_id, Thulium's message, request_id) of the last send of each of
    the job's rows that has one, in the rows' order: one query for the whole import, read
    beside its rows (a query for each chunk of rows read the steps of every import's rows,
    100 times for 200,000 rows). The record id is taken from the JSON by the database, and
    the messages, mostly none, are parsed only where there are some."""
    sends = (ImportAttempt.objects.filter(row__job=job)
             .order_by("row__number", "entry__created_at", "pk")
             .values_list("row__number", KeyTextTransform("record_id", "entry__results"),
                          Cast("entry__messages", TextField()), "entry__detail",
                          "entry__request_id")
             .iterator(chunk_size=CHUNK))
    for number, steps in groupby(sends, key=itemgetter(0)):
        *_earlier, (_number, record_id, messages, detail, request_id) = steps
        yield number, record_id or "", "; ".join(_json_list(messages)) or detail, request_id


def _json_list(text: str) -> list[str]:
    """A list stored as JSON, from its text: most rows and answers have none to parse."""
    return [] if text == "[]" else json.loads(text)
