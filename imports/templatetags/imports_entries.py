"""What an import adds to its audit entries' pages: the row a send came from, the result."""

from django import template

from imports.fallback import single_posts_note
from imports.models import ImportAttempt, ImportJob

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
