"""The portal under gunicorn with production settings (DEBUG off, behind a TLS proxy),
used over HTTP against the sandbox, as CI's smoke test of the production path."""

import contextlib
import http.client
import json
import re
import socket
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from tests.conftest import api_calls

from .conftest import ADMIN_PASSWORD, create_admin, require
from .processes import (
    Gunicorn,
    StallingProxy,
    Visitor,
    manage,
    postgres_server,
    production_env,
    unreachable_reason,
    with_database,
)

pytestmark = pytest.mark.processes

ADMIN = "smoke-admin"


@pytest.fixture(scope="module")
def portal(portal_database, static_root, sandbox):
    """Two gunicorn workers logging JSON, as compose.yaml runs the web service."""
    env = production_env(
        DATABASE_URL=portal_database, STATIC_ROOT=str(static_root), LOG_FORMAT="json",
        THULIUM_SANDBOX_PORT=str(urlsplit(sandbox.url).port),
    )
    # It boots while the administrator is made: it needs no user to start.
    with Gunicorn(env, workers=2, wait=False) as server:
        create_admin(env, ADMIN)
        server.wait_until_ready()
        yield server


def audit_rows(portal: Gunicorn, actor: str) -> dict[str, list[dict]]:
    """The audit entries made by `actor` by kind, read as an operator would, with dumpdata
    beside the web service (docker compose exec web)."""
    by_kind = {}
    for row in json.loads(manage(portal.env, "dumpdata", "audit.entry")):
        if row["fields"]["actor_username"] == actor:
            by_kind.setdefault(row["fields"]["kind"], []).append(row["fields"])
    return by_kind


def logged(portal: Gunicorn, request_id: str) -> list[dict]:
    """The JSON lines logged while serving the request, once its request line is out."""
    portal.wait_for_line(rf'"logger": "portal\.request".*"request_id": "{request_id}"')
    entries = []
    for line in portal.lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            pytest.fail(f"LOG_FORMAT=json printed a line that is not JSON: {line}")
    return [entry for entry in entries if entry.get("request_id") == request_id]


def test_a_manager_updates_a_campaign_and_adds_a_record_under_gunicorn_and_both_are_audited(
    portal, thulium
):
    visitor = Visitor(portal.url)
    visitor.log_in(ADMIN, ADMIN_PASSWORD)
    assert visitor.submit("/campaigns/", {}, action="/campaigns/sync/").status_code == 302

    change = visitor.confirm(visitor.submit("/campaigns/00001/edit/", {
        "dialer": "predictive", "caller_id": "221112233", "reason": "Więcej połączeń",
    }))
    assert change.status_code == 302, change.text
    addition = visitor.submit("/campaigns/00001/records/new/", {
        "phone_number": "601 234 567", "record_fields.imie": "Zofia",
    })
    assert addition.status_code == 302, addition.text

    assert [call["json"] for call in api_calls(thulium, "PUT")] == [
        {"dialer": "predictive", "parameters": {"caller_id": "221112233"}}
    ]
    assert [call["json"] for call in api_calls(thulium, "POST")] == [
        {"phone_number": "601234567", "record_fields": {"imie": "Zofia"}}
    ]
    audited = audit_rows(portal, ADMIN)
    (changed,) = audited["campaign-change"]
    assert changed["outcome"] == "succeeded"
    assert changed["sent"] == {"dialer": "predictive", "parameters": {"caller_id": "221112233"}}
    assert changed["reason"] == "Więcej połączeń"
    assert changed["portal_request_id"] == change.headers["X-Request-ID"]
    (added,) = audited["record-addition"]
    assert added["outcome"] == "succeeded"
    assert added["results"]["record_id"] == thulium.state.records("00001")[0]["record_id"]
    assert added["portal_request_id"] == addition.headers["X-Request-ID"]


