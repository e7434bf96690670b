"""The imports app's kinds of audit entries: an import's receipt, the worker's stop of an
import whose loader may no longer add records, and the clearing of its rows' personal data."""

from django.utils.translation import gettext, ngettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from audit.kinds import EntryKind
from audit.models import Outcome

from .models import ImportJob

# What became of an import's rows, in the summary's order; counts of 0 are left out.
_COUNTS = (
    ("added", ngettext_lazy("%(n)d added", "%(n)d added", "n")),
    ("added_earlier", ngettext_lazy("%(n)d added earlier", "%(n)d added earlier", "n")),
    ("refused", ngettext_lazy("%(n)d refused", "%(n)d refused", "n")),
    ("failed", ngettext_lazy("%(n)d failed", "%(n)d failed", "n")),
    ("unknown", ngettext_lazy("%(n)d unknown", "%(n)d unknown", "n")),
    ("not_sent", ngettext_lazy("%(n)d not sent", "%(n)d not sent", "n")),
    ("rows_invalid", ngettext_lazy("%(n)d invalid", "%(n)d invalid", "n")),
    ("rows_duplicate", ngettext_lazy("%(n)d repeated in the file", "%(n)d repeated in the file",
                                     "n")),
    ("rows_already_added", ngettext_lazy("%(n)d already added", "%(n)d already added", "n")),
    ("rows_suppressed", ngettext_lazy("%(n)d on the do-not-call list",
                                      "%(n)d on the do-not-call list", "n")),
    ("rows_hidden", ngettext_lazy("%(n)d hidden in Excel", "%(n)d hidden in Excel", "n")),
    ("rows_elsewhere", ngettext_lazy("%(n)d in another import", "%(n)d in another import",
                                     "n")),
)
COUNT_NAMES = ("rows_total", *(name for name, _words in _COUNTS))
_RESULTS = dict(ImportJob.State.choices)


def counts_text(results: dict) -> str:
    """What became of an import's rows, in words ("3 added, 1 refused"); "" if nothing."""
    return ", ".join(str(words % {"n": results[name]})
                     for name, words in _COUNTS if results.get(name))


def _summary(entry) -> str:
    results = entry.results or {}
    result = results.get("result")
    counts = counts_text(results)
    if entry.outcome == Outcome.SUCCEEDED:  # the import ran to its end
        text = gettext("import of %(file)s: %(counts)s")
    else:
        text = gettext("import of %(file)s (%(result)s): %(counts)s")
    return text % {"file": entry.sent.get("file_name", ""),
                   # Not yet ended (a receipt begun, its completion lost): its outcome.
                   "result": _RESULTS.get(result, result) if result
                   else entry.get_outcome_display(),
                   "counts": counts or gettext("no rows")}


# Nothing is sent to Thulium by the receipt itself (each row's POST has its own
# record-addition entry): it is begun and completed at once, when the import ends.
IMPORT = EntryKind(
    slug="import",
    label=_("records imported"),
    summary=_summary,
    template="audit/kinds/import.html",
    search=("sent.file_sha256", "sent.file_name"),
    export_columns=(("job_id", "details.job"), ("file_name", "sent.file_name"),
                    ("file_sha256", "sent.file_sha256"), ("result", "results.result"),
                    *((name, f"results.{name}") for name in COUNT_NAMES)),
    calls_thulium=False,
    of_campaign=True,
)


def _stopped_summary(entry) -> str:
    details = entry.details or {}
    return gettext("import of %(file)s stopped: %(user)s may no longer add records") % {
        "file": details.get("file_name", ""), "user": details.get("loader", "")}


# The worker's stop of an import whose loader was deactivated or deleted, or lost the right
# to add records (imports.loaders): why the rest of its rows were not sent.
IMPORT_STOPPED = EntryKind(
    slug="import-stopped",
    label=_("import stopped for its loader"),
    summary=_stopped_summary,
    template="audit/kinds/import-stopped.html",
    export_columns=(("job_id", "details.job"), ("file_name", "details.file_name"),
                    ("loader", "details.loader")),
    calls_thulium=False,
    of_campaign=True,
)


def _cleared_summary(entry) -> str:
    details, results = entry.details or {}, entry.results or {}
    return ngettext("personal data of the import of %(file)s cleared: %(n)d row",
                    "personal data of the import of %(file)s cleared: %(n)d rows",
                    results.get("rows", 0)) % {"file": details.get("file_name", ""),
                                               "n": results.get("rows", 0)}


# The worker's clearing of an ended import's rows, IMPORT_KEEP_DAYS after its end
# (imports.retention): why its numbers and fields are gone from the portal's pages.
IMPORT_CLEARED = EntryKind(
    slug="import-cleared",
    label=_("import's personal data cleared"),
    summary=_cleared_summary,
    template="audit/kinds/import-cleared.html",
    export_columns=(("job_id", "details.job"), ("file_name", "details.file_name"),
                    ("keep_days", "details.keep_days"), ("rows", "results.rows")),
    calls_thulium=False,
    of_campaign=True,
)
