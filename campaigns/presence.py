"""Whether Thulium's list of campaigns holds a campaign (`Campaign.in_thulium`), each change
of it an audit entry committed with it: a campaign that became "no longer in Thulium" (or
came back) showed on its timeline no reason why its changes stopped being sent."""

import datetime

from django.db import transaction

from audit.models import Outcome
from audit.recording import entries_begin, entries_complete, entry_new, outcome_values

from .entries import THULIUM_PRESENCE
from .models import Campaign

# Who an unattended read of Thulium (`sync_campaigns`, the portal's start) is recorded as.
UNATTENDED = "sync_campaigns"


def reader_named(actor) -> dict:
    """The entry fields naming who asked for a read of Thulium: the user, or UNATTENDED."""
    return {"actor": actor, "actor_username": "" if actor else UNATTENDED}


def presence_mark(campaigns, *, in_thulium: bool, actor, read_at: datetime.datetime) -> int:
    """Set `in_thulium` on those of `campaigns` (a queryset) not set so, with an entry for
    each, in one transaction of a few statements however many change (a refresh can mark
    hundreds); returns how many changed. `actor`: see `reader_named`.

    `read_at` is when the reading of Thulium that listed them, or left them out, began
    (`database_now`): a campaign a reading begun later found (`Campaign.read_at`) is left
    as that one found it. Without it, of two syncs at once the one that read first and
    marked last called a campaign created since not in Thulium, or one deleted since in
    Thulium again. Those left out take `read_at` (marked now or already), so that a
    reading begun before, which listed them, leaves them too."""
    with transaction.atomic():
        # Locked in one order, so that two refreshes at once wait rather than deadlock, and
        # before the chain's head (audit/README.md); one marked meanwhile has no entry.
        # no_key: see Campaign.lock.
        held = campaigns.exclude(read_at__gt=read_at)
        if in_thulium:
            held = held.filter(in_thulium=False)
        locked = list(held.order_by("pk").select_for_update(no_key=True)
                      .only("pk", "in_thulium"))
        if not locked:
            return 0
        Campaign.objects.filter(pk__in=[campaign.pk for campaign in locked]).update(
            in_thulium=in_thulium, **({} if in_thulium else {"read_at": read_at}))
        changed = [campaign for campaign in locked if campaign.in_thulium != in_thulium]
        entries = [entry_new(kind=THULIUM_PRESENCE.slug, campaign=campaign,
                             details={"in_thulium": in_thulium}, **reader_named(actor))
                   for campaign in changed]
        if entries:
            entries_begin(entries)
            entries_complete([(entry, outcome_values(outcome=Outcome.SUCCEEDED))
                              for entry in entries])
    return len(changed)
