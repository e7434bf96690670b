"""Scheduled changes: a settings change saved now, sent to Thulium by the worker at its time.

Saving one writes a `ScheduledChange` (waiting) and a "scheduled" step in the audit log;
cancelling or missing it writes a step of its own. Sending it is `campaigns.due`'s work,
through `campaign_update` like any immediate change. A risky change under FOUR_EYES is a
change request carrying the time (`campaigns.four_eyes`): approved before the time, it is
scheduled here.
"""

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import Entry, Outcome
from audit.recording import WORKER, entry_begin, entry_complete
from audit.services import may_see_everyone

from .entries import SCHEDULED_CHANGE, ScheduleStep
from .models import Campaign, ChangeRequest, ScheduledChange, campaign_changers
from .notices import scheduled_change_ended_notify

log = logging.getLogger(__name__)


class NotWaiting(Exception):
    """The change is no longer waiting: it was applied, missed or cancelled meanwhile."""


class AlreadyScheduled(Exception):
    """The same change by the same person for the same time waits already (a form posted
    twice): `existing` is it."""

    def __init__(self, existing: ScheduledChange):
        super().__init__(f"scheduled change {existing.pk} is the same")
        self.existing = existing


class TimePassed(Exception):
    """The time the change was to be applied at has passed."""


def change_schedule(*, campaign: Campaign, changes: dict, actor, reason: str,
                    apply_at: datetime.datetime, language: str = "",
                    change_request: ChangeRequest | None = None,
                    approval: Entry | None = None,
                    reverts: Entry | None = None) -> ScheduledChange:
    """Save the change to be sent at `apply_at`; nothing is sent to Thulium now.

    `change_request` and `approval` name the four-eyes request and its approval, when a
    second editor let it through; `reverts` the change whose earlier values it restores
    (the request's, if it has one). Raises TimePassed if `apply_at` is not in the future,
    AlreadyScheduled if the same change by the same person for the same time waits already.
    """
    if apply_at <= timezone.now():
        raise TimePassed
    requester = change_request.requester if change_request else actor
    with transaction.atomic():
        if change_request is None:
            _raise_if_saved_before(campaign, changes=changes, apply_at=apply_at,
                                   created_by=actor, reason=reason)
        scheduled = ScheduledChange.objects.create(
            campaign=campaign, changes=changes, settings_before=campaign.settings,
            reason=reason, apply_at=apply_at, language=language or "",
            created_by=requester,
            created_by_username=(change_request.actor_username if change_request
                                 else actor.get_username()),
            change_request=change_request,
            reverts_id=reverts.pk if reverts is not None
            else change_request.reverts_id if change_request is not None else None,
        )
        scheduled.scheduled_entry = record_step(scheduled, ScheduleStep.SCHEDULED, actor=actor,
                                                related=approval)
        scheduled.save(update_fields=["scheduled_entry"])
    log.info("change %s for campaign %s scheduled at %s by %s", scheduled.pk,
             campaign.thulium_id, apply_at.isoformat(), actor.get_username())
    return scheduled


def _raise_if_saved_before(campaign: Campaign, **same) -> None:
    """A form posted twice (a double click, a page sent again) saves its change once. The
    campaign's row is locked first, so two posts at once do not both find none."""
    campaign.lock()
    existing = ScheduledChange.objects.waiting().filter(
        campaign=campaign, change_request=None, **same).first()
    if existing is not None:
        raise AlreadyScheduled(existing)


def scheduled_change_cancel(*, scheduled: ScheduledChange, actor, reason: str) -> None:
    """Cancel a waiting change; raises NotWaiting if it is no longer waiting."""
    with transaction.atomic():
        # Conditional, so a worker claiming it at this moment and the cancel cannot both win.
        taken = ScheduledChange.objects.filter(
            pk=scheduled.pk, state=ScheduledChange.State.WAITING
        ).update(state=ScheduledChange.State.CANCELLED, finished_at=timezone.now(),
                 cancelled_by_username=actor.get_username(), cancel_reason=reason)
        if not taken:
            raise NotWaiting
        scheduled.refresh_from_db()
        record_step(scheduled, ScheduleStep.CANCELLED, actor=actor, note=reason)
        scheduled_change_ended_notify(scheduled, ScheduledChange.State.CANCELLED,
                                      cancelled_by=actor)
    log.info("scheduled change %s cancelled by %s", scheduled.pk, actor.get_username())


def scheduled_shown_in_full(scheduled: ScheduledChange, user) -> bool:
    """True when `user` may read who scheduled it, the reason and the values: an editor,
    who may cancel it, or one who may open its steps in the audit trail
    (audit.services.may_see_entry: the one who scheduled it, an auditor any). Others see
    that it exists, its campaign, state and times, as the trail shows them others' entries."""
    return _sees_every_scheduled(user) or user.pk == scheduled.created_by_id


def scheduled_changes_shown_in_full(scheduled_changes, user):
    """The changes of a queryset `user` may read in full (`scheduled_shown_in_full`)."""
    if _sees_every_scheduled(user):
        return scheduled_changes
    return scheduled_changes.filter(created_by=user.pk)


def _sees_every_scheduled(user) -> bool:
    return user.has_perm("campaigns.change_campaign") or may_see_everyone(user)


def authors_who_may_change(scheduled_changes) -> set[int]:
    """The ids of the changes' authors who may still change campaigns (as
    ScheduledChange.author_may_change tells of one), in one query: asked of each change, a
    list of thousands waiting made as many."""
    authors = {change.created_by_id for change in scheduled_changes} - {None}
    return set(campaign_changers().filter(pk__in=authors).values_list("pk", flat=True))


def grace() -> datetime.timedelta:
    """How late a change missed while no worker ran may still be sent."""
    return datetime.timedelta(minutes=settings.SCHEDULE_GRACE_MINUTES)


def record_step(scheduled: ScheduledChange, step: str, *, actor, note: str = "",
                related: Entry | None = None) -> Entry:
    """The step as a completed audit entry; later steps name the scheduled one as related.
    `actor` None: the worker's own doing (a change it found missed or may not send)."""
    details = {
        "scheduled": scheduled.pk, "step": step,
        "apply_at": timezone.localtime(scheduled.apply_at).isoformat(timespec="minutes"),
        "settings_before": scheduled.settings_before,
    }
    if note:
        details["note"] = note
    if step != ScheduleStep.SCHEDULED:
        related = scheduled.scheduled_entry
    return entry_complete(entry_begin(
        kind=SCHEDULED_CHANGE.slug, actor=actor, actor_username=WORKER,
        campaign=scheduled.campaign,
        sent=scheduled.changes, reason=scheduled.reason, details=details, related=related,
    ), outcome=Outcome.SUCCEEDED)
