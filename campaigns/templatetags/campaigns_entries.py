"""What the campaigns app adds to its audit entries' pages."""

from django import template
from django.db.models import Q

from audit.diff import flat_paths
from audit.models import Entry, Outcome
from campaigns.entries import CAMPAIGN_CHANGE, FOUND_APPLIED, ScheduleStep, Step
from campaigns.four_eyes import request_shown_in_full
from campaigns.labels import settings_named
from campaigns.models import ChangeRequest, ScheduledChange
from campaigns.revert import revertible
from campaigns.scheduling import scheduled_shown_in_full

register = template.Library()


@register.filter
def step_label(entry) -> str:
    """A four-eyes step entry's step in words, and why for an outdated one."""
    step = entry.details.get("step", "")
    label = str(Step.LABELS.get(step, step))
    why = Step.WHY.get(entry.details.get("why"))
    return f"{label} ({why})" if why else label


@register.filter(name="revertible")
def is_revertible(entry) -> bool:
    """A settings change whose previous values can be restored."""
    return revertible(entry)


@register.filter
def reverted_by(entry) -> list:
    """The changes that restored the values this entry's change replaced, found by index:
    one sent from the entry's page names it as its related entry, one sent at its time
    relates to its scheduled change's step, one a second editor let through is its
    request's sent change. (Each names it in `details.reverts` too, but finding them there
    read every settings change.)"""
    if not revertible(entry):
        return []
    # The requests and scheduled changes are read first: PostgreSQL searches no index for
    # the values of a subquery within an OR, and walked every entry.
    steps = ScheduledChange.objects.filter(reverts=entry.pk).values_list("scheduled_entry",
                                                                        flat=True)
    approved = ChangeRequest.objects.filter(reverts=entry.pk).values_list("sent_change",
                                                                         flat=True)
    found = (Entry.objects.filter(Q(related__in=[entry.pk, *steps]) | Q(pk__in=list(approved)))
             .order_by("created_at", "pk"))
    # The kind is told apart here, among the few found (the scheduled change's own later
    # steps relate to its step too): asked in the query, SQLite walks every settings change
    # through the index of kinds instead.
    return [change for change in found if change.kind == CAMPAIGN_CHANGE.slug]


@register.filter
def found_applied(entry) -> list:
    """The entries that found this change's values in Thulium after its answer was lost:
    without them its page said only "unknown". Found by the index of related entries, the
    kind told apart here, as for `reverted_by`."""
    if entry.outcome != Outcome.UNKNOWN:
        return []
    return [found for found in Entry.objects.filter(related=entry).order_by("created_at", "pk")
            if found.kind == FOUND_APPLIED.slug]


@register.filter
def schedule_step_label(entry) -> str:
    """A scheduled change's step entry's step in words."""
    step = entry.details.get("step", "")
    return ScheduleStep.LABELS.get(step, step)


@register.filter
def scheduled_change_of(entry):
    """The scheduled change a step entry names, as it is now (None if it is gone)."""
    return (ScheduledChange.objects.select_related("sent_change")
            .filter(pk=entry.details.get("scheduled")).first())


@register.filter
def sees_request_in_full(user, change_request) -> bool:
    """`{% if user|sees_request_in_full:change_request %}` before its reason and values."""
    return request_shown_in_full(change_request, user)


@register.filter
def sees_scheduled_in_full(user, scheduled) -> bool:
    """`{% if user|sees_scheduled_in_full:change %}` before its reason and values."""
    return scheduled_shown_in_full(scheduled, user)


@register.filter
def changed_fields(changes: dict) -> str:
    """A PUT body's settings in the user's words, e.g. "Dialer, Caller ID"."""
    return settings_named(flat_paths(changes))
