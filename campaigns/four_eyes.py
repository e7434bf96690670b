"""The four-eyes rule: a risky change waits for a second editor before it reaches Thulium.

Requests are rows of `ChangeRequest`, and each step an audit entry of its own; an approved
request is sent through `campaign_update`, so its entry is like any other change's, and
names the approval as its related entry. A request carrying a time (`apply_at`) is, once
approved before that time, a scheduled change (`campaigns.scheduling`).
"""

import logging

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import Entry
from audit.services import may_see_everyone
from portal.thulium import ThuliumError

from .approvers import accounts_linked, approvers_of
from .entries import CAMPAIGN_CHANGE, CHANGE_REQUEST, Step
from .models import Campaign, ChangeRequest
from .notices import request_decided_notify, request_waiting_notify
from .reading import CampaignNotListed, campaign_read
from .request_steps import request_decide, request_step_record
from .scheduling import TimePassed, change_schedule
from .services import CampaignChanged, RequestNotSent, campaign_update

log = logging.getLogger(__name__)


class AlreadyRequested(Exception):
    """The same change by the same person waits for approval already (a form posted twice):
    `existing` is its request."""

    def __init__(self, existing: ChangeRequest):
        super().__init__(f"change request {existing.pk} is the same")
        self.existing = existing


class AccountsLinked(Exception):
    """The requester created or changed the decider's account in the admin, or the other
    way round: one person may hold both, so neither is a second pair of eyes."""


class RequestClosed(Exception):
    """Someone already decided the request."""


class RequestOutdated(Exception):
    """The campaign changed since the request: approving it would undo that change."""


class RequesterGone(Exception):
    """The one who asked for the change was deactivated or deleted, or may no longer change
    campaigns: the request is outdated."""


class RequestTooLate(Exception):
    """The time the change was to be applied at has passed before the approval."""


class CampaignUnread(Exception):
    """Thulium could not be read before the approval, so nothing was decided: the request
    might undo a change made in Thulium since. `error` is Thulium's (None when its list of
    campaigns does not hold the campaign)."""

    def __init__(self, error: ThuliumError | None):
        super().__init__(str(error or "campaign not listed"))
        self.error = error


def change_request_create(*, campaign: Campaign, changes: dict, actor, reason: str,
                          risks: list[str], reverts: Entry | None = None,
                          apply_at=None, notify: bool = True) -> ChangeRequest:
    """Hold a risky change for approval; nothing is sent to Thulium.

    `reverts` is the change whose values this one restores, if it restores one; `apply_at`
    the time to apply it at, if it is a scheduled change. `notify` False leaves telling the
    approvers to the caller (campaigns.bulk: one mail for all its requests). Raises
    AlreadyRequested if the same request by the same person waits already (the campaign's
    row is locked first, so two posts at once do not both find none).
    """
    with transaction.atomic():
        campaign.lock()
        existing = ChangeRequest.objects.filter(
            campaign=campaign, requester=actor, state=ChangeRequest.State.REQUESTED,
            changes=changes, reason=reason, reverts=reverts, apply_at=apply_at).first()
        if existing is not None:
            raise AlreadyRequested(existing)
        change_request = ChangeRequest.objects.create(
            campaign=campaign, changes=changes, settings_before=campaign.settings,
            reason=reason, risks=risks, requester=actor, actor_username=actor.get_username(),
            reverts=reverts, apply_at=apply_at,
        )
        request_step_record(change_request, Step.REQUESTED, actor)
        if notify:
            request_waiting_notify(change_request)
    log.info("change request %s for campaign %s by %s: %s", change_request.pk,
             campaign.thulium_id, change_request.actor_username, ",".join(risks))
    return change_request


