"""A change to several campaigns: a preview line per campaign, then a PUT per campaign.

Each campaign's change is judged by the edit form itself (CampaignForm), fed the
campaign's settings with the bulk values over them: what it would send, what it refuses,
what is risky, exactly as on the campaign's own page. The settings are read from Thulium
first, as the edit form and an approval read them: judged against the portal's copy, a
maximum lowered in Thulium's panel to 1 made "set it to 2" a lowering, sent at once with
FOUR_EYES on. The preview is carried to the confirmation signed, with each campaign's
`version`; Thulium is read again before the PUTs, and a campaign whose settings moved in
between (there or in the portal) is not sent.
"""

import datetime
import logging
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from time import monotonic

from django.conf import settings
from django.core import signing
from django.db import connections
from django.utils import formats
from django.utils.translation import gettext as _

from audit.models import Entry
from portal.thulium import ThuliumError
from portal.thulium.deadline import call_longest

from .forms import CampaignForm, initial_from_settings
from .four_eyes import AlreadyRequested, change_request_create
from .labels import setting_value_label
from .models import Campaign, ChangeRequest
from .notices import requests_waiting_notify
from .reading import campaigns_read
from .risk import risk_labels
from .services import CampaignChanged, campaign_update

log = logging.getLogger(__name__)
SALT = "campaigns.bulk.preview"
# A preview older than this is shown again rather than sent: its user has moved on.
PREVIEW_MAX_AGE = datetime.timedelta(hours=1)
# Seconds of a request's time limit (GUNICORN_TIMEOUT) kept for what follows the sends:
# storing their outcomes and showing them.
ANSWER_SECONDS = 5


class Line:
    """What the change does to one campaign."""

    CHANGE, SKIP, REFUSE = "change", "skip", "refuse"


@dataclass
class PreviewLine:
    campaign: Campaign
    state: str
    changes: dict = field(default_factory=dict)  # the PUT body
    rows: list = field(default_factory=list)  # (label, old, new) for the page
    problems: list = field(default_factory=list)
    risks: list = field(default_factory=list)
    needs_reason: bool = False

    @property
    def risk_labels(self) -> list[str]:
        return risk_labels(self.risks)


def bulk_preview(*, campaigns, values: dict, reason: str, actor,
                 language: str | None = None) -> list[PreviewLine]:
    """One line per campaign (in the given order): changed, skipped (already at the new
    values) or refused (the edit form's rules, with the campaign's other settings as
    Thulium holds them; or not in Thulium's list). Raises ThuliumError."""
    listed = campaigns_read(campaigns, actor=actor, language=language)
    return [_preview_line(campaign, values, reason) if campaign.pk in listed
            else PreviewLine(campaign, Line.REFUSE, problems=[
                _("Thulium's list of campaigns does not hold this campaign.")])
            for campaign in campaigns]


def _preview_line(campaign: Campaign, values: dict, reason: str) -> PreviewLine:
    known = initial_from_settings(campaign.settings)
    # As if the user had opened the campaign's edit form and typed the bulk values in.
    data = {**known, "name": known.get("name") or campaign.name, **values, "reason": reason}
    form = CampaignForm(data, known_settings=campaign.settings)
    form.is_valid()
    changes = form.to_payload()
    changes.pop("name", None)  # never a bulk field: only a name the portal did not know
    problems = _problems(form)
    if problems:
        return PreviewLine(campaign, Line.REFUSE, problems=problems)
    if not changes:
        return PreviewLine(campaign, Line.SKIP)
    rows = [(CampaignForm.base_fields[name].label, _shown(name, known.get(name)),
             _shown(name, form.cleaned_data[name]))
            for name in values if name in form.changed_data and name in _flat(changes)]
    return PreviewLine(campaign, Line.CHANGE, changes=changes, rows=rows, risks=form.risks,
                       needs_reason="reason" in form.errors)


def _flat(changes: dict) -> dict:
    return {**changes, **changes.get("parameters", {})}


