"""Campaign pages: the list, one campaign with its history, and the settings form."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from audit.services import TimelineFilters, timeline_page
from portal.thulium import ThuliumError
from portal.views import flash_thulium_error, thulium_error_context
from roles.permissions import requires

from .forms import CampaignForm, settings_rows
from .four_eyes import change_request_create
from .models import Campaign, ChangeRequest
from .services import campaign_update, campaigns_sync

HISTORY_LENGTH = 50


def campaign_list(request):
    return render(request, "campaigns/list.html", {"campaigns": Campaign.objects.all()})


@requires("campaigns.change_campaign")
@require_POST
def campaign_sync(request):
    try:
        summary = campaigns_sync(language=request.LANGUAGE_CODE)
    except ThuliumError as error:
        flash_thulium_error(request, error, _("Could not read the campaigns from Thulium"))
    else:
        messages.success(
            request,
            _("Campaigns refreshed from Thulium: %(created)d new, %(updated)d updated, "
              "%(skipped)d skipped.") % vars(summary),
        )
    return redirect("campaigns:list")


def campaign_detail(request, thulium_id):
    campaign = get_object_or_404(Campaign, thulium_id=thulium_id)
    return render(request, "campaigns/detail.html", {
        "campaign": campaign,
        "settings_rows": settings_rows(campaign.settings),
        # The audit timeline filtered to the campaign, under the timeline's access rule.
        "history": timeline_page(viewer=request.user, size=HISTORY_LENGTH,
                                 filters=TimelineFilters(campaign_id=campaign.pk)),
        "open_requests": campaign.change_requests.filter(state=ChangeRequest.State.REQUESTED),
    })


@requires("campaigns.change_campaign")
def campaign_edit(request, thulium_id):
    campaign = get_object_or_404(Campaign, thulium_id=thulium_id)
    form = CampaignForm(request.POST or None, known_settings=campaign.settings)
    thulium_error = None
    if request.method == "POST" and form.is_valid():
        changes = form.to_payload()
        if not changes:
            form.add_error(None, _("Nothing was changed, so nothing was sent to Thulium."))
        elif settings.FOUR_EYES and form.risks:
            change_request = change_request_create(
                campaign=campaign, changes=changes, actor=request.user,
                reason=form.cleaned_data["reason"], risks=form.risks,
            )
            messages.info(request, _(
                "This change needs a second editor's approval. It was saved as a request; "
                "nothing was sent to Thulium yet."
            ))
            return redirect(change_request)
        else:
            try:
                campaign_update(
                    campaign=campaign, changes=changes, actor=request.user,
                    reason=form.cleaned_data["reason"], language=request.LANGUAGE_CODE,
                )
            except ThuliumError as error:
                thulium_error = thulium_error_context(error)
            else:
                messages.success(request, _("Thulium accepted the changes to the campaign."))
                return redirect(campaign)
    return render(
        request, "campaigns/edit.html",
        {"campaign": campaign, "form": form, "thulium_error": thulium_error},
    )

