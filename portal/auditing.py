"""What every audit row of a Thulium call shares: who, when, what was sent, what came back.

A row is created *pending* before the call and completed once after it, so a crash in
between leaves evidence of the attempt rather than silence.
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


class AuditAttempt(models.Model):
    campaign = models.ForeignKey(
        "campaigns.Campaign", on_delete=models.PROTECT, related_name="%(class)ss"
    )
    # The username is copied so the row still names its author after the user is deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
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

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]

    @classmethod
    def begin(cls, *, actor, campaign, sent: dict, **fields):
        """Record the attempt as pending, committed before Thulium is called."""
        return cls.objects.create(
            actor=actor,
            actor_username=actor.get_username(),
            campaign=campaign,
            sent=sent,
            **fields,
        )

    def complete(self, *, outcome: str, http_status=None, request_id="", messages=(),
                 detail="", **fields):
        """Store the outcome of the call, once."""
        values = {
            "outcome": outcome,
            "http_status": http_status,
            "request_id": request_id,
            "messages": list(messages),
            "detail": detail,
            "completed_at": timezone.now(),
            **fields,
        }
        for name, value in values.items():
            setattr(self, name, value)
        self.save(update_fields=list(values))

    def complete_with_error(self, error: ThuliumError):
        self.complete(
            outcome=error.outcome,
            http_status=error.status,
            request_id=error.request_id,
            messages=error.messages,
            detail="\n".join(part for part in (error.detail, error.body) if part),
        )

    @property
    def is_final(self) -> bool:
        return self.outcome != Outcome.PENDING
