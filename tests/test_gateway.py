"""The gateway over real HTTP: each endpoint, each way a call can fail, and no password leaks.

Calls go to the session's sandbox (`thulium` fixture); answers the sandbox never gives come
from `CraftedThulium`, a tiny server of our own that sends one crafted body.
"""

import base64
import json
import logging
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from portal.thulium import (
    ThuliumAuthFailed,
    ThuliumClient,
    ThuliumError,
    ThuliumRefused,
    ThuliumUnavailable,
    get_client,
)
from portal.thulium.client import _environment_settings as environment_settings
from tests.conftest import LATE, TEST_TIMEOUT, api_calls

# A trickled answer's pace: a byte well within the shortest read timeout, and so many bytes
# that they take many times the call's deadline (connect + read timeouts); the shorter
# timeout keeps that deadline short.
TRICKLE = 0.03
SHORT_TIMEOUT = 0.3
REQUEST_ID = re.compile(r"[0-9a-f]{13}")
NEW_RECORD = {"phone_number": "601234567"}
CHANGE = {"name": "Nowa nazwa"}

# One call per endpoint kind: a GET never "may have applied"; a PUT or POST may.
CALLS = {
    "GET": lambda client: client.list_campaigns(),
    "PUT": lambda client: client.update_campaign("00001", CHANGE),
    "POST": lambda client: client.add_record("00001", NEW_RECORD),
}
OUTCOME_IF_SENT = {"GET": "failed", "PUT": "unknown", "POST": "unknown"}


class CraftedThulium:
    """A local HTTP server answering every request with `respond(method, path, body)`.

    `respond` returns (status, body bytes) or (status, body bytes, headers); the default
    sends one fixed JSON body. Headers given replace the server's own (a Content-Length
    longer than the body cuts the answer off: the connection is then closed). `trickle`
    sends the body a byte at a time, that many seconds apart, counting them in `trickled`
    and setting `trickle_ended` once it stops (the whole body sent, or the client gone);
    `trickle_head` sends the status line and headers so too, `head_length` bytes before
    the body. Both are read at each request.
    """

    def __init__(self, body=None, *, status=200, respond=None, trickle=0.0,
                 trickle_head=False):
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.respond = respond or (lambda method, path, sent: (status, payload))
        self.trickle = trickle
        self.trickle_head = trickle_head
        self.head_length = 0
        self.trickled = 0
        self.trickle_ended = threading.Event()
        self.connections = 0  # accepted
        self.received = []
        crafted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                crafted.connections += 1

            def do_GET(self):
                length = int(self.headers.get("Content-Length") or 0)
                sent = self.rfile.read(length) if length else b""
                crafted.received.append((self.command, self.path))
                status, answer, *given = crafted.respond(self.command, self.path, sent)
                headers = {"Content-Type": "application/json",
                           "Content-Length": str(len(answer)), **(given[0] if given else {})}
                head = self._head(status, headers)
                if not crafted.trickle:
                    self.wfile.write(head + answer)
                elif crafted.trickle_head:
                    crafted.head_length = len(head)
                    self._trickle(head + answer)
                else:
                    self.wfile.write(head)
                    self._trickle(answer)
                self.close_connection = int(headers["Content-Length"]) != len(answer)

            do_POST = do_PUT = do_GET

            def _head(self, status, headers):
                """The status line and headers, as the answer's first bytes."""
                lines = [f"{self.protocol_version} {status} {HTTPStatus(status).phrase}",
                         *(f"{name}: {value}" for name, value in headers.items()), "", ""]
                return "\r\n".join(lines).encode("latin-1")

            def _trickle(self, answer):
                try:
                    for byte in answer:
                        time.sleep(crafted.trickle)
                        self.wfile.write(bytes([byte]))
                        crafted.trickled += 1
                except OSError:  # the client gave up
                    self.close_connection = True
                finally:
                    crafted.trickle_ended.set()

            def log_message(self, format, *args):
                pass  # keep test output readable

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}/api"

    def __enter__(self):
        # serve_forever sees a shutdown only between polls: at its default 0.5 s, every
        # test using this server waited half a second on leaving it.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                         daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self._server.shutdown()
        self._server.server_close()


def closed_port_url() -> str:
    """An API URL on a port nothing listens on, so connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


def client_for(url: str, *, password: str = "whatever-password", timeout: float = TEST_TIMEOUT,
               connect_timeout: float = TEST_TIMEOUT) -> ThuliumClient:
    return ThuliumClient(
        base_url=url, user="sandbox", password=password,
        timeout=timeout, connect_timeout=connect_timeout,
    )


def secrets_of(sandbox, *passwords) -> list[str]:
    """The password in every form it could leak: plain and inside a Basic auth header."""
    found = []
    for password in (sandbox.password, *passwords):
        found.append(password)
        found.append(base64.b64encode(f"{sandbox.user}:{password}".encode()).decode())
    return found


def assert_keeps_password_secret(error, sandbox, *other_passwords):
    shown = [str(error), repr(error), error.detail, *error.messages, *error.user_messages()]
    for secret in secrets_of(sandbox, *other_passwords):
        assert not any(secret in text for text in shown)


@pytest.fixture(autouse=True)
def log_without_password(caplog, thulium):
    """Every call of this file logs at DEBUG (requests and urllib3 too), password-free."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    for secret in secrets_of(thulium, "wrong-password"):
        assert secret not in caplog.text


