"""The worker's sweep of campaign changes whose web process died in the middle of the call.

An edit, or an approved request sent at once, commits its pending entry before it calls
Thulium (campaigns.services.campaign_update). A process killed during the call (SIGKILL,
out of memory, gunicorn's timeout) left the entry pending for good, and the request's
requester untold, as they are told once it was sent. Every SCHEDULE_POLL_SECONDS the
worker takes each such entry begun longer than a lease ago, asks Thulium what the campaign
holds (never sending again), and completes it as campaigns.due completes a dead worker's
call; a scheduled change's own call is left to campaigns.due, which resumes its claim.
"""

import logging

from django.db import transaction
from django.db.models.functions import Now
from django.utils.translation import gettext_noop

from audit.models import AppendOnlyError, Entry, Outcome
from audit.recording import entry_complete

from .due import claim_lease, held_learn, thulium_holds
from .entries import CAMPAIGN_CHANGE, CHANGE_REQUEST, SCHEDULED_CHANGE, Step
from .four_eyes import request_sent_tell
from .models import ChangeRequest

log = logging.getLogger(__name__)
# What a dead process's call is completed with, once Thulium was asked.
FOUND_HELD = gettext_noop("The portal stopped before Thulium answered; Thulium was then found "
                          "holding the changed values.")
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
    False if its process, slow and not dead, completed it meanwhile (its outcome stands)."""
    held = thulium_holds(entry.campaign, entry.sent, language=None)
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
        log.info("campaign change %s was completed by its own process", entry.pk)
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
