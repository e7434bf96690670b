"""Stored times written without making datetimes are written exactly as datetimes would."""

from datetime import UTC
from zoneinfo import ZoneInfo

import pytest

from audit.fastread import local_times, moment, utc_text

# As SQLite stores them (UTC, bare), and as PostgreSQL writes them (with an offset).
STORED = [
    "2025-01-01 04:22:48", "2025-01-01 04:22:48.600000", "2025-03-30 00:59:59.999999",
    "2025-03-30 01:00:00", "2025-10-26 00:30:00.000001", "2025-10-26 01:00:00",
    "2025-01-01 04:22:48.000000", "2025-01-01 04:22:48.6", "2025-01-01 04:22:48+00:00",
    "2025-01-01 04:22:48.072+00", "2025-01-01 05:22:48.600000+01", "2025-06-30 23:59:59+00",
    "2025-06-30 23:59:59.000001+00", "2025-06-30 23:59:59.5+00", "2025-06-30 23:59:59.50+00",
    "2025-06-30 23:59:59.123456+00", "2025-06-30 23:59+00",
]


@pytest.mark.parametrize("text", [*STORED, None])
def test_utc_text_is_what_a_datetime_writes(text):
    expected = None if text is None else moment(text).astimezone(UTC).isoformat()
    assert utc_text(text) == expected


# Warsaw changes its offset on the hour; Kolkata's is not whole hours; Lord Howe's DST is
# half an hour.
@pytest.mark.parametrize("zone", ["Europe/Warsaw", "Asia/Kolkata", "Australia/Lord_Howe"])
def test_local_times_are_what_a_datetime_writes(zone):
    write = local_times(ZoneInfo(zone))
    for text in [*STORED, *STORED]:  # the second time from what was kept of the hour
        assert write(text) == moment(text).astimezone(ZoneInfo(zone)).isoformat(), text
    assert write(None) == ""
