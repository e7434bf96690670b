"""Reading campaigns from Thulium, and the changes made outside the portal that it finds.

Thulium's own panel can change a campaign behind the portal's back. Whenever the portal
reads a campaign (the edit form, an approval, a change to several campaigns, Refresh,
`sync_campaigns`), a value that differs from the one it knew becomes a "changed outside
the portal" entry before it is taken.
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, F, OuterRef, Q, Subquery, Value, When
from django.utils import timezone

from audit.models import Entry, Outcome
from audit.recording import entries_begin, entries_complete, entry_new, last_link, outcome_values
from portal.db_many import insert_each, update_each
from portal.thulium import get_client
from portal.thulium.deadline import call_longest

from .entries import CAMPAIGN_CHANGE, FOUND_APPLIED, OUTSIDE_CHANGE
from .models import Campaign, thulium_id_validator
from .presence import presence_mark, reader_named
from .request_steps import outdated_requests_close_all
from .services import merged_settings, same_as_sent

log = logging.getLogger(__name__)
# A view's reading of Thulium's list, all its pages, ends within this many
# THULIUM_VIEW_TIMEOUTs (see campaigns_read).
VIEW_READ_TIMEOUTS = 2
# How many campaigns found changed a sync takes in one transaction: their rows stay locked
# until it ends (a user's change to one waits), and it costs the statements of one.
TAKEN_AT_ONCE = 100
# Keys of GET outbounds items that are campaign settings, if Thulium sends them.
SETTING_KEYS = ("name", "dialer", "active", "start_date", "end_date", "order", "parity",
                "group_id", "parameters")


class CampaignNotListed(Exception):
    """Thulium's list of campaigns does not hold the campaign."""


@dataclass
class SyncSummary:
    created: int = 0
    updated: int = 0  # settings or name changed
    skipped: int = 0
    changed_outside: int = 0
    not_in_thulium: int = 0
    # False when Thulium's list may lack campaigns: none was then marked not in Thulium.
    complete: bool = True


@dataclass
class Taken:
    """What a read of campaigns took from Thulium's values, by the pk of each campaign read."""

    outside: dict[int, Entry | None]  # its "changed outside" entry, or None
    replaced: set[int]  # those whose settings (and name) it replaced


def campaigns_sync(*, actor=None, language: str | None = None,
                   within: float | None = None) -> SyncSummary:
    """Create or refresh local campaigns from GET outbounds; raises ThuliumError, nothing
    then refreshed: the list is taken whole or not at all.

    `actor` is who asked for it (None for `sync_campaigns`), named by the entries of the
    changes made outside the portal that it finds. Campaigns a complete list leaves out are
    marked not in Thulium (never deleted: the audit trail names them), and those it lists
    again in Thulium, each with an entry (campaigns.presence). Beside another sync (a
    Refresh beside cron's), a campaign whose values a reading begun after this one's took,
    or that it found missing, is left as it found it (Campaign.read_at), and counted
    neither updated, changed nor missing.

    Each page is waited THULIUM_TIMEOUT; given `within` (seconds), all the pages together
    end within it too, or ThuliumUnavailable "no answer in time" is raised (see
    list_campaigns). Refresh gives one, `sync_campaigns` none.
    """
    summary = SyncSummary()
    now = timezone.now()
    read_at, asked_at = database_now(), last_link()
    listing = get_client(language).list_campaigns(within=within)
    listed, usable = set(), []
    for item in listing:
        thulium_id, name = str(item.get("id", "")), item.get("name")
        try:
            thulium_id_validator(thulium_id)
        except ValidationError:
            thulium_id = ""
        listed.add(thulium_id)
        if not thulium_id or not isinstance(name, str) or not name:
            summary.skipped += 1
            continue
        usable.append((thulium_id, item))
    # One query for the known campaigns, read after Thulium was asked: a change saved since
    # sets only fields the locked path would leave out (_not_shown).
    known = Campaign.objects.in_bulk([thulium_id for thulium_id, _item in usable],
                                     field_name="thulium_id")
    new, changed, refreshed, described = {}, [], {}, []
    for thulium_id, item in usable:
        if thulium_id in new:  # listed twice: created first, then taken as known
            summary.created += _campaigns_create(new.values(), known)
            new = {}
        campaign = known.get(thulium_id)
        if campaign is None:
            new[thulium_id] = Campaign(thulium_id=thulium_id, name=item["name"][:255],
                                       settings=thulium_settings(item), synced_at=now,
                                       read_at=read_at, **_description(item))
            continue
        found = thulium_settings(item)
        # Only a campaign Thulium's item changes (or teaches) takes the locked path, with
        # its queries: a refresh of thousands of unchanged campaigns stays a few queries.
        if settings_taken(campaign.settings, found) != campaign.settings:
            changed.append((campaign, found))
        refreshed[campaign.pk] = (campaign, found)
        if changes := {key: value for key, value in _description(item).items()
                       if getattr(campaign, key) != value}:
            described.append((campaign.pk, changes))
    _changed_take(changed, summary, actor=actor, asked_at=asked_at, read_at=read_at)
    summary.created += _campaigns_create(new.values(), known)
    _taken_count(_synced_mark(list(refreshed.values()), now, actor=actor, asked_at=asked_at,
                              read_at=read_at), summary)
    for pk, changes in described:
        Campaign.objects.filter(pk=pk).exclude(read_at__gt=read_at).update(**changes)
    presence_mark(Campaign.objects.filter(pk__in=list(refreshed)), in_thulium=True,
                  actor=actor, read_at=read_at)
    summary.complete = listing.complete
    if listing.complete:
        summary.not_in_thulium = _not_in_thulium_mark(listed, actor=actor, read_at=read_at)
    log.info("campaigns synced: %s", summary)
    return summary


