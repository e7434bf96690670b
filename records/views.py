"""Adding one record to a campaign, and checking in Thulium one whose answer was lost."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from audit.models import Outcome
from audit.services import entry_for
from campaigns.listing import campaign_stats_forget
from campaigns.models import Campaign
from campaigns.services import campaign_choices
from donotcall.lookup import ON_THE_LIST
from portal.thulium import ThuliumError
from portal.views import flash_thulium_error, thulium_error_context
from roles.permissions import requires

from .forms import RecordForm
from .services import (
    AdditionUnconfirmed,
    NumberListed,
    NumberTaken,
    RecordCheckRefused,
    record_add,
    record_check,
)


@requires("records.add_addedrecord")
def record_new(request, thulium_id):
    campaign = get_object_or_404(Campaign, thulium_id=thulium_id)
    statuses, agents, choices_error = [], [], None
    try:
        statuses, agents = campaign_choices(campaign, language=request.LANGUAGE_CODE)
    except ThuliumError as error:
        # The form still works without them: status and agent are optional in Thulium.
        choices_error = thulium_error_context(error)
    unread = choices_error is not None
    form = RecordForm(request.POST or None, campaign=campaign, statuses=statuses, agents=agents,
                      viewer=request.user, choices_unread=unread)
    thulium_error = None
    if request.method == "POST" and form.is_valid():
        try:
            entry = record_add(
                campaign=campaign, payload=form.to_payload(), actor=request.user,
                language=request.LANGUAGE_CODE,
            )
        except AdditionUnconfirmed as unconfirmed:
            thulium_error = _unconfirmed_context(unconfirmed)
        except ThuliumError as error:
            thulium_error = thulium_error_context(error)
        except NumberListed:  # put on the list since the form checked it
            form.add_error("phone_number", forms.ValidationError(ON_THE_LIST,
                                                                 code="suppressed"))
        except NumberTaken:
            # Another page began adding it after this form was checked: checked again, the
            # form says so next to the number, with a link to that addition.
            form = RecordForm(request.POST, campaign=campaign, statuses=statuses,
                              agents=agents, viewer=request.user, choices_unread=unread)
            if form.is_valid():  # that addition failed meanwhile, and left no trace
                form.add_error("phone_number", _(
                    "Someone else was adding this number at the same moment. Send it again."))
        else:
            campaign_stats_forget()
            if entry.outcome != Outcome.SUCCEEDED:  # checked by the worker (records.unanswered)
                messages.warning(request, _(
                    "Thulium answered so late that the portal had taken this addition for "
                    "stopped and checked it in Thulium: its entry says what was found."))
                return redirect(entry)
            messages.success(
                request,
                _("Thulium added the record %(phone)s (record id %(id)s).")
                % {"phone": entry.sent["phone_number"], "id": entry.results["record_id"]},
            )
            return redirect(campaign)
    return render(request, "records/new.html", {
        "campaign": campaign, "form": form, "thulium_error": thulium_error,
        "choices_error": choices_error,
    })


def _unconfirmed_context(unconfirmed: AdditionUnconfirmed) -> dict:
    """The page's error box after a lost answer: one message, leading to the addition's
    entry, whose Check in Thulium button tells whether the record may be sent again."""
    error = unconfirmed.error
    said = format_html(
        _('Thulium did not confirm the request ({detail}): it may have added the record. '
          'Before sending it again, <a href="{url}">check in Thulium</a> from the '
          "addition's audit entry."),
        # The detail is stored in English (gettext_noop in the gateway); shown translated.
        detail=_(error.detail) if error.detail else "",
        url=unconfirmed.entry.get_absolute_url())
    return {**thulium_error_context(error), "messages": [said]}


@requires("records.add_addedrecord")
@require_POST
def record_choices_refresh(request, thulium_id):
    campaign = get_object_or_404(Campaign, thulium_id=thulium_id)
    try:
        campaign_choices(campaign, refresh=True, language=request.LANGUAGE_CODE)
    except ThuliumError as error:
        flash_thulium_error(request, error, _("Could not read statuses and agents"))
    else:
        messages.success(request, _("Statuses and agents reloaded from Thulium."))
    return redirect("records:new", thulium_id=campaign.thulium_id)


@requires("records.add_addedrecord")
@require_POST
def addition_check(request, pk):
    """Check in Thulium an addition whose answer was lost; back to its page, with the outcome."""
    entry = entry_for(viewer=request.user, pk=pk)
    try:
        check = record_check(entry, actor=request.user, language=request.LANGUAGE_CODE)
    except RecordCheckRefused as refusal:
        messages.error(request, str(refusal))
    except ThuliumError as error:
        flash_thulium_error(request, error, _("Could not check in Thulium"))
    else:
        if check.results.get("record_id"):
            messages.success(request, _("Thulium holds this record (id %(id)s): it is now known "
                                        "as added.") % {"id": check.results["record_id"]})
        elif check.results["found"]:
            messages.success(request, _("Thulium holds this number but listed its record "
                                        "without a record id: it is now known as added, and "
                                        "will not be sent again."))
        else:
            messages.success(request, _("Thulium does not hold this number: it may be added "
                                        "again."))
    return redirect(entry)