# --- success ------------------------------------------------------------------------


def test_list_campaigns_reads_the_result_object_the_sandbox_answers(thulium):
    campaigns = get_client().list_campaigns()
    assert [c["id"] for c in campaigns] == ["00001", "00002", "A7K2Q"]
    assert campaigns[0]["name"] == "Sprzedaż OZE 2026"


def test_list_campaigns_accepts_a_bare_list_as_well(thulium):
    bare = requests.get(
        f"{thulium.url}/outbounds?shape=list", auth=(thulium.user, thulium.password), timeout=5
    ).json()
    assert isinstance(bare, list)
    with CraftedThulium(bare) as crafted:
        campaigns = client_for(crafted.url).list_campaigns()
    assert campaigns == bare
    assert crafted.received == [("GET", "/api/outbounds")]


def test_list_campaigns_reads_every_page_when_thulium_pages_its_list():
    """Thulium's lists page 100 at a time: campaigns past the first page exist too."""
    every = [{"id": f"{number:05d}", "name": f"Kampania {number}"} for number in range(150)]

    def respond(_command, path, _sent):
        query = dict(part.split("=") for part in path.partition("?")[2].split("&") if part)
        offset, limit = int(query.get("offset", 0)), min(int(query.get("limit", 100)), 100)
        page = {"count": len(every), "result": every[offset:offset + limit]}
        return 200, json.dumps(page).encode()

    with CraftedThulium(respond=respond) as crafted:
        campaigns = client_for(crafted.url).list_campaigns()
    assert campaigns == every
    assert crafted.received == [("GET", "/api/outbounds"),
                                ("GET", "/api/outbounds?offset=100&limit=100")]


@pytest.mark.parametrize(("wanted", "pages", "complete"), [
    ({"00005", "00099"}, 1, False), ({"00005", "00120"}, 2, True), (set(), 1, False),
])
def test_list_campaigns_stops_reading_pages_once_the_wanted_campaigns_are_listed(
        wanted, pages, complete):
    """A list stopped short may lack campaigns: none may then be called gone from Thulium."""
    every = [{"id": f"{number:05d}"} for number in range(150)]

    def respond(_command, path, _sent):
        offset = 100 if "offset=100" in path else 0
        return 200, json.dumps({"count": 150, "result": every[offset:offset + 100]}).encode()

    with CraftedThulium(respond=respond) as crafted:
        campaigns = client_for(crafted.url).list_campaigns(wanted=wanted)
    assert (len(crafted.received), campaigns.complete) == (pages, complete)
    assert campaigns == every[:100 * pages]


def test_list_campaigns_within_a_deadline_stops_at_it_however_long_each_page_may_take(thulium):
    """Each page is waited for the client's timeout; the pages together for `within`."""
    thulium.state.add_generated_campaigns(450)
    thulium.state.fail_next("timeout", path="/api/outbounds", delay=0.2, every=1)
    with pytest.raises(ThuliumUnavailable) as raised:
        get_client(timeout=10.0).list_campaigns(wanted={"G0450"}, within=0.5)
    assert raised.value.detail == "no answer in time"
    assert len(api_calls(thulium)) <= 3  # of the five pages up to G0450
    thulium.state.reset()
    thulium.state.fail_next("timeout", path="/api/outbounds", delay=LATE)
    with pytest.raises(ThuliumUnavailable, match="no answer in time"):
        get_client(timeout=10.0).list_campaigns(within=0.3)  # the first page's call too


def test_list_campaigns_reads_every_page_when_the_count_comes_as_text():
    """Only the first 100 of 150 campaigns were read when `count` was "150"."""
    every = [{"id": f"{number:05d}"} for number in range(150)]

    def respond(_command, path, _sent):
        page = every[100:] if "offset=100" in path else every[:100]
        return 200, json.dumps({"count": "150", "result": page}).encode()

    with CraftedThulium(respond=respond) as crafted:
        assert client_for(crafted.url).list_campaigns() == every


def test_a_list_that_counts_more_than_it_gives_ends_at_its_last_page():
    with CraftedThulium({"count": 5, "result": [{"id": "00001"}]}) as crafted:
        campaigns = client_for(crafted.url).list_campaigns()
    # Its further page repeats the first (the offset unheard): that is the whole list.
    assert campaigns == [{"id": "00001"}]
    assert len(crafted.received) == 2


