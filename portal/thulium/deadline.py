"""Reading an answer's body by the call's deadline.

requests' read timeout bounds each wait between two reads, not the call: an answer sent a
little at a time kept a call open for as long as the server liked. gunicorn's timeout, the
bulk change, leases and the worker's stop grace all count on a call lasting at most
THULIUM_CONNECT_TIMEOUT + THULIUM_TIMEOUT (docs/operations.md).
"""

import time

import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError

# A read takes what has come, up to this much: Thulium's answers take one or two.
CHUNK = 64 * 1024
# What requests raises for urllib3's failures while reading a body, as its iter_content does
# (but a read that timed out is a timeout: no answer in time).
_AS_REQUESTS_RAISES = {
    ReadTimeoutError: requests.ReadTimeout,
    ProtocolError: requests.exceptions.ChunkedEncodingError,
    DecodeError: requests.exceptions.ContentDecodingError,
    SSLError: requests.exceptions.SSLError,
}


def read_body_by(response: requests.Response, deadline: float, read_timeout: float) -> None:
    """Read a streamed answer's body into `response.content`, no read waiting past
    `deadline` (of time.monotonic()) nor longer than `read_timeout`.

    Raises requests' ReadTimeout when the deadline passes, and what requests raises for a
    body cut off or undecodable.
    """
    try:
        response._content = _body_by(response.raw, deadline, read_timeout)
    except requests.RequestException:
        response.close()  # the body is not all read: its connection cannot serve another call
        raise
    response._content_consumed = True


def _body_by(raw, deadline: float, read_timeout: float) -> bytes:
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise requests.ReadTimeout("the answer did not end by the call's deadline")
        # urllib3 sets the socket's timeout again before the connection's next request.
        if raw.connection is not None and raw.connection.sock is not None:
            raw.connection.sock.settimeout(min(left, read_timeout))
        try:
            # read1 returns what has come; read would wait for a whole chunk.
            chunk = raw.read1(CHUNK, decode_content=True)
        except tuple(_AS_REQUESTS_RAISES) as exc:
            ours = next(ours for theirs, ours in _AS_REQUESTS_RAISES.items()
                        if isinstance(exc, theirs))
            raise ours(exc) from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
