"""Audit pages: the timeline with its filters, one entry, and the timeline as a download."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from .erasure import forget_number, number_held
from .export import csv_chunks, export_rows, jsonl_chunks
from .forms import ForgetNumberForm, TimelineFilterForm
from .kinds import kind_of
from .models import Outcome
from .services import entry_changes, entry_for, not_sent, timeline_page
from .shown_erasures import entry_shown


def timeline(request):
    form = TimelineFilterForm(request.GET, viewer=request.user)
    page = None
    if form.is_valid():
        page = timeline_page(
            viewer=request.user, filters=form.filters(),
            before=form.cleaned_data["before"], after=form.cleaned_data["after"],
        )
    return render(request, "audit/timeline.html", {"form": form, "page": page})


def entry_detail(request, pk):
    entry = entry_shown(entry_for(viewer=request.user, pk=pk))
    kind = kind_of(entry)
    return render(request, "audit/entry.html", {
        "kind": kind, "entry": entry, "changes": entry_changes(entry),
        "in_flight": entry.outcome == Outcome.PENDING and kind.in_flight(entry),
        "not_sent": not_sent(entry),
        "summary": kind.summary(entry),  # the timeline's line, for a kind's template
    })


@permission_required("audit.erase_personal_data", raise_exception=True)
def forget(request):
    """Erase a person's number everywhere, at their request (GDPR art. 17): first what the
    portal holds of it is shown, and only the button under that erases (there is no undo,
    and a number mistyped is someone else's)."""
    form = ForgetNumberForm(request.POST or None)
    report = held = None
    if request.method == "POST" and form.is_valid():
        try:
            if request.POST.get("erase") == "yes":
                report = forget_number(number=form.cleaned_data["number"],
                                       reference=form.cleaned_data["reference"],
                                       actor=request.user)
                form = ForgetNumberForm()
            else:
                held = number_held(form.cleaned_data["number"])
        except ValidationError as error:  # entries made under a key the portal is not given
            form.add_error("number", error)
    return render(request, "audit/forget.html", {
        "form": form, "report": report, "held": held,
        "held_anywhere": bool(held and any(held.values()))})


def export_csv(request):
    return _export(request, csv_chunks, "text/csv; charset=utf-8", "csv")


def export_jsonl(request):
    return _export(request, jsonl_chunks, "application/jsonl; charset=utf-8", "jsonl")


def _export(request, chunks, content_type, extension):
    form = TimelineFilterForm(request.GET, viewer=request.user)
    if not form.is_valid():
        # The timeline shows what is wrong with the filters, next to them.
        return redirect(f"{reverse('audit:timeline')}?{request.GET.urlencode()}")
    export = export_rows(viewer=request.user, filters=form.filters())
    response = StreamingHttpResponse(chunks(export), content_type=content_type)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{extension}"'
    return response
