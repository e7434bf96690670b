"""Pages of a change to several campaigns: the form, its preview, the outcomes."""

from django.core import signing
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from audit.models import Outcome
from portal.thulium import ThuliumError
from roles.permissions import requires

from .bulk import (
    Line,
    PreviewExpired,
    Sent,
    bulk_preview,
    bulk_send,
    preview_read,
    preview_token,
)
from .bulk_forms import BulkChangeForm

FORM = "campaigns/bulk_form.html"


@requires("campaigns.change_campaign")
def bulk_change(request):
    """GET: the form for the campaigns ticked on the list; POST: its preview."""
    if request.method != "POST":
        form = BulkChangeForm(initial={"campaign": request.GET.getlist("campaign")})
        return render(request, FORM, _form_context(form, request.GET.getlist("campaign")))
    form = BulkChangeForm(request.POST)
    if "edit" in request.POST or not form.is_valid():
        # "edit": back from the preview to the form, the input kept.
        return render(request, FORM, _form_context(form))
    campaigns = _ordered(form.cleaned_data["campaign"], form.data.getlist("campaign"))
    try:
        lines = bulk_preview(campaigns=campaigns, values=form.values(),
                             reason=form.cleaned_data["reason"], actor=request.user,
                             language=request.LANGUAGE_CODE)
    except ThuliumError as error:
        form.add_error(None, _(
            "The campaigns could not be read from Thulium, so the change cannot be previewed: "
            "it is judged against the settings Thulium holds. Try again later. %(why)s"
        ) % {"why": error.user_text()})
        return render(request, FORM, _form_context(form))
    unexplained = [line for line in lines if line.needs_reason]
    if unexplained:
        form.add_error("reason", _("Say why: for %(campaigns)s this change %(risks)s.") % {
            "campaigns": ", ".join(line.campaign.thulium_id for line in unexplained),
            "risks": "; ".join(sorted({label for line in unexplained
                                       for label in line.risk_labels})),
        })
        return render(request, FORM, _form_context(form))
    return render(request, "campaigns/bulk_preview.html", {
        "form": form,
        "lines": lines,
        "to_send": sum(line.state == Line.CHANGE for line in lines),
        "token": preview_token(lines=lines, form_data=form.stored_data()),
    })


@requires("campaigns.change_campaign")
@require_POST
def bulk_confirm(request):
    """Send the previewed change, campaign by campaign, and show how each ended."""
    try:
        preview = preview_read(request.POST.get("preview", ""))
    except PreviewExpired as expired:
        return _form_again(request, expired.form_data, _(
            "This preview is more than an hour old and was not sent. Look at the preview "
            "again, then confirm."))
    except signing.BadSignature:
        problem = _("This preview cannot be read, so nothing was sent. Choose the campaigns "
                    "on the list and set the change again.")
        return render(request, FORM, {"form": BulkChangeForm(), "chosen": [],
                                      "selection_problems": [problem]})
    try:
        outcomes = bulk_send(preview=preview, actor=request.user,
                             language=request.LANGUAGE_CODE)
    except ThuliumError as error:
        return _form_again(request, preview["form"], _(
            "Nothing was sent: the campaigns could not be read from Thulium, so a change "
            "made there since the preview could be missed. Try again later. %(why)s"
        ) % {"why": error.user_text()})
    return render(request, "campaigns/bulk_done.html", {
        "outcomes": outcomes, "again": _again(preview["form"], outcomes)})


def _form_again(request, form_data: dict, problem: str):
    """The form as it was posted for the preview, with why nothing was sent."""
    form = BulkChangeForm(MultiValueDict(form_data))
    form.is_valid()
    form.add_error(None, problem)
    return render(request, FORM, _form_context(form))


# Outcomes whose campaign may still lack the change: left unsent (no time left, changed
# since the preview, no longer listed) or sent and not confirmed (failed, refused, no answer;
# or answered after the worker had checked it in Thulium, its entry then not succeeded).
NOT_CHANGED = (Sent.LATE, Sent.FAILED, Sent.STALE, Sent.UNLISTED)


def _again(form_data: dict, outcomes) -> list[tuple[str, str]]:
    """The form's input for the campaigns not changed (none: []): their preview of the same
    change is then a click away. The preview reads Thulium again, so one whose change did
    apply despite a lost answer shows there as nothing to change."""
    unchanged = [outcome.campaign.thulium_id for outcome in outcomes if outcome.campaign and (
        outcome.state in NOT_CHANGED
        or outcome.entry is not None and outcome.entry.outcome != Outcome.SUCCEEDED)]
    if not unchanged:
        return []
    return [*((name, value) for name, values in form_data.items() if name != "campaign"
              for value in values), *(("campaign", thulium_id) for thulium_id in unchanged)]


def _ordered(campaigns, ids: list[str]) -> list:
    """`campaigns` in the order of `ids`, the list's order as posted."""
    by_id = {campaign.thulium_id: campaign for campaign in campaigns}
    return [by_id[thulium_id] for thulium_id in dict.fromkeys(ids) if thulium_id in by_id]


def _form_context(form, ids: list[str] | None = None) -> dict:
    """The form page's context: the campaigns chosen, or why the selection cannot be used."""
    if ids is None:
        ids = form.data.getlist("campaign") if form.is_bound else []
    try:
        chosen = _ordered(form.fields["campaign"].clean(ids), ids)
    except ValidationError as error:
        return {"form": form, "chosen": [], "selection_problems": error.messages}
    return {"form": form, "chosen": chosen, "selection_problems": []}