def _changed_take(changed: list[tuple[Campaign, dict]], summary: SyncSummary, *, actor,
                  asked_at: int, read_at: datetime.datetime) -> None:
    """Take the settings found for the campaigns whose known ones they change, TAKEN_AT_ONCE
    in each transaction, counting them in `summary`."""
    changed.sort(key=lambda pair: pair[0].pk)  # each transaction locks the next rows in order
    for start in range(0, len(changed), TAKEN_AT_ONCE):
        part = changed[start:start + TAKEN_AT_ONCE]
        # Counted from what this one replaced: another sync at once may have taken the
        # same change since the campaigns were read, and the row holds it already.
        _taken_count(outside_changes_take_all(part, actor=actor, asked_at=asked_at,
                                              read_at=read_at), summary)


def _taken_count(taken: Taken, summary: SyncSummary) -> None:
    """Count in `summary` the campaigns whose settings `taken` replaced, and those of them
    changed outside the portal."""
    summary.changed_outside += sum(entry is not None for entry in taken.outside.values())
    summary.updated += len(taken.replaced)


def _synced_mark(found: list[tuple[Campaign, dict]], moment, *, actor, asked_at: int,
                 read_at: datetime.datetime) -> Taken:
    """Set the campaigns' time of sync, their rows taken in id order first, as every lock
    of several campaigns takes them: one UPDATE took them in the table's order, and a read
    of several (a bulk change's, a refresh's batch) holding one it wanted next, waiting for
    one it held, made PostgreSQL end one of the two as a deadlock.

    `found` are the campaigns (their settings' versions as read) with the settings the
    reading begun at `read_at` found in Thulium: those still at those versions now hold
    values read then, unless a reading begun later found them (`read_at` is kept).
    Without it, a reading begun before this one and taking after it, finding other
    values, wrote what Thulium had held before. Those whose version moved take what was
    found as outside_changes_take_all does (but those a reading begun later found),
    returning what it took: a reading begun before this one that took older values after
    this one compared (Thulium's X -> Y -> X: Y taken after X was found unchanged) left
    them holding what Thulium no longer held, until the next sync."""
    versions = {campaign.pk: campaign.version for campaign, _values in found}
    pks = list(versions)
    with transaction.atomic():
        moved = {pk for pk, version in Campaign.objects.filter(pk__in=pks).order_by("pk")
                 .select_for_update(no_key=True).values_list("pk", "version")
                 if version != versions[pk]}
        # After the rows above, as outside_changes_take_all locks them: in id order.
        taken = outside_changes_take_all(
            [(campaign, values) for campaign, values in found if campaign.pk in moved],
            actor=actor, asked_at=asked_at, read_at=read_at)
        read_then = Q(read_at=None) | Q(read_at__lt=read_at)
        if moved:
            read_then &= ~Q(pk__in=list(moved))
        Campaign.objects.filter(pk__in=pks).update(
            synced_at=moment,
            read_at=Case(When(read_then, then=Value(read_at)), default=F("read_at")))
    return taken


