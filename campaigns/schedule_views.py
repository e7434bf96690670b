"""Scheduled changes: saving one from the edit form, the list of them, one of them, cancelling."""

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.shown_times import shown_minute
from roles.permissions import requires

from .labels import settings_changes
from .left_unanswered import left_unanswered_among, unanswered_call
from .listing import campaign_in_query, page_number
from .models import ScheduledChange
from .schedule_forms import PASSED, CancelForm
from .scheduling import (
    AlreadyScheduled,
    NotWaiting,
    TimePassed,
    authors_who_may_change,
    change_schedule,
    scheduled_change_cancel,
    scheduled_shown_in_full,
)

RECENTLY_FINISHED = 30
WAITING_PER_PAGE = 50


def schedule_from_form(request, campaign, form, changes: dict, reverts=None):
    """The edit form's branch for a change with a time that needs no approval: saved
    (`reverts`: the change whose earlier values it restores, if it restores one), or the
    form again if its time passed meanwhile."""
    apply_at = form.cleaned_data["apply_at"]
    when = shown_minute(apply_at)
    try:
        change_schedule(
            campaign=campaign, changes=changes, actor=request.user,
            reason=form.cleaned_data["reason"], apply_at=apply_at,
            language=request.LANGUAGE_CODE, reverts=reverts,
        )
    except TimePassed:
        # A time a moment ahead when the form was checked, passed when it was saved.
        form.add_error("apply_at", PASSED)
        return render(request, "campaigns/edit.html", {"campaign": campaign, "form": form})
    except AlreadyScheduled:
        messages.info(request, _(
            "This change was saved already: the portal sends it to Thulium at %(when)s, "
            "once."
        ) % {"when": when})
        return redirect(campaign)
    messages.success(request, _(
        "The change is saved: the portal sends it to Thulium at %(when)s."
    ) % {"when": when})
    return redirect(campaign)


def scheduled_list(request):
    """The changes waiting, a page at a time, and those finished lately; `?campaign=` one
    campaign's (the campaign page links here for more than it shows)."""
    changes = ScheduledChange.objects.select_related("campaign")
    campaign = campaign_in_query(request.GET)
    if campaign:
        changes = changes.filter(campaign=campaign)
    waiting = Paginator(changes.waiting(), WAITING_PER_PAGE).get_page(
        page_number(request.GET.get("page")))
    return render(request, "campaigns/scheduled.html", {
        "campaign": campaign,
        "waiting": waiting,
        "authors_may_change": authors_who_may_change(waiting),
        "left_unanswered": left_unanswered_among(waiting),
        "finished": changes.exclude(
            state__in=(ScheduledChange.State.WAITING, ScheduledChange.State.APPLYING)
        ).order_by("-finished_at", "-pk")[:RECENTLY_FINISHED],
        "time_zone": settings.TIME_ZONE,
    })


def scheduled_detail(request, pk):
    return _detail_page(request, pk, CancelForm())


def _detail_page(request, pk, cancel_form):
    change = get_object_or_404(
        ScheduledChange.objects.select_related("campaign", "sent_change", "change_request"),
        pk=pk,
    )
    return render(request, "campaigns/scheduled_detail.html", {
        "change": change, "cancel_form": cancel_form,
        "in_full": scheduled_shown_in_full(change, request.user),
        "unanswered": unanswered_call(change),
        "changes": settings_changes(change.settings_before, change.changes)})


@requires("campaigns.change_campaign")
@require_POST
def scheduled_cancel(request, pk):
    change = get_object_or_404(ScheduledChange, pk=pk)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            scheduled_change_cancel(scheduled=change, actor=request.user,
                                    reason=form.cleaned_data["reason"])
        except NotWaiting:
            change.refresh_from_db()
            form.add_error("reason", _(
                "This change is no longer waiting (now: %(state)s), so it cannot be cancelled."
            ) % {"state": change.get_state_display()})
        else:
            messages.success(request, _("The scheduled change was cancelled; it will not be "
                                        "sent to Thulium."))
            return redirect(change)
    return _detail_page(request, pk, form)
