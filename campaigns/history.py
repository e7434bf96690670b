"""A campaign's history as one list: changes, records, change requests and their decisions."""

from dataclasses import dataclass
from itertools import chain

from records.models import RecordAddition

from .models import Campaign, CampaignChange, ChangeRequest


@dataclass(frozen=True)
class Decision:
    """A request's approval, rejection or outdating, as its own line of the history."""

    request: ChangeRequest
    history_kind = "decision"

    @property
    def pk(self):
        return self.request.pk

    @property
    def created_at(self):
        return self.request.decided_at

    @property
    def actor_username(self):
        return self.request.decided_by_username

    def get_absolute_url(self):
        return self.request.get_absolute_url()


def campaign_history(campaign: Campaign, length: int) -> list:
    """The latest `length` entries, newest first."""
    requests = list(ChangeRequest.objects.filter(campaign=campaign)[:length])
    decided = ChangeRequest.objects.filter(campaign=campaign, decided_at__isnull=False)
    entries = chain(
        CampaignChange.objects.filter(campaign=campaign)[:length],
        RecordAddition.objects.filter(campaign=campaign)[:length],
        requests,
        (Decision(request) for request in decided.order_by("-decided_at")[:length]),
    )
    return sorted(entries, key=lambda entry: (entry.created_at, entry.pk), reverse=True)[:length]