def _problems(form: CampaignForm) -> list[str]:
    """The form's errors as sentences naming their field; a missing reason is the bulk
    form's to ask for, once for all campaigns."""
    problems = []
    for name, errors in form.errors.items():
        if name == "reason":
            continue
        label = form.fields[name].label if name in form.fields else ""
        problems += [f"{label}: {error}" if label else str(error) for error in errors]
    return problems


def _shown(name: str, value) -> str:
    """A setting's value in the user's words."""
    if value is None or value == "":
        return "—"
    if (words := setting_value_label(name, value)) is not None:
        return words
    if isinstance(value, Decimal):  # 3, not 3.00 nor 3E+0; "2,5" in Polish
        return formats.number_format(Decimal(format(value.normalize(), "f")))
    if isinstance(value, datetime.date):  # as the campaign's page shows it
        return formats.date_format(value)
    return str(value)


def preview_token(*, lines: list[PreviewLine], form_data: dict) -> str:
    """The preview signed for the confirmation: what each campaign is sent, at which
    version, and the form as posted (to show it again if the preview cannot be used)."""
    return signing.dumps({
        "form": form_data,
        "lines": [[line.campaign.pk, line.campaign.version, line.changes, line.risks]
                  for line in lines if line.state == Line.CHANGE],
    }, salt=SALT, compress=True)


class PreviewExpired(Exception):
    """The preview is too old to send; `form_data` is its form, to show again."""

    def __init__(self, form_data: dict):
        super().__init__("preview expired")
        self.form_data = form_data


def preview_read(token: str) -> dict:
    """The signed preview; raises signing.BadSignature, or PreviewExpired."""
    try:
        return signing.loads(token, salt=SALT, max_age=PREVIEW_MAX_AGE)
    except signing.SignatureExpired:
        raise PreviewExpired(signing.loads(token, salt=SALT)["form"]) from None


class Sent:
    """How one campaign's change ended."""

    SUCCEEDED, FAILED, STALE, REQUESTED, GONE, LATE, UNLISTED = (
        "succeeded", "failed", "stale", "requested", "gone", "late", "unlisted"
    )


@dataclass
class Outcome:
    campaign_id: int
    state: str
    campaign: Campaign | None = None
    entry: Entry | None = None
    error: ThuliumError | None = None
    change_request: ChangeRequest | None = None
    # The request was made by an earlier confirmation of the same preview, which told
    # its approvers.
    requested_before: bool = False


def bulk_send(*, preview: dict, actor, language: str | None = None) -> list[Outcome]:
    """Send each campaign's change of a preview (preview_read), a few at a time; one
    failure does not stop the others. Each change is its own audit entry, or with
    FOUR_EYES a risky one its own change request. Outcomes in the preview's order.

    The campaigns are read from Thulium first: one changed there since the preview is not
    sent (STALE), nor one no longer in its list (UNLISTED). Raises ThuliumError, nothing
    sent, when Thulium cannot be read. The requests are made next, and their approvers
    told of them all in one notice, before any PUT: the sends may take most of the
    request's time limit, and a process killed in them (a deploy, out of memory) left the
    requests made so far waiting with no one told.

    The request must end before the web worker's time limit, or it is killed with changes
    in flight: a campaign whose PUT could not be answered by then is not sent (LATE), for
    the user to send again. The first few PUTs always go: a limit shorter than one call is
    the configuration's fault, not the change's. A request calls no Thulium, so it is never
    late.
    """
    reason = preview["form"].get("reason", [""])[-1]
    workers = max(1, settings.CAMPAIGN_BULK_CONCURRENCY)
    # The latest moment a PUT may start: its longest wait for Thulium then still ends in time.
    last_start = (monotonic() + settings.GUNICORN_TIMEOUT - ANSWER_SECONDS
                  - call_longest().total_seconds())
    lines = preview["lines"]
    campaigns = {campaign.pk: campaign for campaign in
                 Campaign.objects.filter(pk__in=[line[0] for line in lines])}
    listed = campaigns_read(campaigns.values(), actor=actor, language=language)
    ended = _outcomes_without_put(lines, campaigns=campaigns, listed=listed, actor=actor,
                                  reason=reason)
    # An outbox row, committed at once: sent by the worker whatever becomes of this process.
    requests_waiting_notify([outcome.change_request for outcome in ended.values()
                             if outcome.state == Sent.REQUESTED and not outcome.requested_before])
    to_send = [index for index in range(len(lines)) if index not in ended]
    send = partial(_send_one, actor=actor, reason=reason, language=language)

    def send_in_time(order: int, line: list) -> Outcome:
        if order >= workers and monotonic() > last_start:
            return Outcome(line[0], Sent.LATE)
        return send(line)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk-change") as pool:
        # Each in a copy of the request's context: its entries and log lines then carry
        # the request's id, as a change sent from one campaign's page does.
        sendings = {index: pool.submit(copy_context().run, send_in_time, order, lines[index])
                    for order, index in enumerate(to_send)}
        ended |= {index: sending.result() for index, sending in sendings.items()}
    outcomes = [ended[index] for index in range(len(lines))]
    late = {outcome.campaign_id: outcome for outcome in outcomes if outcome.state == Sent.LATE}
    for campaign in Campaign.objects.filter(pk__in=late):
        late[campaign.pk].campaign = campaign
    log.info("bulk change by %s: %s", actor.get_username(),
             ", ".join(f"{o.campaign.thulium_id if o.campaign else o.campaign_id} {o.state}"
                       for o in outcomes))
    return outcomes


