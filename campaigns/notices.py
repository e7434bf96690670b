"""E-mail notices of four-eyes requests: to the editors who may approve one, and to the
editor who asked, once it is decided; and of a scheduled change not made at its time, to
the one who scheduled it. Registered in apps.py; templates in
templates/notices/<slug>/."""

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from audit.models import Outcome
from notices.kinds import Kind
from notices.services import notices_queue

from .approvers import APPROVE, approvers_of, requests_to_approve
from .entries import FOUND_HELD, Step
from .models import ChangeRequest, ScheduledChange

NOT_THEIRS_TO_APPROVE = gettext_noop("the request is no longer one the user may approve")
DECIDED_FIRST = gettext_noop("the request was decided before the notice was sent")
# Why an approved request was not sent (Step.NOT_SENT), as its requester's mail says it.
STOPPED_BEFORE_SENDING = gettext_noop(
    "The portal stopped after the approval, before it sent the change. It is not sent "
    "later, as the approval was given for the campaign as it was then: ask again if the "
    "change is still needed.")


def _no_longer_waiting_for(notice) -> str:
    """Why a "waits for your approval" notice no longer holds at its send ("" if it does,
    for one of its requests): kept in the outbox while the mail server was away, it went
    out after the decision."""
    told = notice.context.get("requests") or [notice.context.get("request")]
    if requests_to_approve(notice.user).filter(pk__in=told).exists():
        return ""
    if ChangeRequest.objects.filter(pk__in=told, state=ChangeRequest.State.REQUESTED).exists():
        return NOT_THEIRS_TO_APPROVE
    return DECIDED_FIRST


REQUEST_WAITING = Kind("change-request-waiting", _("A risky change waits for my approval"),
                       admin_label=_("Change request waiting for approval"),
                       gets=lambda user: user.has_perm(APPROVE),
                       why_outdated=_no_longer_waiting_for,
                       outdated_reasons=(NOT_THEIRS_TO_APPROVE, DECIDED_FIRST))
REQUEST_DECIDED = Kind("change-request-decided",
                       _("My change request was approved, rejected or applied"),
                       admin_label=_("Outcome of a change request"),
                       gets=lambda user: user.has_perm("campaigns.change_campaign"))
SCHEDULED_NOT_APPLIED = Kind("scheduled-change-not-applied",
                             _("My scheduled change was not made: refused by Thulium, not "
                               "sent, or cancelled by another editor"),
                             admin_label=_("Scheduled change not made"),
                             gets=lambda user: user.has_perm("campaigns.change_campaign"))

# How a decided request ended, as its mail says it: an approved one by what Thulium did
# with the change (its entry's outcome).
SENT_OUTCOMES = {
    Outcome.SUCCEEDED: "applied", Outcome.REFUSED: "refused", Outcome.FAILED: "failed",
    Outcome.UNKNOWN: "unknown",
}


def request_waiting_notify(change_request: ChangeRequest) -> None:
    """Tell every editor who may approve the request (approvers.approvers_of)."""
    notices_queue(kind=REQUEST_WAITING, users=approvers_of(change_request),
                  context=_about(change_request),
                  path=change_request.get_absolute_url())


def requests_waiting_notify(change_requests: list[ChangeRequest]) -> None:
    """Tell every editor who may approve them of the requests one change to several
    campaigns made (campaigns.bulk), in one notice: a notice per request mailed each
    approver of a change to 500 campaigns 500 times. They share their requester, and so
    their approvers."""
    if len(change_requests) == 1:
        request_waiting_notify(change_requests[0])
    elif change_requests:
        notices_queue(kind=REQUEST_WAITING, users=approvers_of(change_requests[0]),
                      context={"requests": [request.pk for request in change_requests],
                               "count": len(change_requests)},
                      path=reverse("campaigns:requests"))


