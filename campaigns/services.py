"""What users do to campaigns: change their settings, refresh them from Thulium."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.models import Entry, Outcome
from audit.recording import entry_begin, entry_complete, entry_fail
from portal.thulium import ThuliumError, get_client

from .entries import CAMPAIGN_CHANGE
from .models import Campaign, thulium_id_validator

log = logging.getLogger(__name__)
# Keys of GET outbounds items that are campaign settings, if Thulium sends them.
SETTING_KEYS = ("name", "dialer", "active", "start_date", "end_date", "order", "parity",
                "group_id", "parameters")


def campaign_update(*, campaign: Campaign, changes: dict, actor, reason: str = "",
                    language: str | None = None, approval: Entry | None = None) -> Entry:
    """Send the changes to Thulium and record the attempt; raises ThuliumError on failure.

    `approval` is the four-eyes step that let the change through, when one did.
    """
    change = entry_begin(
        kind=CAMPAIGN_CHANGE.slug, actor=actor, campaign=campaign, sent=changes, reason=reason,
        details={"settings_before": campaign.settings}, related=approval,
    )
    try:
        status = get_client(language).update_campaign(campaign.thulium_id, changes)
    except ThuliumError as error:
        entry_fail(change, error)
        raise
    with transaction.atomic():
        entry_complete(change, outcome=Outcome.SUCCEEDED, http_status=status)
        campaign.settings_replace(merged_settings(campaign.settings, changes))
        if "name" in changes:
            campaign.name = changes["name"]
        campaign.save(update_fields=["settings", "version", "name"])
    return change


def merged_settings(known: dict, changes: dict) -> dict:
    """The settings after a successful PUT: Thulium merges `parameters` key by key."""
    merged = {**known, **changes}
    if "parameters" in changes:
        merged["parameters"] = {**known.get("parameters", {}), **changes["parameters"]}
    return merged


@dataclass
class SyncSummary:
    created: int = 0
    updated: int = 0
    skipped: int = 0


def campaigns_sync(*, language: str | None = None) -> SyncSummary:
    """Create or refresh local campaigns from GET outbounds; raises ThuliumError."""
    summary = SyncSummary()
    now = timezone.now()
    for item in get_client(language).list_campaigns():
        thulium_id, name = str(item.get("id", "")), item.get("name")
        try:
            thulium_id_validator(thulium_id)
        except ValidationError:
            thulium_id = ""
        if not thulium_id or not isinstance(name, str) or not name:
            summary.skipped += 1
            continue
        defaults = {"name": name[:255], "synced_at": now}
        campaign = Campaign.objects.filter(thulium_id=thulium_id).first()
        known = campaign.settings if campaign else {}
        defaults["settings"] = {**known, **{k: item[k] for k in SETTING_KEYS if k in item}}
        # `type` and `fields` are not documented; used only when present and well formed.
        if item.get("type") in Campaign.Kind.values:
            defaults["kind"] = item["type"]
        fields = item.get("fields")
        if isinstance(fields, list) and all(isinstance(f, str) for f in fields):
            defaults["structure_fields"] = fields
        _, created = Campaign.objects.update_or_create(thulium_id=thulium_id, defaults=defaults)
        if created:
            summary.created += 1
        else:
            summary.updated += 1
    log.info("campaigns synced: %s", summary)
    return summary


def campaign_choices(campaign: Campaign, *, refresh: bool = False,
                     language: str | None = None) -> tuple[list[dict], list[dict]]:
    """The campaign's statuses and agents, cached; raises ThuliumError."""
    key = f"thulium:choices:{campaign.thulium_id}"
    cached = None if refresh else cache.get(key)
    if cached is None:
        client = get_client(language)
        cached = (client.get_statuses(campaign.thulium_id), client.get_agents(campaign.thulium_id))
        cache.set(key, cached, settings.THULIUM_CHOICES_CACHE_SECONDS)
    return cached