def test_each_request_and_thulium_call_logs_one_json_line_with_the_request_id(portal, thulium):
    visitor = Visitor(portal.url)
    visitor.log_in(ADMIN, ADMIN_PASSWORD)
    visitor.submit("/campaigns/", {}, action="/campaigns/sync/")
    addition = visitor.submit("/campaigns/00002/records/new/", {"phone_number": "605 111 222"})
    assert addition.status_code == 302, addition.text

    lines = logged(portal, addition.headers["X-Request-ID"])
    (request_line,) = [line for line in lines if line["logger"] == "portal.request"]
    assert (request_line["method"], request_line["path"], request_line["status"]) == (
        "POST", "/campaigns/00002/records/new/", 302
    )
    assert isinstance(request_line["duration_ms"], int)
    (call,) = [line for line in lines if line["logger"] == "portal.thulium"
               and line["method"] == "POST"]
    assert (call["path"], call["status"], call["outcome"]) == (
        "outbounds/00002/records", 200, "succeeded"
    )
    assert isinstance(call["duration_ms"], int)


def test_a_refusal_is_logged_with_thuliums_request_id(portal, thulium):
    visitor = Visitor(portal.url)
    visitor.log_in(ADMIN, ADMIN_PASSWORD)
    visitor.submit("/campaigns/", {}, action="/campaigns/sync/")
    thulium.state.fail_next("refuse", path="/api/outbounds/A7K2Q/records")
    refused = visitor.submit("/campaigns/A7K2Q/records/new/", {"phone_number": "607 333 444"})
    assert refused.status_code == 200  # the form again, with Thulium's words

    (call,) = [line for line in logged(portal, refused.headers["X-Request-ID"])
               if line["logger"] == "portal.thulium" and line["method"] == "POST"]
    assert call["outcome"] == "refused"
    assert call["thulium_request_id"]
    assert call["thulium_request_id"] in refused.text


def test_no_password_nor_personal_data_reaches_the_log(portal, thulium):
    visitor = Visitor(portal.url)
    visitor.log_in(ADMIN, ADMIN_PASSWORD)
    visitor.submit("/campaigns/", {}, action="/campaigns/sync/")
    addition = visitor.submit("/campaigns/00001/records/new/", {
        "phone_number": "609 876 543", "record_fields.imie": "Bożydar",
        "record_fields.nazwisko": "Wrzeciono",
    })
    assert addition.status_code == 302, addition.text
    logged(portal, addition.headers["X-Request-ID"])

    printed = "\n".join(portal.lines)
    for secret in (ADMIN_PASSWORD, "sandbox-password", "609876543", "Bożydar", "Wrzeciono"):
        assert secret not in printed


def test_plain_http_is_sent_to_https_and_cookies_are_secure(portal):
    plain = requests.get(portal.url + "/accounts/login/", allow_redirects=False, timeout=30)
    assert plain.status_code == 301
    host = urlsplit(portal.url).netloc
    assert plain.headers["Location"] == f"https://{host}/accounts/login/"

    visitor = Visitor(portal.url)
    page = visitor.get("/accounts/login/")
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    visitor.log_in(ADMIN, ADMIN_PASSWORD)
    cookies = {cookie.name: cookie for cookie in visitor.session.cookies}
    assert cookies["sessionid"].secure and cookies["sessionid"].has_nonstandard_attr("HttpOnly")
    assert cookies["csrftoken"].secure


def test_static_files_are_served_hashed_and_long_cached_by_whitenoise(portal):
    visitor = Visitor(portal.url)
    page = visitor.get("/accounts/login/").text
    stylesheet = re.search(r'href="(/static/vendor/bootstrap/bootstrap\.min\.\w{12}\.css)"', page)
    assert stylesheet, "the page links no hashed stylesheet"
    response = visitor.get(stylesheet.group(1))
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]