def change_request_approve(*, change_request: ChangeRequest, approver,
                           language: str | None = None) -> Entry:
    """Approve and send the change to Thulium, or schedule it if it carries a time.

    The campaign is read from Thulium first, as the edit form is: a change made in
    Thulium's panel since the request makes it outdated too. Raises PermissionDenied (own
    request), AccountsLinked, CampaignUnread, RequestClosed, RequestOutdated (also when
    another change took the campaign before this one was sent) or RequestTooLate (the
    request is then marked outdated), or ThuliumError (the request stays approved; its
    audit row tells what Thulium answered). Raises RequesterGone, the request then marked
    outdated, when its requester may no longer change campaigns: a change of theirs
    waiting for its time is not sent either (campaigns.due). Raises RequestNotSent when the
    worker closed the approved request before its call was begun, taking this process for
    dead (approved_unsent_close). Returns the call's entry, or the scheduled step's.
    """
    _check_second_pair_of_eyes(change_request, approver)
    if not change_request.is_open:
        raise RequestClosed  # decided already: no need to ask Thulium (checked again below)
    if not change_request.requester_may_change:
        with transaction.atomic():
            request_decide(_lock_open(change_request), ChangeRequest.State.STALE, approver,
                    why=Step.REQUESTER_GONE)
        raise RequesterGone
    try:
        campaign_read(change_request.campaign, actor=approver, language=language)
    except ThuliumError as error:
        raise CampaignUnread(error) from error
    except CampaignNotListed as error:
        raise CampaignUnread(None) from error
    try:
        with transaction.atomic():
            locked = _lock_open(change_request)
            outdated = locked.is_outdated
            too_late = locked.apply_at is not None and locked.apply_at <= timezone.now()
            state = (ChangeRequest.State.STALE if outdated or too_late
                     else ChangeRequest.State.APPROVED)
            approval = request_decide(locked, state, approver,
                               why=Step.CAMPAIGN_CHANGED if outdated
                               else Step.TIME_PASSED if too_late else "")
            if locked.apply_at is not None and state == ChangeRequest.State.APPROVED:
                scheduled = change_schedule(
                    campaign=locked.campaign, changes=locked.changes, actor=approver,
                    reason=locked.reason, apply_at=locked.apply_at, language=language or "",
                    change_request=locked, approval=approval,
                )
                request_decided_notify(locked)
                return scheduled.scheduled_entry
    except RequestClosed:
        change_request.refresh_from_db(fields=["state"])
        if change_request.state == ChangeRequest.State.STALE:
            raise RequestOutdated from None  # the read above found the campaign changed
        raise
    except TimePassed:
        # Its time passed between the check above and the scheduling, which rolled the
        # approval back: too late, as a request found so above is.
        with transaction.atomic():
            request_decide(_lock_open(change_request), ChangeRequest.State.STALE, approver,
                    why=Step.TIME_PASSED)
        raise RequestTooLate from None
    if outdated:
        raise RequestOutdated
    if too_late:
        raise RequestTooLate
    # Outside the transaction: an HTTP call cannot be rolled back.
    try:
        return campaign_update(
            campaign=locked.campaign, changes=locked.changes, actor=approver,
            reason=locked.reason, language=language, related=approval,
            details={"reverts": locked.reverts_id} if locked.reverts_id else None,
            change_request=locked,
        )
    except CampaignChanged:
        # Another change took the campaign between the approval's commit and the send:
        # nothing was sent, so the request is outdated, as one found so above is (left
        # approved, it could never be approved again, and its mail said it failed).
        with transaction.atomic():
            request_decide(_lock_approved(locked), ChangeRequest.State.STALE, approver,
                           why=Step.CAMPAIGN_CHANGED)
        raise RequestOutdated from None
    finally:
        # The request points at its call's entry, whatever Thulium answered; one whose call
        # was never begun is closed by the worker (unanswered.approved_requests_finish).
        sent = Entry.objects.filter(related=approval).first()
        if sent is not None:
            request_sent_tell(locked, sent)


def request_sent_tell(change_request: ChangeRequest, sent: Entry) -> bool:
    """Point the approved request at its call's entry and tell its requester how it ended,
    unless it points at one already or was closed unsent (approved_unsent_close); returns
    whether it did. A conditional update: of the approver's process, late, and the
    worker's sweep of calls left unanswered (campaigns.unanswered), only one tells."""
    with transaction.atomic():
        if not ChangeRequest.objects.filter(
                pk=change_request.pk, state=ChangeRequest.State.APPROVED,
                sent_change__isnull=True).update(sent_change=sent):
            return False
        change_request.sent_change = sent
        request_decided_notify(change_request)
    return True


def approved_unsent_close(change_request: ChangeRequest, approval: Entry) -> bool:
    """Mark outdated the approved request whose process stopped before it began the call,
    telling its requester; returns whether it did (False if the call was begun meanwhile).

    It is never sent late: the approval was given for the campaign, and the moment, it
    was given at. Under the request's lock, as the call's claim takes it
    (services.campaign_update): a slow process that resumes afterwards sends nothing."""
    with transaction.atomic():
        try:
            locked = _lock_approved(change_request)
        except RequestNotSent:
            return False
        if (locked.sent_change_id is not None
                or Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug, related=approval).exists()):
            return False
        request_decide(locked, ChangeRequest.State.STALE, None, why=Step.NOT_SENT)
    return True


