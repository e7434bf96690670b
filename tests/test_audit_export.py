"""The filtered timeline downloads as CSV and JSON Lines, streamed, formulas neutralised."""

import codecs
import csv
import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.urls import reverse

from audit import kinds
from audit.export import COMMON_COLUMNS
from audit.models import Entry
from audit.recording import entry_begin, entry_complete
from portal.spreadsheets import FORMULA_STARTS
from tests.audit_fixtures import addition, auditor, change  # noqa: F401
from tests.conftest import skip_unless_postgresql
from tests.test_spreadsheets import pieces_at_commas

pytestmark = pytest.mark.django_db

WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.fixture
def watched(client, auditor):  # noqa: F811
    client.force_login(auditor)
    return client


@pytest.fixture
def trail(user, campaigns):
    sales, debts = campaigns["00001"], campaigns["00002"]
    return [
        change(actor=user, campaign=sales, sent={"name": "=HYPERLINK(\"http://x\")"},
               reason="@SUM(A1:A9)", when=dt.datetime(2026, 3, 1, 9, tzinfo=WARSAW)),
        addition(actor=user, campaign=sales, phone="+48 601 234 567", identifier="-5",
                 when=dt.datetime(2026, 3, 2, 9, tzinfo=WARSAW), http_status=200,
                 record_id="231"),
        addition(actor=user, campaign=debts, phone="601234568", outcome="refused",
                 when=dt.datetime(2026, 7, 3, 9, tzinfo=WARSAW), request_id="abc",
                 messages=["Zły numer: ąę; sprawdź"]),
    ]


def download(client, name, query=None) -> tuple[object, str]:
    response = client.get(reverse(f"audit:export_{name}"), query or {})
    assert response.streaming
    return response, b"".join(response.streaming_content).decode("utf-8")


def test_the_csv_export_has_every_entry_newest_first_with_all_columns(watched, trail):
    response, text = download(watched, "csv")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    assert text.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert [(row["kind"], int(row["id"])) for row in table] == [
        ("record-addition", trail[2].pk), ("record-addition", trail[1].pk),
        ("campaign-change", trail[0].pk),
    ]
    refused = table[0]
    assert refused["created_at"] == "2026-07-03T09:00:00+02:00"
    assert (refused["campaign"], refused["outcome"], refused["request_id"]) == (
        "00002", "refused", "abc")
    assert json.loads(refused["messages"]) == ["Zły numer: ąę; sprawdź"]  # its ";" kept
    assert "Zły numer: ąę" in refused["messages"]  # letters, not \u escapes
    assert refused["user"] == "manager"
    assert table[1]["record_id"] == "231"
    assert json.loads(table[1]["results"]) == {"record_id": "231"}
    assert json.loads(table[2]["details"])["settings_before"]["dialer"] == "progressive"
    assert table[2]["settings_before"].startswith("{")


@pytest.mark.parametrize(("language", "actions"), [
    ("en", ["record addition", "record addition", "settings changed", "sign-on-roles"]),
    # Labels the catalogue translates already.
    ("pl", ["dodanie rekordu", "dodanie rekordu", "zmieniono ustawienia", "sign-on-roles"]),
])
def test_the_csv_export_says_each_action_in_the_words_of_the_one_who_exports(
        watched, trail, user, monkeypatch, language, actions):
    entry_complete(entry_begin(kind="sign-on-roles", actor=user, sent={"groups": []},
                               created_at=dt.datetime(2026, 1, 1, 9, tzinfo=WARSAW)),
                   outcome="succeeded")
    monkeypatch.delitem(kinds._registry, "sign-on-roles")  # a kind no app registers now
    response = watched.get(reverse("audit:export_csv"), HTTP_ACCEPT_LANGUAGE=language)
    data = b"".join(response.streaming_content)

    # As Polish Excel opens it: UTF-8, said by the byte order mark; cells split at ";".
    assert data.startswith(codecs.BOM_UTF8)
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert list(table[0])[:3] == ["kind", "action", "id"]
    assert [row["action"] for row in table] == actions
    assert table[0]["kind"] == "record-addition"  # the data's identifier, kept
    _, text = download(watched, "jsonl")
    assert [json.loads(line)["action"] for line in text.splitlines()] == [
        "record addition", "record addition", "settings changed", "sign-on-roles"]


def test_times_read_after_a_csv_export_in_the_same_transaction_are_still_right(watched,
                                                                               trail):
    # PostgreSQL writes the file's times in the portal's zone; Django's own reads after it
    # must not take that zone for UTC.
    download(watched, "csv")

    assert Entry.objects.get(pk=trail[2].pk).created_at == dt.datetime(2026, 7, 3, 9,
                                                                        tzinfo=WARSAW)


