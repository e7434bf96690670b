"""Who the identity provider says a portal user is: its issuer and subject ("sub").

Users are found by this pair, never by e-mail or name, which the provider's users may
change, and which a local account of the same name must not hand over to them.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Identity(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="sso_identity", verbose_name=_("user"))
    issuer = models.CharField(_("issuer"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    created_at = models.DateTimeField(_("first sign-on"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("single sign-on identity")
        verbose_name_plural = _("single sign-on identities")
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"],
                                               name="sso_identity_issuer_subject")]

    def __str__(self):
        return f"{self.subject} @ {self.issuer}"