@pytest.mark.parametrize(("framing", "status"), [
    # Over IMPORT_MAX_FILE_SIZE and the room read beyond it (portal.middleware.UPLOAD_ROOM).
    (f"Content-Length: {200 * 1024 * 1024}", 413),
    # Of no declared length: Django reads none of it (nor its CSRF token: 403).
    ("Transfer-Encoding: chunked", 403),
], ids=["declared too long", "of no declared length"])
def test_a_body_the_portal_does_not_read_is_answered_and_its_connection_closed(
        portal, framing, status):
    """Django stored a body of any length on disk before the form refused its file; and
    with the portal answering unread, gunicorn read the rest itself, however long, to reach
    the connection's next request. The answer comes before any of the body is sent: the
    server reads none of it; the body sent then in chunks is refused, far short of its end."""
    address = urlsplit(portal.url)
    most = 200 * 1024 * 1024
    with socket.create_connection((address.hostname, address.port), timeout=60) as sock:
        sock.sendall(("POST /do-not-call/upload/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "X-Forwarded-Proto: https\r\n"
                      "Content-Type: multipart/form-data; boundary=x\r\n"
                      f"{framing}\r\n\r\n").encode())
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        page = answer.read().decode()
        chunk = b"x" * 65536
        if "chunked" in framing:
            chunk = b"10000\r\n" + chunk + b"\r\n"
        sent = 0
        with contextlib.suppress(ConnectionError):
            while sent < most:
                sock.sendall(chunk)
                sent += len(chunk)
    assert (answer.status, answer.getheader("Connection")) == (status, "close")
    assert status != 413 or "The file is too large" in page
    assert sent < most


def test_healthz_answers_a_load_balancer_over_plain_http_by_address(portal, thulium):
    # A load balancer calls the instance's address, not the portal's host name.
    health = requests.get(portal.url + "/healthz", headers={"Host": "10.0.0.7:8000"},
                          allow_redirects=False, timeout=30)
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    thulium_health = requests.get(portal.url + "/healthz/thulium", timeout=30)
    assert thulium_health.json() == {"status": "ok", "thulium": "ok"}


def test_gunicorns_own_lines_carry_their_time_as_the_portals_lines_do(portal_database,
                                                                      static_root):
    """In gunicorn's own format its lines were in the process's zone ("[... +0530]"), and a
    worker's last ones in TIME_ZONE, which Django sets for the process ("Worker exiting" at
    -0500), beside the portal's lines in UTC."""
    env = production_env(DATABASE_URL=portal_database, STATIC_ROOT=str(static_root),
                         TIME_ZONE="America/New_York", TZ="Asia/Kolkata")
    with Gunicorn(env) as portal:
        assert requests.get(portal.url + "/healthz", timeout=30).status_code == 200
    portals_shape = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 INFO "
                               r"gunicorn\.error \[-\] ")
    for said in ("Starting gunicorn", "Booting worker with pid", "Worker exiting"):
        (line,) = [line for line in portal.lines if said in line]
        assert portals_shape.match(line), line


def test_healthz_answers_503_without_details_when_the_database_does_not_answer(static_root):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    env = production_env(
        DATABASE_URL=f"postgres://portal:db-secret@127.0.0.1:{closed_port}/portal",
        STATIC_ROOT=str(static_root),
    )
    with Gunicorn(env) as portal:
        health = requests.get(portal.url + "/healthz", timeout=30)
    assert health.status_code == 503
    assert health.json() == {"status": "unavailable", "database": "unavailable",
                             "cache": "ok"}
    assert "db-secret" not in health.text and str(closed_port) not in health.text


def test_healthz_answers_503_when_the_database_stops_answering_on_a_kept_connection(
        static_root):
    """A hung server, a failover or a dropped network leave the connection a worker kept
    open and silent: the probe waited on it (its health ping, then its query) until TCP gave
    up, long after the load balancer's wait, and the instance was never taken out."""
    server = postgres_server()
    require(unreachable_reason(server) and f"needs PostgreSQL: {unreachable_reason(server)}")
    # The server's own database, which every PostgreSQL has: the probe asks nothing of tables
    # (TEST_DATABASE_URL's names the test database's source, which may not exist).
    parts = urlsplit(with_database(server, "postgres"))
    with StallingProxy(parts.hostname, parts.port) as proxy:
        user = parts.netloc.rpartition("@")[0]
        through_proxy = urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{proxy.port}",
                                                  query="connect_timeout=2"))
        env = production_env(DATABASE_URL=through_proxy, STATIC_ROOT=str(static_root))
        # One thread: the probe after the stall runs where the kept connection is.
        with Gunicorn(env, workers=1, threads=1) as portal:
            assert requests.get(portal.url + "/healthz", timeout=30).status_code == 200
            proxy.stall()
            health = requests.get(portal.url + "/healthz", timeout=30)
    assert health.status_code == 503
    assert health.json() == {"status": "unavailable", "database": "unavailable",
                             "cache": "ok"}
