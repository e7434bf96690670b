"""What the records app adds to audit entries' pages: the checks of a lost answer, when the
worker asks Thulium again, and a record's fields in the record form's words."""

from django import template

from audit.models import Entry
from audit.services import TimelineRow, may_see_entry
from records.entries import RECORD_CHECK
from records.forms import record_field_label as form_label
from records.services import RecordCheckRefused, record_to_check
from records.unanswered import asked_again

register = template.Library()


@register.filter
def checkable(entry) -> bool:
    """True for an unanswered addition whose number is still waiting to be checked."""
    try:
        record_to_check(entry)
    except RecordCheckRefused:
        return False
    return True


@register.simple_tag
def record_checks(entry, viewer) -> list[TimelineRow]:
    """The checks in Thulium of an addition, oldest first; another user's only in outline."""
    checks = Entry.objects.filter(related=entry, kind=RECORD_CHECK.slug).order_by("created_at",
                                                                                 "pk")
    return [TimelineRow(check, may_see_entry(viewer, check)) for check in checks]


# When the worker next asks Thulium of an addition whose check had no answer, and until when.
register.simple_tag(asked_again)


@register.filter
def record_field_label(path: str) -> str:
    """A record's field by its path, as the record form labels it ("" for the campaign's own
    fields, which go by their names): an import receipt's mapping names them so."""
    return str(form_label(path) or "")