def _campaigns_create(campaigns, known: dict) -> int:
    """Create the campaigns in one statement, and add them to `known` (by Thulium id) as
    stored; returns how many this created.

    Another sync at once (a Refresh beside cron's sync_campaigns) may have found them
    missing too, and created them first: those are taken as it stored them, not created
    again. The unique Thulium id decides, the second INSERT waiting for the first to
    commit; a plain INSERT failed on it, a server error for the user who asked.
    """
    campaigns = list(campaigns)
    if not campaigns:
        return 0
    columns = [field.attname for field in Campaign._meta.concrete_fields
               if not field.primary_key]
    created = insert_each(Campaign, columns=columns,
                          rows=[[getattr(campaign, name) for name in columns]
                                for campaign in campaigns],
                          unique=["thulium_id"], returning=["thulium_id"])
    known |= Campaign.objects.in_bulk([campaign.thulium_id for campaign in campaigns],
                                      field_name="thulium_id")
    return len(created)


def _not_in_thulium_mark(listed: set[str], *, actor, read_at: datetime.datetime) -> int:
    """Mark the campaigns whose ids a complete GET outbounds, read from `read_at`, left out
    as not in Thulium; returns how many such campaigns the portal holds, but those a
    reading begun later found (listed, or created: see presence_mark)."""
    missing = Campaign.objects.exclude(thulium_id__in=listed)
    if marked := presence_mark(missing, in_thulium=False, actor=actor, read_at=read_at):
        log.warning("%d campaigns no longer in Thulium's list", marked)
    return missing.exclude(read_at__gt=read_at).count()


def campaign_read(campaign: Campaign, *, actor, language: str | None = None) -> Entry | None:
    """Take the campaign's current settings from Thulium into `campaign`.

    Returns the "changed outside the portal" entry when Thulium's values differ from the
    known ones. Raises ThuliumError, or CampaignNotListed. The form it is read for opens
    with the last known values without it, so Thulium is waited for as campaigns_read says.
    """
    found = campaigns_read([campaign], actor=actor, language=language)
    if campaign.pk not in found:
        raise CampaignNotListed
    return found[campaign.pk]


def campaigns_read(campaigns, *, actor, language: str | None = None) -> dict:
    """Take each campaign's current settings from Thulium into it, from one reading of
    Thulium's list, whose pages stop being read once each campaign was listed.

    Returns, by the pk of each campaign Thulium's list holds, its "changed outside the
    portal" entry or None (a campaign missing is not in the list, and is marked not in
    Thulium if the list is complete, with an entry: campaigns.presence; nor is one a
    reading begun after this one found missing). Raises ThuliumError.

    Each page is waited for THULIUM_VIEW_TIMEOUT, and the whole reading, however many
    pages, ends within VIEW_READ_TIMEOUTS (2) times it, or raises ThuliumUnavailable "no
    answer in time" (nothing then marked not in Thulium): the form, approval or change to
    several campaigns it is read for keeps the rest of its request's time (a change's PUTs,
    GUNICORN_TIMEOUT). Twice, as one call already waited up to that (a connection, then an
    answer: docs/operations.md), so a list answered on its first page waits as before; and
    one timeout would be too little for a long list on a healthy Thulium: a page took
    15-40 ms on the sandbox (50 pages of 4993 campaigns in 0.8-1.9 s on a loaded machine),
    and 10 s by default leave a real Thulium 200 ms for each of 50 pages.
    """
    wanted = {campaign.thulium_id: campaign for campaign in campaigns}
    timeout = settings.THULIUM_VIEW_TIMEOUT
    read_at, asked_at = database_now(), last_link()
    listing = get_client(language, timeout=timeout).list_campaigns(
        wanted=set(wanted), within=VIEW_READ_TIMEOUTS * timeout)
    listed = []
    for item in listing:
        campaign = wanted.pop(str(item.get("id", "")), None)
        if campaign is not None:
            listed.append((campaign, thulium_settings(item)))
    taken = outside_changes_take_all(listed, actor=actor, asked_at=asked_at,
                                     read_at=read_at).outside
    marked = _synced_mark(listed, timezone.now(), actor=actor, asked_at=asked_at,
                          read_at=read_at)
    taken |= {pk: entry for pk, entry in marked.outside.items() if entry is not None}
    presence_mark(Campaign.objects.filter(pk__in=taken), in_thulium=True, actor=actor,
                  read_at=read_at)
    found = {}
    for campaign, _values in listed:
        # One a reading begun later found keeps what it found (its row's flag, read with
        # it): deleted in Thulium since this one listed it, it is not listed.
        if campaign.read_at is None or campaign.read_at <= read_at:
            campaign.in_thulium = True
        if campaign.in_thulium and campaign.pk in taken:
            found[campaign.pk] = taken[campaign.pk]
    if listing.complete and wanted:
        presence_mark(Campaign.objects.filter(pk__in=[c.pk for c in wanted.values()]),
                      in_thulium=False, actor=actor, read_at=read_at)
        for campaign in wanted.values():
            campaign.in_thulium = False
    return found


