"""The worker's part of scheduled changes: each due change sent once, whatever workers do.

Every SCHEDULE_POLL_SECONDS the worker calls `due_changes_apply`, which
1. finishes a change a dead worker left *applying*: if that worker had begun the call,
   Thulium is asked what it holds (campaigns.holding) before anything is sent again, as the
   portal never sends twice because an answer was lost; a call that certainly applied
   nothing puts the change back to waiting, as it would have. While Thulium gives no
   answer to that question, the change is left applying, asked again once its claim's
   lease ran out, up to UNREACHABLE_WAIT;
2. marks missed each waiting change whose time passed more than SCHEDULE_GRACE_MINUTES
   ago (no worker ran then): it is never sent; one already tried is marked failed;
3. claims each due change with a conditional UPDATE (waiting to applying), so that of two
   workers only one sends it, and sends it through `campaign_update`. A try that certainly
   applied nothing (Thulium briefly down: a 5xx before applying, a refused connection, a
   429) puts it back to waiting, to be tried at the next polls within the grace.
"""

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from audit.models import Entry, Outcome
from audit.recording import entry_complete
from portal.thulium import ThuliumError, ThuliumUnavailable
from portal.thulium.deadline import call_longest

from .entries import CAMPAIGN_CHANGE, ScheduleStep
from .holding import NoAnswerYet, held_learn, thulium_holds
from .models import ScheduledChange
from .notices import scheduled_change_ended_notify
from .risk import risky_changes
from .scheduling import grace, record_step
from .services import CampaignChanged, campaign_update

log = logging.getLogger(__name__)
State = ScheduledChange.State
# What a dead worker's begun call is completed with, once Thulium was asked.
FOUND_HELD = gettext_noop("The worker stopped before Thulium answered; Thulium was then "
                          "found holding the changed values.")
FOUND_NOT_HELD = gettext_noop("The worker stopped before Thulium answered; Thulium was then "
                              "found not holding the changed values.")
AUTHOR_GONE = gettext_noop("Not sent: the account of the one who scheduled it was deactivated "
                           "or deleted, or may no longer change campaigns.")
RISKY_NOW = gettext_noop("Not sent: against the campaign's settings at its time it is a risky "
                         "change, which needs a second editor's approval. Ask for it again.")
NOT_IN_THULIUM = gettext_noop("Not sent: the campaign is no longer in Thulium's list of "
                              "campaigns.")
NOT_TOLD = gettext_noop("The worker stopped before Thulium answered, and Thulium's campaign "
                        "list could not tell whether the change was made: it is not sent "
                        "again.")


def claim_lease() -> datetime.timedelta:
    """How long a live worker holds a claim at most: two calls (the PUT, and the GET after
    a lost answer), each bounded by the gateway's timeouts, and a margin for the database."""
    return 2 * call_longest() + datetime.timedelta(seconds=5)


def due_changes_apply(*, worker: str = "") -> list[int]:
    """Send what is due now; returns the ids of the changes it finished (in any state)."""
    now = timezone.now()
    finished = []
    stalled = ScheduledChange.objects.filter(state=State.APPLYING,
                                             claimed_at__lt=now - claim_lease())
    for pk, claimed_at in stalled.values_list("pk", "claimed_at"):
        claim = _claim(pk, State.APPLYING, claimed_at, worker)
        if claim:
            finished.append(_unless_unanswered(_resume, _claimed(pk), claim))
    late = ScheduledChange.objects.filter(state=State.WAITING, apply_at__lt=now - grace())
    for pk, last_try in late.values_list("pk", "sent_change"):
        # Tried within the grace, Thulium down each time: failed; never tried: missed.
        state = State.MISSED if last_try is None else State.FAILED
        with transaction.atomic():
            if ScheduledChange.objects.filter(pk=pk, state=State.WAITING,
                                              sent_change=last_try).update(
                state=state, finished_at=now
            ):
                _ended_late(_claimed(pk), state)
                finished.append(pk)
    due = ScheduledChange.objects.filter(state=State.WAITING, apply_at__lte=now)
    for pk in due.values_list("pk", flat=True):
        claim = _claim(pk, State.WAITING, None, worker)
        if claim:
            finished.append(_unless_unanswered(_send, _claimed(pk), claim))
    return [pk for pk in finished if pk is not None]


