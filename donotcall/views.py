"""The do-not-call list's page: search, add, upload, remove, export; and the opt-out of a
number seen on a record addition's entry."""

from django.conf import settings
from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from audit.personal import digests_under_every_key
from audit.services import entry_for
from imports.reading import FileProblem
from portal.paging import LongTablePaginator
from records.entries import RECORD_ADDITION
from roles.permissions import requires

from .export import export_lines
from .forms import RemovalForm, SearchForm, SuppressionForm, SuppressionUploadForm
from .models import Suppression
from .reading import numbers_read
from .services import (
    AlreadySuppressed,
    NumberErased,
    suppression_add,
    suppression_opt_out,
    suppression_remove,
    suppressions_upload,
)

MANAGE = "donotcall.manage_list"
PER_PAGE = 50


class ListPages(LongTablePaginator):
    """The list's pages, counted as the audit admin's, and no deeper than its newest
    COUNTED_AT_MOST entries: a page's OFFSET walks the index up to it (page 10,000 of a
    million took 2.9 s); the search finds an older entry."""

    @cached_property
    def num_pages(self) -> int:
        return min(super().num_pages, self.COUNTED_AT_MOST // self.per_page)

    @property
    def cut_short(self) -> bool:
        """Whether the list may hold entries past its last page."""
        return self.count >= self.COUNTED_AT_MOST


@requires(MANAGE)
def suppression_list(request):
    return _list_page(request, SuppressionForm())


@requires(MANAGE)
@require_POST
def suppression_new(request):
    form = SuppressionForm(request.POST)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    try:
        suppression = suppression_add(
            key=form.key, campaign=form.cleaned_data["campaign"],
            reason=form.cleaned_data["reason"], note=form.cleaned_data["note"],
            expires_on=form.cleaned_data["expires_on"], source=Suppression.Source.TYPED,
            actor=request.user)
    except AlreadySuppressed:  # added by someone else since the form was checked
        form.refuse_duplicate()
        return _list_page(request, form, status=400)
    messages.success(request, _("%(phone)s is on the do-not-call list.")
                     % {"phone": f"+{suppression.phone_key}"})
    if note := form.expiry_note():
        messages.warning(request, note)
    return redirect("donotcall:list")


def _list_page(request, form, *, status=200):
    # Ids of its own: the add form on the same page has a "reason" too, and its label took
    # the user to the search's.
    search = SearchForm(request.GET or None, auto_id="search_%s")
    entries = Suppression.objects.select_related("campaign")
    if search.is_valid():
        wanted = search.cleaned_data
        if wanted["number"]:
            entries = entries.filter(digest__in=digests_under_every_key(wanted["number"]))
        if wanted["scope"] == SearchForm.ALL:
            entries = entries.filter(campaign=None)
        elif wanted["scope"]:
            # By the campaign's id, not a join: its entries are then read from their index
            # in the page's order (a join walked the whole list by time, 6.9 s for 10).
            entries = entries.filter(campaign_id=wanted["scope"].pk)
        if wanted["reason"]:
            entries = entries.filter(reason=wanted["reason"])
    elif search.is_bound:
        entries = entries.none()
    page = ListPages(entries, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "donotcall/list.html", {
        "form": form, "search": search, "page": page, "query": query.urlencode(),
    }, status=status)


@requires(MANAGE)
def suppression_upload(request):
    form = SuppressionUploadForm(request.POST or None, request.FILES or None)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        try:
            read = numbers_read(form.content, form.layout, most=settings.DONOTCALL_UPLOAD_MOST)
        except FileProblem as problem:
            form.add_error("file", problem.message)
        else:
            counts = suppressions_upload(
                read=read, campaign=form.cleaned_data["campaign"],
                reason=form.cleaned_data["reason"], note=form.cleaned_data["note"],
                expires_on=form.cleaned_data["expires_on"], actor=request.user,
                file_name=form.cleaned_data["file"].name)
            context.update(read=read, counts=counts, expiry_note=form.expiry_note())
    return render(request, "donotcall/upload.html", context,
                  status=400 if form.is_bound and form.errors else 200)


@requires(MANAGE)
def suppression_removal(request, pk):
    suppression = get_object_or_404(Suppression, pk=pk)
    form = RemovalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if suppression_remove(suppression=suppression, reason=form.cleaned_data["reason"],
                              actor=request.user):
            messages.success(request, _("The number was taken off the do-not-call list."))
        else:
            messages.info(request, _("The number had been taken off the list already."))
        return redirect("donotcall:list")
    return render(request, "donotcall/remove.html", {"suppression": suppression, "form": form},
                  status=400 if form.is_bound else 200)


@requires(MANAGE)
@require_GET
def suppression_export(request):
    response = StreamingHttpResponse(export_lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="do-not-call.csv"'
    return response


@requires("donotcall.opt_out")
@require_POST
def opt_out(request, pk):
    """Put the number of a record addition on the list, for every campaign or its own."""
    entry = entry_for(viewer=request.user, pk=pk)
    number = entry.sent.get("phone_number") if entry.kind == RECORD_ADDITION.slug else None
    if not number or entry.erased_at:
        messages.error(request, _("This entry names no number to put on the list."))
        return redirect(entry)
    try:
        suppression_opt_out(
            entry=entry, number=number, actor=request.user,
            campaign=entry.campaign if request.POST.get("scope") == "campaign" else None)
    except NumberErased:
        messages.error(request, _("This entry names no number to put on the list."))
        return redirect(entry)
    except AlreadySuppressed:
        messages.info(request, _("This number is on the do-not-call list already."))
    else:
        messages.success(request, _("%(phone)s will not be called again.") % {"phone": number})
    return redirect(entry)
