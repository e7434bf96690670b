"""Bulk record imports: the uploaded file, its rows and their fate."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.shown_times import named_minute


class ImportJob(models.Model):
    """One file uploaded to be added to a campaign, from upload to its last row."""

    class State(models.TextChoices):
        UPLOADED = "uploaded", _("uploaded")
        # A file too large to check while its uploader waits, checked by a worker.
        CHECKING = "checking", _("checking the rows")
        PREVIEWED = "previewed", _("previewed")
        QUEUED = "queued", _("waiting for a worker")
        RUNNING = "running", _("sending")
        DONE = "done", _("done")
        CANCELLED = "cancelled", _("cancelled")
        # Thulium refused the portal's credentials: sending on would fail every row.
        STOPPED = "stopped", _("stopped")

    FINAL_STATES = (State.DONE, State.CANCELLED, State.STOPPED)
    # Its columns may be mapped (again), and its rows checked.
    MAPPABLE_STATES = (State.UPLOADED, State.PREVIEWED)

    campaign = models.ForeignKey(
        "campaigns.Campaign", verbose_name=_("campaign"), on_delete=models.PROTECT,
        related_name="imports",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user's account"), on_delete=models.SET_NULL,
        null=True, related_name="+"
    )
    actor_username = models.CharField(_("user"), max_length=150)
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now, editable=False)
    file_name = models.CharField(_("file name"), max_length=255)
    file_size = models.PositiveBigIntegerField(_("file size"))
    file_sha256 = models.CharField(_("SHA-256"), max_length=64)
    file_kind = models.CharField(_("file kind"), max_length=4)  # "csv" or "xlsx"
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=1, blank=True)
    # The workbook's sheet read, named as the workbook names it; "" for a CSV file.
    sheet = models.TextField(_("sheet"), blank=True)
    # The file's row of column names: the rows above it, a title, are not read.
    header_row = models.PositiveIntegerField(_("row of the column names"), default=1)
    headers = models.JSONField(_("columns"), default=list)
    # The indices of the columns the workbook's sheet hides: never proposed for a field.
    hidden_columns = models.JSONField(_("hidden columns"), default=list, blank=True)
    # One target per column, in the file's order; "" leaves the column out.
    mapping = models.JSONField(_("mapping"), default=list)
    language = models.CharField(_("language"), max_length=10, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.UPLOADED
    )
    # While a worker checks the rows: those checked so far.
    rows_total = models.PositiveIntegerField(_("rows"), default=0)
    # While a worker checks a CSV file's rows: about how many it has (its lines), for the
    # check's progress; 0 if not known.
    rows_expected = models.PositiveIntegerField(_("rows expected"), default=0, editable=False)
    rows_valid = models.PositiveIntegerField(_("valid rows"), default=0)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    # Renewed by every worker sending this import; a stale one means they all died.
    heartbeat_at = models.DateTimeField(_("a worker's last sign of life"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    cancel_requested_at = models.DateTimeField(_("cancel asked for"), null=True, blank=True)
    # The last task enqueued to send it, to tell a waiting import from a lost one.
    task_id = models.CharField(_("worker's task id"), max_length=64, blank=True)
    stop_reason = models.TextField(_("why it stopped"), blank=True)
    # A worker's check of the rows: why the file could not be read, in the uploader's
    # language, and what Thulium answered when its statuses and agents could not be read.
    check_problem = models.TextField(_("why the rows could not be checked"), blank=True)
    choices_unread = models.TextField(_("statuses and agents unread"), blank=True)
    # Set when its rows went one per call because Thulium refused the batch call.
    single_posts = models.ForeignKey("BatchRefusal", verbose_name=_("sent one by one"),
                                     on_delete=models.PROTECT, null=True, blank=True,
                                     editable=False, related_name="+")
    # When its rows' numbers and fields were cleared, IMPORT_KEEP_DAYS after it ended
    # (imports.retention).
    rows_cleared_at = models.DateTimeField(_("personal data cleared"), null=True, blank=True,
                                           editable=False)
    # The audit entry kept when the import ended (imports.receipts).
    receipt = models.OneToOneField("audit.Entry", verbose_name=_("receipt"),
                                   on_delete=models.PROTECT, null=True, blank=True,
                                   editable=False, related_name="+")

    class Meta:
        ordering = ["-created_at", "-pk"]
        # The list at /imports/ reads a page of the newest, not every import then sorts.
        indexes = [models.Index(fields=["created_at", "id"], name="import_when")]
        verbose_name = _("import")
        verbose_name_plural = _("imports")

    def __str__(self):
        return f"{self.file_name} -> {self.campaign.thulium_id} ({self.get_state_display()})"

    def get_absolute_url(self):
        return reverse("imports:detail", args=[self.pk])

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES

    @property
    def is_sending(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)


class ImportUpload(models.Model):
    """The uploaded bytes, apart from the job so that listing jobs never loads them.

    Dropped once the import is over: the receipt keeps the file's name and SHA-256.
    """

    job = models.OneToOneField(ImportJob, on_delete=models.CASCADE, related_name="upload")
    content = models.BinaryField()

    class Meta:
        verbose_name = _("import upload")
        verbose_name_plural = _("import uploads")

    def __str__(self):
        return f"upload of {self.job_id}"


class RowState(models.TextChoices):
    INVALID = "invalid", _("invalid")
    DUPLICATE = "duplicate", _("repeated in the file")
    ALREADY_ADDED = "known", _("already added by the portal")
    QUEUED = "queued", _("to send")
    SENDING = "sending", _("sending")
    ADDED = "added", _("added")
    # A retry after an unanswered send was refused as a duplicate: the first send landed.
    ADDED_EARLIER = "earlier", _("added earlier")
    REFUSED = "refused", _("refused")
    FAILED = "failed", _("failed")
    UNKNOWN = "unknown", _("unknown")
    NOT_SENT = "not_sent", _("not sent")
    # On the do-not-call list: at the preview, or when claimed just before its send.
    SUPPRESSED = "suppressed", _("on the do-not-call list")
    # A workbook's row Excel hides: the loader filtered it out.
    HIDDEN = "hidden", _("hidden in Excel (filtered out)")
    # Its number waits to be sent by another import of the campaign (imports.elsewhere).
    ELSEWHERE = "elsewhere", _("in another import")


PROBLEM_STATES = (RowState.INVALID, RowState.DUPLICATE, RowState.ALREADY_ADDED,
                  RowState.SUPPRESSED, RowState.HIDDEN, RowState.ELSEWHERE)
SENT_STATES = (RowState.ADDED, RowState.ADDED_EARLIER, RowState.REFUSED, RowState.FAILED,
               RowState.UNKNOWN)


class ImportRow(models.Model):
    """One row of the file: what the preview made of it, then what Thulium did with it."""

    # No index of its own: the (job, number) constraint's index serves every look by job,
    # and one more index would be written with each of a row's three writes.
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rows",
                            db_index=False)
    # The spreadsheet's row number: the header is row 1.
    number = models.PositiveIntegerField(_("row"))
    phone_number = models.CharField(_("phone number"), max_length=40, blank=True)
    phone_key = models.CharField(max_length=20, blank=True)
    # Exactly the body to send, for rows that passed the record form.
    payload = models.JSONField(null=True, blank=True)
    # The mapped cells and what is wrong with them, for rows that did not.
    values = models.JSONField(default=dict, blank=True)
    problems = models.JSONField(default=list, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=RowState.choices)
    claimed_by = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Thulium's record id, message and request_id are those of the row's last send.
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="import_row_number_unique"),
        ]
        indexes = [
            models.Index(fields=["job", "state", "number"]),
            models.Index(fields=["job", "finished_at"]),
        ]
        verbose_name = _("import row")
        verbose_name_plural = _("import rows")

    def __str__(self):
        return f"row {self.number} of import {self.job_id} ({self.state})"

    def last_send(self):
        """The audit entry of the row's last POST or check, or None if it was never sent."""
        attempt = self.attempts.select_related("entry").order_by("-entry__created_at",
                                                                 "-pk").first()
        return attempt.entry if attempt else None