def _unless_unanswered(step, change: ScheduledChange, claim) -> int | None:
    """`step` (`_send` or `_resume`) run on the claimed change; None when Thulium gave no
    answer to the question of what it holds (NoAnswerYet): the change is left applying,
    its claim to be taken over at a poll once its lease ran out, and asked again then."""
    try:
        return step(change, claim)
    except NoAnswerYet as error:
        log.info("scheduled change %s left applying: Thulium gave no answer to what it "
                 "holds (%s)", change.pk, error)
        return None


def _claim(pk: int, state: str, claimed_at, worker: str) -> datetime.datetime | None:
    """Take the change if it is still as read; the time of the claim, or None if another
    worker (or a cancel) came first."""
    claim = timezone.now()
    taken = ScheduledChange.objects.filter(pk=pk, state=state, claimed_at=claimed_at).update(
        state=State.APPLYING, claimed_at=claim, claimed_by=worker[:100]
    )
    return claim if taken else None


def _claimed(pk: int) -> ScheduledChange:
    return ScheduledChange.objects.select_related(
        "campaign", "created_by", "scheduled_entry"
    ).get(pk=pk)


def _send(change: ScheduledChange, claim) -> int | None:
    """Send the change as an immediate one is sent, and note how it ended; None when it
    waits to be tried again."""
    if change.apply_at < timezone.now() - grace():
        if change.sent_change is not None:  # tried before, Thulium down each time
            return _close(change, claim, State.FAILED, change.sent_change)
        return _close(change, claim, State.MISSED)
    if not change.author_may_change:
        return _close(change, claim, State.CANCELLED, why=AUTHOR_GONE)
    if not change.campaign.in_thulium:
        return _close(change, claim, State.CANCELLED, why=NOT_IN_THULIUM)
    if _needs_approval_now(change):
        return _close(change, claim, State.CANCELLED, why=RISKY_NOW)
    try:
        entry = _update(change)
        state = State.APPLIED
    except _RiskyNow:
        return _close(change, claim, State.CANCELLED, why=RISKY_NOW)
    except ThuliumError as error:
        entry = sent_entry(change)
        if isinstance(error, ThuliumUnavailable) and not error.may_have_applied:
            return _try_again(change, claim, entry)
        state = State.REFUSED if error.outcome == Outcome.REFUSED else State.FAILED
        # The answer was lost: Thulium is asked, never sent the change again.
        if error.may_have_applied and _held(change, entry):
            state = State.APPLIED
    return _close(change, claim, state, entry)


class _RiskyNow(Exception):
    """The campaign changed as the change was sent, and the change is risky against it now
    (`_needs_approval_now`): nothing was sent."""


def _update(change: ScheduledChange) -> Entry:
    """The change sent through campaign_update. A change made in the portal at the same
    moment (CampaignChanged) does not stop it, as one made earlier does not: it applies its
    values at its time, unless they are risky against the campaign's settings now (raises
    _RiskyNow). Twice in a row, the claim is left to be taken over later."""
    def send():
        return campaign_update(
            campaign=change.campaign, changes=change.changes, actor=change.created_by,
            actor_username=change.created_by_username, reason=change.reason,
            language=change.language or None,
            related=change.scheduled_entry,
            details={"reverts": change.reverts_id} if change.reverts_id else None,
        )
    try:
        return send()
    except CampaignChanged:
        change.campaign.refresh_from_db()
        if _needs_approval_now(change):
            raise _RiskyNow from None
        return send()


