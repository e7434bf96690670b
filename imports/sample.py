"""The first rows a previewed import will send, as Thulium will get them: the loader sees
each number and value as sent (the number in its canonical form) before pressing Send; a
next call in the portal's zone, as typed (Thulium gets Warsaw's wall-clock time, hours off
it where the portal keeps another zone).

Read from the rows' payloads, which the preview built with the record form and the push
sends as they are; shown on the preview alone, never cached.
"""

from django.utils import timezone

from portal.shown_times import repeated_hour_zone
from portal.thulium.dates import thulium_moment

from .models import RowState

SAMPLE_ROWS = 5


def rows_to_send_sample(job) -> dict:
    """`columns`: the parameters the first rows to send carry, by Thulium's names (a
    campaign field as record_fields.<name>), in the order of the file's columns mapped to
    them (a payload's keys may come back in another: PostgreSQL's jsonb sorts them);
    `rows`: each row's number and values under them ("" where it sends none)."""
    payloads = (job.rows.filter(state=RowState.QUEUED).order_by("number")
                .values_list("number", "payload")[:SAMPLE_ROWS])
    flat = [(number, dict(_parameters(payload))) for number, payload in payloads]
    columns = [name for name in job.mapping if any(name in sent for _number, sent in flat)]
    return {"columns": columns,
            "rows": [(number, [sent.get(name, "") for name in columns])
                     for number, sent in flat]}


def _parameters(payload: dict):
    for name, value in payload.items():
        if name == "record_fields":
            yield from ((f"record_fields.{field}", text) for field, text in value.items())
        elif name == "next_call_date" and (moment := thulium_moment(value)):
            local = timezone.localtime(moment).replace(tzinfo=None)
            yield name, (local.isoformat(sep=" ", timespec="minutes")
                         + repeated_hour_zone(moment))
        else:
            yield name, value
