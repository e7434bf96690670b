"""Times as the portal shows them: in its time zone (TIME_ZONE), as the reader's language
writes them."""

from datetime import date, datetime

from django.utils import timezone
from django.utils.formats import date_format, get_format


def shown_time(moment: datetime | None) -> str:
    """A moment in the portal's time zone, as the user's language writes it; in the hour the
    clocks repeat, with its zone (see `repeated_hour_zone`); "" for none."""
    return _shown(moment, "DATETIME_FORMAT")


def shown_short_time(moment: datetime | None) -> str:
    """A moment as the pages' lists show it, to the minute ("24.12.2026 08:00" in Polish);
    in the hour the clocks repeat, with its zone, as `shown_time`: two scheduled changes an
    hour apart read alike without it."""
    return _shown(moment, "SHORT_DATETIME_FORMAT")


def _shown(moment: datetime | None, format_name: str) -> str:
    if moment is None:
        return ""
    return date_format(timezone.localtime(moment), format_name) + repeated_hour_zone(moment)


def shown_minute(moment: datetime) -> str:
    """A time set to the minute (when a scheduled change is due), as `shown_time` writes it
    but without its seconds, unless it has some: "24 grudnia 2026, 08:00"; in the hour the
    clocks repeat, with its zone, as there."""
    local = timezone.localtime(moment)
    if local.second or local.microsecond:
        return shown_time(moment)
    return (date_format(local, get_format("DATETIME_FORMAT").replace(":s", ""))
            + repeated_hour_zone(moment))


def shown_day_minute(moment: datetime) -> str:
    """A moment as an audit entry's page lists its checks: its day and its minute ("6 grudnia
    2026 16:55"), with its zone in the hour the clocks repeat."""
    local = timezone.localtime(moment)
    return (f"{date_format(local, 'DATE_FORMAT')} {date_format(local, 'H:i')}"
            + repeated_hour_zone(moment))


def shown_json_time(text, shown=shown_time) -> str:
    """A time an audit entry keeps in its JSON (ISO 8601 with its offset), shown as the
    page's other times are (or by `shown`); anything else as it is, so that nothing kept
    is hidden."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return text or ""
    return text if timezone.is_naive(moment) else shown(moment)


def shown_json_date(text) -> str:
    """A day an audit entry keeps in its JSON (ISO 8601), shown as the pages' lists show
    days ("31.01.2027" in Polish); anything else as it is."""
    try:
        day = date.fromisoformat(text)
    except (TypeError, ValueError):
        return text or ""
    return date_format(day, "SHORT_DATE_FORMAT")


def named_minute(moment: datetime) -> str:
    """A moment in the portal's time zone, to the minute, with the zone's abbreviation
    ("2027-01-10 10:00 CET"), in no language's words: for an object's name (its str, which
    the admin shows as the page's heading), where it read as UTC with no zone."""
    local = timezone.localtime(moment)
    # isoformat pads years below 1000 to four digits; strftime("%Y") does not on Linux.
    return f"{local.replace(tzinfo=None).isoformat(sep=' ', timespec='minutes')} {local.tzname()}"


def repeated_hour_zone(moment: datetime | None) -> str:
    """The zone to write after a moment of the hour the clocks repeat in autumn (" CEST",
    " CET": 02:30 happens twice that night, and the two read alike); "" after any other."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    twin = local.replace(fold=1 - local.fold)
    return f" {local.tzname()}" if twin.utcoffset() != local.utcoffset() else ""
