"""The id of the request being served, so log lines and audit rows of one request match."""

import re
import uuid
from contextvars import ContextVar

# What a proxy may hand us as X-Request-ID: short and plain, so it cannot forge log lines.
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_current: ContextVar[str] = ContextVar("request_id", default="")


def current_request_id() -> str:
    """The id of the request this thread serves, or "" outside a request."""
    return _current.get()


def set_current_request_id(request_id: str) -> None:
    _current.set(request_id)


def request_id_from(header: str | None) -> str:
    """The proxy's id when it is sane, else a new one."""
    if header and _SANE.fullmatch(header):
        return header
    return uuid.uuid4().hex