def outside_changes_take(campaign: Campaign, found: dict, *, actor, asked_at: int,
                         read_at: datetime.datetime) -> Entry | None:
    """Take the settings Thulium holds as the campaign's, recording what changed outside.

    `asked_at` is the audit chain's last link when Thulium was asked (`last_link`), and
    `read_at` the database's time then (`database_now`): a campaign that a reading begun
    later found is left as it found it (this one's values are older), unchanged. A
    value the portal never knew is learnt without an entry: it was unknown, not changed.
    A field that a change the portal is sending sets keeps its known value: Thulium may
    not have applied the change yet, and its answer says whether it did (its old value,
    taken, was called a change made outside and sent back by forms opened meanwhile). So
    does a field a change begun or finished since Thulium was asked sets: Thulium may
    have answered before it landed, and its old value, taken, undid the change in the
    portal's copy as "changed outside the portal". Values that a change of the portal's
    whose answer was lost had sent are that change's, found applied (FOUND_APPLIED), not a
    change made outside. Requests made on the settings before are outdated. `campaign` is
    updated in place. Returns the "changed outside"
    entry, if one was written.
    """
    return outside_changes_take_all([(campaign, found)], actor=actor, asked_at=asked_at,
                                    read_at=read_at).outside.get(campaign.pk)


