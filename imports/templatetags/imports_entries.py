"""What an import adds to its audit entries' pages (and its own page's receipt): the row a
send came from, the result, the options it ran with."""

from django import template
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from imports.entries import counts_text
from imports.fallback import single_posts_note
from imports.models import ImportAttempt, ImportJob
from imports.reading import DELIMITERS, ENCODINGS

register = template.Library()


@register.filter
def import_attempt(entry) -> ImportAttempt | None:
    """The import row a record-addition entry sent, if an import sent it."""
    return ImportAttempt.objects.select_related("row__job").filter(entry=entry).first()


@register.filter
def import_single_posts(entry) -> str:
    """What an import receipt says of rows sent one per call for lack of the batch call."""
    refused = entry.results.get("sent_one_by_one")
    return single_posts_note(refused) if refused else ""


@register.filter
def import_result(entry) -> str:
    """An import receipt's result in words."""
    result = entry.results.get("result", "")
    return dict(ImportJob.State.choices).get(result, result)


@register.filter
def import_counts(entry) -> str:
    """What an import receipt counts, in words ("3 added, 1 refused")."""
    return counts_text(entry.results or {})


# A receipt's options (receipts.receipt_write) as the import's pages name them.
_OPTION_LABELS = {
    "file_kind": _("File type"), "encoding": _("Encoding"), "delimiter": _("Separator"),
    "language": _("Language"), "concurrency": _("Calls in flight"),
    "batch_size": _("Records per call"), "rate_limit": _("Calls per second at most"),
    "retry_attempts": _("Tries per call"), "task_backend": _("Task queue"), "sheet": _("Sheet"),
    "header_row": _("Row of the column names"),
}


@register.filter
def import_options(options: dict) -> list[dict]:
    """A receipt's options, each with its label and its value in words where it has them
    (the encoding's name, "no limit"...) beside the value kept; an option this version does
    not know goes by its key. One without a value (a CSV's sheet) does not apply: left out,
    where it read as an empty line."""
    return [{"label": _OPTION_LABELS.get(key, key), "text": str(value),
             "words": _option_words(key, value)} for key, value in options.items()
            if value not in ("", None)]


def _option_words(key: str, value) -> str:
    if key == "file_kind":
        return str(value).upper()
    if key == "encoding":
        return str(ENCODINGS.get(value, ""))
    if key == "delimiter":
        return str(DELIMITERS.get(value, ""))
    if key == "language" and value:
        try:
            return get_language_info(value)["name_translated"]
        except KeyError:
            return ""
    if key == "rate_limit" and not value:
        return str(_("no limit"))
    return ""