@pytest.mark.parametrize(
    "body", [{"count": 3}, [1, 2], [{"id": "00001"}, "00002"], "outbounds", None]
)
def test_list_campaigns_fails_on_an_answer_that_is_not_a_list_of_objects(body):
    with CraftedThulium(body) as crafted, pytest.raises(ThuliumUnavailable) as caught:
        client_for(crafted.url).list_campaigns()
    assert caught.value.outcome == "failed"
    assert caught.value.status == 200
    assert "not a list of objects" in caught.value.detail


def test_get_statuses_returns_the_campaigns_statuses_with_their_mixed_id_types(thulium):
    statuses = get_client().get_statuses("00001")
    assert statuses == thulium.state.campaign("00001")["statuses"]
    assert {type(s["status_id"]) for s in statuses} == {str, int}


def test_get_agents_returns_the_campaigns_agents(thulium):
    logins = [agent["login"] for agent in get_client().get_agents("00002")]
    assert logins == ["jkowalski", "m.zielinska"]


def test_update_campaign_sends_exactly_the_changes_as_json_with_basic_auth(thulium):
    changes = {"dialer": "preview", "parameters": {"caller_id": "221112233"}}
    assert get_client().update_campaign("00001", changes) == 200
    (call,) = api_calls(thulium)
    assert (call["method"], call["path"], call["json"]) == ("PUT", "/api/outbounds/00001", changes)
    assert call["content_type"] == "application/json"
    assert call["authorized"] is True
    stored = thulium.state.campaign("00001")
    assert stored["dialer"] == "preview"
    assert stored["parameters"]["caller_id"] == "221112233"
    assert stored["parameters"]["preview_timeout"] == 30


def test_update_campaign_returns_the_status_thulium_answered():
    """A 204 was recorded in the audit as a 200."""
    with CraftedThulium(b"", status=204) as crafted:
        assert client_for(crafted.url).update_campaign("00001", CHANGE) == 204


def test_add_record_returns_the_new_record_id_as_text(thulium):
    new = get_client().add_record("00001", {**NEW_RECORD, "record_fields": {"imie": "Ala"}})
    assert new == ("231", 200)
    assert thulium.state.records("00001")[0]["record_fields"] == {"imie": "Ala"}


def test_add_record_answered_without_a_record_id_is_an_unknown_outcome():
    with CraftedThulium({"ok": True}) as crafted, pytest.raises(ThuliumUnavailable) as caught:
        client_for(crafted.url).add_record("00001", NEW_RECORD)
    assert caught.value.outcome == "unknown"
    assert caught.value.status == 200


@pytest.mark.parametrize("answer, request_id", [
    (b'{"request_id": "53678450401cf", "errors": [{"message": "Wrong format", "code": 1}]}',
     "53678450401cf"),  # written as the portal writes JSON, so kept letter for letter
    (b'{"id": "231"}', ""),
    (b"<html>maintenance</html>", ""),
])
def test_a_200_that_does_not_tell_the_record_id_is_kept_for_the_audit(answer, request_id):
    """What Thulium said, and its request_id, are what support needs to find the record."""
    with CraftedThulium(answer) as crafted, pytest.raises(ThuliumUnavailable) as caught:
        client_for(crafted.url).add_record("00001", NEW_RECORD)
    error = caught.value
    assert (error.outcome, error.request_id, error.body) == (
        "unknown", request_id, answer.decode())


def test_consecutive_calls_all_carry_the_credentials(thulium):
    client = get_client()
    client.list_campaigns()
    client.get_statuses("00001")
    client.get_agents("00001")
    assert [call["authorized"] for call in api_calls(thulium)] == [True, True, True]


def test_each_call_is_logged_with_its_outcome_and_request_id(thulium, caplog):
    thulium.state.fail_next("refuse")
    with pytest.raises(ThuliumRefused) as caught:
        get_client().add_record("00001", NEW_RECORD)
    get_client().list_campaigns()
    lines = [r.getMessage() for r in caplog.records if r.name == "portal.thulium"]
    assert lines[0].startswith("thulium POST outbounds/00001/records status=400 outcome=refused")
    assert f"request_id={caught.value.request_id}" in lines[0]
    assert lines[1].startswith("thulium GET outbounds status=200 outcome=succeeded")


# --- failures the sandbox injects ---------------------------------------------------


@pytest.mark.parametrize("method", CALLS)
@pytest.mark.parametrize("kind", ["http_500", "http_502", "http_503"])
def test_a_server_error_fails_without_having_applied_anything(thulium, kind, method):
    thulium.state.fail_next(kind)
    with pytest.raises(ThuliumUnavailable) as caught:
        CALLS[method](get_client())
    error = caught.value
    assert (error.outcome, error.status, error.request_id, error.messages) == (
        "failed", int(kind[-3:]), "", []
    )
    assert error.may_have_applied is False
    assert thulium.state.records("00001") == []
    assert thulium.state.campaign("00001")["name"] == "Sprzedaż OZE 2026"
    assert_keeps_password_secret(error, thulium)


