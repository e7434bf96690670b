"""The sandbox's HTTP side: Thulium's API under /api, control endpoints under /_sandbox.

Every /api request goes: read body -> log -> gathering (tests) -> latency -> fault (or wait
behind a `first` one it does not match) -> auth -> permission -> route -> campaign -> JSON
body -> rules -> store -> answer. Answers are built as `_Reply` values first and written
last, so faults can delay, replace or drop them.
"""

import base64
import binascii
import hmac
import ipaddress
import json
import operator
import re
import secrets
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import records, rules
from .state import PROCESSED_KINDS, SandboxState

JSON = "application/json"
_INVALID = object()  # marks a body that is not JSON (None is JSON's null)


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict = field(default_factory=dict)


@dataclass
class _ApiRequest:
    method: str
    query: dict
    data: object  # parsed JSON body, or _INVALID
    lang: str
    state: SandboxState


def _json_reply(status, payload, **headers):
    return _Reply(status, json.dumps(payload, ensure_ascii=False).encode(), headers=headers)


def _error_reply(status, errors, **headers):
    """Thulium's documented error body; the request_id looks like the doc's example."""
    payload = {"request_id": secrets.token_hex(7)[:13], "errors": errors}
    return _json_reply(status, payload, **headers)


def _validation_reply(errors):
    # Undocumented: Thulium's status code for validation errors is unknown; we answer 400.
    return _error_reply(400, errors)


# --- /api endpoints -----------------------------------------------------------------


def _list_outbounds(req):
    """Undocumented shape: Thulium documents no answer for GET outbounds.

    The sandbox answers a page as Thulium's lists do ({"count", "result"}, `limit` at most
    100, `offset`), each item with the campaign's settings; `type` and `fields` are the
    sandbox's own additions. `?shape=list` answers every campaign as a bare list so clients
    can be tested against both shapes.
    """
    keys = ("id", "name", "active", "dialer", "start_date", "end_date", "order", "parity",
            "group_id", "parameters", "type", "fields")
    if req.query.get("shape") == ["list"]:
        return _json_reply(200, [{key: c[key] for key in keys if key in c}
                                 for c in req.state.campaigns()])
    query, errors = rules.list_query(req.query, req.lang)
    if errors:
        return _validation_reply(errors)
    count, page = req.state.campaigns_page(query["offset"], query["limit"])
    return _json_reply(200, {"count": count,
                             "result": [{key: c[key] for key in keys if key in c} for c in page]})


def _list_statuses(req, campaign):
    return _json_reply(200, campaign["statuses"])


def _list_agents(req, campaign):
    return _json_reply(200, campaign["agents"])


def _update_campaign(req, campaign):
    def check(stored):
        return rules.campaign_update_errors(req.data, stored, req.lang)

    errors = req.state.update_campaign(campaign["id"], req.data, check)
    if errors:
        return _validation_reply(errors)
    # Documented: success is HTTP 200 with an empty body.
    return _Reply(200)


def _add_record(req, campaign):
    def check(stored, records):
        return rules.record_errors(req.data, stored, records, req.lang)

    record_id, errors = req.state.add_record(campaign["id"], req.data, check)
    if errors:
        return _validation_reply(errors)
    return _json_reply(200, {"record_id": record_id})


def _add_records(req, campaign):
    errors = rules.batch_errors(req.data, req.lang)
    if errors:
        return _validation_reply(errors)
    sent = req.data["records"]
    numbers = [record["phone_number"] for record in sent
               if isinstance(record.get("phone_number"), str)]
    failing = req.state.take_failing(numbers)

    def check(record, stored, alike):
        if record.get("phone_number") in failing:
            return [rules.error("refused", req.lang)]
        return rules.record_errors(record, stored, alike, req.lang)

    outcomes = req.state.add_records(campaign["id"], sent, check)
    return _json_reply(200, records.batch_answer(sent, outcomes, req.state.batch_shape,
                                                 left_out=req.state.take_left_out(numbers)))


def _list_records(req, campaign):
    query, errors = rules.records_query(req.query, req.lang)
    if errors:
        return _validation_reply(errors)
    # Documented: both filters are days (YYYY-MM-DD) and Thulium's dates Polish local time,
    # as the stored create_date is. Inferred: both days are included (the doc does not say);
    # state.date_to_exclusive is the other reading of create_date_to, its day left out.
    first, last = query["create_date_from"], query["create_date_to"]
    before_last = operator.lt if req.state.date_to_exclusive else operator.le
    matching = [
        record for record in req.state.listed_records(campaign["id"])
        if (first is None or record["create_date"][:10] >= first)
        and (last is None or before_last(record["create_date"][:10], last))
    ]
    page = matching[query["offset"]:query["offset"] + query["limit"]]
    return _json_reply(200, {
        "count": len(matching),
        "result": [records.listed_record(record, campaign) for record in page],
    })


