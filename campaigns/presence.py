"""Whether Thulium's list of campaigns holds a campaign (`Campaign.in_thulium`), each change
of it an audit entry committed with it: a campaign that became "no longer in Thulium" (or
came back) showed on its timeline no reason why its changes stopped being sent."""

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


def presence_mark(campaigns, *, in_thulium: bool, actor) -> int:
    """Set `in_thulium` on those of `campaigns` (a queryset) not set so, with an entry for
    each, in one transaction of a few statements however many change (a refresh can mark
    hundreds); returns how many changed. `actor`: see `reader_named`."""
    with transaction.atomic():
        # Locked in one order, so that two refreshes at once wait rather than deadlock, and
        # before the chain's head (audit/README.md); a flag changed meanwhile is left out.
        # no_key: see Campaign.lock.
        changed = list(campaigns.filter(in_thulium=not in_thulium).order_by("pk")
                       .select_for_update(no_key=True).only("pk"))
        if not changed:
            return 0
        Campaign.objects.filter(pk__in=[campaign.pk for campaign in changed]).update(
            in_thulium=in_thulium)
        entries = [entry_new(kind=THULIUM_PRESENCE.slug, campaign=campaign,
                             details={"in_thulium": in_thulium}, **reader_named(actor))
                   for campaign in changed]
        entries_begin(entries)
        entries_complete([(entry, outcome_values(outcome=Outcome.SUCCEEDED))
                          for entry in entries])
    return len(changed)