@pytest.mark.parametrize("method", CALLS)
def test_too_many_requests_fails_unapplied_with_the_wait_thulium_asked_for(thulium, method):
    thulium.state.fail_next("http_429", delay=60)
    with pytest.raises(ThuliumUnavailable) as caught:
        CALLS[method](get_client())
    error = caught.value
    assert (error.outcome, error.status, error.may_have_applied) == ("failed", 429, False)
    assert error.retry_after == 60


@pytest.mark.parametrize(("retry_after", "seconds"), [
    ("Fri, 31 Dec 1999 23:59:59 GMT", 0.0),  # a date past: at once
    ("soon", None), ("-5", None), ("", None),
])
def test_a_retry_after_is_read_as_seconds_or_a_date_and_otherwise_ignored(
    retry_after, seconds
):
    respond = lambda method, path, sent: (  # noqa: E731
        503, b"<html></html>", {"Retry-After": retry_after} if retry_after else {})
    with CraftedThulium(respond=respond) as crafted, \
            pytest.raises(ThuliumUnavailable) as caught:
        client_for(crafted.url).list_campaigns()
    assert caught.value.retry_after == seconds


@pytest.mark.parametrize("method", CALLS)
@pytest.mark.parametrize("applied", [True, False], ids=["applied", "not-applied"])
def test_a_timeout_after_sending_is_unknown_except_for_a_get(thulium, method, applied):
    thulium.state.fail_next("timeout", delay=LATE, apply=applied)
    with pytest.raises(ThuliumUnavailable) as caught:
        CALLS[method](get_client(timeout=SHORT_TIMEOUT))
    error = caught.value
    assert (error.outcome, error.status, error.request_id) == (OUTCOME_IF_SENT[method], None, "")
    assert error.detail == "no answer in time"
    assert_keeps_password_secret(error, thulium)


def test_a_timed_out_record_may_really_have_been_added(thulium):
    """Why a timeout is "unknown": the sandbox stored the record it never confirmed."""
    thulium.state.fail_next("timeout", delay=LATE, apply=True)
    with pytest.raises(ThuliumUnavailable):
        get_client(timeout=SHORT_TIMEOUT).add_record("00001", NEW_RECORD)
    assert thulium.state.wait_timed_out()  # its handler may store it after the client gave up
    assert [r["phone_number"] for r in thulium.state.records("00001")] == ["601234567"]


@pytest.mark.parametrize("method", CALLS)
def test_an_answer_sent_a_little_at_a_time_ends_the_call_at_its_deadline(method):
    """Each byte came within the read timeout: the call lasted the server's 10 s, and an
    answer that came whole after them was taken for a success."""
    answer = json.dumps({"record_id": "231", "padding": "x" * 300}).encode()  # 10 s of it
    with CraftedThulium(answer, trickle=TRICKLE) as crafted:
        with pytest.raises(ThuliumUnavailable) as caught:
            CALLS[method](client_for(crafted.url, timeout=SHORT_TIMEOUT,
                                     connect_timeout=SHORT_TIMEOUT))
        assert crafted.trickle_ended.wait(timeout=60)
    # The call ended while the answer was still coming, not once it had all come: judged
    # by the bytes the server could write, not by a clock a loaded machine slows.
    assert crafted.trickled < len(answer)
    error = caught.value
    assert (error.outcome, error.detail) == (OUTCOME_IF_SENT[method], "no answer in time")


def long_headed(_method, _path, _sent):
    """A record's answer whose status line and headers take 10 s of a trickle."""
    return 200, b'{"record_id": "231"}', {"X-Padding": "x" * 250}


def assert_a_trickled_head_ends_the_call_at_its_deadline(crafted, url, method):
    """Call `method` on a connection kept alive from an answered call, `crafted` sending the
    status line and headers a byte at a time: the call ends as no answer in time, its
    connection closed before the server could write all of them."""
    # The first call's answer comes whole, within the usual read timeout; the second's head
    # is trickled over a kept connection, which needs no connect (so that timeout is short).
    client = client_for(url, connect_timeout=SHORT_TIMEOUT)
    client.add_record("00001", NEW_RECORD)  # answered at once: its connection is kept
    crafted.trickle, crafted.trickle_head = TRICKLE, True
    with pytest.raises(ThuliumUnavailable) as caught:
        CALLS[method](client)
    assert crafted.trickle_ended.wait(timeout=60)
    assert crafted.connections == 1
    # Judged by the bytes the server could write, not by a clock a loaded machine slows.
    assert crafted.trickled < crafted.head_length
    error = caught.value
    assert (error.outcome, error.detail) == (OUTCOME_IF_SENT[method], "no answer in time")


@pytest.mark.parametrize("method", CALLS)
def test_headers_sent_a_little_at_a_time_end_the_call_at_its_deadline(method):
    """Only the body was read by the deadline: each byte of the status line and headers came
    within the read timeout, and the call lasted as long as the server took to send them."""
    with CraftedThulium(respond=long_headed) as crafted:
        assert_a_trickled_head_ends_the_call_at_its_deadline(crafted, crafted.url, method)