def _campaign_stats(req):
    """Documented: for active campaigns. The sandbox never calls, so nothing is completed."""
    return _json_reply(200, [
        {"id": c["id"], "records_count": req.state.records_count(c["id"]),
         "completion_percent": 0.0}
        for c in req.state.campaigns() if c["active"]
    ])


# path pattern -> {method: (handler, needs a JSON object body)}
_CAMPAIGN = r"/api/outbounds/(?P<campaign_id>[^/]+)"
_API_ROUTES = [
    (re.compile(r"/api/outbounds"), {"GET": (_list_outbounds, False)}),
    # Before _CAMPAIGN, whose five-character ids "stats" would otherwise match.
    (re.compile(r"/api/outbounds/stats"), {"GET": (_campaign_stats, False)}),
    (re.compile(_CAMPAIGN), {"PUT": (_update_campaign, True)}),
    (re.compile(_CAMPAIGN + "/statuses"), {"GET": (_list_statuses, False)}),
    (re.compile(_CAMPAIGN + "/agents"), {"GET": (_list_agents, False)}),
    (re.compile(_CAMPAIGN + "/records"),
     {"POST": (_add_record, True), "GET": (_list_records, False)}),
    (re.compile(r"/api/batch/outbounds/(?P<campaign_id>[^/]+)/records"),
     {"POST": (_add_records, True)}),
]


def _find_route(path):
    """(match, {method: ...}) of the /api route matching `path`, or (None, None)."""
    for pattern, methods in _API_ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return match, methods
    return None, None


def _route_api(path, req):
    """The reply of an authorized /api request."""
    match, methods = _find_route(path)
    if match is None:
        # Undocumented: Thulium's answer to unknown paths is unknown; we answer 404.
        return _error_reply(404, [rules.error("not_found", req.lang)])
    if req.method not in methods:
        return _error_reply(
            405, [rules.error("method_not_allowed", req.lang)], Allow=", ".join(methods)
        )
    handler, needs_body = methods[req.method]
    if "campaign_id" not in match.groupdict():
        return handler(req)
    # Ids are five characters: any other length is simply not found, like unknown ids.
    campaign = req.state.campaign(match["campaign_id"])
    if campaign is None:
        return _error_reply(404, [rules.error("campaign_not_found", req.lang)])
    if needs_body:
        if req.data is _INVALID:
            return _validation_reply([rules.error("invalid_json", req.lang)])
        if not isinstance(req.data, dict):
            return _validation_reply([rules.error("body_not_object", req.lang)])
    return handler(req, campaign)


# --- fault replies ------------------------------------------------------------------


def _gateway_error_reply(kind):
    """What a proxy in front of Thulium answers: an HTML page, not Thulium's JSON."""
    status = HTTPStatus(int(kind.removeprefix("http_")))
    page = f"<html><body><h1>{status.value} {status.phrase}</h1></body></html>"
    return _Reply(status.value, page.encode(), content_type="text/html; charset=utf-8")


def _rate_limited_reply(seconds):
    """Too many requests, as a gateway in front of Thulium could answer it (Thulium
    documents no rate limit): come back in `seconds`."""
    return _Reply(429, b'{"errors": [{"message": "Too many requests", "code": 429}]}',
                  headers={"Retry-After": str(round(seconds))})


def _broken_json_reply():
    # The same truncated body for PUT too: a client must cope with any cut-off answer.
    return _Reply(200, b'{"record_id": ')


# --- /_sandbox control endpoints ----------------------------------------------------


def _control_reset(state, data):
    state.reset()
    return _json_reply(200, {"ok": True})


def _control_faults(state, data):
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
        raise ValueError('body must be an object with a "kind"')
    options = {key: data[key] for key in ("times", "path", "delay", "apply", "every", "first",
                                          "method") if key in data}
    state.fail_next(data["kind"], **options)
    return _json_reply(200, {"ok": True})


def _control_latency(state, data):
    if not isinstance(data, dict) or "seconds" not in data:
        raise ValueError('body must be an object with "seconds"')
    state.latency = data["seconds"]
    return _json_reply(200, {"seconds": state.latency})


