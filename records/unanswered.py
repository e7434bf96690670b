"""The worker's sweep of record additions whose web page died in the middle of the call.

A page's addition commits its pending entry, and its number as being sent, before it
POSTs to Thulium (records.services.record_add). A process killed during the call (SIGKILL,
out of memory, gunicorn's timeout) left the entry pending, and the form refusing the
number, until someone opened the entry and pressed Check in Thulium. Every
SCHEDULE_POLL_SECONDS the worker presses it for them: it takes each such addition begun
longer ago than its call could land in Thulium, and checks it as the button does (never
sending again). An import's additions are left to its own worker (imports.resuming).
"""

import logging

from django.db.models.functions import Now

from audit.models import Entry, Outcome
from audit.recording import WORKER
from portal.thulium import ThuliumError

from .entries import RECORD_ADDITION
from .landing import landed_by, landing_time
from .models import AddedRecord
from .services import RecordCheckRefused, record_check_ask

log = logging.getLogger(__name__)
_WAITING = (AddedRecord.Status.SENDING, AddedRecord.Status.UNKNOWN)


def unanswered_additions_check() -> list[int]:
    """Check in Thulium the page additions left pending longer than their call could land,
    in the database's time (a web machine's clock may run ahead); returns their entries'
    ids."""
    left = (Entry.objects.filter(kind=RECORD_ADDITION.slug, outcome=Outcome.PENDING,
                                 created_at__lt=Now() - landing_time(),
                                 pk__in=AddedRecord.objects.filter(status__in=_WAITING)
                                 .values("entry_id"))
            .exclude(portal_request_id="").select_related("campaign").order_by("pk"))
    return [entry.pk for entry in left if _checked(entry)]


def _checked(entry: Entry) -> bool:
    """Check the addition as Check in Thulium does; False if its process, slow and not dead,
    completed it meanwhile (its outcome stands), or another worker or a user's Check took
    it first. A check Thulium failed leaves the addition unknown, its button still offered."""
    record = AddedRecord.objects.filter(entry=entry, status__in=_WAITING).first()
    if record is None:
        return False
    try:
        check = record_check_ask(entry, record, until=landed_by(entry), actor=None,
                                 actor_username=WORKER, cut_off_only=True)
    except RecordCheckRefused as refusal:
        log.info("record addition %s was not checked: %s", entry.pk, refusal)
        return False
    except ThuliumError as error:
        log.warning("record addition %s, cut off, could not be checked in Thulium: %s",
                    entry.pk, error.detail)
        return True
    log.warning("record addition %s to campaign %s: its page stopped before Thulium "
                "answered; found %s", entry.pk, entry.campaign.thulium_id,
                "held" if check.results.get("found") else "not held")
    return True