def test_headers_sent_a_little_at_a_time_over_tls_end_the_call_at_its_deadline(
        tls_certificate, monkeypatch, fresh_environment):
    """TLS reads through its own layer: the socket shut down under it ends them as well."""
    crafted = CraftedThulium(respond=long_headed)
    url = served_over_tls(crafted, tls_certificate)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(crafted.certificate))
    with crafted:
        assert_a_trickled_head_ends_the_call_at_its_deadline(crafted, url, "POST")


def test_calls_in_turn_share_one_connection_once_their_answers_are_read():
    """Reading by the deadline hands the connection back for the next call (the import's
    batches reuse it)."""
    with CraftedThulium({"record_id": "231"}) as crafted:
        client = client_for(crafted.url)
        client.add_record("00001", NEW_RECORD)
        client.add_record("00001", NEW_RECORD)
    assert crafted.connections == 1


@pytest.mark.parametrize("method", CALLS)
def test_a_connection_reset_after_sending_is_unknown_except_for_a_get(thulium, method):
    thulium.state.fail_next("reset")
    with pytest.raises(ThuliumUnavailable) as caught:
        CALLS[method](get_client())
    error = caught.value
    assert (error.outcome, error.status, error.request_id) == (OUTCOME_IF_SENT[method], None, "")
    assert_keeps_password_secret(error, thulium)


@pytest.mark.parametrize("method", CALLS)
def test_a_broken_json_answer_is_unknown_except_for_a_get(thulium, method):
    thulium.state.fail_next("broken_json")
    with pytest.raises(ThuliumUnavailable) as caught:
        CALLS[method](get_client())
    error = caught.value
    assert (error.outcome, error.status, error.request_id) == (OUTCOME_IF_SENT[method], 200, "")
    assert error.detail == "the answer is not valid JSON"
    assert_keeps_password_secret(error, thulium)


@pytest.mark.parametrize("status", [200, 400, 502])
@pytest.mark.parametrize("method", CALLS)
def test_json_nested_too_deep_to_read_is_an_answer_that_is_not_json(method, status):
    """It raised RecursionError: a 500 page, and the audit entry left pending."""
    nested = b"[" * 200_000 + b"]" * 200_000
    with CraftedThulium(nested, status=status) as crafted:
        with pytest.raises(ThuliumUnavailable if status != 400 else ThuliumRefused) as caught:
            CALLS[method](client_for(crafted.url))
    assert caught.value.status == status


@pytest.mark.parametrize("method", CALLS)
def test_an_answer_cut_off_is_unknown_except_for_a_get(method):
    """Thulium began to answer, so it got the call: what it said was lost, not the call."""
    cut_off = (200, b'{"record_id": ', {"Content-Length": "40"})
    with CraftedThulium(respond=lambda *_given: cut_off) as crafted:
        with pytest.raises(ThuliumUnavailable) as caught:
            CALLS[method](client_for(crafted.url))
    error = caught.value
    assert (error.outcome, error.detail) == (OUTCOME_IF_SENT[method], "the answer was cut off")


@pytest.mark.parametrize("method", CALLS)
def test_a_proxy_that_gave_up_waiting_may_have_passed_the_call_on(method):
    with CraftedThulium(b"<h1>504 Gateway Time-out</h1>", status=504) as crafted:
        with pytest.raises(ThuliumUnavailable) as caught:
            CALLS[method](client_for(crafted.url))
    assert (caught.value.outcome, caught.value.status) == (OUTCOME_IF_SENT[method], 504)


@pytest.mark.parametrize("method", ["PUT", "POST"])
@pytest.mark.parametrize("status", [302, 303, 307])
def test_a_write_answered_with_a_redirect_is_not_followed_nor_taken_for_success(method,
                                                                                status):
    """Followed, a PUT or POST went on as a GET, whose 200 read as the change's success."""
    def respond(command, path, _sent):
        if command == "GET":
            return 200, b'{"record_id": "1", "name": "elsewhere"}'
        return status, b"", {"Location": "/api/elsewhere"}

    with CraftedThulium(respond=respond) as crafted:
        with pytest.raises(ThuliumUnavailable) as caught:
            CALLS[method](client_for(crafted.url))
    assert (caught.value.outcome, caught.value.status) == ("unknown", status)
    assert [command for command, _path in crafted.received] == [method]


@pytest.mark.parametrize("method", CALLS)
def test_too_many_requests_is_to_try_again_not_a_refusal(method):
    """A 429 carried nothing out: an import sends the row again later, it is not refused."""
    body = {"request_id": "5f2a1b3c4d5e6", "errors": [{"message": "Too many requests",
                                                        "code": 429}]}
    with CraftedThulium(body, status=429) as crafted:
        with pytest.raises(ThuliumUnavailable) as caught:
            CALLS[method](client_for(crafted.url))
    error = caught.value
    assert (error.outcome, error.status, error.request_id) == ("failed", 429, "5f2a1b3c4d5e6")
    assert error.messages == ["Too many requests"] and not error.may_have_applied


