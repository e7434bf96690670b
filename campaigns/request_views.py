"""Change requests (four eyes): those awaiting approval, one request, and its decision."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from portal.thulium import ThuliumError
from portal.views import flash_thulium_error
from roles.permissions import requires

from .approvers import accounts_linked
from .forms import RejectionForm
from .four_eyes import (
    AccountsLinked,
    CampaignUnread,
    RequestClosed,
    RequesterGone,
    RequestNotSent,
    RequestOutdated,
    RequestTooLate,
    change_request_approve,
    change_request_reject,
    may_decide,
    outdated_why,
    request_shown_in_full,
)
from .labels import settings_changes
from .listing import campaign_in_query
from .models import ChangeRequest
from .risk import risk_labels
from .views import swept_meanwhile_warn

RECENT_DECISIONS = 20
REQUESTS_PER_PAGE = 50
LINKED = gettext_lazy(
    "Not decided: one of you created or changed the other's account in the admin (its "
    "password, roles or two-factor login), so another editor must approve or reject this "
    "request."
)


def request_list(request):
    """The requests awaiting approval, newest first, a page at a time, and the latest
    decided; `?campaign=` one campaign's (the campaign page links here for more than it
    shows)."""
    requests = ChangeRequest.objects.select_related("campaign")
    campaign = campaign_in_query(request.GET)
    if campaign:
        requests = requests.filter(campaign=campaign)
    return render(request, "campaigns/requests.html", {
        "campaign": campaign,
        "open_requests": Paginator(requests.filter(state=ChangeRequest.State.REQUESTED),
                                   REQUESTS_PER_PAGE).get_page(request.GET.get("page")),
        "decided": requests.exclude(state=ChangeRequest.State.REQUESTED)[:RECENT_DECISIONS],
    })


def request_detail(request, pk):
    return _detail_page(request, pk, RejectionForm())


def _detail_page(request, pk, rejection_form):
    change_request = get_object_or_404(
        ChangeRequest.objects.select_related("campaign", "sent_change"), pk=pk
    )
    return render(request, "campaigns/request_detail.html", {
        "entry": change_request,
        "risks": risk_labels(change_request.risks),
        "changes": settings_changes(change_request.settings_before, change_request.changes),
        "sent_change": getattr(change_request, "sent_change", None),
        "in_full": request_shown_in_full(change_request, request.user),
        "may_decide": may_decide(change_request, request.user),
        "accounts_linked": accounts_linked(change_request, request.user),
        "outdated_why": outdated_why(change_request),
        "rejection_form": rejection_form,
    })


@requires("campaigns.approve_changerequest")
@require_POST
def request_approve(request, pk):
    change_request = get_object_or_404(ChangeRequest, pk=pk)
    try:
        sent = change_request_approve(
            change_request=change_request, approver=request.user, language=request.LANGUAGE_CODE
        )
    except AccountsLinked:
        messages.error(request, LINKED)
    except CampaignUnread as unread:
        messages.error(request, _(
            "Not approved: the campaign could not be read from Thulium, so approving it "
            "could undo a change made there. Try again later. %(why)s"
        ) % {"why": unread.error.user_text() if unread.error
             else _("Thulium's list of campaigns does not hold this campaign.")})
    except RequestClosed:
        messages.error(request, _("This request was already decided."))
    except RequesterGone:
        messages.error(request, _(
            "Not approved: the one who asked for this change was deactivated or may no "
            "longer change campaigns. The request is now outdated."
        ))
    except RequestOutdated:
        messages.error(request, _(
            "The campaign changed after this request was made, so approving it could undo "
            "that change. The request is now outdated; ask for the change again if it is "
            "still needed."
        ))
    except RequestNotSent:
        messages.error(request, _(
            "Not sent: the portal took too long to send the change after the approval, so "
            "it was not sent and the request is now outdated. Ask for the change again if it "
            "is still needed."
        ))
    except RequestTooLate:
        messages.error(request, _(
            "The time this change was to be applied at has passed, so it can no longer be "
            "approved. The request is now outdated; ask for the change again with a new time."
        ))
    except ThuliumError as error:
        flash_thulium_error(request, error, _("Approved, but Thulium did not take the change"))
    else:
        if change_request.apply_at:
            messages.success(request, _("Approved: the change waits for its time."))
            return redirect(change_request)
        if not swept_meanwhile_warn(request, sent):
            messages.success(request, _("Approved: Thulium accepted the change."))
    return redirect(change_request)


@requires("campaigns.approve_changerequest")
@require_POST
def request_reject(request, pk):
    change_request = get_object_or_404(ChangeRequest, pk=pk)
    form = RejectionForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, pk, form)
    try:
        change_request_reject(
            change_request=change_request, actor=request.user, note=form.cleaned_data["note"]
        )
    except AccountsLinked:
        messages.error(request, LINKED)
    except RequestClosed:
        messages.error(request, _("This request was already decided."))
    else:
        messages.success(
            request, _("The change request was rejected; nothing was sent to Thulium.")
        )
    return redirect(change_request)
