"""The head of the audit trail's hash chain; the entries themselves live with their apps."""

from django.db import models
from django.utils.translation import gettext_lazy as _

# The hash the first link is chained to.
GENESIS_HASH = "0" * 64


class ChainHead(models.Model):
    """The last link of the chain: one row, locked while the next link is written.

    It also carries the permission to see everyone's actions, since the audit trail has
    no model of its own to hang it on.
    """

    ONLY = 1

    seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        default_permissions = ()
        permissions = [("view_audit_trail", _("Can see everyone's actions in the audit trail"))]
        verbose_name = _("audit chain head")

    def __str__(self):
        return f"#{self.seq} {self.last_hash}"
