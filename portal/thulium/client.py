"""The gateway: the only code in the portal that talks to Thulium over HTTP.

One method per endpoint, each returning plain data or raising one of the exceptions of
`portal.thulium.errors`. Settings are read when a client is made, so tests can point the
portal at a sandbox on any port.
"""

import functools
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext_noop
from urllib3.exceptions import NewConnectionError, SSLError

from portal.metrics.instruments import thulium_call_done

from .batch import RecordResult, read_results
from .deadline import CallDeadline, DeadlineAdapter, read_body
from .errors import (
    ThuliumAuthFailed,
    ThuliumError,
    ThuliumMethodRefused,
    ThuliumRefused,
    ThuliumUnavailable,
    error_messages,
)
from .kept_bodies import body_text, kept_body, redacted

log = logging.getLogger("portal.thulium")

# A refusal sent as plain text is shown up to this long: a sentence or two, not a page.
MAX_SHOWN_REFUSAL = 300
# The most a page of Thulium's lists holds ("limit", at most 100).
LIST_PAGE = 100

_local = threading.local()

# What response.json() raises on a body that is not JSON it can read: a ValueError, or a
# RecursionError on one nested deeper than Python's stack ("[[[[...").
_NOT_JSON = (ValueError, RecursionError)


class NewRecord(NamedTuple):
    """Thulium's answer to an addition: the record's id, and the status it answered with
    (200 or 201), which the audit records as it came."""

    record_id: str
    http_status: int


class CampaignListing(list):
    """GET outbounds' campaigns. `complete` is False when the list may lack some: Thulium
    counted more than its pages gave, or gave a full page without a count."""

    complete = True


class _TimeoutSession(requests.Session):
    """A session that never waits forever and never skips certificate checks."""

    def __init__(self, timeout: tuple[float, float]):
        super().__init__()
        self.default_timeout = timeout
        for prefix in ("https://", "http://"):
            self.mount(prefix, DeadlineAdapter())
        # Calls of different users share this session: no cookie may carry over between them.
        self.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        # requests would read the whole environment on every call; request() passes what
        # it would find there instead, read once per address.
        self.trust_env = False

    def request(self, method, url, *, within: float | None = None, **kwargs):
        """`within`: the seconds left to a longer read this call is part of, which then
        ends by that read's deadline (it is waited for no longer than that)."""
        connect_timeout, read_timeout = kwargs.setdefault("timeout", self.default_timeout)
        call_seconds = connect_timeout + read_timeout
        if within is not None:
            connect_timeout, read_timeout = min(connect_timeout, within), min(read_timeout, within)
            kwargs["timeout"] = (connect_timeout, read_timeout)
            call_seconds = min(call_seconds, within)
        # A redirected PUT or POST would be sent on as a GET, whose answer then read as the
        # change's success: a write's redirect is answered as it is (see _http_failure).
        kwargs["allow_redirects"] = method == "GET"
        parts = urlsplit(url)
        proxies, verify = _environment_settings(f"{parts.scheme}://{parts.netloc}/")
        kwargs["proxies"] = proxies
        # A CA bundle named by REQUESTS_CA_BUNDLE (a closed network's own CA) is honoured;
        # checking certificates is never turned off.
        kwargs["verify"] = verify
        # One deadline for the whole call: the timeouts alone bound each wait, not the call.
        with CallDeadline(call_seconds):
            response = super().request(method, url, stream=True, **kwargs)
            read_body(response)
        return response


@functools.cache
def _environment_settings(origin: str) -> tuple[dict, str | bool]:
    """The proxies (HTTPS_PROXY, NO_PROXY...) and CA bundle the environment gives an origin."""
    found = requests.Session().merge_environment_settings(
        origin, proxies={}, stream=None, verify=True, cert=None
    )
    return found["proxies"], found["verify"] or True


def _pooled_session(timeout: tuple[float, float]) -> requests.Session:
    """One keep-alive session per thread, so consecutive calls reuse the connection."""
    session = getattr(_local, "session", None)
    if session is None or session.default_timeout != timeout:
        session = _TimeoutSession(timeout)
        _local.session = session
    return session


