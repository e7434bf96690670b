"""E-mail notices: what each user chose, and the outbox the worker sends from."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .kinds import kind_admin_label


class UserLanguage(models.Model):
    """The language a user's e-mails are written in: the one they last chose with the
    switch, else the one their browser asked for at their last login."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="+")
    language = models.CharField(_("language"), max_length=10)
    # Only a chosen language is given to a browser they log in on without the switch's
    # cookie. Rows from before this field stay chosen, as they acted: nothing tells which
    # came from the switch. A db_default, since the release before writes rows without it
    # while migrate runs.
    chosen = models.BooleanField(_("chosen with the switch"), db_default=True)

    class Meta:
        verbose_name = _("user's language")
        verbose_name_plural = _("users' languages")

    def __str__(self):
        return f"{self.user_id}: {self.language}"


class OptOut(models.Model):
    """A kind of notice a user turned off; every kind is on until they do."""

    # Looked up by user through the (user, kind) constraint's index.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+", db_index=False)
    kind = models.CharField(_("kind"), max_length=50)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="one_opt_out")]
        verbose_name = _("turned-off notice")
        verbose_name_plural = _("turned-off notices")

    def __str__(self):
        return f"{self.user_id}: {self.kind}"


class Notice(models.Model):
    """One e-mail to one user, written in the transaction of the action it tells of.

    The worker renders and sends it later (notices.sending), so a mail server that is
    away or refuses delays the mail, never the action. `context` is what the templates
    show: the campaign, counts and the like, never a phone number or a record's fields.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("waiting to be sent")
        SENT = "sent", _("sent")
        GAVE_UP = "gave_up", _("given up")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recipient"),
                             on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=50)
    context = models.JSONField(_("content"), default=dict)
    # The page the mail links to, below PORTAL_URL.
    path = models.CharField(_("link"), max_length=500)
    created_at = models.DateTimeField(_("queued"), default=timezone.now, editable=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices,
                             default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # A worker sending it moves this a lease ahead, so no other worker sends it meanwhile.
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="notice_due")]
        verbose_name = _("e-mail notice")
        verbose_name_plural = _("e-mail notices")

    def __str__(self):
        return gettext("%(kind)s to %(user)s (%(state)s)") % {
            "kind": kind_admin_label(self.kind), "user": self.user_id,
            "state": self.get_state_display()}