def request_decided_notify(change_request: ChangeRequest, *, why: str = "") -> None:
    """Tell the requester how their request ended (an approved one: once it was sent); an
    outdated one, `why` (Step.WHY)."""
    if change_request.state == ChangeRequest.State.APPROVED and change_request.apply_at:
        ending = "scheduled"  # approved: it waits for its time
    elif change_request.state == ChangeRequest.State.APPROVED:
        # Told once pointed at its call (four_eyes.request_sent_tell); one whose call was
        # never begun is outdated instead (Step.NOT_SENT).
        ending = _sent_ending(change_request.sent_change)
    elif why == Step.TIME_PASSED:
        # Decided by no one: its time came while it waited (four_eyes.change_requests_expire).
        ending = "too_late" if change_request.decided_by_username else "expired"
    elif why == Step.REQUESTER_GONE:
        return  # they may no longer change campaigns, nor get mails about such changes
    elif why == Step.NOT_SENT:
        _tell_requester(change_request, ending="not_sent", why=STOPPED_BEFORE_SENDING)
        return
    else:
        ending = change_request.state
    _tell_requester(change_request, ending=ending)


def _sent_ending(call) -> str:
    """How an approved request's call ended, as its mail says it: one the worker's sweep
    found held in Thulium after its process stopped is applied, as a scheduled change's
    found held after its worker stopped is (campaigns.due), though no answer came."""
    if call.outcome == Outcome.UNKNOWN and call.detail == FOUND_HELD:
        return "applied"
    return SENT_OUTCOMES.get(call.outcome, "unknown")


def scheduled_change_ended_notify(scheduled: ScheduledChange, state: str, entry=None, *,
                                  cancelled_by=None) -> None:
    """Tell the one who scheduled the change how it ended at its time, unless it was made:
    refused, failed, missed, cancelled by another editor (`cancelled_by`), or not sent by
    the worker, with its reason. Of a change approved under four eyes its requester hears,
    whose approval's mail said only that it waits, applied too. `entry` is the call's, when
    one was made.

    Not one who cancelled it themselves; nor one who may no longer change campaigns (the
    worker's AUTHOR_GONE): notices_queue leaves out those whose role gets no such mails."""
    if cancelled_by is not None and cancelled_by.pk == scheduled.created_by_id:
        return
    if state == ScheduledChange.State.CANCELLED:
        # With no one's name, the worker's doing (campaigns.due): its reason, English words
        # translated in the mail, says why.
        ending = "cancelled" if scheduled.cancelled_by_username else "not_sent"
    elif state in (ScheduledChange.State.MISSED, ScheduledChange.State.APPLIED):
        ending = state
    else:
        ending = SENT_OUTCOMES.get(entry.outcome, "unknown") if entry else "failed"
    how = {"ending": ending, "cancelled_by": scheduled.cancelled_by_username,
           "why": scheduled.cancel_reason if ending == "not_sent" else ""}
    if scheduled.change_request is not None:
        _tell_requester(scheduled.change_request, **how)
    elif ending != "applied":
        campaign = scheduled.campaign
        author = [scheduled.created_by] if scheduled.created_by else []
        notices_queue(kind=SCHEDULED_NOT_APPLIED, users=author, context={
            "scheduled": scheduled.pk, "campaign": campaign.name,
            "campaign_id": campaign.thulium_id, **how,
            "apply_at": scheduled.apply_at.isoformat(),
            "grace_minutes": settings.SCHEDULE_GRACE_MINUTES,
        }, path=scheduled.get_absolute_url())


def _tell_requester(change_request: ChangeRequest, **how) -> None:
    requester = [change_request.requester] if change_request.requester else []
    notices_queue(kind=REQUEST_DECIDED, users=requester,
                  context={**_about(change_request), **how},
                  path=change_request.get_absolute_url())


def _about(change_request: ChangeRequest) -> dict:
    """What the request's mails say of it; its time as ISO 8601, for each mail to write it
    in the portal's zone and its reader's language."""
    campaign = change_request.campaign
    apply_at = change_request.apply_at
    return {"request": change_request.pk, "campaign": campaign.name,
            "campaign_id": campaign.thulium_id,
            "apply_at": apply_at.isoformat() if apply_at else ""}