@pytest.mark.parametrize("status", [500, 503, 429, 504])
def test_a_server_error_in_thuliums_documented_body_shows_thuliums_words(status):
    """Only "Thulium did not answer properly. Try again later. (HTTP 500)" showed."""
    body = {"request_id": "53678450401cf",
            "errors": [{"message": "Database connection lost, try later", "code": 500100}]}
    with CraftedThulium(body, status=status) as crafted:
        with pytest.raises(ThuliumUnavailable) as caught:
            CALLS["GET"](client_for(crafted.url))
    error = caught.value
    assert error.user_messages() == ["Thulium did not answer properly. Try again later.",
                                     "Database connection lost, try later"]
    assert error.user_text().endswith("try later (Thulium request_id: 53678450401cf)")


def test_a_write_a_proxy_gave_up_on_shows_thuliums_words_after_the_warning():
    body = {"errors": [{"message": "Upstream timed out", "code": 504}]}
    with CraftedThulium(body, status=504) as crafted:
        with pytest.raises(ThuliumUnavailable) as caught:
            CALLS["POST"](client_for(crafted.url))
    warning, said = caught.value.user_messages()
    assert warning.startswith("Thulium did not confirm the request (HTTP 504).")
    assert said == "Upstream timed out"


@pytest.mark.parametrize("method", CALLS)
def test_a_proxy_s_too_many_requests_page_is_kept_for_the_audit_not_shown(method):
    """Its HTML, up to 2000 characters of it, was shown to the user as the detail."""
    page = b"<!DOCTYPE html><html><body><h1>429 Too Many Requests</h1></body></html>"
    with CraftedThulium(page, status=429) as crafted:
        with pytest.raises(ThuliumUnavailable) as caught:
            CALLS[method](client_for(crafted.url))
    error = caught.value
    assert (error.outcome, error.status, error.detail) == ("failed", 429, "HTTP 429")
    assert error.user_messages() == ["Thulium did not answer properly. Try again later. "
                                     "(HTTP 429)"]
    assert error.body == page.decode()


@pytest.mark.parametrize(("content_type", "page"), [
    ("text/html", "<html>Błąd serwera: usługa niedostępna</html>".encode()),
    ("text/html; charset=ISO-8859-2", "<html>Błąd serwera: usługa niedostępna</html>".encode(
        "iso-8859-2")),
    ("text/html; charset=no-such-charset", "<html>Błąd serwera</html>".encode()),
], ids=["no-charset", "named-charset", "unknown-charset"])
def test_an_error_page_is_kept_in_the_charset_it_names_else_utf_8(content_type, page):
    """One naming no charset was read as ISO-8859-1 ("BÅ\x82Ä\x85d"): garbled in the audit."""
    answer = (502, page, {"Content-Type": content_type})
    with CraftedThulium(respond=lambda *_given: answer) as crafted:
        with pytest.raises(ThuliumUnavailable) as caught:
            CALLS["PUT"](client_for(crafted.url))
    assert "Błąd serwera" in caught.value.body


ECHOED = ("Fatal error. PHP_AUTH_USER=sandbox PHP_AUTH_PW=whatever-password "
          "HTTP_AUTHORIZATION=Basic " + base64.b64encode(b"sandbox:whatever-password").decode()
          + " URL=https://sandbox:whatever-password@thulium.example/api")
ECHOED_SECRETS = ("whatever-password", base64.b64encode(b"sandbox:whatever-password").decode())


@pytest.mark.parametrize(("status", "body", "kept_in"), [
    (500, ECHOED.encode(), "body"),
    (429, ECHOED.encode(), "body"),
    (400, ECHOED.encode(), "detail"),
    (200, ECHOED.encode(), "body"),  # a success that is not JSON
    (200, json.dumps({"debug": ECHOED}).encode(), "body"),  # JSON with no record_id
], ids=["500", "429", "400", "200-text", "200-json"])
def test_a_body_echoing_the_password_is_kept_with_the_password_redacted(status, body,
                                                                        kept_in):
    """A debug page's dump was kept as it came, in the audit kept for good."""
    with CraftedThulium(body, status=status) as crafted:
        with pytest.raises((ThuliumUnavailable, ThuliumRefused)) as caught:
            CALLS["POST"](client_for(crafted.url))
    kept = getattr(caught.value, kept_in)
    assert "PHP_AUTH_PW=[redacted]" in kept
    assert "Basic [redacted]" in kept and "https://[redacted]@" in kept
    for secret in ECHOED_SECRETS:
        assert secret not in kept


@pytest.mark.parametrize("status", [400, 401, 404, 500])
@pytest.mark.parametrize("body", [{"message": ECHOED}, {"errors": [{"message": ECHOED}]},
                                  {"errors": [{"code": 7, "debug": ECHOED}]}],
                         ids=["message", "errors", "error-without-message"])
