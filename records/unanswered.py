"""The worker's sweep of record additions whose web page died in the middle of the call.

A page's addition commits its pending entry, and its number as being sent, before it
POSTs to Thulium (records.services.record_add). A process killed during the call (SIGKILL,
out of memory, gunicorn's timeout) left the entry pending, and the form refusing the
number, until someone opened the entry and pressed Check in Thulium. Every
SCHEDULE_POLL_SECONDS the worker presses it for them: it takes each such addition begun
longer ago than its call could land in Thulium, and checks it as the button does (never
sending again). An import's additions are left to its own worker (imports.resuming).

A check Thulium gives no answer to (down, a timeout, a 5xx) leaves the addition unknown
as cut off, its number unknown and its button offered; the sweep asks again, each wait
as long as the addition had waited at the check before it (about a dozen checks in a
day, each one an entry in the audit trail), up to UNREACHABLE_WAIT after the addition
began, then leaves it to the button. The addition's page tells when it asks next
(`asked_again`), by the same rule (`asked_again_at`).
"""

import datetime
import logging
from dataclasses import dataclass

from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Now

from audit.models import Entry, Outcome
from audit.recording import WORKER
from portal.thulium import ThuliumError
from portal.thulium.unreachable import UNREACHABLE_WAIT

from .entries import RECORD_ADDITION, RECORD_CHECK
from .landing import landed_by, landing_time
from .models import AddedRecord
from .services import CUT_OFF, RecordCheckRefused, record_check_ask

log = logging.getLogger(__name__)
_WAITING = (AddedRecord.Status.SENDING, AddedRecord.Status.UNKNOWN)


# Cut off, its last check one Thulium gave no answer to (one that answered settled the
# number), made within UNREACHABLE_WAIT of its beginning: the sweep asks it again.
_NO_ANSWER_YET = Q(outcome=Outcome.UNKNOWN, detail=CUT_OFF,
                   checked_at__lt=F("created_at") + UNREACHABLE_WAIT)


def _waiting_additions() -> QuerySet[Entry]:
    """The page additions whose number is still being sent or unknown, with the time of
    their last check (`checked_at`) and the database's `now`."""
    last_check = (Entry.objects.filter(kind=RECORD_CHECK.slug, related=OuterRef("pk"))
                  .order_by("-created_at").values("created_at")[:1])
    return (Entry.objects.filter(kind=RECORD_ADDITION.slug,
                                 pk__in=AddedRecord.objects.filter(status__in=_WAITING)
                                 .values("entry_id"))
            .exclude(portal_request_id="")
            .annotate(checked_at=Subquery(last_check), now=Now()))


def unanswered_additions_check() -> list[int]:
    """Check in Thulium the page additions left pending longer than their call could land,
    and those cut off whose check Thulium gave no answer to, once their wait passed; in the
    database's time (a web machine's clock may run ahead). Returns their entries' ids."""
    left = (_waiting_additions()
            .filter(Q(outcome=Outcome.PENDING, created_at__lt=Now() - landing_time())
                    | _NO_ANSWER_YET)
            .select_related("campaign").order_by("pk"))
    return [entry.pk for entry in left if _wait_passed(entry) and _checked(entry)]


def _wait_passed(addition: Entry) -> bool:
    """Whether the addition's next check is due by the database's `now`; one never checked
    is asked at once."""
    return addition.checked_at is None or addition.now >= asked_again_at(addition)


def asked_again_at(addition: Entry) -> datetime.datetime:
    """When the sweep asks Thulium again of an addition whose last check (`checked_at`)
    had no answer: as long after that check as the addition had begun before it, so that
    each wait doubles the last, but no later than UNREACHABLE_WAIT after the addition
    began, for one last check."""
    again_at = addition.checked_at + (addition.checked_at - addition.created_at)
    return min(again_at, addition.created_at + UNREACHABLE_WAIT)


@dataclass(frozen=True)
class AskedAgain:
    """When the sweep next asks Thulium of an addition (at its first poll from then; None
    when that time has passed, the worker overdue or down: at its next round), and until
    when it keeps asking."""

    next_at: datetime.datetime | None
    until: datetime.datetime


def asked_again(addition: Entry) -> AskedAgain | None:
    """What the addition's page tells of the sweep's next check, while the sweep still asks
    Thulium of it (in the database's time, as the sweep judges); None for any other
    addition, and from UNREACHABLE_WAIT after it began, when only its button is left."""
    left = (_waiting_additions()
            .filter(_NO_ANSWER_YET, pk=addition.pk,
                    created_at__gt=Now() - UNREACHABLE_WAIT)
            .first())
    if left is None:
        return None
    next_at = asked_again_at(left)
    return AskedAgain(next_at=next_at if next_at > left.now else None,
                      until=left.created_at + UNREACHABLE_WAIT)


def _checked(entry: Entry) -> bool:
    """Check the addition as Check in Thulium does; False if its process, slow and not dead,
    completed it meanwhile (its outcome stands), or another worker or a user's Check took
    it first. A check Thulium failed leaves the addition unknown, its button still offered,
    to be asked again (see the module's docstring)."""
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
