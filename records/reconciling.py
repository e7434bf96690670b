"""Asking Thulium what it holds when its answer to an addition was lost.

A lost answer (a timeout after sending, a dropped connection, a broken body) leaves the
portal not knowing whether Thulium added the record. Thulium has no lookup by number, so
the campaign's records added on the days of the sends are listed and matched here. Kept
apart from views and audit entries, so that an import can ask it about its rows too.
"""

import datetime
from collections import defaultdict
from collections.abc import Collection

from django.utils import timezone

from portal.phones import phone_key
from portal.thulium import get_client
from portal.thulium.dates import thulium_day, thulium_moment

# Documented: GET outbounds/:id/records pages by at most 100.
PAGE_SIZE = 100
# How far Thulium's clock may be behind or ahead of the portal's: records listed as created
# this long before the send, or after it could have landed, are still read, in case they
# are the one sent.
CLOCK_MARGIN = datetime.timedelta(minutes=15)


def listing_days(sent_at: datetime.datetime, until: datetime.datetime, *,
                 now: datetime.datetime) -> tuple[datetime.date, datetime.date | None]:
    """What the campaign's records are listed with, for sends from `sent_at` that could land
    in Thulium until `until`: create_date_from, and create_date_to or None (not asked).

    The days wanted run from the send's to the landing's, each widened by the clock margin:
    Thulium's clock may put a record sent just after midnight on the day before, or one
    landing just before it on the day after. Without a last day, a check days later listed
    every record added since, hundreds of pages, past the web server's timeout.

    Undocumented: whether create_date_to includes its day. Taken as excluding it, records
    of the last day wanted would never be found, and sent again (refused as already held),
    so the day after it is asked for: under either reading nothing wanted is left out. Its
    records, if any, are the last listed, and are read first (pages go from the last back):
    a check made the day after that day or later reads one more page per hundred records
    the campaign gained on it. While the last day wanted is `now`'s or later, no record is
    after it (but for the clock margin's minutes), and create_date_to is left out: no cost.
    """
    first_day, last_day = thulium_day(sent_at - CLOCK_MARGIN), thulium_day(until + CLOCK_MARGIN)
    if last_day >= thulium_day(now):
        return first_day, None
    return first_day, last_day + datetime.timedelta(days=1)


def find_all_in_thulium(campaign, payloads: list[dict], sent_at: datetime.datetime, *,
                        until: datetime.datetime, applied_before: Collection[str] = (),
                        days: tuple[datetime.date, datetime.date | None] | None = None,
                        language: str | None = None) -> list[str | None]:
    """For each payload, Thulium's record_id of the record it would have made, "" when
    Thulium listed that record without a usable record_id, or None when it listed none;
    raises ThuliumError. `sent_at` is when the earliest of them was sent, `until` the
    latest moment any of them could have landed in Thulium.

    A record listed without a usable id answers its own payload only, with "": it used to
    fail the whole listing, and every other payload of an import's batch stayed unknown.

    A record matches on the number in its canonical form and, when the payload had one,
    on the identifier. The records listed from the day of the send to that of `until` (each
    widened by the clock margin) come in the order they were added (documented), so the
    ones sent are near the end: the first page tells how many there are, then pages are
    read from the last one back, until every payload is found, or a page starts before the
    send (less the clock margin), or a page holds one of `applied_before`. Those are
    records whose addition Thulium answered before the earliest send began, so it had
    added them before it: none of the records sent is further back. Without them, a send
    Thulium never applied would be looked for through all the records of the last quarter
    of an hour, which in a large import are hundreds of pages. One listing answers a whole
    batch of lost answers. `days`: the listing's create_date_from and create_date_to as a
    check's entry says they were asked (`listing_days` by default).
    """
    client = get_client(language)
    wanted = defaultdict(list)  # number's key -> indexes of the payloads sent with it
    for index, payload in enumerate(payloads):
        wanted[phone_key(payload["phone_number"])].append(index)
    found: list[str | None] = [None] * len(payloads)
    missing = len(payloads)
    first_day, day_to = days or listing_days(sent_at, until, now=timezone.now())
    # Thulium dates records to the minute.
    oldest = (sent_at - CLOCK_MARGIN).replace(second=0, microsecond=0)

    def page(offset):
        nonlocal missing
        count, rows = client.list_records(campaign.thulium_id, created_from=first_day,
                                          created_to=day_to, offset=offset,
                                          limit=PAGE_SIZE)
        for row in rows:
            for index in wanted.get(_row_key(row), ()):
                if found[index] is None and _same_identifier(row, payloads[index]):
                    found[index] = _usable_id(row)
                    missing -= 1
                    break
        return count, rows

    count, _first = page(0)
    offset = count
    while missing and offset > PAGE_SIZE:
        offset = max(PAGE_SIZE, offset - PAGE_SIZE)
        _count, rows = page(offset)
        if not rows or _made_before(rows[0], oldest):
            break  # this page began before the send: what was sent is not further back
        if applied_before and any(row.get("record_id") in applied_before for row in rows):
            break  # added before the send: what was sent is not further back either
    return found


def _made_before(row: dict, moment: datetime.datetime) -> bool:
    """Whether Thulium certainly made the record before the moment. Its dates are compared
    as moments, not as text: in the autumn's repeated hour the text goes back an hour, and a
    page starting at the second "02:10" was taken for one made before "02:50" of the
    first, and the record sent at the second "02:05", on the page before, was never read."""
    made = thulium_moment(str(row.get("create_date") or ""))
    return made is not None and made < moment


def _usable_id(row: dict) -> str:
    """The listed record's id; "" for a missing, null or empty one."""
    record_id = row.get("record_id")
    return record_id if isinstance(record_id, str) and record_id.strip() else ""


def _row_key(row: dict) -> str:
    # Documented: empty values are "". Thulium may give the number back in another
    # spelling than the one sent, so numbers are compared by their canonical key.
    number = str(row.get("phone_number") or "")
    return phone_key(number) if number else ""


def _same_identifier(row: dict, payload: dict) -> bool:
    identifier = payload.get("identifier", "")
    return not identifier or str(row.get("identifier") or "") == identifier
