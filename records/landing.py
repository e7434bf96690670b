"""How long a page's record addition may still be on its way to Thulium: until then its
entry, left pending, is a send under way; after, the web process stopped before the answer
was recorded (a deploy, a crash). Apart from the services, so that the addition's entry
page can tell the two apart too. A check in Thulium left pending is told apart the same
way."""

import datetime

from django.utils import timezone

from audit.models import Outcome
from portal.thulium.deadline import call_longest

# Seconds past a call's longest time before a page's addition left pending counts as cut off.
CUT_OFF_MARGIN = 60


def landing_time() -> datetime.timedelta:
    """How long after its entry a send can land in Thulium at the latest: its call's
    longest time, and a margin for Thulium's own work after the portal stopped waiting."""
    return call_longest() + datetime.timedelta(seconds=CUT_OFF_MARGIN)


def landed_by(entry) -> datetime.datetime:
    """When a send begun with the entry can have landed in Thulium at the latest."""
    return entry.created_at + landing_time()


def cut_off(entry) -> bool:
    """True for an addition a page began and never completed, longer ago than its call to
    Thulium could last: its number stayed "being sent" for good. An import's are its
    worker's (imports.resuming)."""
    return (entry.outcome == Outcome.PENDING and bool(entry.portal_request_id)
            and landed_by(entry) < timezone.now())


def in_flight(entry) -> bool:
    """True for a pending addition whose send may still be waiting for Thulium's answer."""
    return entry.outcome == Outcome.PENDING and not cut_off(entry)


def check_in_flight(check) -> bool:
    """True for a pending check in Thulium that may still be waiting for Thulium's answer;
    one pending longer than a call's longest time was cut off (its process stopped)."""
    return check.outcome == Outcome.PENDING and landed_by(check) > timezone.now()
