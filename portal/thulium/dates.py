"""Thulium's dates: Polish local time, to the minute, with no zone ("2016-10-19 14:02")."""

import datetime
import zoneinfo

THULIUM_ZONE = zoneinfo.ZoneInfo("Europe/Warsaw")
THULIUM_DATETIME = "%Y-%m-%d %H:%M"


def thulium_datetime(moment: datetime.datetime) -> str:
    """A moment in Thulium's format: Warsaw wall-clock time, to the minute."""
    # isoformat pads years below 1000 to four digits; strftime("%Y") does not on Linux.
    local = moment.astimezone(THULIUM_ZONE).replace(tzinfo=None)
    return local.isoformat(sep=" ", timespec="minutes")


def thulium_time_repeated(moment: datetime.datetime) -> bool:
    """Whether Thulium's time for the moment is one the clocks show twice (the autumn's
    repeated hour in Poland): written as Thulium takes it, with no zone, it means either."""
    local = moment.astimezone(THULIUM_ZONE)
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def thulium_moment(text: str) -> datetime.datetime | None:
    """The latest moment a Thulium date and time may mean (None if it is not one): in the
    autumn's repeated hour, "02:10" is read as the second 02:10, so that a record is
    taken for one made before a moment only when it certainly was."""
    try:
        local = datetime.datetime.strptime(text[:16], THULIUM_DATETIME)
    except ValueError:
        return None
    return local.replace(tzinfo=THULIUM_ZONE, fold=1)


def thulium_day(moment: datetime.datetime) -> datetime.date:
    """The day Thulium dates a record created at `moment`."""
    return moment.astimezone(THULIUM_ZONE).date()
