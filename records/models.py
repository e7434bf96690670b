"""The audit of every record the portal tried to add to a campaign."""

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from portal.auditing import AuditAttempt, timeline_indexes


class RecordAddition(AuditAttempt):
    """One attempt to add a record through POST outbounds/:id/records."""

    phone_number = models.CharField(_("phone number"), max_length=20)
    # The number in one canonical form, so "+48 601..." and "601..." are seen as the same.
    phone_key = models.CharField(max_length=20, db_index=True, editable=False)
    identifier = models.CharField(_("identifier"), max_length=64, blank=True)
    record_id = models.CharField(_("Thulium record id"), max_length=64, blank=True)

    completion_fields = (*AuditAttempt.completion_fields, "record_id")

    class Meta(AuditAttempt.Meta):
        verbose_name = _("record addition")
        verbose_name_plural = _("record additions")
        indexes = [
            # created_at too: the form's "already added?" query takes the newest match, and
            # without it SQLite walks the whole campaign by date to find a number.
            models.Index(fields=["campaign", "phone_key", "created_at"],
                         name="recadd_campaign_phone_when"),
            *timeline_indexes("recadd"),
            models.Index(fields=["identifier"], name="recadd_identifier"),
            models.Index(fields=["record_id"], name="recadd_record_id"),
        ]

    def __str__(self):
        return f"{self.phone_number} -> {self.campaign.thulium_id} ({self.outcome})"

    def get_absolute_url(self):
        return reverse("audit:entry", args=["record-addition", self.pk])
