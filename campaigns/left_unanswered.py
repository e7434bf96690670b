"""Scheduled changes left being applied while Thulium gives no answer to whether it made
them (campaigns.holding: NoAnswerYet), as their pages and /metrics tell of them.

Their claim does not tell them apart: each poll that asks Thulium again claims the change
anew, so most of the time it looks as fresh as one a worker sends now. Their call does: a
live worker's call is answered, or given up, within a claim's lease of its beginning.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Now

from audit.models import Entry, Outcome
from portal.thulium.unreachable import UNREACHABLE_WAIT

from .due import claim_lease, sent_entry
from .entries import CAMPAIGN_CHANGE
from .holding import waited_out
from .models import ScheduledChange


def left_unanswered() -> QuerySet[ScheduledChange]:
    """The changes being applied whose call began longer than a claim lease ago, in the
    database's time (as a call's time is judged when Thulium is asked), and is still pending
    or unknown: a worker asks Thulium about it at its polls, up to UNREACHABLE_WAIT (or none
    runs to)."""
    calls = Entry.objects.filter(
        kind=CAMPAIGN_CHANGE.slug, related=OuterRef("scheduled_entry"),
        outcome__in=(Outcome.PENDING, Outcome.UNKNOWN), created_at__lt=Now() - claim_lease())
    return ScheduledChange.objects.filter(state=ScheduledChange.State.APPLYING).filter(
        Exists(calls))


def left_unanswered_among(changes: Iterable[ScheduledChange]) -> set[int]:
    """The ids of those of `changes` left unanswered, in one query for a list of them."""
    return set(left_unanswered().filter(pk__in=[change.pk for change in changes])
               .values_list("pk", flat=True))


@dataclass(frozen=True)
class UnansweredCall:
    """The call of a change left unanswered, and until when Thulium is asked about it: with
    no answer by then, the change ends failed. Once that time passed (`asked_out`: no worker
    ran since, or none took the change yet), the next worker's round asks it once more and
    ends the change by the answer, failed with none."""

    call: Entry
    asked_until: datetime.datetime
    asked_out: bool


def unanswered_call(change: ScheduledChange) -> UnansweredCall | None:
    """What the change's page tells of its call left unanswered; None for any other change,
    one a worker sends now among them."""
    if not left_unanswered().filter(pk=change.pk).exists():
        return None
    call = sent_entry(change)
    return UnansweredCall(call=call, asked_until=call.created_at + UNREACHABLE_WAIT,
                          asked_out=waited_out(call))
