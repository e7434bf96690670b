"""Campaigns the portal knows, risky changes waiting for a second editor, changes waiting
for their time."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from portal.shown_times import named_minute

thulium_id_validator = RegexValidator(
    r"^[A-Za-z0-9]{5}\Z", _("A Thulium campaign id has exactly five letters or digits.")
)
CHANGE_CAMPAIGNS = "campaigns.change_campaign"


def may_change_campaigns(user) -> bool:
    """Whether `user` (None: a deleted account) may change campaigns now. Unticking *Active*
    or taking the role stops someone at once, their changes that wait (for their time, for
    approval) too: none is sent under their name (campaigns.due, campaigns.four_eyes)."""
    return user is not None and user.is_active and user.has_perm(CHANGE_CAMPAIGNS)


def campaign_changers():
    """The users `may_change_campaigns` lets change campaigns, as a query."""
    return get_user_model().objects.with_perm(CHANGE_CAMPAIGNS,
                                              backend="roles.backends.RoleBackend")


class Dialer(models.TextChoices):
    PREDICTIVE = "predictive", _("predictive")
    PROGRESSIVE = "progressive", _("progressive")
    PREVIEW = "preview", _("preview")


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
    # The database's time when the reading of Thulium that found the values `settings`
    # holds began (None: none read since it was kept), or that found it missing from a
    # complete list (`in_thulium` False). A reading begun before it found older values,
    # and leaves them and `in_thulium` (campaigns.reading, campaigns.presence): two syncs
    # at once, the first to read took what it found last, and wrote it over what the
    # other had taken since.
    read_at = models.DateTimeField(null=True, blank=True, editable=False)
    # False once a complete list of Thulium's campaigns left it out (deleted in Thulium): kept,
    # as the audit trail names it, but nothing is sent for it until a list holds it again.
    in_thulium = models.BooleanField(
        _("in Thulium"), default=True,
        help_text=_("Whether Thulium's list of campaigns held it when last read in full."),
    )
    # Raised by every change of `settings`, whoever made it: an edit form carries the
    # version it showed, so a form opened before another change cannot overwrite it.
    version = models.PositiveIntegerField(_("settings version"), default=0, editable=False)

    class Meta:
        ordering = ["name", "thulium_id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self):
        return f"{self.name} ({self.thulium_id})"

    def get_absolute_url(self):
        return reverse("campaigns:detail", args=[self.thulium_id])

    def lock(self) -> None:
        """Hold the campaign's row until the transaction ends: two posts of one form at once
        that each look for the other's saved change then come one after the other.

        Every lock of a campaign's row is FOR NO KEY UPDATE (`no_key`), as an UPDATE of it
        takes: a row referring to the campaign (an added record) has the reference checked
        as its writer commits, holding the chain's head, and FOR UPDATE made that check
        wait for a holder waiting for the head, a deadlock."""
        list(Campaign.objects.select_for_update(no_key=True).filter(pk=self.pk)
             .values_list("pk"))

    def settings_replace(self, known: dict) -> bool:
        """Take `known` as the campaign's settings; True (and a new version) if they differ.

        The caller saves `settings` and `version`.
        """
        if known == self.settings:
            return False
        self.settings = known
        self.version += 1
        return True

    @property
    def is_crm(self) -> bool:
        return self.kind == self.Kind.CRM

    @property
    def dialer_display(self) -> str:
        """The known dialer in the user's words ("" when unknown)."""
        dialer = self.settings.get("dialer") or ""
        return str(Dialer(dialer).label) if dialer in Dialer.values else dialer


