"""The per-row report of an import as CSV, safe to open in Excel."""

from django.utils.translation import gettext as _

from donotcall.lookup import ON_THE_LIST
from portal.spreadsheets import csv_lines

from .erasure import ERASED
from .models import ImportAttempt, RowState

# Excel-friendly for Polish users: a BOM so Excel reads UTF-8, `;` as Polish Excel expects.
BOM = "\ufeff"
DELIMITER = ";"
CHUNK = 2000


def report_lines(job):
    """The report's CSV text, line by line, so a large import streams."""
    yield BOM
    yield from csv_lines(_report_rows(job), delimiter=DELIMITER)


def _report_rows(job):
    yield [_("row"), _("phone_number"), _("outcome"), _("record_id"), _("message"),
           _("request_id")]
    labels = dict(RowState.choices)
    # Once the rows' data is cleared (imports.retention), so are Thulium's words about each
    # row, which may repeat it: the audit trail keeps them, as evidence, for those who may
    # read it; the report keeps the ids.
    cleared = job.rows_cleared_at is not None
    rows = job.rows.order_by("number").values_list("pk", "number", "phone_number", "state",
                                                   "problems")
    for chunk in _chunks(rows.iterator(chunk_size=CHUNK), CHUNK):
        last = _last_sends([pk for pk, *_rest in chunk])
        for pk, number, phone, state, problems in chunk:
            # A row found on the list as it was claimed has no problem written: say why.
            why = " ".join(problems) or (str(ON_THE_LIST) if state == RowState.SUPPRESSED else "")
            record_id, message, request_id = last.get(pk, ("", why, ""))
            if phone == ERASED or cleared:
                # An erased row: when and under which reference, not the erased answer's
                # marker; a cleared one: nothing.
                message = why
            if state == RowState.SUPPRESSED:
                # Listed before a retry: why it stopped, not the failed send before it.
                record_id, message, request_id = "", why, ""
            yield [number, phone, labels[state], record_id, message, request_id]


def _last_sends(row_ids) -> dict[int, tuple[str, str, str]]:
    """(record_id, Thulium's message, request_id) of each row's last send."""
    sends = ImportAttempt.objects.filter(row_id__in=row_ids).order_by(
        "entry__created_at", "pk"
    ).values_list("row_id", "entry__results", "entry__messages", "entry__detail",
                  "entry__request_id")
    # Later sends overwrite earlier ones.
    return {row_id: (results.get("record_id", ""), "; ".join(messages) or detail, request_id)
            for row_id, results, messages, detail, request_id in sends}


def _chunks(items, size):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
