"""The do-not-call list: numbers the portal must never load into a campaign.

Domain state, apart from the audit log (which records every change to it). A number is
found by its keyed digest (`audit.personal`), the same for an entry that still shows the
number and for one an erasure reduced to the digest alone: an erased number stays blocked.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Suppression(models.Model):
    """One number that must not be called: in every campaign, or in one."""

    class Reason(models.TextChoices):
        CUSTOMER_REQUEST = "request", _("customer request")
        COMPLAINT = "complaint", _("complaint")
        REGULATOR = "regulator", _("regulator")
        OTHER = "other", _("other")

    class Source(models.TextChoices):
        TYPED = "typed", _("typed in")
        UPLOAD = "upload", _("uploaded file")
        OPT_OUT = "opt-out", _("opt-out from an entry")

    # The number's canonical key (portal.phones.phone_key) under AUDIT_PII_KEY: what
    # every check looks up.
    digest = models.CharField(max_length=80)
    # The canonical key itself, blank once the number was erased (forget_number).
    phone_key = models.CharField(_("phone number"), max_length=20, blank=True)
    # None: every campaign.
    campaign = models.ForeignKey("campaigns.Campaign", verbose_name=_("campaign"),
                                 on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", db_index=False)
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    note = models.TextField(_("note"), blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    # The record addition whose page the opt-out was made from.
    source_entry = models.ForeignKey("audit.Entry", verbose_name=_("opted out at"),
                                     on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    # The upload's audit entry, which names the file and its counts and is found by each of
    # its numbers: one entry per upload, not per number (200,000 entries took minutes). No
    # index: the entry's search terms list its numbers, and each upload wrote one more.
    upload_entry = models.ForeignKey("audit.Entry", verbose_name=_("uploaded at"),
                                     on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", db_index=False)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                 null=True, related_name="+")
    added_by_username = models.CharField(_("added by"), max_length=150)
    created_at = models.DateTimeField(_("added"), default=timezone.now, editable=False)
    # The last day (in TIME_ZONE) on which it blocks; None: for good.
    expires_on = models.DateField(_("blocks until"), null=True, blank=True)
    erased_at = models.DateTimeField(_("number erased"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # The list's page walks it, newest first, and stops at its page: without it each
        # page read and sorted the whole list.
        # A campaign's entries, found and paged the same way (walking the list by time for
        # a campaign's few read it all); the campaign's own index, which it covers, is gone.
        # The entries expired long ago, found in the order the worker deletes them
        # (donotcall.services.suppressions_clear_expired); those for good are left out.
        indexes = [models.Index(fields=["created_at", "id"], name="suppression_when"),
                   models.Index(fields=["campaign", "created_at", "id"],
                                name="suppression_campaign_when"),
                   models.Index(fields=["expires_on", "id"], name="suppression_expiry",
                                condition=Q(expires_on__isnull=False))]
        verbose_name = _("do-not-call entry")
        verbose_name_plural = _("do-not-call entries")
        constraints = [
            models.UniqueConstraint(fields=["digest"], condition=Q(campaign=None),
                                    name="suppressed_once_everywhere"),
            models.UniqueConstraint(fields=["digest", "campaign"],
                                    name="suppressed_once_per_campaign"),
        ]
        permissions = [
            ("manage_list", _("Can manage the do-not-call list")),
            ("opt_out", _("Can put a number seen on an entry on the do-not-call list")),
        ]

    def __str__(self):
        return f"do-not-call {self.phone_key or self.digest[:17]}"

    @property
    def is_expired(self) -> bool:
        return self.expires_on is not None and self.expires_on < timezone.localdate()