class ThuliumClient:
    def __init__(
        self,
        *,
        base_url: str,
        user: str,
        password: str,
        timeout: float,
        connect_timeout: float,
        language: str | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        # In UTF-8, as RFC 7617 and curl send them (Thulium does not say): requests would
        # send Latin-1, and fail on a Polish letter ("ł") before anything was sent.
        self._auth = (user.encode(), password.encode())
        self._session = _pooled_session((connect_timeout, timeout))
        self._headers = {"Accept": "application/json"}
        if language:
            # Thulium answers its error messages in Polish when asked.
            self._headers["Accept-Language"] = language

    # Read endpoints
    def list_campaigns(self, *, wanted: Collection[str] | None = None,
                       within: float | None = None) -> CampaignListing:
        """GET outbounds: the campaigns. The shape is undocumented, so both known ones pass:
        a bare list, or a page as Thulium's lists answer (`{"count", "result"}`), whose
        further pages are then read with `offset` (a campaign past the first 100 would
        otherwise be unknown to the portal). Given `wanted` (ids), no further page is read
        once each is listed: Thulium has no GET outbounds/:id, and reading thousands of
        campaigns for one form would keep its user waiting; the list is then incomplete.

        Given `within` (seconds), all its pages share that one deadline: the client's
        timeout bounds each page's call, not the reading, and forty slow pages would keep
        a page's user waiting forty times it. Past the deadline the reading stops and raises
        ThuliumUnavailable "no answer in time", as a page's call timing out does."""
        ends = None if within is None else time.monotonic() + within
        first, count = self._call("GET", "outbounds", read=_first_campaigns_page,
                                  within=within)
        campaigns = CampaignListing(first)
        while (count is not None and len(campaigns) < count
               and not (wanted is not None and _all_listed(wanted, campaigns))):
            left = None if ends is None else ends - time.monotonic()
            if left is not None and left <= 0:
                log.warning("thulium GET outbounds: no answer in time, %d campaigns read",
                            len(campaigns))
                raise ThuliumUnavailable(gettext_noop("no answer in time"))
            page = self._call("GET", "outbounds", read=_further_campaigns_page, within=left,
                              params={"offset": len(campaigns), "limit": LIST_PAGE})
            listed = {campaign.get("id") for campaign in campaigns}
            more = [campaign for campaign in page if campaign.get("id") not in listed]
            if not more:
                break  # fewer than it counted, or the same page again: that is all
            campaigns += more
        # Only a list read to its end tells which campaigns Thulium no longer holds: one
        # holding its count, or, uncounted, a first page short of a full one.
        campaigns.complete = (len(campaigns) >= count if count is not None
                              else len(campaigns) < LIST_PAGE)
        return campaigns

    def get_statuses(self, campaign_id: str) -> list[dict]:
        """GET outbounds/:id/statuses: the campaign's statuses with their system status."""
        return self._call("GET", "outbounds/:id/statuses", campaign_id,
                          read=functools.partial(_list_of_dicts, what="statuses"))

    def get_agents(self, campaign_id: str) -> list[dict]:
        """GET outbounds/:id/agents: the agents a record can be assigned to."""
        return self._call("GET", "outbounds/:id/agents", campaign_id,
                          read=functools.partial(_list_of_dicts, what="agents"))

    def list_records(
        self, campaign_id: str, *, created_from: date, created_to: date | None = None,
        offset: int = 0, limit: int = LIST_PAGE
    ) -> tuple[int, list[dict]]:
        """GET outbounds/:id/records added from a Warsaw day on, up to another if given:
        (how many match, one page).

        This is how the portal learns what Thulium holds after an answer was lost; ids
        come back as text, as `add_record` returns them.
        """
        params = {"create_date_from": created_from.isoformat(),
                  **({"create_date_to": created_to.isoformat()} if created_to else {}),
                  "offset": offset, "limit": limit}
        # A page is other people's records: a body that is no page is not kept for the
        # audit, where no erasure would find the numbers in it.
        return self._call("GET", "outbounds/:id/records", campaign_id, params=params,
                          keep_body=False, read=_records_page)

    def campaign_stats(self) -> list[dict]:
        """GET outbounds/stats: records_count and completion_percent of active campaigns."""
        rows = self._call("GET", "outbounds/stats",
                          read=functools.partial(_list_of_dicts, what="stats"))
        # Documented: campaign ids are five characters, so a number lost its leading zeros.
        return [
            {**row, "id": f"{row['id']:05d}"} if type(row.get("id")) is int else row
            for row in rows
        ]

    # Write endpoints
    def update_campaign(self, campaign_id: str, changes: dict[str, Any]) -> int:
        """PUT outbounds/:id: returns the HTTP status (200 or 204, which the audit records as
        it came); Thulium answers an empty body."""
        status, _body = self._call("PUT", "outbounds/:id", campaign_id, json=changes,
                                   expect_body=False, with_status=True)
        return status

    def add_record(self, campaign_id: str, record: dict[str, Any]) -> NewRecord:
        """POST outbounds/:id/records: returns the new record's id (a string) and the
        answer's status."""
        status, record_id = self._call("POST", "outbounds/:id/records", campaign_id,
                                       json=record, with_status=True, read=self._new_record_id)
        return NewRecord(record_id, status)

    def add_records(self, campaign_id: str, records: list[dict]) -> list[RecordResult]:
        """POST batch/outbounds/:id/records: one result per record, in the order sent.

        Raises `ThuliumUnavailable` (may have applied) when the answer is of no known shape,
        and `ThuliumMethodRefused` when the API user may not call the batch method (or
        this Thulium lacks it): single POSTs may still be allowed.
        """
        try:
            return self._call("POST", "batch/outbounds/:id/records", campaign_id,
                              json={"records": records},
                              read=functools.partial(self._batch_results, records))
        except (ThuliumAuthFailed, ThuliumRefused) as error:
            if error.status not in ThuliumMethodRefused.STATUSES:
                raise
            raise ThuliumMethodRefused(
                error.detail, status=error.status, request_id=error.request_id,
                messages=error.messages,
            ) from None

    # Reading what a write's answer says
    def _new_record_id(self, body) -> str:
        """The record_id of an addition's answer, as text."""
        record_id = body.get("record_id") if isinstance(body, dict) else None
        if record_id in (None, ""):
            # Thulium took the record (200) but we cannot tell which id it got: what it
            # said is kept for the audit, its request_id if it gave one.
            said = body.get("request_id") if isinstance(body, dict) else None
            raise ThuliumUnavailable(
                gettext_noop("the answer has no record_id"), status=200, may_have_applied=True,
                request_id=str(said)[:64] if said else "",
                body=self._kept(json.dumps(body, ensure_ascii=False)),
            )
        return str(record_id)

    def _batch_results(self, records: list[dict], body) -> list[RecordResult]:
        """The batch answer's result for each record sent, Thulium's words about a failed
        one without the password (they are shown, and kept in the audit)."""
        results = read_results(records, body)
        if results is None:
            # Thulium took the batch (200) but we cannot tell which records it added.
            raise ThuliumUnavailable(
                gettext_noop("the answer is not a known batch answer"), status=200,
                may_have_applied=True,
                body=self._kept(json.dumps(body, ensure_ascii=False)),
            )
        return [replace(result, messages=tuple(map(self._redacted, result.messages)))
                if result.messages else result for result in results]

    # Plumbing
    def _call(self, method: str, endpoint: str, campaign_id: str = "", *, json=None,
              params=None, expect_body: bool = True, keep_body: bool = True,
              with_status: bool = False, read: Callable[[Any], Any] | None = None,
              within: float | None = None):
        """Call `endpoint` (a path template, ":id" standing for `campaign_id`): what `read`
        makes of the answer's body (the body itself without one), or (status, that)
        `with_status`. `read` raises a ThuliumError on a body the portal cannot use, before
        the call is counted and logged: so both say the outcome its audit entry gets. A
        failure keeps an answer's body that is not Thulium's documented error for the
        audit, unless `keep_body` is false. `within` (seconds) shortens the call's waits
        and deadline to what a longer read has left."""
        path = endpoint.replace(":id", campaign_id)
        url = f"{self.base_url}/{path}"
        call = (method, endpoint, path)
        started = time.monotonic()
        try:
            response = self._session.request(
                method, url, json=json, params=params, auth=self._auth, headers=self._headers,
                within=within,
            )
        except requests.RequestException as exc:
            failure = _transport_failure(exc, sent=method != "GET")
            _log_call(*call, started, None, failure.outcome, "")
            raise failure from None
        kept = self._kept if keep_body else _kept_nothing
        try:
            if not 200 <= response.status_code < 300:
                raise _http_failure(response, kept, self._redacted)
            body = _parse_success(response, expect_body, kept)
            if read is not None:
                body = read(body)
        except ThuliumError as failure:
            _log_call(*call, started, response.status_code, failure.outcome,
                      failure.request_id)
            raise
        _log_call(*call, started, response.status_code, "succeeded", "")
        return (response.status_code, body) if with_status else body

    def _kept(self, text: str) -> str:
        # A method, not a partial holding the password: an error report shows its repr.
        user, password = self._auth
        return kept_body(text, user=user.decode(), password=password.decode())

    def _redacted(self, text: str) -> str:
        user, password = self._auth
        return redacted(text, user=user.decode(), password=password.decode())


def _list_of_dicts(body, what: str) -> list[dict]:
    """The body, if it is a list of objects: anything else is no usable answer."""
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        log.warning("thulium %s answer is not a list of objects", what)
        raise ThuliumUnavailable(gettext_noop("the answer is not a list of objects"),
                                 status=200)
    return body


def _first_campaigns_page(body) -> tuple[list[dict], int | None]:
    """GET outbounds' campaigns, and how many there are: the page's count (None without
    one), or a bare list's length, as it is the whole list."""
    if isinstance(body, dict) and isinstance(body.get("result"), list):
        return _list_of_dicts(body["result"], "outbounds"), _count_of(body)
    campaigns = _list_of_dicts(body, "outbounds")
    return campaigns, len(campaigns)


def _all_listed(wanted: Collection[str], campaigns: list[dict]) -> bool:
    """Whether `campaigns` lists every id of `wanted` (ids compared as text)."""
    return set(wanted) <= {str(campaign.get("id", "")) for campaign in campaigns}


def _further_campaigns_page(page) -> list[dict]:
    """A further page's campaigns: a page without any ends the list."""
    result = page.get("result") if isinstance(page, dict) else page
    return _list_of_dicts(result or [], "outbounds")


def _records_page(body) -> tuple[int, list[dict]]:
    """(how many records match, this page's), ids as text."""
    count = _count_of(body)
    if count is None:
        raise ThuliumUnavailable(gettext_noop("the answer is not a page of records"),
                                 status=200)
    rows = _list_of_dicts(body.get("result"), "records")
    return count, [_with_text_id(row, "record_id") for row in rows]


def _count_of(page) -> int | None:
    """A list page's `count`, which Thulium sends as a number or as digits in a string;
    None when the page has none that reads as either."""
    count = page.get("count") if isinstance(page, dict) else None
    if type(count) is int:
        return count
    if isinstance(count, str) and count.isascii() and count.isdigit():
        return int(count)
    return None


def _with_text_id(row: dict, key: str) -> dict:
    """The row with its id as text: Thulium sends ids as strings or numbers."""
    if isinstance(row.get(key), int) and not isinstance(row[key], bool):
        return {**row, key: str(row[key])}
    return row


def _kept_nothing(_text: str) -> str:
    return ""


def _parse_success(response: requests.Response, expect_body: bool, kept: Callable[[str], str]):
    """The JSON of a 2xx answer; a body that is not the documented JSON is a failure."""
    # An empty answer is what PUT documents; a cut-off one may hide a failure after acting.
    if not expect_body and not response.content.strip():
        return None
    try:
        return response.json()
    except _NOT_JSON:
        raise ThuliumUnavailable(
            gettext_noop("the answer is not valid JSON"),
            status=response.status_code,
            may_have_applied=response.request.method != "GET",
            body=kept(body_text(response)),  # for the audit
        ) from None


def _http_failure(response: requests.Response, kept: Callable[[str], str],
                  redact: Callable[[str], str]):
    """Turn a non-2xx answer into the matching exception, keeping Thulium's words (each
    message as `redact` leaves it: it is shown, and kept in the audit)."""
    request_id, messages, said = _error_body(response, kept, redact)
    status = response.status_code
    detail = said or f"HTTP {status}"
    if status in (401, 403):
        return ThuliumAuthFailed(detail, status=status, request_id=request_id, messages=messages)
    sent = response.request.method != "GET"
    # Too many requests (429): not carried out, and to be tried again later, not refused.
    if status >= 500 or status < 400 or status == 429:
        # The body of a 5xx or a 429 is usually a proxy's page: kept for the audit, not
        # shown. A proxy that gave up waiting (504) may have passed the call on, and a write
        # answered with a redirect (303 after a POST) was often carried out before it.
        return ThuliumUnavailable(
            f"HTTP {status}", status=status, request_id=request_id, messages=messages,
            body=said, may_have_applied=sent and (status == 504 or status < 400),
            retry_after=_retry_after(response),
        )
    return ThuliumRefused(detail, status=status, request_id=request_id,
                          messages=messages or _plain_refusal(response, said))


def _retry_after(response: requests.Response) -> float | None:
    """The seconds a Retry-After header asks to wait: a number of seconds or an HTTP date
    (RFC 9110, 10.2.3); None without one that reads as either."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _error_body(response: requests.Response, kept: Callable[[str], str],
                redact: Callable[[str], str]) -> tuple[str, list[str], str]:
    """(request_id, messages, what Thulium said): its words from the documented `errors[]`
    or from a top-level `message`, its request_id from any JSON object; of any other body,
    the text `kept` keeps ("" when there is none to keep)."""
    try:
        body = response.json()
    except _NOT_JSON:
        body = None
    said = body if isinstance(body, dict) else {}
    # Cut to the audit column; the documented ids are 13 characters.
    request_id = str(said.get("request_id") or "")[:64]
    if isinstance(said.get("errors"), list):
        messages = error_messages(said["errors"])
    elif isinstance(said.get("message"), str) and said["message"].strip():
        messages = [said["message"]]
    else:
        return request_id, [], kept(body_text(response)).strip()
    messages = [redact(message) for message in messages]
    return request_id, messages, "; ".join(messages)


def _plain_refusal(response: requests.Response, said: str) -> list[str]:
    """The words of a refusal sent as text/plain, cut to MAX_SHOWN_REFUSAL: a sentence to
    show the user (the page escapes it). Other bodies are pages, kept for the audit only."""
    content_type = response.headers.get("Content-Type", "").partition(";")[0]
    words = " ".join(said.split())
    if content_type.strip().lower() != "text/plain" or not words:
        return []
    if len(words) > MAX_SHOWN_REFUSAL:
        words = words[:MAX_SHOWN_REFUSAL - 1] + "…"
    return [words]


def _transport_failure(exc: requests.RequestException, *, sent: bool) -> ThuliumUnavailable:
    """A call that got no answer. Whether Thulium may have acted depends on how far it got."""
    if isinstance(exc, requests.ConnectTimeout):
        return ThuliumUnavailable(gettext_noop("connection timed out"))
    if isinstance(exc, requests.ReadTimeout):
        return ThuliumUnavailable(gettext_noop("no answer in time"), may_have_applied=sent)
    if isinstance(exc, requests.exceptions.SSLError) and _certificate_refused(exc):
        return ThuliumUnavailable(gettext_noop("the server's TLS certificate is not trusted"))
    if isinstance(exc, requests.ConnectionError):
        if _never_connected(exc):
            return ThuliumUnavailable(gettext_noop("cannot connect"))
        return ThuliumUnavailable(gettext_noop("connection broken"), may_have_applied=sent)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError
                  | requests.exceptions.ContentDecodingError):
        # The answer began, so Thulium got the call; what it said was lost.
        return ThuliumUnavailable(gettext_noop("the answer was cut off"), may_have_applied=sent)
    # Anything else is not known to have stopped the call before Thulium got it.
    log.warning("thulium call failed with %s", type(exc).__name__)
    return ThuliumUnavailable(gettext_noop("no usable answer"), may_have_applied=sent)


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the request never left the portal (so Thulium cannot have acted on it)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _certificate_refused(exc: requests.exceptions.SSLError) -> bool:
    """True when the certificate check failed: that is in the handshake, before sending."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    cause = reason.args[0] if isinstance(reason, SSLError) and reason.args else None
    return isinstance(cause, ssl.SSLCertVerificationError)


def _log_call(method, endpoint, path, started, status, outcome, request_id):
    # Method and path only: bodies carry people's numbers and names. The portal's own
    # request id is added by the logging filter.
    seconds = time.monotonic() - started
    thulium_call_done(endpoint=f"{method} {endpoint}", outcome=outcome, seconds=seconds)
    duration_ms = round(seconds * 1000)
    log.info(
        "thulium %s %s status=%s outcome=%s thulium_request_id=%s duration_ms=%d",
        method, path, status, outcome, request_id or "-", duration_ms,
        extra={"method": method, "path": path, "status": status, "outcome": outcome,
               "thulium_request_id": request_id, "duration_ms": duration_ms},
    )


def get_client(language: str | None = None, *, timeout: float | None = None) -> ThuliumClient:
    """A client configured from the settings as they are now; `timeout` can shorten waits,
    for the answer and for the connection."""
    return ThuliumClient(
        base_url=settings.THULIUM_API_URL,
        user=settings.THULIUM_API_USER,
        password=settings.THULIUM_API_PASSWORD,
        timeout=timeout or settings.THULIUM_TIMEOUT,
        connect_timeout=min(settings.THULIUM_CONNECT_TIMEOUT,
                            timeout or settings.THULIUM_CONNECT_TIMEOUT),
        language=language,
    )