def change_request_reject(*, change_request: ChangeRequest, actor, note: str = "") -> None:
    """Refuse the change; raises PermissionDenied (own request), AccountsLinked or
    RequestClosed."""
    _check_second_pair_of_eyes(change_request, actor)
    with transaction.atomic():
        request_decide(_lock_open(change_request), ChangeRequest.State.REJECTED, actor, note)


def change_requests_expire() -> list[int]:
    """Mark outdated each request whose time passed while it waited for approval; returns
    their ids. Run by the worker beside the due scheduled changes: left waiting, such a
    request stayed in the approvers' count for good, and its requester was not told."""
    expired = []
    late = ChangeRequest.objects.filter(state=ChangeRequest.State.REQUESTED,
                                        apply_at__lte=timezone.now())
    for change_request in late.only("pk"):
        with transaction.atomic():
            try:
                locked = _lock_open(change_request)
            except RequestClosed:
                continue  # decided meanwhile
            request_decide(locked, ChangeRequest.State.STALE, None, why=Step.TIME_PASSED)
        expired.append(locked.pk)
    return expired


def may_decide(change_request: ChangeRequest, user) -> bool:
    """True when `user` may approve or reject the open request (approvers.approvers_of)."""
    return change_request.is_open and approvers_of(change_request).filter(pk=user.pk).exists()


def request_shown_in_full(change_request: ChangeRequest, user) -> bool:
    """True when `user` may read who asked and decided, the reason, the note and the
    values: an approver, who acts on it, or one who may open its steps in the audit trail
    (audit.services.may_see_entry: the requester's and the decider's own, an auditor
    any). Others see that it exists, its campaign, state and times, as the trail shows
    them others' entries."""
    return (_sees_every_request(user)
            or user.pk in (change_request.requester_id, change_request.decided_by_id))


def requests_shown_in_full(requests, user):
    """The requests of a queryset `user` may read in full (`request_shown_in_full`)."""
    if _sees_every_request(user):
        return requests
    return requests.filter(Q(requester=user.pk) | Q(decided_by=user.pk))


def _sees_every_request(user) -> bool:
    return user.has_perm("campaigns.approve_changerequest") or may_see_everyone(user)


def outdated_why(change_request: ChangeRequest) -> str:
    """Why the request was found outdated, in words ("" if it was not, or was before the
    reason was recorded)."""
    if change_request.state != ChangeRequest.State.STALE:
        return ""
    step = Entry.objects.filter(kind=CHANGE_REQUEST.slug, details__request=change_request.pk,
                                details__step=Step.OUTDATED).first()
    return str(Step.WHY.get(step.details.get("why"), "")) if step else ""


def _check_second_pair_of_eyes(change_request, user):
    if user.pk == change_request.requester_id:
        raise PermissionDenied("a change request needs a second editor")
    if accounts_linked(change_request, user):
        raise AccountsLinked


def _lock_approved(change_request) -> ChangeRequest:
    """The approved request re-read under lock, its campaign's row first (`_lock_open`);
    raises RequestNotSent if it is no longer approved (closed unsent by the worker)."""
    locked = _locked(change_request)
    if locked.state != ChangeRequest.State.APPROVED:
        raise RequestNotSent
    return locked


def _lock_open(change_request) -> ChangeRequest:
    """The request re-read under lock, so two approvers cannot both send it.

    Its campaign's row is locked first, then the request's, as a read from Thulium or a
    change of the campaign takes them before closing its open requests (audit/README.md):
    locked in one statement, the request came first, and PostgreSQL ended an approval or
    a read meeting it as a deadlock.
    """
    locked = _locked(change_request)
    if not locked.is_open:
        raise RequestClosed
    return locked


def _locked(change_request) -> ChangeRequest:
    """The request re-read under lock, in `_lock_open`'s order: its campaign's row first."""
    list(Campaign.objects.select_for_update(of=("self",), no_key=True)
         .filter(change_requests=change_request.pk).values_list("pk"))
    return (
        ChangeRequest.objects.select_for_update(of=("self",))
        .select_related("campaign")
        .get(pk=change_request.pk)
    )
