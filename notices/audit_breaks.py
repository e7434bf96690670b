"""The notice to staff when verify_audit finds a break in the audit trail."""

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .kinds import Kind
from .services import notices_queue

AUDIT_BREAK = Kind("audit-break", _("The audit trail check finds a break"),
                   admin_label=_("Break in the audit trail"),
                   gets=lambda user: user.is_staff)


def audit_break_notify(sender, *, check, **kwargs) -> None:
    """Queue the notice to every staff user (`check` is the kept audit.ChainCheck)."""
    staff = get_user_model().objects.filter(is_staff=True)
    notices_queue(kind=AUDIT_BREAK, users=staff, path=reverse("audit:timeline"), context={
        "checked_at": check.checked_at.isoformat(), "links": check.links,
        "problem": check.problem, "finding": check.finding,
    })