def _control_permissions(state, data):
    if not isinstance(data, dict):
        raise ValueError('body must be an object with "method", "path" and "status"')
    state.refuse(data.get("method"), data.get("path"), data.get("status", 403))
    return _json_reply(200, {"ok": True})


def _control_batch_shape(state, data):
    if not isinstance(data, dict):
        raise ValueError('body must be an object with a "shape"')
    state.batch_shape = data.get("shape")
    return _json_reply(200, {"shape": state.batch_shape})


def _control_date_to(state, data):
    if not isinstance(data, dict):
        raise ValueError('body must be an object with "exclusive"')
    state.date_to_exclusive = data.get("exclusive")
    return _json_reply(200, {"exclusive": state.date_to_exclusive})


def _control_campaigns(state, data):
    if not isinstance(data, dict):
        raise ValueError('body must be an object with a "count"')
    state.add_generated_campaigns(data.get("count"))
    return _json_reply(200, {"count": len(state.campaigns())})


def _control_received(state, data):
    return _json_reply(200, state.received)


def _control_records(state, data, campaign_id):
    if state.campaign(campaign_id) is None:
        return _json_reply(404, {"error": f"no campaign {campaign_id!r}"})
    return _json_reply(200, state.records(campaign_id))


def _control_campaign(state, data, campaign_id):
    """Change a campaign behind the portal's back, as someone in Thulium's own panel would:
    no PUT, no validation, nothing logged as received."""
    if state.campaign(campaign_id) is None:
        return _json_reply(404, {"error": f"no campaign {campaign_id!r}"})
    if not isinstance(data, dict):
        raise ValueError("body must be an object of the settings to change")
    state.update_campaign(campaign_id, data, lambda stored: [])
    return _json_reply(200, state.campaign(campaign_id))


_CONTROL_ROUTES = [
    (re.compile(r"/_sandbox/reset"), "POST", _control_reset),
    (re.compile(r"/_sandbox/faults"), "POST", _control_faults),
    (re.compile(r"/_sandbox/latency"), "POST", _control_latency),
    (re.compile(r"/_sandbox/permissions"), "POST", _control_permissions),
    (re.compile(r"/_sandbox/batch_shape"), "POST", _control_batch_shape),
    (re.compile(r"/_sandbox/create_date_to"), "POST", _control_date_to),
    (re.compile(r"/_sandbox/campaigns"), "POST", _control_campaigns),
    (re.compile(r"/_sandbox/received"), "GET", _control_received),
    (re.compile(r"/_sandbox/records/(?P<campaign_id>[^/]+)"), "GET", _control_records),
    (re.compile(r"/_sandbox/campaigns/(?P<campaign_id>[^/]+)"), "POST", _control_campaign),
]


def _route_control(method, path, data, state):
    for pattern, allowed, handler in _CONTROL_ROUTES:
        match = pattern.fullmatch(path)
        if match:
            if method != allowed:
                return _json_reply(405, {"error": f"use {allowed}"}, Allow=allowed)
            try:
                return handler(state, data, **match.groupdict())
            except ValueError as exc:
                return _json_reply(400, {"error": str(exc)})
    return _json_reply(404, {"error": "unknown sandbox endpoint"})


