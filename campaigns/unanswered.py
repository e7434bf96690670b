"""The worker's sweep of campaign changes whose web process died in the middle of the call.

An edit, or an approved request sent at once, commits its pending entry before it calls
Thulium (campaigns.services.campaign_update). A process killed during the call (SIGKILL,
out of memory, gunicorn's timeout) left the entry pending for good, and the request's
requester untold, as they are told once it was sent. Every SCHEDULE_POLL_SECONDS the
worker takes each such entry begun longer than a lease ago, asks Thulium what the campaign
holds (never sending again), and completes it as campaigns.due completes a dead worker's
call; a scheduled change's own call is left to campaigns.due, which resumes its claim.
While Thulium gives no answer, the entry is left pending, asked again at each poll (up to
UNREACHABLE_WAIT).

An approval's process may also stop before the call's entry is begun, or after it was
completed and before the request was pointed at it: `approved_requests_finish` ends those.
"""

import logging

from django.db import transaction
from django.db.models.functions import Now
from django.utils.translation import gettext_noop

from audit.models import AppendOnlyError, Entry, Outcome
from audit.recording import entry_complete

from .due import claim_lease
from .entries import CAMPAIGN_CHANGE, CHANGE_REQUEST, FOUND_HELD, SCHEDULED_CHANGE, Step
from .four_eyes import approved_unsent_close, request_sent_tell
from .holding import NoAnswerYet, held_learn, thulium_holds
from .models import ChangeRequest

log = logging.getLogger(__name__)
# What a dead process's call is completed with, once Thulium was asked (and FOUND_HELD).
FOUND_NOT_HELD = gettext_noop("The portal stopped before Thulium answered; Thulium was then "
                              "found not holding the changed values.")
NOT_TOLD = gettext_noop("The portal stopped before Thulium answered, and Thulium's campaign "
                        "list could not tell whether the change was made: it is not sent "
                        "again.")


def unanswered_changes_finish() -> list[int]:
    """Complete the campaign changes left pending longer than a lease, in the database's
    time (a web machine's clock may run ahead); returns their entries' ids."""
    left = (Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug, outcome=Outcome.PENDING,
                                 created_at__lt=Now() - claim_lease())
            .exclude(related__kind=SCHEDULED_CHANGE.slug)
            .select_related("campaign", "related").order_by("pk"))
    return [entry.pk for entry in left if _finish(entry)]


def _finish(entry: Entry) -> bool:
    """Complete the entry from what Thulium holds, and tell an approved request's requester;
    False if Thulium gave no answer and the entry may wait for it (UNREACHABLE_WAIT), or if
    its process, slow and not dead, or another worker's sweep completed it meanwhile (that
    outcome stands)."""
    try:
        held = thulium_holds(entry.campaign, entry.sent, language=None, call=entry)
    except NoAnswerYet as error:
        log.info("campaign change %s left pending: Thulium gave no answer (%s)",
                 entry.pk, error)
        return False
    outcome, detail = {True: (Outcome.UNKNOWN, FOUND_HELD),
                       False: (Outcome.FAILED, FOUND_NOT_HELD)}.get(held,
                                                                    (Outcome.UNKNOWN, NOT_TOLD))
    change_request = _approved_request(entry)
    try:
        with transaction.atomic():
            if held:
                held_learn(entry.campaign, entry.sent)
            entry_complete(entry, outcome=outcome, detail=detail)
            if change_request is not None:
                request_sent_tell(change_request, entry)
    except AppendOnlyError:
        log.info("campaign change %s was completed meanwhile, by its own process or "
                 "another worker", entry.pk)
        return False
    log.warning("campaign change %s for campaign %s: its process stopped before Thulium "
                "answered; found %s", entry.pk, entry.campaign.thulium_id,
                {True: "held", False: "not held"}.get(held, "unknown"))
    return True


def _approved_request(entry: Entry) -> ChangeRequest | None:
    """The request whose approval sent the change, if one did."""
    approval = entry.related
    if (approval is None or approval.kind != CHANGE_REQUEST.slug
            or approval.details.get("step") != Step.APPROVED):
        return None
    return (ChangeRequest.objects.select_related("campaign", "requester")
            .filter(pk=approval.details.get("request")).first())


def approved_requests_finish() -> list[int]:
    """End the approved requests whose process stopped between the approval and the call's
    entry, or between that entry's completion and the request's; returns their ids.

    Approved longer than a lease ago, in the database's time: a request whose call is done
    is pointed at it and its requester told (four_eyes.request_sent_tell); one whose call
    was never begun is marked outdated and never sent late (four_eyes.approved_unsent_close).
    A call still pending is left to `unanswered_changes_finish`."""
    finished = []
    approved = ChangeRequest.objects.filter(state=ChangeRequest.State.APPROVED,
                                            apply_at__isnull=True, sent_change__isnull=True)
    for change_request in approved.select_related("campaign", "requester").order_by("pk"):
        approval = Entry.objects.filter(
            kind=CHANGE_REQUEST.slug, details__request=change_request.pk,
            details__step=Step.APPROVED, created_at__lt=Now() - claim_lease()).first()
        if approval is None:
            continue  # approved less than a lease ago: its process may yet send it
        call = Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug, related=approval).first()
        if call is None:
            done = approved_unsent_close(change_request, approval)
        elif call.outcome != Outcome.PENDING:
            done = request_sent_tell(change_request, call)
        else:
            continue
        if done:
            log.warning("change request %s: its process stopped after the approval, %s",
                        change_request.pk, "before the call" if call is None
                        else f"after the call {call.pk}")
            finished.append(change_request.pk)
    return finished
