"""The Thulium gateway: `get_client()` and the failures it raises."""

from .batch import RecordResult
from .client import NewRecord, ThuliumClient, get_client
from .errors import (
    ThuliumAuthFailed,
    ThuliumError,
    ThuliumMethodRefused,
    ThuliumRefused,
    ThuliumUnavailable,
)

__all__ = [
    "NewRecord",
    "RecordResult",
    "ThuliumAuthFailed",
    "ThuliumClient",
    "ThuliumError",
    "ThuliumMethodRefused",
    "ThuliumRefused",
    "ThuliumUnavailable",
    "get_client",
]