def test_thulium_s_words_echoing_the_password_are_kept_and_shown_with_it_redacted(status,
                                                                                 body):
    """Documented JSON error words are shown to the user and kept in the audit as they
    come: a proxy or a debug mode echoing the credentials in them showed the password."""
    with CraftedThulium(body, status=status) as crafted:
        with pytest.raises(ThuliumError) as caught:
            CALLS["POST"](client_for(crafted.url))
    error = caught.value
    said = [*error.messages, error.detail, error.body, *error.user_messages(), str(error)]
    assert "PHP_AUTH_PW=[redacted]" in " ".join(error.messages)
    assert not [text for text in said for secret in ECHOED_SECRETS if secret in text]


@pytest.mark.parametrize("method", CALLS)
def test_a_refusal_carries_thuliums_message_and_request_id(thulium, method):
    thulium.state.fail_next("refuse")
    with pytest.raises(ThuliumRefused) as caught:
        CALLS[method](get_client())
    error = caught.value
    assert (error.outcome, error.status) == ("refused", 400)
    assert REQUEST_ID.fullmatch(error.request_id)
    assert error.messages == ["Sandbox: refused on request."]
    assert error.user_messages() == ["Sandbox: refused on request."]
    assert_keeps_password_secret(error, thulium)


@pytest.mark.parametrize("method", CALLS)
def test_wrong_credentials_fail_as_an_authentication_problem(thulium, settings, method):
    settings.THULIUM_API_PASSWORD = "wrong-password"
    with pytest.raises(ThuliumAuthFailed) as caught:
        CALLS[method](get_client())
    error = caught.value
    assert (error.outcome, error.status, error.messages) == ("failed", 401, ["Unauthorized"])
    assert REQUEST_ID.fullmatch(error.request_id)
    assert api_calls(thulium)[0]["authorized"] is False
    assert_keeps_password_secret(error, thulium, "wrong-password")


@pytest.mark.parametrize("method", CALLS)
def test_a_closed_port_fails_and_cannot_have_applied_anything(thulium, method):
    with pytest.raises(ThuliumUnavailable) as caught:
        CALLS[method](client_for(closed_port_url(), password=thulium.password))
    error = caught.value
    assert (error.outcome, error.status, error.detail) == ("failed", None, "cannot connect")
    assert error.may_have_applied is False
    assert_keeps_password_secret(error, thulium)


# --- Thulium's own refusals ---------------------------------------------------------


@pytest.mark.parametrize("method", CALLS)
def test_a_refusal_with_a_top_level_message_shows_it_with_its_request_id(method):
    """Only "Thulium refused the request." showed, and the request_id was lost."""
    body = {"request_id": "53678450401cf", "message": "Wrong format of phone number."}
    with CraftedThulium(body, status=422) as crafted:
        with pytest.raises(ThuliumRefused) as caught:
            CALLS[method](client_for(crafted.url))
    error = caught.value
    assert (error.request_id, error.messages) == ("53678450401cf",
                                                  ["Wrong format of phone number."])
    assert error.user_text() == ("Wrong format of phone number. "
                                 "(Thulium request_id: 53678450401cf)")


def test_a_server_error_s_request_id_is_read_from_any_json_object():
    with CraftedThulium({"request_id": "53678450401cf", "error": "oops"}, status=500) as crafted:
        with pytest.raises(ThuliumUnavailable) as caught:
            CALLS["GET"](client_for(crafted.url))
    assert caught.value.request_id == "53678450401cf"


@pytest.mark.parametrize(("text", "shown"), [
    ("Numer telefonu jest nieprawidłowy\n", "Numer telefonu jest nieprawidłowy"),
    ("<b>Zły</b>   numer", "<b>Zły</b> numer"),  # escaped where the page shows it
    ("x" * 400, "x" * 299 + "…"),
])
def test_a_refusal_in_plain_text_shows_its_words_cut_short(text, shown):
    answer = (400, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})
    with CraftedThulium(respond=lambda *_given: answer) as crafted:
        with pytest.raises(ThuliumRefused) as caught:
            CALLS["POST"](client_for(crafted.url))
    assert caught.value.user_messages() == [shown]


def test_a_refusal_as_an_html_page_shows_no_page():
    answer = (400, b"<html><h1>400 Bad Request</h1></html>", {"Content-Type": "text/html"})
    with CraftedThulium(respond=lambda *_given: answer) as crafted:
        with pytest.raises(ThuliumRefused) as caught:
            CALLS["POST"](client_for(crafted.url))
    assert caught.value.user_messages() == ["Thulium refused the request."]


def test_a_record_with_several_problems_is_refused_with_every_message(thulium):
    record = {"phone_number": "12", "status_id": "999", "agent_login": "nobody"}
    with pytest.raises(ThuliumRefused) as caught:
        get_client().add_record("00001", record)
    error = caught.value
    assert error.messages == [
        "Wrong format of phone number.",
        "Status 999 does not exist in the campaign.",
        "Agent nobody is not assigned to the campaign.",
    ]
    assert error.user_messages() == error.messages
    assert error.detail == "; ".join(error.messages)
    assert (error.outcome, error.status) == ("refused", 400)
    assert REQUEST_ID.fullmatch(error.request_id)
    assert thulium.state.records("00001") == []