def outside_changes_take_all(found: list[tuple[Campaign, dict]], *, actor, asked_at: int,
                             read_at: datetime.datetime) -> Taken:
    """`outside_changes_take` for several campaigns, each with the settings Thulium holds,
    in one transaction of a few statements however many they are (and those of each open
    request it outdates); returns each one's "changed outside" entry or None, and which
    it replaced the settings of. Taken
    one by one, a dozen statements each (its locked row, its entries), a refresh finding
    2,500 campaigns changed took 46 s, with its reading past gunicorn's timeout.
    """
    if not found:
        return Taken({}, set())
    wanted = {campaign.pk: (campaign, values) for campaign, values in found}
    entries = []
    with transaction.atomic():
        # Locked in one order, so that two reads at once wait rather than deadlock, and
        # before the chain's head (audit/README.md); no_key: see Campaign.lock.
        locked = list(Campaign.objects.select_for_update(no_key=True).filter(pk__in=list(wanted))
                      .order_by("pk"))
        taken = Taken(dict.fromkeys(current.pk for current in locked), set())
        # Those a reading begun later found are left as it found them: this one's values
        # are older (two syncs at once, this one's reading of Thulium begun first).
        later = {current.pk for current in locked
                 if current.read_at is not None and current.read_at > read_at}
        taking = [current for current in locked if current.pk not in later]
        not_shown, unanswered = _not_shown(taking, asked_at), _unanswered(taking)
        for current in taking:
            current.read_at = read_at
            before, values = current.settings, _without(wanted[current.pk][1],
                                                        not_shown.get(current.pk, {}))
            changed = changed_values(before, values)
            applied, related = _found_applied(changed, unanswered.get(current.pk, []))
            outside = _without(changed, applied)
            if not current.settings_replace(settings_taken(before, values)):
                continue
            if isinstance(values.get("name"), str) and values["name"]:
                current.name = values["name"][:255]
            taken.replaced.add(current.pk)
            who = {"campaign": current, **reader_named(actor)}
            details = {"settings_before": before, "version": current.version}
            if applied:
                entries.append(entry_new(kind=FOUND_APPLIED.slug, related=related,
                                         details={"found": applied, **details}, **who))
                log.info("campaign %s: unanswered change %s found applied: %s",
                         current.thulium_id, related.pk, sorted(applied))
            if outside:
                taken.outside[current.pk] = entry_new(
                    kind=OUTSIDE_CHANGE.slug, details={"found": outside, **details}, **who)
                entries.append(taken.outside[current.pk])
                log.info("campaign %s changed outside the portal: %s", current.thulium_id,
                         sorted(outside))
        update_each(Campaign, keys=["id"], columns=["settings", "version", "name", "read_at"],
                    rows=[[current.settings, current.version, current.name, current.read_at,
                           current.pk] for current in taking])
        outdated_requests_close_all([(current, current.settings) for current in taking
                                     if current.pk in taken.replaced])
        if entries:
            entries_begin(entries)
            entries_complete([(entry, outcome_values(outcome=Outcome.SUCCEEDED))
                              for entry in entries])
    if later:
        log.info("campaigns %s left as a reading of Thulium begun later found them",
                 sorted(wanted[pk][0].thulium_id for pk in later))
    for current in locked:
        campaign = wanted[current.pk][0]
        campaign.settings, campaign.version, campaign.name, campaign.read_at = (
            current.settings, current.version, current.name, current.read_at)
        campaign.in_thulium = current.in_thulium
    return taken


def database_now() -> datetime.datetime:
    """The database's time, in which the readings of Thulium are ordered (Campaign.read_at):
    the machines reading may not agree on the time, the database's clock is one. SQLite's
    own counts milliseconds, in which two readings can begin together; it is a file of
    this machine, whose clock Python reads to the microsecond."""
    if connection.vendor != "postgresql":
        return timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT STATEMENT_TIMESTAMP()")  # now(): the transaction's start
        return cursor.fetchone()[0]


def settings_taken(known: dict, found: dict) -> dict:
    """The settings `known` becomes when Thulium's `found` values are taken: those it never
    knew learnt, those changed replaced (a value written back otherwise, 7 as "7", is the
    known one, and raises no version: forms opened meanwhile stay valid)."""
    return merged_settings(merged_settings(known, _without(found, known)),
                           changed_values(known, found))


def thulium_settings(item: dict) -> dict:
    """The settings of a GET outbounds item, as the portal keeps them."""
    return {key: item[key] for key in SETTING_KEYS if key in item}


def changed_values(known: dict, found: dict) -> dict:
    """The values of `found` that differ from a value `known` holds, nested as in a PUT.
    Thulium may write a number back as text: 7 and "7" are the same (same_as_sent)."""
    changed = {}
    for key, value in found.items():
        if key not in known or same_as_sent(value, known[key]):
            continue
        if isinstance(value, dict) and isinstance(known[key], dict):
            nested = changed_values(known[key], value)
            if nested:
                changed[key] = nested
        else:
            changed[key] = value
    return changed


def _not_shown(campaigns: list[Campaign], asked_at: int) -> dict[int, dict]:
    """By campaign pk, what each one's changes that Thulium's answer may not show set,
    together: those the portal is sending (begun and not answered yet, within the time a
    call to Thulium may take: an older one was left pending by a process that stopped, and
    says nothing of Thulium now), and those begun or finished after Thulium was asked
    (`asked_at`). One query for all of them."""
    not_shown = (Q(outcome=Outcome.PENDING, created_at__gte=_sending_since())
                 | Q(begin_seq__gt=asked_at) | Q(complete_seq__gt=asked_at))
    sending = {}
    for campaign_id, sent in (
            Entry.objects.filter(not_shown, kind=CAMPAIGN_CHANGE.slug,
                                 campaign__in=[campaign.pk for campaign in campaigns])
            .order_by("pk").values_list("campaign_id", "sent")):
        sending[campaign_id] = merged_settings(sending.get(campaign_id, {}), sent)
    return sending