def test_a_csv_export_reads_with_the_helpers_it_may_and_compiles_no_query(watched, trail,
                                                                         settings):
    # On two CPUs, PostgreSQL's default of two helpers and its compiling (JIT) of the
    # query's expressions in each process made a million entries' export slower.
    skip_unless_postgresql(connection)
    settings.AUDIT_EXPORT_DATABASE_WORKERS = 0
    download(watched, "csv")

    with connection.cursor() as cursor:  # the export's settings last as long as its transaction
        cursor.execute("SELECT current_setting('max_parallel_workers_per_gather'), "
                       "current_setting('jit')")
        assert cursor.fetchone() == ("0", "off")


def test_cells_a_spreadsheet_would_run_as_formulas_are_made_text(watched, trail):
    _, text = download(watched, "csv")
    table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))

    change_row, addition_row = table[2], table[1]
    assert change_row["reason"] == "'@SUM(A1:A9)"
    assert change_row["sent"] == json.dumps({"name": '=HYPERLINK("http://x")'})  # starts with {
    assert addition_row["phone_number"] == "'+48 601 234 567"
    assert addition_row["identifier"] == "'-5"
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in table for cell in row.values())


def test_no_cell_is_a_formula_where_excel_splits_at_commas(watched, user, campaigns):
    """English Excel splits a .csv at commas: "Seasonal,=2+5," held the formula =2+5, in
    the reason, in JSON and in a record's own fields."""
    typed = "Seasonal,=2+5,"
    change(actor=user, campaign=campaigns["00001"], sent={"name": typed}, reason=typed)
    addition(actor=user, campaign=campaigns["00001"], phone="601234567", identifier=typed)
    _, text = download(watched, "csv")

    assert not any(piece.startswith(FORMULA_STARTS) for piece in pieces_at_commas(text))
    addition_row, change_row = csv.DictReader(io.StringIO(text.lstrip("\ufeff")),
                                              delimiter=";")
    assert change_row["reason"] == addition_row["identifier"] == "Seasonal,'=2+5,"
    assert json.loads(change_row["sent"]) == {"name": "Seasonal,'=2+5,"}
    _, lines = download(watched, "jsonl")
    assert json.loads(lines.splitlines()[1])["sent"] == {"name": typed}  # data, as typed


def test_the_json_lines_export_keeps_values_as_data(watched, trail):
    response, text = download(watched, "jsonl")

    lines = [json.loads(line) for line in text.splitlines()]
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    assert [line["id"] for line in lines] == [trail[2].pk, trail[1].pk, trail[0].pk]
    assert lines[2]["sent"] == {"name": '=HYPERLINK("http://x")'}
    assert lines[1]["phone_number"] == "+48 601 234 567"
    assert lines[0]["created_at"] == "2026-07-03T09:00:00+02:00"
    assert lines[0]["completed_at"] is not None and lines[1]["http_status"] == 200


def test_exports_follow_the_timelines_filters(watched, trail):
    _, text = download(watched, "jsonl", {"campaign": "00001", "kind": "record-addition",
                                          "before": "0.1"})  # a page link: not a filter

    assert [json.loads(line)["id"] for line in text.splitlines()] == [trail[1].pk]


def test_an_export_of_one_kind_has_only_that_kinds_columns(watched, trail):
    _, text = download(watched, "csv", {"kind": "campaign-change"})

    header = next(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert header == [*COMMON_COLUMNS, "settings_before"]
    assert "phone_number" not in header and "step" not in header


def test_json_true_and_false_read_as_words_on_every_database(watched, user):
    for created in (True, False):
        entry_complete(entry_begin(kind="sign-on-roles", actor=user, sent={"groups": []},
                                   details={"account": "manager", "created": created,
                                            "gained": [], "lost": []}),
                       outcome="succeeded")
    _, text = download(watched, "csv", {"kind": "sign-on-roles"})
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert [row["first_sign_on"] for row in rows] == ["false", "true"]  # newest first


def test_an_export_with_nonsense_filters_sends_back_to_the_marked_filters(watched, trail):
    response = watched.get(reverse("audit:export_csv"), {"date_from": "2026-02-30"})

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('audit:timeline')}?date_from=2026-02-30"


def test_an_export_of_nothing_is_just_the_header(watched, trail):
    _, text = download(watched, "csv", {"q": "no such thing"})

    assert text.lstrip("\ufeff").splitlines() == [text.lstrip("\ufeff").splitlines()[0]]
    assert text.lstrip("\ufeff").startswith("kind;action;id;created_at")