def _outcomes_without_put(lines: list, *, campaigns: dict, listed, actor,
                          reason: str) -> dict[int, Outcome]:
    """The outcomes of the lines no PUT is for, by their index: not in Thulium's list
    (UNLISTED), or with FOUR_EYES risky (a change request, or GONE or STALE as a PUT's)."""
    ended = {}
    for index, (pk, version, changes, risks) in enumerate(lines):
        if pk in campaigns and pk not in listed:
            ended[index] = Outcome(pk, Sent.UNLISTED, campaigns[pk])
        elif settings.FOUR_EYES and risks:
            ended[index] = _request(pk, version, changes, risks, actor=actor, reason=reason)
    return ended


def _send_one(line: list, *, actor, reason: str, language: str | None) -> Outcome:
    try:
        pk, version, changes, _risks = line
        return _send(pk, version, changes, actor=actor, reason=reason, language=language)
    finally:
        # The pool's threads are not request threads: nothing else closes what they open.
        connections.close_all()


def _not_made(pk: int, campaign: Campaign | None, version: int) -> Outcome | None:
    """Why the campaign's change is not made: gone, or changed since the preview."""
    if campaign is None:
        return Outcome(pk, Sent.GONE)
    if campaign.version != version:
        return Outcome(pk, Sent.STALE, campaign)
    return None


def _request(pk: int, version: int, changes: dict, risks: list, *, actor,
             reason: str) -> Outcome:
    campaign = Campaign.objects.filter(pk=pk).first()
    if unmade := _not_made(pk, campaign, version):
        return unmade
    try:
        change_request = change_request_create(
            campaign=campaign, changes=changes, actor=actor, reason=reason, risks=risks,
            notify=False,  # bulk_send tells the approvers of all its requests at once
        )
    except AlreadyRequested as already:  # the preview confirmed twice: one request
        return Outcome(pk, Sent.REQUESTED, campaign, change_request=already.existing,
                       requested_before=True)
    return Outcome(pk, Sent.REQUESTED, campaign, change_request=change_request)


def _send(pk: int, version: int, changes: dict, *, actor, reason: str,
          language: str | None) -> Outcome:
    campaign = Campaign.objects.filter(pk=pk).first()
    if unmade := _not_made(pk, campaign, version):
        return unmade
    try:
        # Based on the previewed version: one changed since (even a moment ago) is not sent.
        entry = campaign_update(campaign=campaign, changes=changes, actor=actor, reason=reason,
                                language=language, version=version)
    except CampaignChanged:
        return Outcome(pk, Sent.STALE, campaign)
    except ThuliumError as error:
        return Outcome(pk, Sent.FAILED, campaign, error=error)
    return Outcome(pk, Sent.SUCCEEDED, campaign, entry=entry)
