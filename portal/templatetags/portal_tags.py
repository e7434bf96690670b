"""Template filters for showing what was sent to Thulium, and the times entries keep."""

import json

from django import template

from portal.shown_times import (
    repeated_hour_zone,
    shown_day_minute,
    shown_json_date,
    shown_json_time,
    shown_minute,
    shown_short_time,
    shown_time,
)

register = template.Library()


@register.filter
def pretty_json(value) -> str:
    """JSON as Thulium received it (not Python's repr), indented for reading."""
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)


# A moment in the portal's zone, to the second or (lists) the minute, with its zone in the
# hour the clocks repeat.
register.filter("shown_time", shown_time)
register.filter("short_time", shown_short_time)
register.filter("json_time", shown_json_time)
register.filter("json_date", shown_json_date)
# An entry's checks, to the minute, with their day.
register.filter("day_minute", shown_day_minute)
# A scheduled change's time, set to the minute: no ":00" seconds.
register.filter("minute", shown_minute)
register.filter("json_minute", lambda text: shown_json_time(text, shown_minute))
# After a time shown to the second: the zone, where the clock reads the same twice.
register.filter("repeated_zone", repeated_hour_zone)
