"""Sending one record per call when Thulium refuses the batch call.

Thulium gives each API user permissions per method, and an older Thulium lacks the batch
endpoint. When the batch call is refused as not permitted or not found while single POSTs
work, that is remembered (a BatchRefusal), and imports send one record per call without
asking again, until an administrator lifts the refusal (the admin site) or a day passes.
"""

from datetime import datetime, timedelta

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from portal.shown_times import repeated_hour_zone
from portal.thulium import ThuliumMethodRefused

from .models import BatchRefusal

REMEMBERED = timedelta(days=1)


def batch_refusal() -> BatchRefusal | None:
    """The refusal imports still heed, if any: the latest one of the last day."""
    return BatchRefusal.objects.filter(refused_at__gt=timezone.now() - REMEMBERED,
                                       lifted_at=None).first()


def batch_refusal_remember(error: ThuliumMethodRefused) -> BatchRefusal:
    """Remember that Thulium refused the batch call, as it said it."""
    return BatchRefusal.objects.create(http_status=error.status, request_id=error.request_id,
                                       detail=error.detail[:2000])


def single_posts_note(refused: dict) -> str:
    """What an import page and receipt say of an import sent one record per call; `refused`
    is the receipt's `sent_one_by_one` (see `refusal_facts`)."""
    when = timezone.localtime(datetime.fromisoformat(refused["refused_at"]))
    return _("Sent one record per call: Thulium refused the batch call (HTTP %(status)s, "
             "request id %(request_id)s) at %(when)s.") % {
        "status": refused["http_status"], "request_id": refused["request_id"] or "—",
        "when": formats.date_format(when, "Y-m-d H:i") + repeated_hour_zone(when)}


def refusal_facts(refusal: BatchRefusal) -> dict:
    """The refusal as a receipt keeps it."""
    return {"http_status": refusal.http_status, "request_id": refusal.request_id,
            "refused_at": refusal.refused_at.isoformat()}


def batch_refusals_lift(refusals, *, by: str) -> int:
    """Let the next imports try the batch call again; returns how many were lifted."""
    return refusals.filter(lifted_at=None).update(lifted_at=timezone.now(), lifted_by=by)
