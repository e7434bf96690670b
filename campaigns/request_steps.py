"""A four-eyes request's steps, each an audit entry of its own, and the closing of requests
that a change of their campaign's settings made outdated.

Apart from `campaigns.four_eyes`, which sends approved requests through `campaign_update`:
that change, and a read finding one made outside the portal, close the campaign's open
requests here, in their own transaction.
"""

import logging

from django.utils import timezone

from audit.models import Entry, Outcome
from audit.recording import WORKER, entry_begin, entry_complete

from .entries import CHANGE_REQUEST, Step
from .models import Campaign, ChangeRequest
from .notices import request_decided_notify

log = logging.getLogger(__name__)


def outdated_requests_close(campaign: Campaign, *, settings: dict) -> list[int]:
    """Mark outdated the campaign's open requests made on settings other than `settings`,
    its new ones, telling their requesters; returns their ids. Left open, they counted for
    every approver though none could approve them. Run in the transaction that changes the
    settings, after the campaign's row: the requests' rows are locked next, all at once,
    and the chain's head is taken last (audit/README.md)."""
    return outdated_requests_close_all([(campaign, settings)])


def outdated_requests_close_all(changed: list[tuple[Campaign, dict]]) -> list[int]:
    """`outdated_requests_close` for several campaigns, each with its new settings, their
    open requests locked in one statement (a refresh can find thousands changed)."""
    if not changed:
        return []
    new = {campaign.pk: (campaign, settings) for campaign, settings in changed}
    open_requests = list(ChangeRequest.objects.select_for_update().filter(
        campaign__in=list(new), state=ChangeRequest.State.REQUESTED).order_by("pk"))
    outdated = []
    for change_request in open_requests:
        campaign, settings = new[change_request.campaign_id]
        if change_request.settings_before != settings:
            change_request.campaign = campaign
            request_decide(change_request, ChangeRequest.State.STALE, None,
                           why=Step.CAMPAIGN_CHANGED)
            outdated.append(change_request.pk)
    return outdated


def request_decide(change_request, state, actor, note="", why="") -> Entry:
    """`actor` None: the portal's own doing (a request whose time passed unapproved, whose
    campaign changed, or whose approval's process stopped before it sent the change)."""
    change_request.state = state
    change_request.decided_by = actor
    change_request.decided_by_username = actor.get_username() if actor else ""
    change_request.decided_at = timezone.now()
    change_request.decision_note = note
    change_request.save(
        update_fields=["state", "decided_by", "decided_by_username", "decided_at",
                       "decision_note"]
    )
    step = request_step_record(change_request, state, actor, note, why)
    if state != ChangeRequest.State.APPROVED:  # an approved one is told once it was sent
        request_decided_notify(change_request, why=why)
    log.info("change request %s %s by %s", change_request.pk, state,
             change_request.decided_by_username)
    return step


def request_step_record(change_request, step: str, actor, note="", why="") -> Entry:
    """The step as an audit entry, in the step's own transaction; a decision names the
    request's own entry as its related one, and an outdated one why (Step.WHY)."""
    details = {"request": change_request.pk, "step": step,
               "settings_before": change_request.settings_before}
    if note:
        details["note"] = note
    if why:
        details["why"] = why
    requested = None
    if step != Step.REQUESTED:
        requested = Entry.objects.filter(
            kind=CHANGE_REQUEST.slug, details__request=change_request.pk,
            details__step=Step.REQUESTED,
        ).first()
    return entry_complete(entry_begin(
        kind=CHANGE_REQUEST.slug, actor=actor, actor_username=WORKER,
        campaign=change_request.campaign,
        sent=change_request.changes, reason=change_request.reason, details=details,
        related=requested,
    ), outcome=Outcome.SUCCEEDED)