class ChangeRequest(models.Model):
    """A risky change held back until a second editor approves it (FOUR_EYES).

    Each step (requested, approved, rejected, outdated) is an audit entry of the kind
    "change-request" whose details name the request.
    """

    class State(models.TextChoices):
        REQUESTED = "requested", _("awaiting approval")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        # The campaign changed after the request: approving it would undo that change.
        STALE = "stale", _("outdated")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT,
        related_name="change_requests",
    )
    changes = models.JSONField(_("requested changes"))
    settings_before = models.JSONField(_("settings when requested"), default=dict)
    reason = models.TextField(_("reason"))
    risks = models.JSONField(_("risks"), default=list)
    # Usernames are copied so the rows still name people after their accounts are deleted.
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requester's account"),
        on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor_username = models.CharField(_("requested by"), max_length=150)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now, editable=False)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.REQUESTED
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("decider's account"),
        on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )
    decided_by_username = models.CharField(_("decided by"), max_length=150, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("note on the decision"), blank=True)
    # The change whose values this request restores ("Restore previous values").
    reverts = models.ForeignKey(
        "audit.Entry", verbose_name=_("restores the values before"), on_delete=models.DO_NOTHING,
        db_constraint=False, null=True, blank=True, editable=False, related_name="+",
    )
    # A change to apply later (campaigns/scheduling.py): approved, it waits for this time.
    apply_at = models.DateTimeField(_("to be applied at"), null=True, blank=True)
    # The audit entry of the approved change's call to Thulium.
    sent_change = models.OneToOneField(
        "audit.Entry", verbose_name=_("sent change"), on_delete=models.PROTECT, null=True,
        blank=True, editable=False, related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("change request")
        verbose_name_plural = _("change requests")
        permissions = [("approve_changerequest",
                        _("Can approve or reject risky campaign changes"))]

    def __str__(self):
        return gettext("change request for %(campaign)s by %(user)s (%(state)s)") % {
            "campaign": self.campaign.thulium_id, "user": self.actor_username,
            "state": self.get_state_display()}

    def get_absolute_url(self):
        return reverse("campaigns:request", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.state == self.State.REQUESTED

    @property
    def is_outdated(self) -> bool:
        """True when the campaign's known settings moved since the request was made."""
        return self.campaign.settings != self.settings_before

    @property
    def requester_may_change(self) -> bool:
        """Whether the one who asked for it may still change campaigns: if not, it can no
        longer be approved (campaigns.four_eyes)."""
        return may_change_campaigns(self.requester)


class ScheduledChangeQuerySet(models.QuerySet):
    def waiting(self):
        """Changes not yet due or being applied now, soonest first."""
        return self.filter(
            state__in=(ScheduledChange.State.WAITING, ScheduledChange.State.APPLYING)
        ).select_related("created_by").order_by("apply_at", "pk")


class ScheduledChange(models.Model):
    """A settings change that the worker sends to Thulium at `apply_at` (campaigns/scheduling.py).

    Its steps (scheduled, cancelled, missed) are audit entries of the kind
    "scheduled-change"; the call itself is a campaign-change entry related to the scheduled
    step.
    """

    class State(models.TextChoices):
        WAITING = "waiting", _("waiting")
        APPLYING = "applying", _("being applied")
        APPLIED = "applied", _("applied")
        REFUSED = "refused", _("refused by Thulium")
        # In the context of a change: Polish says a change's ending in the feminine, where
        # an import's, sharing the English words, is masculine.
        FAILED = "failed", pgettext_lazy("scheduled change", "failed")
        MISSED = "missed", _("missed")
        CANCELLED = "cancelled", pgettext_lazy("scheduled change", "cancelled")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT,
        related_name="scheduled_changes",
    )
    changes = models.JSONField(_("changes"))
    settings_before = models.JSONField(_("settings when scheduled"), default=dict)
    reason = models.TextField(_("reason"), blank=True)
    apply_at = models.DateTimeField(_("to be applied at"))
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.WAITING
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("scheduler's account"),
        on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_by_username = models.CharField(_("scheduled by"), max_length=150)
    created_at = models.DateTimeField(_("scheduled at"), default=timezone.now, editable=False)
    # The scheduler's language, in which Thulium is asked for its messages when it is sent.
    language = models.CharField(max_length=10, blank=True, editable=False)
    # The four-eyes request it came from, when a second editor had to approve it.
    change_request = models.OneToOneField(
        ChangeRequest, verbose_name=_("change request"), on_delete=models.PROTECT, null=True,
        blank=True, related_name="scheduled_change",
    )
    # The change whose earlier values it restores, as its entry names it once sent.
    reverts = models.ForeignKey(
        "audit.Entry", verbose_name=_("restores the values before"), on_delete=models.DO_NOTHING,
        db_constraint=False, null=True, blank=True, editable=False, related_name="+",
    )
    # When a worker took it to send, and which one: a claim older than a call can take
    # belongs to a worker that died (campaigns/due.py).
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    claimed_by = models.CharField(max_length=100, blank=True, editable=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    cancelled_by_username = models.CharField(_("cancelled by"), max_length=150, blank=True)
    cancel_reason = models.TextField(_("why it was cancelled"), blank=True)
    scheduled_entry = models.OneToOneField(
        "audit.Entry", on_delete=models.PROTECT, null=True, editable=False, related_name="+",
    )
    # The campaign-change entry of the call to Thulium, whatever Thulium answered.
    sent_change = models.OneToOneField(
        "audit.Entry", verbose_name=_("sent change"), on_delete=models.PROTECT, null=True,
        blank=True, editable=False, related_name="+",
    )

    objects = ScheduledChangeQuerySet.as_manager()

    class Meta:
        ordering = ["apply_at", "pk"]
        verbose_name = _("scheduled change")
        verbose_name_plural = _("scheduled changes")
        indexes = [models.Index(fields=["state", "apply_at"], name="scheduled_due")]

    def __str__(self):
        return gettext("change of %(campaign)s at %(time)s (%(state)s)") % {
            "campaign": self.campaign.thulium_id, "time": named_minute(self.apply_at),
            "state": self.get_state_display()}

    def get_absolute_url(self):
        return reverse("campaigns:scheduled_change", args=[self.pk])

    @property
    def is_waiting(self) -> bool:
        return self.state == self.State.WAITING

    @property
    def author_may_change(self) -> bool:
        """Whether the one who scheduled it may still change campaigns: if not,
        campaigns.due does not send it."""
        return may_change_campaigns(self.created_by)
