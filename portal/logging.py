"""Log records with the request id, as plain text or one JSON object per line (LOG_FORMAT)."""

import datetime
import json
import logging

from .request_id import current_request_id

# Attributes every LogRecord has; anything else on a record came as `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_PLAIN_VALUES = (str, int, float, bool, type(None))


class RequestIdFilter(logging.Filter):
    """Stamp every record with the id of the request it was logged in ("-" outside one)."""

    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() or "-"
        return True


def iso_time(record: logging.LogRecord) -> str:
    """When the record was made: ISO 8601 in UTC with its offset, to the millisecond."""
    return datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
        timespec="milliseconds")


class PlainFormatter(logging.Formatter):
    """Plain lines whose %(asctime)s is iso_time: local time with no offset, as logging
    writes it, repeated an hour when the clocks went back. Told no format, the portal's
    (records passed through RequestIdFilter): gunicorn's own lines are written so too."""

    def __init__(self, fmt=None, *args, **kwargs):
        super().__init__(fmt or "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
                         *args, **kwargs)

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging's name)
        return iso_time(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, so a log collector can search by field."""

    def format(self, record):
        entry = {
            "time": iso_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Only plain values: Django attaches the whole request object to some records.
        entry.update(
            (key, value) for key, value in vars(record).items()
            if key not in _STANDARD and isinstance(value, _PLAIN_VALUES)
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)