class ImportAttempt(models.Model):
    """One step of a row's sending: links it to the audit entry of a POST that carried it,
    or of a check in Thulium after such a POST went unanswered."""

    row = models.ForeignKey(ImportRow, on_delete=models.CASCADE, related_name="attempts")
    # No constraint in the database: an entry is never deleted (the database refuses), and
    # checking one locked the entry's row, written anew, once per imported row.
    entry = models.OneToOneField("audit.Entry", on_delete=models.PROTECT, related_name="+",
                                 db_constraint=False)

    class Meta:
        verbose_name = _("import attempt")
        verbose_name_plural = _("import attempts")

    def __str__(self):
        return f"{self.row} -> entry {self.entry_id}"


class BatchRefusal(models.Model):
    """Thulium refused the batch call to the portal's API user while single POSTs worked:
    imports send one record per call until an administrator lifts this or a day passes
    (imports.fallback). Kept after that: the imports it concerned name it."""

    refused_at = models.DateTimeField(_("refused"), default=timezone.now)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"))
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    detail = models.TextField(_("Thulium's words"), blank=True)
    lifted_at = models.DateTimeField(_("lifted"), null=True, blank=True)
    lifted_by = models.CharField(_("lifted by"), max_length=150, blank=True)

    class Meta:
        ordering = ["-refused_at"]
        verbose_name = _("refusal of the batch call")
        verbose_name_plural = _("refusals of the batch call")

    def __str__(self):
        return gettext("HTTP %(status)s at %(time)s") % {
            "status": self.http_status, "time": named_minute(self.refused_at)}


class ImportTemplate(models.Model):
    """A saved mapping for a campaign's files: column header -> record parameter or field."""

    # Looked up by campaign through the (campaign, name) constraint's index.
    campaign = models.ForeignKey(
        "campaigns.Campaign", verbose_name=_("campaign"), on_delete=models.CASCADE,
        related_name="import_templates",
        db_index=False,
    )
    name = models.CharField(_("name"), max_length=100)
    mapping = models.JSONField(_("mapping"), default=dict)
    saved_by = models.CharField(_("saved by"), max_length=150)
    saved_at = models.DateTimeField(_("saved"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "name"], name="import_template_unique"),
        ]
        verbose_name = _("import template")
        verbose_name_plural = _("import templates")

    def __str__(self):
        return self.name
