"""What the portal knows of the records it added (or may have added) to campaigns.

This is domain state, apart from the audit log: the log says what was attempted; this
table says which numbers a campaign holds because of the portal, and is what the "already
added?" check reads. A row is written with the attempt's pending entry and follows its
outcome; a refused or failed attempt leaves no row.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AddedRecord(models.Model):
    class Status(models.TextChoices):
        SENDING = "sending", _("being sent")
        ADDED = "added", _("added")
        # Sent, but no answer came: Thulium may hold it, so it blocks a second send.
        UNKNOWN = "unknown", _("unknown")

    # No index of its own: the (campaign, number) constraint's index serves looks by campaign.
    campaign = models.ForeignKey("campaigns.Campaign", on_delete=models.PROTECT,
                                 related_name="+", db_index=False)
    # The number in one canonical form, so "+48 601..." and "601..." are seen as the same.
    phone_key = models.CharField(_("phone number"), max_length=20)
    identifier = models.CharField(_("identifier"), max_length=64, blank=True)
    record_id = models.CharField(_("Thulium record id"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    # The entry of the send that put it there (the latest, after a resend).
    # No constraint in the database, as for an import row's steps (imports.models.ImportAttempt).
    entry = models.OneToOneField("audit.Entry", on_delete=models.PROTECT, related_name="+",
                                 db_constraint=False)
    created_at = models.DateTimeField(_("when"))

    class Meta:
        verbose_name = _("added record")
        verbose_name_plural = _("added records")
        constraints = [
            models.UniqueConstraint(fields=["campaign", "phone_key"], name="added_once"),
        ]
        indexes = [
            models.Index(fields=["campaign", "identifier"], name="added_campaign_identifier"),
        ]

    def __str__(self):
        return f"record of campaign {self.campaign_id} ({self.status})"