def _sending_since() -> datetime.datetime:
    """When the changes still pending that the portal may be sending began, at the earliest:
    a call to Thulium ends within its timeouts."""
    return timezone.now() - call_longest()


def _without(values: dict, fields: dict) -> dict:
    """`values` without the fields that `fields` sets, nested as in a PUT."""
    kept = {}
    for key, value in values.items():
        if key not in fields:
            kept[key] = value
        elif isinstance(value, dict) and isinstance(fields[key], dict):
            if nested := _without(value, fields[key]):
                kept[key] = nested
    return kept


def _unanswered(campaigns: list[Campaign]) -> dict[int, list[tuple[Entry, dict]]]:
    """By campaign pk, each one's changes whose answer was lost (outcome unknown) since it
    was last read from Thulium, or is not yet known (pending longer than a call can take:
    its process stopped, and the worker's sweep, campaigns.unanswered, has yet to ask
    Thulium), oldest first, each with the fields it sent that no later change of the
    campaign (applied, or its answer lost too) set: what a read finds they had set is
    theirs. A value a later change replaced, found again, was set outside the portal since.
    One query for all of them, as their rows hold them (`campaigns` locked)."""
    left_pending = Q(outcome=Outcome.PENDING, created_at__lt=_sending_since())
    lost = Q(Q(campaign__synced_at=None) | Q(completed_at__gte=F("campaign__synced_at")),
             outcome=Outcome.UNKNOWN)
    unanswered = Entry.objects.filter(
        lost | left_pending,
        kind=CAMPAIGN_CHANGE.slug, campaign=OuterRef("campaign"))
    by_pk = {campaign.pk: campaign for campaign in campaigns}
    changes = (Entry.objects.filter(Q(outcome__in=[Outcome.SUCCEEDED, Outcome.UNKNOWN])
                                    | left_pending, kind=CAMPAIGN_CHANGE.slug,
                                    campaign__in=list(by_pk),
                                    pk__gte=Subquery(unanswered.order_by("pk").values("pk")[:1]))
               .order_by("campaign_id", "-pk")
               .only("pk", "campaign_id", "sent", "outcome", "completed_at"))
    theirs, later = {}, {}
    for change in changes:
        synced_at = by_pk[change.campaign_id].synced_at
        if change.outcome == Outcome.PENDING or (change.outcome == Outcome.UNKNOWN and (
                synced_at is None
                or (change.completed_at and change.completed_at >= synced_at))):
            theirs.setdefault(change.campaign_id, []).insert(
                0, (change, _without(change.sent, later.get(change.campaign_id, {}))))
        later[change.campaign_id] = merged_settings(later.get(change.campaign_id, {}),
                                                    change.sent)
    return theirs


def _found_applied(changed: dict,
                   unanswered: list[tuple[Entry, dict]]) -> tuple[dict, Entry | None]:
    """The values of `changed` that the unanswered changes had sent (as `_unanswered` gives
    them), and the last of those changes whose values were found (None if none was)."""
    applied, last = {}, None
    for change, sent in unanswered:
        if part := _sent_part(changed, sent):
            applied, last = merged_settings(applied, part), change
    return applied, last


def _sent_part(changed: dict, sent: dict) -> dict:
    """The values of `changed` that are those `sent` set, nested as in a PUT."""
    part = {}
    for key, value in changed.items():
        if key not in sent:
            continue
        if isinstance(value, dict) and isinstance(sent[key], dict):
            if nested := _sent_part(value, sent[key]):
                part[key] = nested
        elif same_as_sent(value, sent[key]):
            part[key] = value
    return part


def _description(item: dict) -> dict:
    """`type` and `fields` are not documented; used only when present and well formed."""
    described = {}
    if item.get("type") in Campaign.Kind.values:
        described["kind"] = item["type"]
    fields = item.get("fields")
    if isinstance(fields, list) and all(isinstance(f, str) for f in fields):
        described["structure_fields"] = fields
    return described
