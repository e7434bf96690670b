"""What users do to campaigns: change their settings, and read their statuses and agents."""

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F

from audit.models import AppendOnlyError, Entry, Outcome
from audit.recording import entry_begin, entry_complete, entry_fail
from portal.caching import cache_answer
from portal.thulium import ThuliumError, get_client

from .entries import CAMPAIGN_CHANGE
from .models import Campaign, ChangeRequest
from .request_steps import outdated_requests_close


class CampaignChanged(Exception):
    """The campaign's settings changed after the version the change was based on."""


class RequestNotSent(Exception):
    """The approved request to send was closed before its call was begun: the worker took
    its process for dead (campaigns.unanswered). Nothing was sent."""


def campaign_update(*, campaign: Campaign, changes: dict, actor, reason: str = "",
                    language: str | None = None, related: Entry | None = None,
                    version: int | None = None, details: dict | None = None,
                    actor_username: str = "",
                    change_request: ChangeRequest | None = None) -> Entry:
    """Send the changes to Thulium and record the attempt.

    `version` is the settings version the change was based on (by default the one
    `campaign` holds): the change claims the next version before Thulium is called, so
    of two changes based on one version only the first is sent; the other raises
    CampaignChanged, and nothing of it is sent. Returns the change's entry; raises
    ThuliumError when Thulium fails.
    `related` is the entry that let the change through (a four-eyes approval, a scheduled
    change) and `details` adds to the entry's own (a revert names what it reverts).
    `actor_username` names the actor when `actor` is None (a deleted user's scheduled change).
    A call that outlived a lease may find its entry completed by the worker (campaigns.
    unanswered, which took it for a dead process's): that outcome stands, and the entry is
    returned as the worker left it, whether Thulium then answered or failed. `change_request`
    is the approved request it sends: locked with the claim, and if the worker closed it
    meanwhile, nothing is sent (RequestNotSent).
    """
    based_on = campaign.version if version is None else version
    # The claim and the pending entry commit together: one commit before the call.
    with transaction.atomic():
        claimed = Campaign.objects.filter(pk=campaign.pk, version=based_on).update(
            version=F("version") + 1
        )
        if change_request is not None and not _still_approved(change_request):
            raise RequestNotSent
        if not claimed:
            raise CampaignChanged
        campaign.version = based_on + 1
        change = entry_begin(
            kind=CAMPAIGN_CHANGE.slug, actor=actor, actor_username=actor_username,
            campaign=campaign, sent=changes, reason=reason, related=related,
            details={**(details or {}), "settings_before": campaign.settings,
                     "version": campaign.version},
        )
    try:
        status = get_client(language).update_campaign(campaign.thulium_id, changes)
    except ThuliumError as error:
        try:
            # Rolled back alone when the entry was completed meanwhile, as _applied_store is.
            with transaction.atomic():
                entry_fail(change, error)
        except AppendOnlyError:
            # Thulium's late error is no truer than a late success: the worker's check stands,
            # and its entry is what the user is shown.
            _give_way(change, campaign)
            return change
        if not error.may_have_applied:
            # Nothing changed in Thulium: forms based on the version before stay valid.
            Campaign.objects.filter(pk=campaign.pk, version=campaign.version).update(
                version=based_on)
            campaign.version = based_on
        raise
    try:
        _applied_store(campaign, changes, change, status)
    except AppendOnlyError:
        _give_way(change, campaign)
    return change


def _still_approved(change_request: ChangeRequest) -> bool:
    """Whether the request is still approved, its row locked until the transaction ends: the
    worker closes an approved request unsent under the same lock, if no call was begun."""
    state = (ChangeRequest.objects.select_for_update().filter(pk=change_request.pk)
             .values_list("state", flat=True).first())
    return state == ChangeRequest.State.APPROVED


def _applied_store(campaign: Campaign, changes: dict, change: Entry, status) -> None:
    """Store the changes Thulium applied in the campaign's row, and complete their entry;
    raises AppendOnlyError, storing nothing, if the entry was completed meanwhile."""
    named = {"name": changes["name"]} if "name" in changes else {}
    with transaction.atomic():
        # The campaign's row before the chain's head, as a request, a scheduled change and a
        # read take them: the head first, PostgreSQL ended one of them as a deadlock. The
        # campaign's open requests, made on the settings before, close between the two.
        merged = merged_settings(campaign.settings, changes)
        kept = Campaign.objects.filter(pk=campaign.pk, version=campaign.version)
        # A new version: forms opened while the change was sent showed the settings
        # before it, under the version it had claimed; sent back, they undid it.
        if kept.update(settings=merged, version=F("version") + 1, **named):
            campaign.version += 1
        else:
            # Read from Thulium meanwhile, and found changed outside the portal: keep that,
            # under a new version, as forms opened meanwhile did not show this change.
            current = Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)
            merged = merged_settings(current.settings, changes)
            campaign.version = current.version + 1
            Campaign.objects.filter(pk=campaign.pk).update(
                settings=merged, version=campaign.version, **named)
        outdated_requests_close(campaign, settings=merged)
        entry_complete(change, outcome=Outcome.SUCCEEDED, http_status=status)
    campaign.settings = merged
    campaign.name = named.get("name", campaign.name)


def _give_way(change: Entry, campaign: Campaign) -> None:
    """Take the change's entry and campaign as stored: a process so slow that its call
    outlived a lease was taken for dead, and the worker completed the entry from what
    Thulium holds (campaigns.unanswered). Its outcome stands; this one is not stored."""
    change.refresh_from_db()
    campaign.refresh_from_db(fields=["settings", "version", "name"])


def merged_settings(known: dict, changes: dict) -> dict:
    """The settings after a successful PUT: Thulium merges `parameters` key by key."""
    merged = {**known, **changes}
    if "parameters" in changes:
        merged["parameters"] = {**known.get("parameters", {}), **changes["parameters"]}
    return merged


def same_as_sent(held, sent) -> bool:
    """Whether a value Thulium holds is one the portal sent, as Thulium may write it back:
    numbers and ids also as text."""
    if isinstance(held, bool) or isinstance(sent, bool):
        return held is sent
    return held == sent or str(held) == str(sent)


# How long a failed read of a campaign's statuses and agents is answered from the cache
# ("Reload statuses and agents" asks Thulium at once).
CHOICES_FAILURE_KEPT_SECONDS = 30


def campaign_choices(campaign: Campaign, *, refresh: bool = False,
                     language: str | None = None) -> tuple[list[dict], list[dict]]:
    """The campaign's statuses and agents, cached; raises ThuliumError. Forms can do
    without them, so Thulium is waited for THULIUM_VIEW_TIMEOUT, and a failure is kept a
    while too: with Thulium down, each record form would wait for it again."""
    key = f"thulium:choices:{campaign.thulium_id}"
    cached = None if refresh else cache_answer(cache.get, key)
    if isinstance(cached, ThuliumError):
        raise cached
    if cached is None:
        client = get_client(language, timeout=settings.THULIUM_VIEW_TIMEOUT)
        try:
            cached = (client.get_statuses(campaign.thulium_id),
                      client.get_agents(campaign.thulium_id))
        except ThuliumError as error:
            cache_answer(cache.set, key, error, CHOICES_FAILURE_KEPT_SECONDS)
            raise
        cache_answer(cache.set, key, cached, settings.THULIUM_CHOICES_CACHE_SECONDS)
    return cached
