"""Every request gets an id that its log lines and audit rows share."""

import datetime
import io
import json
import logging
import sys

import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from audit.models import Entry
from audit.recording import entry_begin
from portal.logging import JsonFormatter, RequestIdFilter
from portal.request_id import set_current_request_id
from records.entries import RECORD_ADDITION

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_lines():
    """What the portal's console handler would print, as settings.LOGGING formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def test_django_lines_about_an_answer_carry_its_request_id(client, log_lines):
    response = client.get("/no-such-page/")
    (not_found,) = [line for line in log_lines() if line["logger"] == "django.request"]
    assert not_found["request_id"] == response["X-Request-ID"]


def test_every_answer_names_its_request_id(client):
    first, second = client.get("/accounts/login/"), client.get("/accounts/login/")
    assert len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_the_proxys_request_id_is_kept_so_both_logs_match(client, settings):
    settings.TRUST_REQUEST_ID_HEADER = True
    response = client.get("/accounts/login/", headers={"X-Request-ID": "lb-7f3a.91:2"})
    assert response["X-Request-ID"] == "lb-7f3a.91:2"


def test_a_browser_s_request_id_is_not_the_one_its_audit_entry_records(logged_in, campaigns):
    """Behind a proxy that passes the browser's X-Request-ID on (Caddy's plain
    reverse_proxy), anyone gave their action another request's id."""
    response = logged_in.post("/campaigns/00001/records/new/", {"phone_number": "601 234 567"},
                              headers={"X-Request-ID": "someone-elses-request"})
    assert response.status_code == 302
    entry = Entry.objects.get(kind=RECORD_ADDITION.slug)
    assert entry.portal_request_id == response["X-Request-ID"] != "someone-elses-request"


@pytest.mark.parametrize("header", ["two\nlines", "x" * 65, "quote\"d", ""])
def test_a_request_id_that_could_garble_the_log_is_replaced(client, settings, header):
    settings.TRUST_REQUEST_ID_HEADER = True
    response = client.get("/accounts/login/", headers={"X-Request-ID": header})
    assert response["X-Request-ID"] != header
    assert len(response["X-Request-ID"]) == 32


def test_a_record_addition_logs_its_request_and_thulium_call_and_audits_with_one_id(
    logged_in, campaigns, log_lines
):
    response = logged_in.post("/campaigns/00001/records/new/", {
        "phone_number": "601 234 567", "record_fields.imie": "Zofia",
    })
    assert response.status_code == 302
    request_id = response["X-Request-ID"]

    assert Entry.objects.get(kind=RECORD_ADDITION.slug).portal_request_id == request_id
    lines = [line for line in log_lines() if line["request_id"] == request_id]
    assert [(line["logger"], line["method"], line["status"]) for line in lines
            if line["logger"] in ("portal.thulium", "portal.request")][-2:] == [
        ("portal.thulium", "POST", 200), ("portal.request", "POST", 302),
    ]
    printed = json.dumps(log_lines(), ensure_ascii=False)
    assert "601234567" not in printed and "Zofia" not in printed


def test_audit_rows_made_outside_a_request_have_no_request_id(logged_in, user, campaigns):
    logged_in.get("/campaigns/")  # an earlier request in this thread leaves nothing behind
    row = entry_begin(kind=RECORD_ADDITION.slug, actor=user, campaign=campaigns["00001"],
                      sent={"phone_number": "601234567"})
    assert row.portal_request_id == ""


def plain_formatter() -> logging.Formatter:
    """The formatter settings.LOGGING makes for LOG_FORMAT=plain."""
    config = settings.LOGGING["formatters"]["plain"]
    return import_string(config.get("class", "logging.Formatter"))(config.get("format"))


def test_the_plain_format_shows_the_request_id():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(plain_formatter())
    record = logging.LogRecord("portal.test", logging.INFO, __file__, 1, "hello", None, None)
    set_current_request_id("abc123")
    try:
        handler.handle(record)
    finally:
        set_current_request_id("")
    assert "[abc123] hello" in stream.getvalue()


def test_the_plain_format_tells_the_hours_apart_when_the_clocks_go_back():
    """Both lines read "2026-10-25 02:30:00,000", Warsaw's time without its offset, where
    gunicorn's lines beside them are in UTC."""
    first, second = (
        logging.LogRecord("portal.test", logging.INFO, __file__, 1, "hello", None, None)
        for _ in range(2))
    first.created = datetime.datetime(2026, 10, 25, 0, 30, tzinfo=datetime.UTC).timestamp()
    second.created = first.created + 3600
    formatter = plain_formatter()
    for record in (first, second):
        RequestIdFilter().filter(record)
    assert formatter.format(first).startswith("2026-10-25T00:30:00.000+00:00 INFO portal.test")
    assert formatter.format(second).startswith("2026-10-25T01:30:00.000+00:00 INFO")


def test_a_json_line_holds_an_exception_on_one_line_and_leaves_out_objects():
    try:
        raise ValueError("broken\nacross lines")
    except ValueError:
        record = logging.LogRecord("portal.test", logging.ERROR, __file__, 1, "failed %s", ("x",),
                                   exc_info=sys.exc_info())
    record.request = object()
    record.user_id = 7
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "failed x"
    assert entry["user_id"] == 7
    assert "request" not in entry
    assert "ValueError: broken\nacross lines" in entry["exception"]
