"""Asking Thulium what it holds when its answer to an addition was lost.

A lost answer (a timeout after sending, a dropped connection, a broken body) leaves the
portal not knowing whether Thulium added the record. Thulium has no lookup by number, so
the campaign's records added since the day of the send are listed and matched here. Kept
apart from views and audit entries, so that an import can ask it about its rows too.
"""

import datetime

from portal.phones import phone_key
from portal.thulium import get_client

# Documented: GET outbounds/:id/records pages by at most 100.
PAGE_SIZE = 100


def find_in_thulium(campaign, payload: dict, sent_on: datetime.date, *,
                    language: str | None = None) -> str | None:
    """Thulium's record_id of the record `payload` would have made, or None; raises
    ThuliumError.

    A record matches on the number in its canonical form and, when the payload had one,
    on the identifier. Every page is read until one matches: records come in the order
    they were added, so the one sent is among the later pages.
    """
    client = get_client(language)
    wanted = phone_key(payload["phone_number"])
    identifier = payload.get("identifier", "")
    offset = 0
    while True:
        count, rows = client.list_records(campaign.thulium_id, created_from=sent_on,
                                          offset=offset, limit=PAGE_SIZE)
        for row in rows:
            if _matches(row, wanted, identifier):
                return row["record_id"]
        offset += len(rows)
        if not rows or offset >= count:
            return None


def _matches(row: dict, wanted: str, identifier: str) -> bool:
    # Documented: empty values are "". Thulium may give the number back in another
    # spelling than the one sent, so both are compared by their canonical key.
    number = str(row.get("phone_number") or "")
    if not number or phone_key(number) != wanted:
        return False
    return not identifier or str(row.get("identifier") or "") == identifier
