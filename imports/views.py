"""Import pages: the list, upload, map, preview and confirm, follow the progress, take the
report."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from campaigns.models import Campaign
from portal.ids import id_from_text
from roles.permissions import requires

from .access import ADD_RECORDS, may_change_import, may_read_import, readable_imports
from .fixing import rows_to_fix, rows_to_fix_lines, rows_to_fix_name
from .forms import ImportListForm, ImportUploadForm, MappingForm, ReadOptionsForm, SheetForm
from .mapping import mapping_targets, propose_mapping
from .models import PROBLEM_STATES, ImportJob
from .previewing import checked_inline, import_preview
from .progress import import_progress, preview_counts, row_counts
from .reading import FileLayout, FileProblem
from .report import report_lines
from .resuming import import_resume_if_stalled, worker_awaited
from .same_file import same_file_imports
from .sample import rows_to_send_sample
from .services import (
    import_cancel,
    import_check_start,
    import_check_stop,
    import_confirm,
    import_read_options,
    import_sample,
    import_template_delete,
    import_template_save,
    import_upload,
)

PROBLEMS_PER_PAGE = 50
IMPORTS_PER_PAGE = 50


def _job(request, pk, *, to_change: bool, **conditions) -> ImportJob:
    """The import, if this user may change (or read) it; 404 if unknown, else 403."""
    job = get_object_or_404(ImportJob.objects.select_related("campaign"), pk=pk, **conditions)
    allowed = may_change_import if to_change else may_read_import
    if not allowed(request.user, job):
        raise PermissionDenied
    return job


@require_GET
def imports_list(request):
    """Every import this user may read, newest first: one older than a campaign's ten
    recent ones is found here, not only through the audit trail."""
    filters = ImportListForm(request.GET or None)
    # Of the receipt, its counts only: not the file's mapping it keeps too.
    jobs = readable_imports(request.user, ImportJob.objects.select_related(
        "campaign", "receipt").defer("receipt__sent", "receipt__details", "receipt__messages"))
    page = Paginator(filters.filter(jobs, request.user), IMPORTS_PER_PAGE).get_page(
        request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "imports/list.html",
                  {"filters": filters, "page": page, "query": query.urlencode()})


@requires(ADD_RECORDS)
def upload(request, thulium_id):
    campaign = get_object_or_404(Campaign, thulium_id=thulium_id)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        job = import_upload(
            campaign=campaign, actor=request.user, file_name=form.cleaned_data["file"].name,
            content=form.content, layout=form.layout, language=request.LANGUAGE_CODE,
        )
        return redirect("imports:mapping", pk=job.pk)
    recent = readable_imports(request.user, campaign.imports.all())[:10]
    return render(request, "imports/upload.html",
                  {"campaign": campaign, "form": form, "recent": recent})


@requires(ADD_RECORDS)
def mapping(request, pk):
    job = _job(request, pk, to_change=True)
    if job.state not in ImportJob.MAPPABLE_STATES:
        return redirect(job)
    campaign = job.campaign
    templates = campaign.import_templates.all()
    wanted = id_from_text(request.GET.get("template", ""))
    chosen = templates.filter(pk=wanted).first() if wanted is not None else None
    proposal = (propose_mapping(job.headers, campaign, chosen.mapping, job.hidden_columns)
                if chosen else job.mapping)
    form = MappingForm(request.POST or None, headers=job.headers, hidden=job.hidden_columns,
                       targets=mapping_targets(campaign), mapping=proposal)
    if request.method == "POST" and form.is_valid():
        large = not checked_inline(job)
        if large:  # a worker checks it; an import moved on meanwhile is shown as it is
            import_check_start(job=job, mapping=form.mapping())
        if large or _rows_check_now(request, job, form):
            if form.cleaned_data["template_name"]:
                import_template_save(job=job, mapping=form.mapping(),
                                     name=form.cleaned_data["template_name"],
                                     actor=request.user)
            return redirect(job)
    return _mapping_page(request, job, form, chosen=chosen)


def _mapping_page(request, job, form, *, chosen=None, sheet_chosen=None):
    """The mapping page: the columns as the file is read, `form` to map them, and the forms
    that read it otherwise; `sheet_chosen` (the sheet form's data) a sheet refused, kept in
    its form beside the error."""
    # Why the file cannot be read: a worker's check said (imports.previewing), or the
    # sample cannot be read now (the form may be unbound: not one of its errors).
    problem = "" if form.is_bound else job.check_problem
    try:
        layout = import_sample(job)
    except FileProblem as unreadable:
        layout, problem = FileLayout(kind=job.file_kind), unreadable.message
    read_options = ReadOptionsForm(initial={"encoding": job.encoding, "delimiter": job.delimiter})
    # The sheet read, as reading the workbook names it: "" for an import of a workbook
    # uploaded before one was kept.
    sheet_read = layout.sheet or job.sheet
    sheets = SheetForm(sheet_chosen, initial={"sheet": sheet_read}, sheets=layout.sheets)
    columns = [(form[name], [row[index] if index < len(row) else "" for row in layout.sample])
               for index, name in enumerate(form.columns)]
    return render(request, "imports/mapping.html", {
        "job": job, "campaign": job.campaign, "form": form, "columns": columns,
        "same_file": same_file_imports(job, request.user),
        "problem": problem, "templates": job.campaign.import_templates.all(), "chosen": chosen,
        "read_options": read_options, "sheets": sheets, "sheet_read": sheet_read,
        "sheet_count": len(layout.sheets),
    })


@require_POST
@requires(ADD_RECORDS)
def template_delete(request, pk, template_pk):
    """Delete a saved mapping of the import's campaign, from the import's mapping page."""
    job = _job(request, pk, to_change=True)
    if name := import_template_delete(campaign=job.campaign, pk=template_pk):
        messages.success(request, _("The saved mapping “%(name)s” was deleted.") % {"name": name})
    return redirect("imports:mapping", pk=job.pk)


def _rows_check_now(request, job, form) -> bool:
    """Check a small file's rows while the user waits; False, with the form saying why,
    if the file cannot be read."""
    try:
        import_preview(job=job, mapping=form.mapping(), language=request.LANGUAGE_CODE)
    except FileProblem as problem:
        form.add_error(None, problem.message)
        return False
    return True


@require_POST
@requires(ADD_RECORDS)
def read_options(request, pk):
    job = _job(request, pk, to_change=True, file_kind="csv")
    if job.state not in ImportJob.MAPPABLE_STATES:
        return redirect(job)
    form = ReadOptionsForm(request.POST)
    if form.is_valid():
        try:
            import_read_options(job=job, **form.cleaned_data)
        except FileProblem as problem:
            messages.error(request, problem.message)
        else:
            messages.success(request, _("The file was read again with these settings."))
    else:
        messages.error(request, _("Choose an encoding and a separator from the lists."))
    return redirect("imports:mapping", pk=job.pk)


@require_POST
@requires(ADD_RECORDS)
def sheet(request, pk):
    """Read another sheet of the workbook, in place of the one read so far."""
    job = _job(request, pk, to_change=True)
    if job.file_kind != "xlsx" or job.state not in ImportJob.MAPPABLE_STATES:
        return redirect(job)  # a CSV file has no sheets
    form = SheetForm(request.POST)
    if not form.is_valid():
        mapping_form = MappingForm(headers=job.headers, hidden=job.hidden_columns,
                                   targets=mapping_targets(job.campaign), mapping=job.mapping)
        return _mapping_page(request, job, mapping_form, sheet_chosen=request.POST)
    try:
        import_read_options(job=job, sheet=form.cleaned_data["sheet"])
    except FileProblem as problem:
        messages.error(request, problem.message)
    else:
        messages.success(request, _("The sheet “%(sheet)s” is read now: map its columns.")
                         % {"sheet": job.sheet})
    return redirect("imports:mapping", pk=job.pk)


@never_cache  # its rows' numbers and fields
def detail(request, pk):
    job = _job(request, pk, to_change=False)
    may_change = may_change_import(request.user, job)
    if job.state == ImportJob.State.UPLOADED and may_change:
        return redirect("imports:mapping", pk=job.pk)
    if job.state == ImportJob.State.CHECKING:
        return render(request, "imports/checking.html", {
            "job": job, "campaign": job.campaign, "may_change": may_change, **_checking(job)})
    problems = Paginator(
        job.rows.filter(state__in=PROBLEM_STATES).order_by("number"), PROBLEMS_PER_PAGE
    ).get_page(request.GET.get("page"))
    context = {"job": job, "campaign": job.campaign, "counts": row_counts(job),
               "problems": problems, "may_change": may_change}
    if job.state in ImportJob.MAPPABLE_STATES:
        return render(request, "imports/preview.html", {
            **context, "to_send": rows_to_send_sample(job),
            "same_file": same_file_imports(job, request.user)})
    context["progress"] = _pushing(job, context["counts"])
    context["preview_counts"] = preview_counts(job, context["counts"])
    context["receipt"] = job.receipt
    return render(request, "imports/progress.html", context)


@require_POST
@requires(ADD_RECORDS)
def stop_check(request, pk):
    job = _job(request, pk, to_change=True)
    if import_check_stop(job=job):
        messages.info(request, _("The check was stopped: change the mapping or how the file "
                                 "is read, then check the rows again."))
    return redirect(job)


@require_POST
@requires(ADD_RECORDS)
def confirm(request, pk):
    job = _job(request, pk, to_change=True)
    if job.rows_valid == 0:
        messages.error(request, _("No row of this file can be sent: nothing to confirm."))
    elif import_confirm(job=job):
        messages.success(request, _("The import is on its way to Thulium."))
        to_send = ImportJob.objects.values_list("rows_valid", flat=True).get(pk=job.pk)
        if taken := job.rows_valid - to_send:  # since the preview (imports.elsewhere)
            messages.warning(request, ngettext(
                "%(count)d row is not sent: since the preview, its number was added by the "
                "portal or waits in another import of this campaign.",
                "%(count)d rows are not sent: since the preview, their numbers were added by "
                "the portal or wait in another import of this campaign.", taken)
                % {"count": taken})
    return redirect(job)


@require_POST
@requires(ADD_RECORDS)
def cancel(request, pk):
    job = _job(request, pk, to_change=True)
    if job.is_sending:
        import_cancel(job=job)
        messages.info(request, _("Cancelling: rows already sent stay in Thulium; no new row "
                                 "is sent."))
    return redirect(job)


@require_GET
def progress(request, pk):
    job = _job(request, pk, to_change=False)
    # Someone is watching: if every worker of this import died, hand it to a live one.
    import_resume_if_stalled(job)
    if job.state == ImportJob.State.CHECKING:
        return JsonResponse({"state": job.state, **_checking(job)})
    return JsonResponse(_pushing(job))


def _pushing(job, counts=None) -> dict:
    """Where the push stands, and whether its task waits in the queue with no worker to
    take it (all of them stopped, or busy with other imports): the page said "running"
    then, with nothing moving."""
    return {**import_progress(job, counts),
            "waiting": job.is_sending and worker_awaited(job)}


def _checking(job) -> dict:
    """Where a worker's check of a large file stands: rows checked so far (and the share
    of the file's rows, while it is not done, when they are known), and whether no worker
    has taken it yet."""
    checked, expected = job.rows_total, job.rows_expected
    percent = min(checked * 100 // expected, 99) if expected else None
    return {"checked": checked, "expected": expected, "percent": percent,
            "waiting": worker_awaited(job)}


@require_GET
def report(request, pk):
    job = _job(request, pk, to_change=False)
    response = StreamingHttpResponse(report_lines(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
    return response


@require_GET
def rows_to_fix_csv(request, pk):
    """The rows to correct, as the file has them (imports.fixing): for its uploader, who
    may send it again, while the file is kept."""
    job = _job(request, pk, to_change=True)
    if not rows_to_fix(job):
        messages.info(request, _("This import has no rows to correct, or no longer keeps its "
                                 "file: it ended, and the report lists what became of each row."))
        return redirect(job)
    response = StreamingHttpResponse(rows_to_fix_lines(job),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=rows_to_fix_name(job))
    return response