# --- the handler --------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive as Thulium's does; every reply sends a length.
    protocol_version = "HTTP/1.1"
    server_version = "ThuliumSandbox/1.0"
    # Headers and body go out in separate writes; with Nagle's algorithm on, the client's
    # delayed ACK would add ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True

    def do_GET(self):
        path = urlsplit(self.path).path
        raw = self._read_body()
        if path.startswith("/_sandbox/"):
            self._handle_control(path, raw)
        elif path == "/api" or path.startswith("/api/"):
            self._handle_api(path, raw)
        else:
            self._send(_json_reply(404, {"error": "the API is under /api"}))

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    @property
    def sandbox(self):
        return self.server.sandbox

    def log_message(self, format, *args):
        # Quiet in tests; the management command turns it on. Request lines carry no
        # credentials, so printing them is safe.
        if self.sandbox.verbose:
            super().log_message(format, *args)

    def _read_body(self):
        # Read the whole body even when refusing, or the next keep-alive request
        # would start in the middle of it.
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle_control(self, path, raw):
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            self._send(_json_reply(403, {"error": "control endpoints are loopback only"}))
            return
        data = _parse_json(raw)
        state = self.sandbox.state
        self._send(_route_control(self.command, path, None if data is _INVALID else data, state))

    def _handle_api(self, path, raw):
        state = self.sandbox.state
        data = _parse_json(raw)
        authorized = self._authorized()
        state.log_request(
            {
                "method": self.command,
                "path": self.path,
                "json": None if data is _INVALID else data,
                "body": raw.decode("utf-8", "replace"),
                "accept_language": self.headers.get("Accept-Language"),
                "content_type": self.headers.get("Content-Type"),
                "authorized": authorized,
            }
        )
        state.wait_gathered()
        time.sleep(state.latency)
        fault = state.take_fault(path, self.command)
        if not (fault and fault.first):
            state.wait_behind_first_faults(path, self.command)
        if fault and fault.kind not in PROCESSED_KINDS:
            self._answer_fault(fault)
            return
        if fault and not fault.apply:
            # "The request never reached Thulium": wait, then hang up without answer.
            state.time_out(fault.delay)
            self.close_connection = True
            return
        reply = self._api_reply(path, data, authorized)
        if fault and fault.kind == "timeout":
            # "Thulium got it but the answer never came": stored, answered too late.
            state.time_out(fault.delay)
        if fault and fault.kind == "broken_json":
            reply = _broken_json_reply()
        self._send(reply)

    def _api_reply(self, path, data, authorized):
        lang = rules.language(self.headers.get("Accept-Language"))
        if not authorized:
            # Undocumented: Thulium's status for bad credentials is unknown; we answer 401.
            return _error_reply(
                401,
                [rules.error("unauthorized", lang)],
                **{"WWW-Authenticate": 'Basic realm="Thulium sandbox"'},
            )
        refusal = self.sandbox.state.refusal(self.command, path.removeprefix("/api/"))
        if refusal:
            # The API user's per-method permissions (Thulium's panel) leave this one out.
            return _error_reply(refusal.status, [rules.error("no_permission", lang)])
        query = parse_qs(urlsplit(self.path).query)
        req = _ApiRequest(self.command, query, data, lang, self.sandbox.state)
        return _route_api(path, req)

    def _answer_fault(self, fault):
        if fault.kind == "reset":
            self._reset_connection()
        elif fault.kind == "refuse":
            lang = rules.language(self.headers.get("Accept-Language"))
            self._send(_validation_reply([rules.error("refused", lang)]))
        elif fault.kind == "http_429":
            self._send(_rate_limited_reply(fault.delay))
        else:
            self._send(_gateway_error_reply(fault.kind))

    def _authorized(self):
        scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # compare_digest on both, so timing tells nothing about which part was wrong.
        user_ok = hmac.compare_digest(user.encode(), self.sandbox.user.encode())
        password_ok = hmac.compare_digest(password.encode(), self.sandbox.password.encode())
        return user_ok and password_ok

    def _reset_connection(self):
        """Close with RST (linger 0) so the client sees a reset, not a clean close."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _send(self, reply):
        try:
            self.send_response(reply.status)
            # Undocumented: whether Thulium labels its empty PUT answer as JSON is
            # unknown; the sandbox does, so clients must not parse an empty body blindly.
            self.send_header("Content-Type", reply.content_type)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. after a timeout fault): nobody left to answer.
            self.close_connection = True


def _parse_json(raw):
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _INVALID


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, sandbox):
        self.sandbox = sandbox
        super().__init__(address, _Handler)


class SandboxServer:
    """A Thulium stand-in on a real socket; `.state` is what tests inspect and steer."""

    def __init__(
        self,
        host="127.0.0.1",
        port=0,
        user="sandbox",
        password="sandbox-password",
        latency=0.0,
        verbose=False,
    ):
        self.user = user
        self.password = password
        self.verbose = verbose
        self.state = SandboxState(latency=latency)
        self._httpd = _HTTPServer((host, port), self)
        self._thread = None

    @property
    def base_url(self):
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self):
        return self.base_url + "/api"

    def start(self):
        """Serve in a daemon thread, so a forgotten server never blocks interpreter exit."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="thulium-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self):
        """Serve in this thread until interrupted (the management command's way)."""
        self._httpd.serve_forever()

    def shutdown(self):
        """Stop serving and close the listening socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()


def start_sandbox(
    host="127.0.0.1", port=0, user="sandbox", password="sandbox-password", latency=0.0
):
    """A started `SandboxServer`: the one-liner for tests and scripts."""
    return SandboxServer(host, port, user, password, latency).start()