def test_a_campaign_change_with_several_problems_is_refused_with_every_message(thulium):
    with pytest.raises(ThuliumRefused) as caught:
        get_client().update_campaign("00001", {"dialer": "manual", "parity": 0})
    assert caught.value.messages == [
        "Dialer must be one of: predictive, progressive, preview.",
        "Parity must be an integer from 1 to 100.",
    ]


def test_an_unknown_campaign_is_refused_as_not_found(thulium):
    with pytest.raises(ThuliumRefused) as caught:
        get_client().get_statuses("ZZZZZ")
    assert (caught.value.status, caught.value.messages) == (404, ["Campaign not found."])


def test_a_polish_client_gets_thuliums_messages_in_polish(thulium):
    with pytest.raises(ThuliumRefused) as caught:
        get_client("pl").add_record("00001", {"phone_number": "12"})
    assert caught.value.messages == ["Nieprawidłowy format numeru telefonu."]
    assert api_calls(thulium)[0]["accept_language"] == "pl"


def test_a_client_without_a_language_gets_english(thulium):
    with pytest.raises(ThuliumRefused) as caught:
        get_client().add_record("00001", {"phone_number": "12"})
    assert caught.value.messages == ["Wrong format of phone number."]
    assert api_calls(thulium)[0]["accept_language"] is None


# --- TLS ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 that no trust store knows: (cert, key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    # An EC key: an RSA key's search for primes took seconds on a busy machine.
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


def served_over_tls(crafted: CraftedThulium, certificate) -> str:
    """Have `crafted`, not yet started, answer over TLS with `certificate`: its https URL."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    crafted._server.socket = context.wrap_socket(crafted._server.socket, server_side=True)
    crafted.certificate = certificate[0]
    return crafted.url.replace("http://", "https://")


@pytest.fixture(scope="module")
def untrusted_https_url(tls_certificate):
    """An HTTPS server with a self-signed certificate that no trust store knows."""
    crafted = CraftedThulium([])
    url = served_over_tls(crafted, tls_certificate)
    with crafted:
        yield url, crafted


@pytest.mark.parametrize("method", CALLS)
def test_an_untrusted_certificate_fails_before_anything_is_sent(untrusted_https_url, method):
    url, crafted = untrusted_https_url
    crafted.received.clear()
    with pytest.raises(ThuliumUnavailable) as caught:
        CALLS[method](client_for(url))
    assert caught.value.outcome == "failed"
    assert caught.value.may_have_applied is False
    assert "certificate" in caught.value.detail
    assert crafted.received == []


def test_certificate_checks_cannot_be_turned_off(untrusted_https_url):
    url, crafted = untrusted_https_url
    crafted.received.clear()
    session = client_for(url)._session
    session.verify = False
    try:
        with pytest.raises(requests.exceptions.SSLError):
            session.request("GET", f"{url}/outbounds", verify=False)
    finally:
        session.verify = True  # the session is shared by the thread's later calls
    assert crafted.received == []


@pytest.fixture
def fresh_environment():
    """The gateway reads the environment once per address; these tests change it."""
    environment_settings.cache_clear()
    yield
    environment_settings.cache_clear()


def test_a_ca_bundle_named_by_the_environment_is_trusted(untrusted_https_url, monkeypatch,
                                                         fresh_environment):
    url, crafted = untrusted_https_url
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(crafted.certificate))
    assert client_for(url).list_campaigns() == []


def test_calls_go_through_the_proxy_the_environment_names(monkeypatch, fresh_environment):
    with CraftedThulium([]) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.removesuffix("/api"))
        client_for("http://thulium.example/api").list_campaigns()
    # A proxy is asked for the whole URL.
    assert proxy.received == [("GET", "http://thulium.example/api/outbounds")]


def test_no_proxy_sends_calls_straight_to_thulium(thulium, monkeypatch, fresh_environment):
    monkeypatch.setenv("HTTP_PROXY", closed_port_url().removesuffix("/api"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert get_client().list_campaigns()


@pytest.mark.parametrize(("body", "complete"), [
    ([{"id": "00001"}], True),
    ({"result": [{"id": "00001"}]}, True),
    ({"count": 1, "result": [{"id": "00001"}]}, True),
    ({"count": 5, "result": [{"id": "00001"}]}, False),
    ({"result": [{"id": f"{number:05d}"} for number in range(100)]}, False),
])
def test_a_campaign_list_says_whether_it_holds_every_campaign(body, complete):
    """Only a whole list may tell that Thulium no longer holds a campaign."""
    with CraftedThulium(body) as crafted:
        assert client_for(crafted.url).list_campaigns().complete is complete
