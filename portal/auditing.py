"""What every audit row of a Thulium call shares: who, when, what was sent, what came back.

A row is created *pending* before the call and completed once after it, so a crash in
between leaves evidence of the attempt rather than silence. Rows are append-only: the
models refuse every other update and every delete (on PostgreSQL a trigger refuses them
too, see `audit.dbtriggers`), and both events, begun and completed, are links of one hash
chain (`audit.chain`) that `manage.py verify_audit` walks.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.request_id import current_request_id
from portal.thulium import ThuliumError


class Outcome(models.TextChoices):
    PENDING = "pending", _("pending")
    SUCCEEDED = "succeeded", _("succeeded")
    REFUSED = "refused", _("refused")
    FAILED = "failed", _("failed")
    # Sent, but no answer came (e.g. a timeout): Thulium may or may not have acted.
    UNKNOWN = "unknown", _("unknown")


class AppendOnlyError(Exception):
    """Raised instead of rewriting or deleting audit history."""


class AuditQuerySet(models.QuerySet):
    """Bulk updates and deletes would rewrite history without a trace, so they are refused."""

    def update(self, **kwargs):
        raise AppendOnlyError("audit entries are append-only: they cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit entries are append-only: they cannot be deleted")

    def _complete_pending(self, **values) -> int:
        """The one update history allows (used by `audit.chain`); returns the rows changed."""
        return models.QuerySet.update(self.filter(outcome=Outcome.PENDING), **values)


def timeline_indexes(prefix: str) -> list[models.Index]:
    """Indexes that let the audit timeline page through a million rows, filtered or not."""
    return [
        models.Index(fields=["created_at", "id"], name=f"{prefix}_when"),
        models.Index(fields=["campaign", "created_at", "id"], name=f"{prefix}_campaign_when"),
        models.Index(fields=["actor", "created_at", "id"], name=f"{prefix}_actor_when"),
        models.Index(fields=["outcome", "created_at", "id"], name=f"{prefix}_outcome_when"),
        models.Index(fields=["request_id"], name=f"{prefix}_request_id"),
    ]


class AuditAttempt(models.Model):
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, related_name="%(class)ss",
        db_index=False,  # the timeline's (campaign, created_at) index serves instead
    )
    # Deleting a user must leave their entries exactly as written, so there is no database
    # constraint and nothing is done on delete: the id stays, and the username copy names them.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False,
        db_index=False, null=True, related_name="+",
    )
    actor_username = models.CharField(_("user"), max_length=150)
    created_at = models.DateTimeField(_("when"), default=timezone.now, editable=False)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    sent = models.JSONField(_("sent to Thulium"))
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING
    )
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    request_id = models.CharField(_("Thulium request_id"), max_length=64, blank=True)
    messages = models.JSONField(_("Thulium's messages"), default=list, blank=True)
    detail = models.TextField(_("detail"), blank=True)
    # The id in the portal's log lines of the request that made the attempt.
    portal_request_id = models.CharField(
        _("portal request id"), max_length=64, blank=True, editable=False,
        default=current_request_id,
    )
    # The entry's two links in the hash chain: when it was begun and when it was completed.
    begin_seq = models.BigIntegerField(_("chain link (begun)"), unique=True, null=True,
                                       editable=False)
    begin_hash = models.CharField(max_length=64, blank=True, editable=False)
    complete_seq = models.BigIntegerField(_("chain link (completed)"), unique=True, null=True,
                                          editable=False)
    complete_hash = models.CharField(max_length=64, blank=True, editable=False)

    objects = AuditQuerySet.as_manager()

    # The fields complete() fills in; a subclass adds its own (e.g. the record id Thulium gave).
    completion_fields = ("outcome", "completed_at", "http_status", "request_id", "messages",
                         "detail")

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]
        # Related lookups and Django's internals go through the guarded queryset too.
        base_manager_name = "objects"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit entries are append-only: complete() is the only change")
        if self.begin_seq is None:
            raise AppendOnlyError("create audit entries with begin(), which links them into "
                                  "the chain")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit entries are append-only: they cannot be deleted")

    @classmethod
    def begin(cls, *, actor, campaign, sent: dict, **fields):
        """Record the attempt as pending, committed before Thulium is called."""
        entry = cls.pending(actor=actor, campaign=campaign, sent=sent, **fields)
        cls.begin_all([entry])
        return entry

    @classmethod
    def pending(cls, *, actor, campaign, sent: dict, **fields):
        """An attempt not saved yet: begin_all() saves it, alone or with others."""
        return cls(actor=actor, actor_username=actor.get_username(), campaign=campaign,
                   sent=sent, **fields)

    @classmethod
    def begin_all(cls, entries: list) -> None:
        """Record attempts of this kind as pending, in one transaction."""
        # audit.chain builds on this module, so it is imported only when first needed.
        from audit.chain import link_begun

        link_begun(entries)

    def complete(self, **outcome):
        """Store the outcome of the call (see outcome_values), once; raises AppendOnlyError
        if already stored."""
        self.complete_all([(self, self.outcome_values(**outcome))])

    def complete_with_error(self, error: ThuliumError):
        self.complete_all([(self, self.error_values(error))])

    @staticmethod
    def outcome_values(*, outcome: str, http_status=None, request_id="", messages=(),
                       detail="", **fields) -> dict:
        """What complete() stores, timed now: complete_all() can store it later."""
        return {
            "outcome": outcome,
            "http_status": http_status,
            "request_id": request_id,
            "messages": list(messages),
            "detail": detail,
            "completed_at": timezone.now(),
            **fields,
        }

    @classmethod
    def error_values(cls, error: ThuliumError) -> dict:
        return cls.outcome_values(
            outcome=error.outcome,
            http_status=error.status,
            request_id=error.request_id,
            messages=error.messages,
            detail="\n".join(part for part in (error.detail, error.body) if part),
        )

    @staticmethod
    def complete_all(completions: list[tuple["AuditAttempt", dict]]) -> None:
        """Store several (entry, outcome values) at once, in one transaction."""
        from audit.chain import link_completed

        link_completed(completions)

    @property
    def is_final(self) -> bool:
        return self.outcome != Outcome.PENDING
