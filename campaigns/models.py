"""Campaigns the portal knows, and the audit of every change it tried to make to them."""

from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from portal.auditing import AuditAttempt, timeline_indexes

thulium_id_validator = RegexValidator(
    r"^[A-Za-z0-9]{5}\Z", _("A Thulium campaign id has exactly five letters or digits.")
)


class Campaign(models.Model):
    class Kind(models.TextChoices):
        CSV = "CSV", _("CSV (records with structure fields)")
        CRM = "CRM", _("CRM (records are CRM customers)")

    thulium_id = models.CharField(
        _("Thulium id"), max_length=5, unique=True, validators=[thulium_id_validator]
    )
    name = models.CharField(_("name"), max_length=255)
    kind = models.CharField(_("kind"), max_length=3, choices=Kind.choices, default=Kind.CSV)
    # No Thulium endpoint documents a campaign's structure: an administrator keeps it here.
    structure_fields = models.JSONField(
        _("structure fields"), default=list, blank=True,
        help_text=_("Names of the campaign's custom record fields, as in Thulium."),
    )
    settings = models.JSONField(
        _("last known settings"), default=dict, blank=True,
        help_text=_("The campaign's settings as last read from or sent to Thulium."),
    )
    synced_at = models.DateTimeField(_("last synchronised"), null=True, blank=True)

    class Meta:
        ordering = ["name", "thulium_id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self):
        return f"{self.name} ({self.thulium_id})"

    def get_absolute_url(self):
        return reverse("campaigns:detail", args=[self.thulium_id])

    @property
    def is_crm(self) -> bool:
        return self.kind == self.Kind.CRM


class CampaignChange(AuditAttempt):
    """One attempt to change a campaign's settings through PUT outbounds/:id."""

    settings_before = models.JSONField(_("settings before"), default=dict)
    reason = models.TextField(_("reason"), blank=True)

    class Meta(AuditAttempt.Meta):
        verbose_name = _("campaign change")
        verbose_name_plural = _("campaign changes")
        indexes = timeline_indexes("campchg")

    def __str__(self):
        return f"{self.campaign.thulium_id} change by {self.actor_username} ({self.outcome})"

    def get_absolute_url(self):
        return reverse("audit:entry", args=["campaign-change", self.pk])
