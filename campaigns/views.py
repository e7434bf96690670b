"""Campaign pages: the list, one campaign with its history, and the settings form."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from audit.diff import flat_paths
from audit.kinds import campaign_kinds
from audit.models import Entry, Outcome
from audit.services import MAX_ID, TimelineFilters, timeline_page
from portal.shown_times import shown_minute
from portal.thulium import ThuliumError
from portal.thulium.deadline import call_longest
from portal.views import flash_thulium_error, thulium_error_context
from roles.permissions import requires

from . import listing
from .conflicts import conflict_for
from .forms import CampaignForm, settings_rows
from .four_eyes import AlreadyRequested, change_request_create
from .labels import settings_changes, settings_named
from .left_unanswered import left_unanswered_among
from .models import Campaign, ChangeRequest
from .reading import CampaignNotListed, campaign_read, campaigns_sync
from .revert import NotRevertible, revertible, values_before
from .risk import risk_labels
from .schedule_views import schedule_from_form
from .scheduling import authors_who_may_change
from .services import CampaignChanged, campaign_update

HISTORY_LENGTH = 50
NOT_IN_THULIUM = gettext_lazy(
    "This campaign is no longer in Thulium's list of campaigns (deleted there?), so nothing "
    "was sent or scheduled. Refresh the campaigns from Thulium if it is back.")
# A change whose entry the worker completed meanwhile (swept_meanwhile_warn), worded as
# records.views warns of such an addition; the bulk change's page says it of such a row.
SWEPT_MEANWHILE = gettext_lazy(
    "Thulium answered so late that the portal had taken this change for stopped and "
    "checked it in Thulium: %(found)s")
# The first changes waiting and requests awaiting approval shown on a campaign's page; the
# rest on their lists, filtered to it.
WAITING_SHOWN = 5
OPEN_REQUESTS_SHOWN = 5


def campaign_list(request):
    filter_form = listing.CampaignFilterForm(request.GET)
    campaigns = listing.campaigns_listed(filter_form.filters())
    page = listing.campaigns_page(campaigns, request.GET.get("page"))
    return render(request, "campaigns/list.html", {
        "filter_form": filter_form,
        "page": page,
        "stats_error": listing.campaign_stats_of(page, language=request.LANGUAGE_CODE),
        "selection": listing.selection_kept(request.GET, page),
    })


@requires("campaigns.change_campaign")
@require_POST
def campaign_sync(request):
    try:
        # All the pages within what one call may take (a change's wait), which
        # GUNICORN_TIMEOUT is above: pages each waited THULIUM_TIMEOUT held the request,
        # and its worker, as many times it. sync_campaigns waits for every page.
        summary = campaigns_sync(
            actor=request.user, language=request.LANGUAGE_CODE,
            within=call_longest().total_seconds())
    except ThuliumError as error:
        flash_thulium_error(request, error, _(
            "Could not read the campaigns from Thulium, so none was refreshed"))
    else:
        messages.success(
            request,
            _("Campaigns refreshed from Thulium: %(created)d new, %(updated)d updated, "
              "%(skipped)d skipped, %(not_in_thulium)d no longer in Thulium; "
              "%(changed_outside)d changed outside the portal.")
            % vars(summary),
        )
        if not summary.complete:
            messages.warning(request, _(
                "Thulium's list of campaigns ended before the count it gave, so no campaign "
                "was marked as no longer in Thulium."))
    return redirect("campaigns:list")


def campaign_detail(request, thulium_id):
    campaign = get_object_or_404(Campaign, thulium_id=thulium_id)
    kinds = campaign_kinds()
    # One kind of entries, or all of them (an unknown kind, say from an old link, too).
    kind = next((kind.slug for kind in kinds if kind.slug == request.GET.get("kind")), "")
    first_waiting, waiting_count = first_and_count(campaign.scheduled_changes.waiting(),
                                                   WAITING_SHOWN)
    open_requests, open_count = first_and_count(
        campaign.change_requests.filter(state=ChangeRequest.State.REQUESTED), OPEN_REQUESTS_SHOWN)
    return render(request, "campaigns/detail.html", {
        "campaign": campaign,
        # Its records in Thulium, as the list shows them (one cached call for every page).
        "stats_error": listing.campaign_stats_of([campaign], language=request.LANGUAGE_CODE),
        "settings_rows": settings_rows(campaign.settings),
        # The audit timeline filtered to the campaign, under the timeline's access rule.
        "history": timeline_page(viewer=request.user, size=HISTORY_LENGTH,
                                 filters=TimelineFilters(campaign_id=campaign.pk, kind=kind)),
        "history_kinds": kinds,
        "history_kind": kind,
        "open_requests": open_requests,
        "open_count": open_count,
        "first_waiting": first_waiting,
        "waiting_count": waiting_count,
        "authors_may_change": authors_who_may_change(first_waiting),
        "left_unanswered": left_unanswered_among(first_waiting),
    })


def first_and_count(rows, shown: int) -> tuple[list, int]:
    """The first `shown` of `rows` and how many there are (counted only when `shown` came)."""
    first = list(rows[:shown])
    return first, rows.count() if len(first) == shown else len(first)


@requires("campaigns.change_campaign")
def campaign_edit(request, thulium_id):
    campaign = get_object_or_404(Campaign, thulium_id=thulium_id)
    if request.method != "POST":
        read_error = _read_from_thulium(request, campaign)
        form = CampaignForm(known_settings=campaign.settings, version=campaign.version)
        return _edit_page(request, campaign, form, read_error=read_error)
    if "edit" not in request.POST:
        # Judged against what Thulium holds now, not what the form was opened on: a value
        # changed outside meanwhile made a raise look like a lowering, sent without a
        # second editor. A change found is then a conflict, as another editor's is. Not
        # read, the change is judged as before, and Thulium's answer to it says the rest.
        _read_from_thulium(request, campaign)
    form = CampaignForm(request.POST, known_settings=campaign.settings, version=campaign.version)
    valid = form.is_valid()
    base = form.cleaned_data.get("base")
    if base and base.get("version") != campaign.version and "edit" not in request.POST:
        # Opened before another change: the input is judged against the settings the user
        # saw (what they left as it was is no change of theirs, to check or to call risky),
        # then shown on top of the current ones.
        seen = CampaignForm(request.POST, known_settings=base.get("settings") or {},
                            version=base.get("version", 0))
        if not seen.is_valid():
            return _edit_page(request, campaign, seen)
        return _conflict_page(request, campaign, seen)
    # "Back to the form" on the confirmation page shows the input again, sending nothing.
    if not valid or "edit" in request.POST:
        return _edit_page(request, campaign, form)
    if not campaign.in_thulium:
        form.add_error(None, NOT_IN_THULIUM)
        return _edit_page(request, campaign, form)
    if base is None:
        return _conflict_page(request, campaign, form)
    changes = form.to_payload()
    reverted = _reverted_entry(form, campaign)
    if not changes:
        form.add_error(None, _("Nothing was changed, so nothing was sent to Thulium."))
    elif form.risks and not settings.FOUR_EYES and "confirmed" not in request.POST:
        return render(request, "campaigns/confirm.html", {
            "campaign": campaign, "form": form, "risks": risk_labels(form.risks),
            "changes": settings_changes(campaign.settings, changes),
        })
    elif settings.FOUR_EYES and form.risks:
        # Held for a second editor; one with a time then waits for it once approved.
        apply_at = form.cleaned_data.get("apply_at")
        try:
            change_request = change_request_create(
                campaign=campaign, changes=changes, actor=request.user,
                reason=form.cleaned_data["reason"], risks=form.risks, reverts=reverted,
                apply_at=apply_at,
            )
        except AlreadyRequested as already:  # the form posted twice: one request
            messages.info(request, _("This request was saved already: it is the one "
                                     "waiting for a second editor's approval."))
            return redirect(already.existing)
        messages.info(request, _(
            "This change needs a second editor's approval before %(when)s. It was saved as "
            "a request; once approved it waits for its time."
        ) % {"when": shown_minute(apply_at)} if apply_at else _(
            "This change needs a second editor's approval. It was saved as a request; "
            "nothing was sent to Thulium yet."
        ))
        return redirect(change_request)
    elif form.cleaned_data.get("apply_at"):
        return schedule_from_form(request, campaign, form, changes, reverts=reverted)
    else:
        try:
            change = campaign_update(
                campaign=campaign, changes=changes, actor=request.user,
                reason=form.cleaned_data["reason"], language=request.LANGUAGE_CODE,
                version=base["version"], related=reverted,
                details={"reverts": reverted.pk} if reverted else None,
            )
        except CampaignChanged:
            campaign.refresh_from_db()
            return _conflict_page(request, campaign, form)
        except ThuliumError as error:
            return _edit_page(request, campaign, form, thulium_error=thulium_error_context(error))
        if swept_meanwhile_warn(request, change):
            return redirect(change)
        messages.success(request, _("Thulium accepted the changes to the campaign."))
        return redirect(campaign)
    return _edit_page(request, campaign, form)


@requires("campaigns.change_campaign")
def campaign_revert(request, pk):
    """The edit form with the values a change replaced, for the fields it changed."""
    entry = get_object_or_404(Entry.objects.select_related("campaign"), pk=min(pk, MAX_ID))
    try:
        restored = values_before(entry)
    except NotRevertible as why:
        messages.error(request, str(why))
        return redirect("campaigns:list")
    campaign = entry.campaign
    read_error = _read_from_thulium(request, campaign)
    form = CampaignForm(known_settings=campaign.settings, version=campaign.version,
                        proposed=restored, initial={"reverts": entry.pk})
    form.helper.form_action = reverse("campaigns:edit", args=[campaign.thulium_id])
    return _edit_page(request, campaign, form, read_error=read_error, reverting=entry)


def swept_meanwhile_warn(request, change: Entry) -> bool:
    """Warn, and return True, if the change's entry was completed before Thulium's answer
    came: by the worker, which took the call for a dead process's and asked Thulium what
    it holds (campaigns.unanswered). Its outcome stands, and its detail says what was found."""
    if change.outcome == Outcome.SUCCEEDED:
        return False
    messages.warning(request, SWEPT_MEANWHILE % {"found": _(change.detail.partition("\n")[0])})
    return True


def _edit_page(request, campaign, form, **context):
    return render(request, "campaigns/edit.html",
                  {"campaign": campaign, "form": form, **context})


def _conflict_page(request, campaign, form):
    conflict = conflict_for(form, campaign)
    return _edit_page(request, campaign, conflict.form, conflict=conflict)


def _read_from_thulium(request, campaign) -> str:
    """Take the campaign's settings from Thulium; what went wrong, in words, or ""."""
    try:
        found = campaign_read(campaign, actor=request.user, language=request.LANGUAGE_CODE)
    except ThuliumError as error:
        return error.user_text()
    except CampaignNotListed:
        return _("Thulium's list of campaigns does not hold this campaign.")
    if found:
        messages.warning(request, _(
            "This campaign was changed outside the portal (%(fields)s). The form starts "
            "from the values Thulium holds now."
        ) % {"fields": settings_named(flat_paths(found.details["found"]))})
    return ""


def _reverted_entry(form, campaign) -> Entry | None:
    """The change the form restores, if it restores one of this campaign's changes."""
    pk = form.cleaned_data.get("reverts")
    entry = Entry.objects.filter(pk=min(pk, MAX_ID), campaign=campaign).first() if pk else None
    return entry if entry is not None and revertible(entry) else None