def _try_again(change: ScheduledChange, claim, entry: Entry) -> None:
    """Put the change back to waiting, its try noted, for the next polls to send it again:
    the try applied nothing. Past the grace it fails (due_changes_apply)."""
    ScheduledChange.objects.filter(pk=change.pk, state=State.APPLYING, claimed_at=claim).update(
        state=State.WAITING, claimed_at=None, claimed_by="", sent_change=entry)
    log.info("scheduled change %s for campaign %s: not applied, to be tried again",
             change.pk, change.campaign.thulium_id)


def _resume(change: ScheduledChange, claim) -> int | None:
    """Finish a change whose worker died while applying it."""
    entry = sent_entry(change)
    if entry is None or entry == change.sent_change:
        # It died before beginning the call (sent_change: an earlier try's): nothing was sent.
        return _send(change, claim)
    if entry.is_final:  # it died after the answer, before noting it
        if entry.outcome == Outcome.FAILED:
            # Thulium certainly holds nothing of the call (it answered 503, or was found
            # not holding the change): tried again, as that worker was to (after a 401 or
            # 403 it would have failed the change: one more try, refused again if so).
            return _try_again(change, claim, entry)
        state = {Outcome.SUCCEEDED: State.APPLIED, Outcome.REFUSED: State.REFUSED}.get(
            entry.outcome, State.FAILED)
        if entry.outcome == Outcome.UNKNOWN and _held(change, entry):
            state = State.APPLIED
        return _close(change, claim, state, entry)
    held = _held(change, entry)
    if held is None:
        entry_complete(entry, outcome=Outcome.UNKNOWN, detail=NOT_TOLD)
        return _close(change, claim, State.FAILED, entry)
    if held:
        entry_complete(entry, outcome=Outcome.UNKNOWN, detail=FOUND_HELD)
        return _close(change, claim, State.APPLIED, entry)
    entry_complete(entry, outcome=Outcome.FAILED, detail=FOUND_NOT_HELD)
    return _send(change, claim)


def sent_entry(change: ScheduledChange) -> Entry | None:
    """The latest call made for the change: a campaign change related to its scheduled step."""
    return (Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug, related=change.scheduled_entry)
            .order_by("-pk").first())


def _held(change: ScheduledChange, call: Entry) -> bool | None:
    """Whether Thulium holds the change's values now, learning them if so (see
    `thulium_holds`)."""
    held = thulium_holds(change.campaign, change.changes, language=change.language or None,
                         call=call)
    if held:
        held_learn(change.campaign, change.changes)
    return held


def _needs_approval_now(change: ScheduledChange) -> bool:
    """Whether, with FOUR_EYES on, the change is risky against the campaign's settings at its
    time though it was not when it was saved, and no second editor approved it: lowering
    the predictive maximum to 3 raises it once an approved change took it to 2 meanwhile."""
    return (settings.FOUR_EYES and change.change_request_id is None
            and bool(risky_changes(change.changes, change.campaign.settings)))


def _close(change: ScheduledChange, claim, state: str, entry: Entry | None = None, *,
           why: str = "") -> int:
    """Note how the change ended, if this worker's claim still holds; `why` a cancelled one
    was not sent."""
    with transaction.atomic():
        closed = ScheduledChange.objects.filter(
            pk=change.pk, state=State.APPLYING, claimed_at=claim
        ).update(state=state, finished_at=timezone.now(), sent_change=entry, cancel_reason=why)
        if closed and state == State.MISSED:
            record_step(change, ScheduleStep.MISSED, actor=None)
        elif closed and state == State.CANCELLED:
            change.cancel_reason = why
            record_step(change, ScheduleStep.CANCELLED, actor=None, note=why)
        if closed:
            scheduled_change_ended_notify(change, state, entry)
    if not closed:
        log.warning("scheduled change %s was taken over by another worker", change.pk)
    log.info("scheduled change %s for campaign %s: %s", change.pk,
             change.campaign.thulium_id, state)
    return change.pk


def _ended_late(change: ScheduledChange, state: str) -> None:
    """Note a change whose grace ran out while it waited: missed, or failed if tried."""
    if state == State.MISSED:
        record_step(change, ScheduleStep.MISSED, actor=None)
    scheduled_change_ended_notify(change, state, change.sent_change)
