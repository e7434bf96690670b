"""A person's number is erased everywhere the portal holds it, and the chain still verifies."""

import io
import itertools
import json
import logging
import threading
import zipfile
from datetime import timedelta
from importlib import import_module

import openpyxl
import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from audit import erasure as erasure_module
from audit import recording, shown_erasures
from audit.checks import check_entry_keys
from audit.erasure import clean_reference, entry_keys_missing, forget_number, number_held
from audit.models import ChainHead, Entry, SearchTerm
from audit.personal import digest, known_key_ids, marker, marker_digest, marker_when
from audit.recording import outcome_values
from audit.services import TimelineFilters, entries_matching
from audit.verify import verify_chain
from donotcall.models import Suppression
from donotcall.services import suppression_add
from imports import previewing, pushing, sending
from imports.models import (
    BatchRefusal,
    ImportAttempt,
    ImportJob,
    ImportRow,
    ImportUpload,
    RowState,
)
from imports.previewing import import_check, import_preview
from imports.pushing import import_push
from imports.report import report_lines
from imports.services import import_check_start, import_confirm
from portal import phones
from portal.phones import phone_key
from portal.shown_times import shown_minute
from portal.thulium import ThuliumError
from records import services as services_module
from records.entries import IMPORT_ENDED_FIRST, LISTED_SINCE_CHECKED, NOT_SENT_DETAILS
from records.models import AddedRecord
from records.scrubbing import OTHER_RECORD, others_removed
from records.services import (
    record_add,
    record_add_begin_all,
    record_add_complete_all,
    record_check,
)
from tests.audit_fixtures import addition, auditor, change, tamper  # noqa: F401
from tests.conftest import (
    ADMINISTRATORS,
    COMPLIANCE,
    LATE,
    make_user,
    records_sent,
    skip_unless_postgresql,
)
from tests.db_threads import closing, connected_pid, until_waiting_for_a_lock_or_done
from tests.import_files import csv_bytes, previewed, upload, xlsx_bytes
from tests.test_record_form import add

# The import the fixture pushes stores its outcomes on a connection of its own, which
# sees only what is committed.
pytestmark = pytest.mark.django_db(transaction=True)

NUMBER = "601234567"
SPELLINGS = (NUMBER, "48601234567", "+48601234567", "601 234 567", "601-234-567",
             "+48 601 234 567")
OTHER = "601234999"
REFERENCE = "RODO/2026/17"


@pytest.fixture
def everywhere(logged_in, user, campaigns, caplog):
    """The number added by hand to one campaign, imported into another (and repeated in its
    file), and in a kept file."""
    caplog.set_level(logging.DEBUG)
    record_add(campaign=campaigns["00001"], actor=user,
               payload={"phone_number": "601234567", "identifier": "K-17"})
    record_add(campaign=campaigns["00001"], actor=user, payload={"phone_number": OTHER})
    job = previewed(logged_in, campaigns["00002"],
                    csv_bytes([["+48 601-234-567", "Zofia", "Kowalska", "Łódź"],
                               ["602000001", "Jan", "Nowak", "Kraków"],
                               ["601 234 567", "Zofia", "K", "Ł"]]))  # a repeat: not sent
    assert import_confirm(job=job)
    import_push(job.pk)
    upload(logged_in, campaigns["A7K2Q"], csv_bytes([["48601234567", "Zofia", "K", "Ł"]]),
           name="kept.csv")
    kept = ImportJob.objects.get(file_name="kept.csv")
    assert ImportUpload.objects.filter(job=kept).exists()
    return {"import": job, "kept": kept}


def every_value_in_the_database() -> str:
    """The text of every row of every table, bytes decoded."""
    texts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                texts += [_text(value) for value in row]
    return "\n".join(texts)


def _text(value) -> str:
    if isinstance(value, memoryview):
        value = bytes(value)
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def test_forget_number_erases_every_spelling_from_the_database_exports_and_logs(
    everywhere, client, auditor, caplog, capsys  # noqa: F811
):
    assert NUMBER in every_value_in_the_database()  # the search can find it

    call_command("forget_number", "+48 601 234 567", reference=REFERENCE)

    printed = capsys.readouterr().out
    assert "entries: 2" in printed and "added_records: 2" in printed
    assert "import_rows: 2" in printed and "import_files: 1" in printed
    everything = every_value_in_the_database()
    client.force_login(auditor)
    exports = [b"".join(client.get(reverse(name)).streaming_content).decode()
               for name in ("audit:export_csv", "audit:export_jsonl")]
    for spelling in SPELLINGS:
        for place, text in [("database", everything), ("logs", caplog.text),
                            ("CSV export", exports[0]), ("JSON Lines export", exports[1])]:
            assert spelling not in text, f"{spelling} is still in the {place}"
    assert "K-17" not in everything  # the identifier sent with the number went too
    assert REFERENCE in exports[0]


def test_refused_rows_that_spell_the_number_are_erased_too(logged_in, campaigns):
    """Refused, a row has no key: "601 234 567 wew. 12" kept the number, in its cells,
    until its import was cleared months later, and the erasure's page did not count it."""
    rows = [["601 234 567 wew. 12", "Zofia", "Kowalska", "Łódź"],
            ["tel. 601-234-567", "Jan", "Nowak", "Kraków"],
            ["602 000 001 wew. 3", "Ewa", "Lis", "Gdańsk"]]
    job = previewed(logged_in, campaigns["00001"], csv_bytes(rows))
    assert set(job.rows.values_list("state", flat=True)) == {RowState.INVALID}
    assert number_held("601234567")["import_rows"] == 2
    forget_number(number="601234567", reference="RODO/12")
    kept = {row.number: (row.phone_number, row.values) for row in job.rows.all()}
    assert kept[2][0] == kept[3][0] == "[erased]" and kept[2][1] == kept[3][1] == {}
    assert kept[4][0] == "602 000 001 wew. 3"  # another number's row keeps its cells
    assert "234" not in json.dumps([kept[2], kept[3]])


def test_a_landline_written_in_pairs_is_erased_from_rows_fields_and_refusals(
    logged_in, campaigns
):
    """"22 123 45 67", Poland's way of writing a landline: the erasure looked in the
    database for the number's last three digits together ("567"), and kept it in a refused
    row, in another row's record field and in Thulium's refusal of the batch call."""
    survey = campaigns["A7K2Q"]
    job = previewed(logged_in, survey, csv_bytes(
        [["22 123 45 67 wew. 12", "4", "Zofia"], ["601 234 567", "5", "dom: (22) 123-45-67"],
         ["602 000 001", "3", "dom: 22 123 45 68"]],
        header=["telefon", "ocena", "komentarz"]))
    refusal = BatchRefusal.objects.create(http_status=403, detail="Forbidden: 22 123 45 67")
    assert number_held("221234567")["import_rows"] == 2
    assert number_held("221234567")["batch_refusals"] == 1

    forget_number(number="221234567", reference="RODO/14")

    kept = {row.number: row for row in job.rows.all()}
    assert kept[2].phone_number == "[erased]" and kept[2].values == {}
    assert kept[3].phone_number == "[erased]" and kept[3].payload is None
    assert kept[4].payload["record_fields"]["komentarz"] == "dom: 22 123 45 68"  # another's
    refusal.refresh_from_db()
    assert "45 67" not in refusal.detail and "RODO/14" in refusal.detail


def test_thulium_s_refusal_of_the_batch_call_naming_the_number_is_erased(db):
    """Kept for the admin with Thulium's words, it was out of an erasure's reach."""
    named = BatchRefusal.objects.create(http_status=403, request_id="r-1",
                                        detail="Forbidden for record +48 601-234-567 Kowalska")
    other = BatchRefusal.objects.create(http_status=405, detail="Method Not Allowed")
    assert number_held("601234567")["batch_refusals"] == 1
    forget_number(number="601234567", reference="RODO/13")
    named.refresh_from_db()
    other.refresh_from_db()
    assert "601" not in named.detail and "RODO/13" in named.detail
    assert other.detail == "Method Not Allowed"


def test_an_erasure_leaves_an_entry_a_search_term_wrongly_ties_to_the_number(user, campaigns):
    """A term is a row anyone who may write the tables can add: one tying another person's
    entry to the number made the erasure of that number erase theirs."""
    (victim,) = record_add_begin_all(campaign=campaigns["00001"], actor=user,
                                     payloads=[{"phone_number": "602222222"}])
    SearchTerm.objects.create(entry_id=victim.pk, term=digest(phone_key("601234567"),
                                                                victim.pii_key))
    forget_number(number="601234567", reference="RODO/15")
    victim.refresh_from_db()
    assert victim.sent["phone_number"] == "602222222" and victim.erased_at is None


def test_an_erased_entry_s_page_says_the_erasure_in_the_reader_s_words_and_the_portal_s_zone(
        logged_in, user, campaigns, settings, monkeypatch):
    """A Polish page read "[erased 2026-12-05 21:52 UTC · RODO/14 · <digest>]", English and
    UTC, beside its own Polish line of the same erasure; the exports keep the stored text."""
    settings.TIME_ZONE = "America/New_York"
    entry = record_add(campaign=campaigns["00001"], actor=user,
                       payload={"phone_number": NUMBER, "identifier": "K-17"})
    forget_number(number=NUMBER, reference="RODO/14")
    entry.refresh_from_db()
    stored = entry.sent["phone_number"]
    monkeypatch.setattr(shown_erasures, "gettext", lambda words: f"PL{words}")  # marked
    with translation.override("pl"):
        when = shown_minute(entry.erased_at.replace(second=0, microsecond=0))

    page = logged_in.get(entry.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl").content.decode()

    shown = f"PL[erased {when} · RODO/14]"
    assert page.count(shown) == 6  # the number and identifier: their lines, diff, JSON sent
    assert "UTC" not in page and marker_digest(stored) not in page
    timeline = logged_in.get(reverse("audit:timeline"), HTTP_ACCEPT_LANGUAGE="pl")
    assert shown in timeline.content.decode()  # its line there too
    assert "UTC" not in timeline.content.decode()
    assert stored in b"".join(logged_in.get(reverse("audit:export_jsonl")).streaming_content
                              ).decode()
    assert Entry.objects.get(pk=entry.pk).sent["phone_number"] == stored


def test_an_erased_entry_s_english_page_spells_the_erasure_s_day_as_its_markers_do(
        logged_in, user, campaigns):
    """"Personal data erased: Dec. 6, 2026" above "[erased 6 Dec. 2026, 04:20 · ...]"."""
    entry = record_add(campaign=campaigns["00001"], actor=user,
                       payload={"phone_number": NUMBER})
    forget_number(number=NUMBER, reference="RODO/16")
    entry.refresh_from_db()
    with translation.override("en"):
        day = date_format(timezone.localtime(entry.erased_at), "j N Y")

    page = logged_in.get(entry.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert page.split('data-testid="erased">')[1].startswith(day)
    assert f"[erased {day}, " in page


def test_a_reference_of_marks_that_show_nothing_is_no_reference():
    """A direction mark alone passed, and the erasure kept a reference that looked empty."""
    with pytest.raises(ValidationError):
        clean_reference("\u200f")
    assert clean_reference("\u200eRODO/14\u200f ") == "RODO/14"


def test_after_an_erasure_the_chain_verifies_and_still_catches_tampering(everywhere):
    call_command("forget_number", NUMBER, reference=REFERENCE)

    assert verify_chain().problem == ""
    erased = Entry.objects.filter(kind="record-addition", erased_at__isnull=False).first()
    assert erased.sent["phone_number"].startswith("[erased ")
    assert REFERENCE in erased.sent["phone_number"]
    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s",
           ['{"phone_number": "601234568", "identifier": "K-17"}', erased.pk])
    assert f"entry #{erased.pk} (begun" in verify_chain().problem


def test_verify_names_an_erasure_marker_or_time_no_erasure_recorded(everywhere):
    """The chain covers a marker's digest, not its words: an edited reference, or an entry
    said to be erased at another time, is told by the erasures the log records."""
    call_command("forget_number", NUMBER, reference=REFERENCE)
    erased = Entry.objects.filter(kind="record-addition", erased_at__isnull=False).first()
    marker = erased.sent["phone_number"]
    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s", [json.dumps(
        {**erased.sent, "phone_number": marker.replace(REFERENCE, "RODO-2020-1")}), erased.pk])
    assert (f"entry #{erased.pk} has a value erased on" in verify_chain().problem
            and "under “RODO-2020-1”, not by the erasure it names, nor one the log records"
            in verify_chain().problem)

    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s", [json.dumps(erased.sent),
                                                              erased.pk])
    assert verify_chain().problem == ""
    tamper("UPDATE audit_entry SET erased_at = %s WHERE id = %s",
           [erased.erased_at - timedelta(days=30), erased.pk])
    assert f"entry #{erased.pk} says it was erased at" in verify_chain().problem


def test_an_erasure_faked_with_the_database_s_rights_alone_is_told_from_a_real_one(
        user, campaigns):
    """A number sent as its key ("48601234999") has the digest its search term keeps: whoever
    may write the tables could put a marker with it in the number's place, and the chain,
    which covers only the digest, still verified. A marker now stands for a value only in
    an erased entry, and an erasure names the entries it erased."""
    addition(actor=user, campaign=campaigns["00001"], phone=NUMBER)
    other = addition(actor=user, campaign=campaigns["00001"], phone=phone_key(OTHER))
    report = forget_number(number=NUMBER, reference=REFERENCE)
    assert report.entry.details["entries"] == list(Entry.objects.filter(
        erased_at__isnull=False).values_list("pk", flat=True))
    (term,) = SearchTerm.objects.filter(entry_id=other.pk).values_list("term", flat=True)
    at = Entry.objects.filter(erased_at__isnull=False).values_list("erased_at", flat=True)[0]
    faked = marker(value_digest=term, when=marker_when(at), reference=REFERENCE)
    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s",
           [json.dumps({"phone_number": faked}), other.pk])

    assert verify_chain().problem.startswith(f"entry #{other.pk} (begun, link #3) does not "
                                             "match its hash")
    tamper("UPDATE audit_entry SET erased_at = %s WHERE id = %s", [at, other.pk])
    assert verify_chain().problem == (f"entry #{other.pk} says it was erased at "
                                      f"{at.isoformat()}, by an erasure that did not erase "
                                      "it: it was altered")


TYPED_MARKER = f"[erased 2026-12-05 10:00 UTC · x · 12345678.{'a' * 64}]"


def test_a_value_typed_to_look_like_an_erasure_s_marker_is_a_value_like_any_other(
        user, campaigns):
    """Taken for a marker, it made the chain cover the digest it claimed, an erasure leave
    it, and (since erasures name their entries) verify_audit fail for good."""
    typed = addition(actor=user, campaign=campaigns["00001"], phone=NUMBER,
                     identifier=TYPED_MARKER)
    assert verify_chain().problem == ""
    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s", [json.dumps(
        {**typed.sent, "identifier": TYPED_MARKER.replace(" x ", " y ")}), typed.pk])
    assert f"entry #{typed.pk} (begun, link #1) does not match" in verify_chain().problem
    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s", [json.dumps(typed.sent), typed.pk])

    forget_number(number=NUMBER, reference=REFERENCE)

    typed.refresh_from_db()
    assert REFERENCE in typed.sent["identifier"] and verify_chain().problem == ""


def test_an_erased_entry_holds_markers_of_its_own_erasure_and_nothing_else(user, campaigns):
    first = addition(actor=user, campaign=campaigns["00001"], phone=NUMBER, identifier="K-17")
    addition(actor=user, campaign=campaigns["00001"], phone=OTHER)
    forget_number(number=NUMBER, reference=REFERENCE)
    forget_number(number=OTHER, reference="RODO/2026/18")
    first.refresh_from_db()
    erased_sent = first.sent

    # The number put back where it was erased from.
    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s",
           [json.dumps({**erased_sent, "phone_number": NUMBER}), first.pk])
    assert verify_chain().problem == (
        f"entry #{first.pk} says it was erased, yet holds a personal value that no erasure's "
        "marker stands for: a value was put back: it was altered")
    # Its markers made to name the other erasure, a real one.
    other_when = marker_when(Entry.objects.filter(kind="erasure").latest("pk").created_at)
    swapped = {key: value.replace(REFERENCE, "RODO/2026/18").replace(
        value.split(" · ")[0], f"[erased {other_when}") for key, value in erased_sent.items()}
    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s", [json.dumps(swapped), first.pk])
    assert "under “RODO/2026/18”, not by the erasure it names" in verify_chain().problem


def test_an_entry_written_after_an_erasure_cannot_claim_to_be_erased_by_it(user, campaigns,
                                                                           monkeypatch):
    """Erasures made before they named their entries (2026-12) vouch for no list: a later
    entry set erased at one's moment, its values replaced by markers, passed."""
    begin = erasure_module.entry_begin

    def as_before(**fields):  # the erasure's entry as written before 2026-12
        fields["details"].pop("entries")
        return begin(**fields)

    monkeypatch.setattr(erasure_module, "entry_begin", as_before)
    addition(actor=user, campaign=campaigns["00001"], phone=NUMBER)
    forget_number(number=NUMBER, reference=REFERENCE)
    erased = Entry.objects.get(kind="record-addition", erased_at__isnull=False)
    later = addition(actor=user, campaign=campaigns["00001"], phone=NUMBER)
    tamper("UPDATE audit_entry SET sent = %s, erased_at = %s WHERE id = %s",
           [json.dumps(erased.sent), erased.erased_at, later.pk])

    assert verify_chain().problem.startswith(
        f"entry #{later.pk} says it was erased at {erased.erased_at.isoformat()}, by an "
        "erasure made before it was written")


def test_an_entry_a_writer_midway_wrote_is_erased_after_it_was_written(user, campaigns,
                                                                        monkeypatch):
    """The erasure read its moment before its waits: an entry for the number written
    meanwhile, which it then erased, was "erased before it was written", and verify_audit
    failed for good."""
    addition(actor=user, campaign=campaigns["00001"], phone=NUMBER)
    hold, written = erasure_module.chain_hold, []

    def a_writer_midway_finishes_first():
        written.append(addition(actor=user, campaign=campaigns["00001"], phone=NUMBER))
        hold()

    monkeypatch.setattr(erasure_module, "chain_hold", a_writer_midway_finishes_first)
    report = forget_number(number=NUMBER, reference=REFERENCE)

    (late,) = written
    late.refresh_from_db()
    assert late.pk in report.entry.details["entries"] and late.erased_at >= late.created_at
    assert verify_chain().problem == ""


def test_an_erased_entry_s_markers_keep_their_reference(user, campaigns):
    """An answer erased after its entry's erasure could be named by the erasure's time
    alone, and verify_audit took any marker so: the reference, the legal ground of the
    erasure, could be blanked out of every marker."""
    entry = addition(actor=user, campaign=campaigns["00001"], phone=NUMBER, identifier="K-17")
    forget_number(number=NUMBER, reference=REFERENCE)
    entry.refresh_from_db()
    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s", [json.dumps(
        {key: value.replace(REFERENCE, "") for key, value in entry.sent.items()}), entry.pk])

    assert "under “”, not by the erasure it names" in verify_chain().problem


def test_an_erasure_recorded_before_it_named_its_moment_still_verifies(everywhere,
                                                                         monkeypatch):
    begin = erasure_module.entry_begin

    def as_before(**fields):  # the erasure's entry as written before 2026-12
        fields["details"].pop("erased_at")
        return begin(**fields)

    monkeypatch.setattr(erasure_module, "entry_begin", as_before)
    call_command("forget_number", NUMBER, reference=REFERENCE)
    assert Entry.objects.filter(erased_at__isnull=False).exists()
    assert verify_chain().problem == ""


def test_other_numbers_stay_and_the_erased_one_is_still_found_by_its_digest(everywhere):
    call_command("forget_number", NUMBER, reference=REFERENCE)

    other = list(entries_matching(TimelineFilters(search=OTHER)))
    assert [entry.sent["phone_number"] for entry in other] == [OTHER]
    assert AddedRecord.objects.filter(phone_key="48" + OTHER).exists()
    found = entries_matching(TimelineFilters(search="601-234-567"))
    assert {entry.kind for entry in found} == {"record-addition", "erasure"}
    assert not AddedRecord.objects.filter(phone_key="48" + NUMBER).exists()


def test_an_addition_never_sent_still_reads_not_sent_once_its_number_is_erased(
        client, auditor, user, campaigns):  # noqa: F811
    """Its detail, the portal's own words, was replaced by a marker as Thulium's words are:
    the entry then read "failed", and the outcome filter found it so, among Thulium's
    failures. One completed as not sent after the erasure reached it keeps them too."""
    unsent = [addition(actor=user, campaign=campaigns["00001"], phone=NUMBER,
                       outcome="failed", detail=detail) for detail in NOT_SENT_DETAILS]
    in_flight = addition(actor=user, campaign=campaigns["00001"], phone=NUMBER,
                         outcome="pending")
    forget_number(number=NUMBER, reference=REFERENCE)
    record_add_complete_all([(in_flight, outcome_values(outcome="failed",
                                                        detail=IMPORT_ENDED_FIRST))])

    entries = Entry.objects.filter(pk__in=[entry.pk for entry in [*unsent, in_flight]])
    assert [(entry.detail, bool(entry.erased_at), bool(marker_digest(
        entry.sent["phone_number"]))) for entry in entries.order_by("pk")] == [
        (detail, True, True) for detail in (*NOT_SENT_DETAILS, IMPORT_ENDED_FIRST)]
    client.force_login(auditor)
    timeline = reverse("audit:timeline")
    found = client.get(timeline, {"outcome": "not_sent"})
    assert [row.entry.pk for row in found.context["page"].rows] == [
        entry.pk for entry in reversed([*unsent, in_flight])]
    assert found.content.decode().count('<span class="fw-semibold">not sent</span>') == 4
    assert not client.get(timeline, {"outcome": "failed"}).context["page"].rows
    assert NUMBER not in every_value_in_the_database()
    assert verify_chain().problem == ""
    # A text kept is covered by the chain as it was: one changed for another is caught.
    tamper("UPDATE audit_entry SET detail = %s WHERE id = %s",
           [LISTED_SINCE_CHECKED, in_flight.pk])
    assert verify_chain().problem.startswith(f"entry #{in_flight.pk} (completed, link #")


def test_thulium_s_failure_naming_the_number_is_erased_and_cannot_be_passed_off_as_not_sent(
        user, campaigns):
    """Only the portal's own not-sent texts stay: Thulium's words may repeat the person's
    data. One put by hand in place of the marker does not verify."""
    failed = addition(actor=user, campaign=campaigns["00001"], phone=NUMBER, outcome="failed",
                      detail=f"HTTP 500\nphone_number {NUMBER} could not be saved")
    forget_number(number=NUMBER, reference=REFERENCE)

    failed.refresh_from_db()
    assert REFERENCE in failed.detail and marker_digest(failed.detail)
    assert NUMBER not in every_value_in_the_database()
    assert verify_chain().problem == ""
    tamper("UPDATE audit_entry SET detail = %s WHERE id = %s", [IMPORT_ENDED_FIRST, failed.pk])
    assert verify_chain().problem.startswith(f"entry #{failed.pk} (completed, link #")


def test_a_check_in_thulium_naming_the_number_is_erased_too(user, campaigns):
    lost = addition(actor=user, campaign=campaigns["00001"], phone="+48 601 234 567",
                    identifier="K-18", outcome="unknown",
                    when=timezone.now() - timedelta(hours=1))  # past its call's landing
    check = record_check(lost, actor=user)  # Thulium does not hold it

    call_command("forget_number", NUMBER, reference=REFERENCE)

    erased = Entry.objects.get(pk=check.pk)
    assert erased.erased_at is not None
    assert erased.sent["phone_number"].startswith("[erased ")
    assert erased.sent["identifier"].startswith("[erased ")
    assert erased.sent["create_date_from"] == check.sent["create_date_from"]
    everything = every_value_in_the_database()
    assert all(spelling not in everything for spelling in SPELLINGS) and "K-18" not in everything
    assert verify_chain().problem == ""
    found = entries_matching(TimelineFilters(search="601-234-567"))
    assert {entry.kind for entry in found} == {"record-addition", "record-check", "erasure"}


def test_a_batch_answer_naming_every_number_keeps_in_each_row_s_entry_only_its_own(
    logged_in, campaigns, thulium, settings
):
    """A batch answered in no known shape is each of its rows' outcome, and the answer names
    every number sent: kept whole in each row's entry, the others' numbers outlived the
    erasure of theirs (it finds a person's data by the entries about that person)."""
    settings.IMPORT_BATCH_SIZE = 4
    settings.IMPORT_RETRY_WAIT = 0  # Thulium is asked about the unanswered batch at once
    thulium.state.batch_shape = "wrapped"
    job = previewed(logged_in, campaigns["00001"],
                    csv_bytes([[NUMBER, "Zofia", "Kowalska", "Łódź"],
                               [OTHER, "Jan", "Nowak", "Kraków"]]))
    assert import_confirm(job=job)
    import_push(job.pk)
    unanswered = {entry.sent["phone_number"]: entry.detail for entry in Entry.objects.filter(
        kind="record-addition", outcome="unknown")}
    assert unanswered.keys() == {NUMBER, OTHER}
    assert NUMBER in unanswered[NUMBER] and OTHER not in unanswered[NUMBER]
    assert OTHER in unanswered[OTHER] and NUMBER not in unanswered[OTHER]
    assert OTHER_RECORD in unanswered[OTHER]

    call_command("forget_number", NUMBER, reference=REFERENCE)

    everything = every_value_in_the_database()
    assert all(spelling not in everything for spelling in SPELLINGS)
    assert OTHER in everything
    assert verify_chain().problem == ""


def test_a_value_is_read_for_so_many_numbers_only(monkeypatch):
    """A column name or a field of thousands of "100000000/" was parsed part by part: a
    crafted header held a web worker for a minute."""
    parsed = []
    real = phones.is_phone_number
    monkeypatch.setattr(phones, "is_phone_number", lambda part: parsed.append(part) or real(part))
    assert phones.phone_keys_in("100000000/" * 13_000) == set()
    assert len(parsed) <= phones.MOST_SPELLINGS
    assert phones.phone_keys_in("kom. 601 234 567, 22.11.2025 9:30") == {"48601234567"}
    # Two numbers only a space apart read as one spelling of eighteen digits: neither found.
    assert phones.phone_keys_in("tel. 601234567 602000001") == {"48601234567", "48602000001"}


def test_thulium_s_words_about_a_whole_batch_keep_only_each_record_s_own_data():
    payloads = [{"phone_number": NUMBER, "identifier": "K-17",
                 "record_fields": {"last_name": "Kowalska", "visits": 7}},
                {"phone_number": "+48 602 000 001", "record_fields": {"last_name": "Nowak"}}]
    said = ("records: +48 601-234-567 (KOWALSKA, K-17), 48602000001 nowak; "
            "601234567 602000001 ok 7")
    first, second = others_removed([said, ""], payloads)
    other = OTHER_RECORD
    assert first == [f"records: +48 601-234-567 (KOWALSKA, K-17), {other} {other}; "
                     f"601234567 {other} ok 7", ""]
    assert second == [f"records: {other} ({other}, {other}), 48602000001 nowak; "
                      f"{other} 602000001 ok 7", ""]


def test_a_records_listing_answered_with_no_page_is_not_kept(user, campaigns, thulium):
    """A listing's answer is other people's records: kept for the audit, no erasure of
    theirs would find it."""
    lost = addition(actor=user, campaign=campaigns["00001"], phone=NUMBER, outcome="unknown",
                    when=timezone.now() - timedelta(hours=1))
    thulium.state.fail_next("broken_json", path="/api/outbounds/00001/records")
    with pytest.raises(ThuliumError):
        record_check(lost, actor=user)
    check = Entry.objects.get(kind="record-check")
    assert (check.outcome, check.detail) == ("failed", "the answer is not valid JSON")


def test_what_was_keyed_with_a_trunk_zero_before_it_was_dropped_is_erased_too(
    logged_in, user, campaigns
):
    """Written "0601 234 567" before the portal read numbers without the 0, the number was
    keyed "480601234567": the migrations re-keyed the added records (not one whose new key
    was taken) and the do-not-call list (not an entry beside one of the new key), not the
    audit trail's search terms nor import rows. An erasure found none of them."""
    before = "480601234567"
    old = addition(actor=user, campaign=campaigns["00001"], phone="0601234567",
                   identifier="K-17", record_id="r1")
    addition(actor=user, campaign=campaigns["00001"], phone=NUMBER, record_id="r2")
    import_module("records.migrations.0010_rekey_numbers_written_with_a_trunk_zero").rekey(
        django_apps, None)
    assert set(AddedRecord.objects.values_list("phone_key", flat=True)) == {
        before, phone_key(NUMBER)}
    job = previewed(logged_in, campaigns["00002"],
                    csv_bytes([["0601234567", "Zofia", "Kowalska", "Łódź"]]))
    job.rows.update(phone_key=before)
    Suppression.objects.create(digest=digest(before), phone_key=before, note="Zofia K.",
                               reason=Suppression.Reason.CUSTOMER_REQUEST,
                               source=Suppression.Source.TYPED)
    assert number_held(NUMBER) == {**number_held(NUMBER), "entries": 2, "added_records": 2,
                                   "import_rows": 1, "donotcall": 1}

    forget_number(number="601 234 567", reference=REFERENCE)

    old.refresh_from_db()
    assert old.erased_at is not None and old.sent["identifier"].startswith("[erased ")
    assert not AddedRecord.objects.exists()
    everything = every_value_in_the_database()
    assert all(spelling not in everything for spelling in ("0601234567", before, "K-17"))
    assert "Zofia K." not in everything
    assert verify_chain().problem == ""


@pytest.mark.parametrize("spelled", ["601–234–567", "601_234_567", "601,234,567 wew. 2"])
def test_a_refused_row_spelling_the_number_with_other_marks_is_erased_with_its_file(
    logged_in, campaigns, spelled
):
    """An en dash (Excel's autocorrect), underscores or Excel's thousands commas between the
    digits: the row was refused, and the erasure, which did not read them so, kept its
    cells and the file."""
    job = previewed(logged_in, campaigns["00001"],
                    csv_bytes([[spelled, "Zofia", "Kowalska", "Łódź"],
                               ["602000001", "Jan", "Nowak", "Kraków"]]))
    assert number_held(NUMBER)["import_rows"] == 1

    forget_number(number=NUMBER, reference=REFERENCE)

    assert not ImportUpload.objects.filter(job=job).exists()
    assert "Kowalska" not in every_value_in_the_database()


@pytest.mark.parametrize("spelled", ["kom. 601 234 567", "kom. 601\xa0234\xa0567",
                                     "601,234,567", "601_234_567"])
def test_a_number_in_a_record_s_field_is_found_and_erased(logged_in, user, campaigns,
                                                          spelled):
    """A mobile beside the landline dialled, in a campaign's field: an erasure of it found
    neither the entry nor the import row, and said the portal held the number nowhere.
    Grouped by no-break spaces, commas or underscores, the row was found but the entry
    not: the two read texts for numbers apart."""
    survey = campaigns["A7K2Q"]
    entry = record_add(campaign=survey, actor=user, payload={
        "phone_number": "225556677",
        "record_fields": {"ocena": "5", "komentarz": spelled}})
    previewed(logged_in, survey, csv_bytes([["226667788", "4", NUMBER]],
                                           header=["telefon", "ocena", "komentarz"]))
    held = number_held(NUMBER)
    assert (held["entries"], held["import_rows"]) == (1, 1)
    assert [found.pk for found in entries_matching(TimelineFilters(search="601-234-567"))] == [
        entry.pk]

    forget_number(number=NUMBER, reference=REFERENCE)

    everything = every_value_in_the_database()
    assert all(spelling not in everything for spelling in SPELLINGS)
    # The entry and the row hold nothing of the person any more; the record the portal
    # added under the landline stays known by it, until that number is erased too.
    entry.refresh_from_db()
    assert entry.erased_at is not None and "225556677" not in str(entry.sent)
    assert not ImportRow.objects.filter(phone_key="48226667788").exists()
    assert AddedRecord.objects.filter(phone_key="48225556677").exists()
    assert verify_chain().problem == ""


def test_a_kept_file_holding_the_number_is_dropped_and_its_import_ended(everywhere):
    call_command("forget_number", NUMBER, reference=REFERENCE)

    kept = ImportJob.objects.get(pk=everywhere["kept"].pk)
    assert kept.state == ImportJob.State.CANCELLED
    assert REFERENCE in kept.stop_reason
    assert not ImportUpload.objects.filter(job=kept).exists()


def test_an_import_ended_by_an_erasure_leaves_none_of_its_rows_to_send(
    logged_in, campaigns, django_capture_on_commit_callbacks
):
    """Its other people's rows stayed "to send": the ended import showed part of its
    progress for good, and its report listed them to send."""
    job = previewed(logged_in, campaigns["00001"], csv_bytes(
        [[NUMBER, "Zofia", "Kowalska", "Łódź"], [OTHER, "Jan", "Nowak", "Kraków"]]))
    with django_capture_on_commit_callbacks(execute=True):
        forget_number(number=NUMBER, reference=REFERENCE)

    assert set(ImportRow.objects.filter(job=job).values_list("state", flat=True)) == {
        RowState.NOT_SENT}
    progress = logged_in.get(reverse("imports:progress", args=[job.pk])).json()
    assert (progress["final"], progress["percent"]) == (True, 100)


def test_a_row_erased_while_its_batch_waited_for_its_send_is_not_sent(
    logged_in, campaigns, thulium, settings, monkeypatch
):
    """Rows are claimed, and their sends begun, batches ahead of their thread: a number
    erased while its batch waited was still sent to Thulium, from the worker's memory."""
    settings.IMPORT_BATCH_SIZE, settings.IMPORT_CONCURRENCY = 2, 1
    job = previewed(logged_in, campaigns["00001"], csv_bytes(
        [["602000001", "Jan", "Nowak", "Kraków"], ["602000002", "Ewa", "Lis", "Gdańsk"],
         [NUMBER, "Zofia", "Kowalska", "Łódź"], ["602000003", "Ola", "Kot", "Opole"]]))
    assert import_confirm(job=job)
    paced = []
    pace_wait = pushing._Pace.wait

    def second_batch_waits_for_an_erasure(pace):
        paced.append(pace)
        if len(paced) == 2:  # the batch of the number, claimed with the first
            forget_number(number=NUMBER, reference=REFERENCE)
        pace_wait(pace)

    monkeypatch.setattr(pushing._Pace, "wait", second_batch_waits_for_an_erasure)
    import_push(job.pk)

    assert sorted(record["phone_number"] for record in records_sent(thulium)) == [
        "602000001", "602000002", "602000003"]
    states = dict(job.rows.values_list("number", "state"))
    assert states == {2: RowState.ADDED, 3: RowState.ADDED, 4: RowState.NOT_SENT,
                      5: RowState.ADDED}
    assert all(spelling not in every_value_in_the_database() for spelling in SPELLINGS)
    assert verify_chain().problem == ""


def test_a_kept_file_is_searched_whatever_separator_and_encoding_its_import_was_told(
    logged_in, campaigns
):
    """The number is found in a file read with the wrong separator, in a cell among other
    words, in a file whose chosen encoding cannot read a later line (the erasure stopped
    there), grouped by no-break spaces, and on a workbook's hidden sheet; a workbook that
    cannot be read past its start (it stopped the erasure) is dropped; a file holding its
    digits only inside a longer number is kept; Excel's "Unicode text" (UTF-16) is
    searched too."""
    def kept(name, content, **told):
        upload(logged_in, campaigns["A7K2Q"], content, name=name)
        job = ImportJob.objects.get(file_name=name)
        ImportJob.objects.filter(pk=job.pk).update(**told)
        return job

    commas = kept("commas.csv", csv_bytes([["601 234 567", "Zofia", "K", "Ł"]], delimiter=","),
                  delimiter=";")
    among_words = kept("words.csv", csv_bytes([["602000001", "Zofia", "tel. (+48) 601-234-567",
                                                "Łódź"]]))
    legacy = kept("cp1250.csv", csv_bytes([["602000001", "Jan", "Nowak", "Kraków"],
                                           ["48601234567", "Zofia", "Kowalska", "Łódź"]],
                                          encoding="cp1250"), encoding="utf-8")
    grouped = kept("grouped.csv", csv_bytes([["601\u00a0234\u00a0567", "Zofia", "K", "Ł"]]))
    damaged = kept("damaged.xlsx", damaged_past_its_start(xlsx_bytes(
        [[f"60200{n:04d}", "Jan"] for n in range(50)], header=["Telefon", "Imię"])))
    book = openpyxl.Workbook()
    book.active.sheet_state = "hidden"
    book.active.append(["601-234-567"])
    book.create_sheet("Leady").append(["Telefon", "Imię"])
    book["Leady"].append(["602000001", "Jan"])
    book.active, xlsx = 1, io.BytesIO()
    book.save(xlsx)
    hidden = kept("hidden.xlsx", xlsx.getvalue())
    unicode = kept("unicode.txt", "Telefon\tImię\r\n602000001\tJan\r\n601 234 567\tZofia\r\n"
                   .encode("utf-16"))
    other = kept("other.csv", csv_bytes([["602000001", "9601234567", "K", "48601234568"]]))

    assert number_held(NUMBER)["import_files"] == 7
    report = forget_number(number=NUMBER, reference=REFERENCE)

    assert report.counts["import_files"] == 7
    for job in (commas, among_words, legacy, grouped, hidden, damaged, unicode):
        job.refresh_from_db()
        assert job.state == ImportJob.State.CANCELLED and REFERENCE in job.stop_reason
    assert set(ImportUpload.objects.values_list("job", flat=True)) == {other.pk}


def damaged_past_its_start(workbook: bytes) -> bytes:
    """The workbook with its sheet cut off in the middle of a row, past the rows the upload
    reads."""
    source, damaged = zipfile.ZipFile(io.BytesIO(workbook)), io.BytesIO()
    with zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                content = content[:len(content) * 3 // 4]
            target.writestr(item, content)
    return damaged.getvalue()


def test_a_file_erased_while_its_rows_are_checked_at_once_leaves_none_of_them(
    logged_in, campaigns, monkeypatch
):
    """The erasure waits for the rows being written, then erases them and ends the import;
    without waiting it missed them, and the preview put its import back on its way."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite runs one writer at a time")
    upload(logged_in, campaigns["00001"], csv_bytes([[NUMBER, "Zofia", "Kowalska", "Łódź"]]))
    job = ImportJob.objects.get()
    _erased_midway(monkeypatch, previewing, "rows_insert",
                   lambda: import_preview(job=job, mapping=job.mapping))
    job.refresh_from_db()
    assert job.state == ImportJob.State.CANCELLED
    assert NUMBER not in every_value_in_the_database()


# What Thulium does with the batch holding the number: refuses its item, refuses the
# batch as a whole (its rows then go one by one), or stores it and its answer is lost.
IN_FLIGHT = {
    "refused": (RowState.REFUSED, lambda state: state.fail_in_batch([NUMBER])),
    # Refused as a whole, the batch gave no verdict on the row, which is then not sent.
    "batch refused": (RowState.NOT_SENT, lambda state: state.fail_next(
        "refuse", path="/api/batch/outbounds/00002/records")),
    "answer lost": (RowState.UNKNOWN, lambda state: state.fail_next(
        "timeout", path="/api/batch/outbounds/00002/records", delay=LATE)),
}


@pytest.mark.parametrize("case", IN_FLIGHT)
def test_a_number_erased_while_its_batch_is_with_thulium_is_not_written_back_nor_sent_again(
    logged_in, campaigns, thulium, settings, monkeypatch, case
):
    """The push goes on for the other rows; the erased one is neither asked about nor sent
    again, nothing of Thulium's answer about it is kept unerased, and the chain verifies."""
    settings.IMPORT_CONCURRENCY, settings.IMPORT_RETRY_WAIT = 1, 0.01
    state, fault = IN_FLIGHT[case]
    fault(thulium.state)
    post = sending.record_add_post_batch

    def erased_meanwhile(entries, **kwargs):
        if any(entry.sent["phone_number"] == NUMBER for entry in entries):
            forget_number(number=NUMBER, reference=REFERENCE)
        return post(entries, **kwargs)

    monkeypatch.setattr(sending, "record_add_post_batch", erased_meanwhile)
    job = previewed(logged_in, campaigns["00002"], csv_bytes(
        [[NUMBER, "Zofia", "Kowalska", "Łódź"], [OTHER, "Jan", "Nowak", "Kraków"]]))
    assert import_confirm(job=job)

    import_push(job.pk)

    job.refresh_from_db()
    assert job.state == ImportJob.State.DONE
    erased, other = ImportRow.objects.filter(job=job).order_by("number")
    assert erased.state == state and REFERENCE in erased.problems[0]
    # Its report line says when and under which reference it was erased.
    (line,) = [line for line in "".join(report_lines(job)).splitlines() if "[erased]" in line]
    assert erased.problems[0] in line and not marker_digest(line.split(";")[4])
    assert other.state == RowState.ADDED
    assert [record["phone_number"] for record in records_sent(thulium)].count(NUMBER) == 1
    everything = every_value_in_the_database()
    for spelling in SPELLINGS:
        assert spelling not in everything
    # Thulium's words about the number may repeat it: erased with it.
    for entry in Entry.objects.filter(kind__startswith="record-", erased_at__isnull=False):
        texts = [*entry.messages, entry.detail]
        assert all(marker_digest(text) for text in texts if text), texts
    assert verify_chain().problem == ""


def test_a_dead_workers_row_erased_since_is_not_sent_on(logged_in, campaigns, thulium, user):
    job = previewed(logged_in, campaigns["00002"], csv_bytes([[NUMBER, "Zofia", "K", "Ł"]]))
    assert import_confirm(job=job)
    row = job.rows.get()
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING)
    ImportRow.objects.filter(pk=row.pk).update(
        state=RowState.SENDING, claimed_by="dead-worker",
        lease_until=timezone.now() - timedelta(minutes=5))
    # The worker died with the row's send under way, and the number was erased since.
    (cut_off,) = record_add_begin_all(campaign=campaigns["00002"], payloads=[row.payload],
                                      actor=user)
    ImportAttempt.objects.create(row=row, entry=cut_off)
    forget_number(number=NUMBER, reference=REFERENCE)

    import_push(job.pk)

    row.refresh_from_db()
    job.refresh_from_db()
    assert (job.state, row.state) == (ImportJob.State.DONE, RowState.UNKNOWN)
    assert not records_sent(thulium)
    assert Entry.objects.get(pk=cut_off.pk).outcome == "unknown"
    assert NUMBER not in every_value_in_the_database()
    assert verify_chain().problem == ""


def test_an_erasure_while_an_answer_is_stored_waits_for_it_and_erases_it_too(
    user, campaigns, monkeypatch
):
    """The erasure read the entry while its answer was being stored, then wrote its stale
    values over the answer: the chain no longer verified, or the two deadlocked."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite runs one writer at a time")
    sent = addition(actor=user, campaign=campaigns["00001"], phone=NUMBER, outcome="pending")
    answer = outcome_values(outcome="refused", http_status=422,
                            messages=[f"phone_number {NUMBER} is refused"])
    # Paused with the entry's answer written, not committed.
    _erased_midway(monkeypatch, recording, "update_each",
                   lambda: record_add_complete_all([(sent, answer)]))
    entry = Entry.objects.get(pk=sent.pk)
    assert entry.outcome == "refused" and marker_digest(entry.messages[0])
    assert NUMBER not in every_value_in_the_database()
    assert verify_chain().problem == ""


def _erased_midway(monkeypatch, module, name, work) -> None:
    """Run `work` in a thread of its own, paused in its transaction just after
    `module.name` ran; erase the number from another thread meanwhile, and let the work go
    on once the erasure waits for a lock (or ended); then wait for both."""
    paused, go_on = threading.Event(), threading.Event()
    original = getattr(module, name)

    def pausing(*args, **kwargs):
        done = original(*args, **kwargs)
        paused.set()
        assert go_on.wait(120)  # longer than the wait for the erasure's lock below
        return done

    monkeypatch.setattr(module, name, pausing)
    working = threading.Thread(target=closing(work))
    working.start()
    assert paused.wait(30)
    erasing_pid = []
    erasing = threading.Thread(target=closing(lambda: (
        erasing_pid.append(connected_pid()), forget_number(number=NUMBER, reference=REFERENCE))))
    erasing.start()
    until_waiting_for_a_lock_or_done(erasing, erasing_pid)
    go_on.set()
    working.join(30)
    erasing.join(30)


def test_a_number_the_portal_never_held_is_reported_and_the_request_recorded(db, capsys):
    call_command("forget_number", "601000999", reference=REFERENCE)

    assert "held this number nowhere" in capsys.readouterr().out
    entry = Entry.objects.get(kind="erasure")
    assert (entry.reason, entry.results["entries"]) == (REFERENCE, 0)
    assert "601000999" not in str(entry.details)
    assert verify_chain().problem == ""


def test_a_number_erased_before_is_held_nowhere_and_its_first_erasure_s_marks_stay(
        everywhere, logged_in, campaigns, user, capsys):
    """A second erasure said it erased the list's entry its page had said held nothing, and
    wrote its own marker over the first's."""
    suppression_add(key=phone_key(NUMBER), campaign=None, reason="request", note="Zofia",
                    source="typed", actor=user)
    refused = previewed(logged_in, campaigns["00001"], csv_bytes(
        [["601 234 567 wew. 12", "Zofia", "Kowalska", "Łódź"]]))
    BatchRefusal.objects.create(http_status=403, detail="Forbidden: 601 234 567")
    forget_number(number=NUMBER, reference="RODO/1")
    kept = (list(Suppression.objects.values_list("note", "erased_at")),
            list(refused.rows.values_list("phone_number", "problems")),
            list(BatchRefusal.objects.values_list("detail", flat=True)))

    assert not any(number_held(NUMBER).values())
    call_command("forget_number", NUMBER, reference="RODO/2")

    assert "held this number nowhere" in capsys.readouterr().out
    assert not any(Entry.objects.filter(kind="erasure").latest("pk").results.values())
    assert kept == (list(Suppression.objects.values_list("note", "erased_at")),
                    list(refused.rows.values_list("phone_number", "problems")),
                    list(BatchRefusal.objects.values_list("detail", flat=True)))
    assert "RODO/1" in kept[0][0][0]


@pytest.mark.parametrize(("number", "reference", "words"), [
    ("not a number", REFERENCE, "phone number"),
    ("12", REFERENCE, "phone number"),
    (NUMBER, "", "reference"),
    (NUMBER, "   ", "reference"),
    (NUMBER, "RODO\x00/7", "one line"),
    # Kept in the erasure's entry and every marker, where no later erasure reaches it.
    (NUMBER, "RODO/5 wniosek z 601-234-567", "must not hold the phone number"),
])
def test_bad_input_fails_with_one_line_and_changes_nothing(everywhere, number, reference,
                                                           words):
    before = every_value_in_the_database()

    with pytest.raises(CommandError) as failure:
        call_command("forget_number", number, reference=reference)

    assert words in str(failure.value).lower() and "\n" not in str(failure.value)
    assert every_value_in_the_database() == before


def test_staff_erase_a_number_from_the_portal(everywhere, client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "x"))

    refused = client.post(reverse("audit:forget"), {"number": "abc", "reference": ""})
    assert refused.status_code == 200
    assert b"abc" in refused.content  # the input stays in the form
    named = client.post(reverse("audit:forget"), {"number": NUMBER, "reference": "z 601234567",
                                                  "erase": "yes"})
    assert named.context["form"].errors == {"reference": [
        "The reference must not hold the phone number: it is kept with the erasure for good. "
        "Give the request's case number."]}
    unknown = client.post(reverse("audit:forget"), {"number": "609 999 999",
                                                    "reference": REFERENCE})
    assert "holds this number nowhere" in unknown.content.decode()
    assert Entry.objects.filter(kind="erasure").count() == 0
    # First what the portal holds of it, without erasing anything...
    found = client.post(reverse("audit:forget"), {"number": NUMBER, "reference": REFERENCE})
    assert b'data-testid="held"' in found.content and b'data-testid="erased"' not in found.content
    assert f'href="/audit/?q={NUMBER}" data-testid="held-entries"' in found.content.decode()
    assert NUMBER in every_value_in_the_database()
    assert not Entry.objects.filter(kind="erasure").exists()
    held = found.context["held"]
    # ...then the button under it erases.
    done = client.post(reverse("audit:forget"),
                       {"number": NUMBER, "reference": REFERENCE, "erase": "yes"})

    assert done.status_code == 200
    assert b'data-testid="erased"' in done.content
    erasure = Entry.objects.get(kind="erasure")
    assert erasure.actor_username == "root"
    assert erasure.results == held  # what the page showed
    assert held["added_records"] == held["import_rows"] == 2 and held["import_files"] == 1
    assert NUMBER not in every_value_in_the_database()
    # What was erased, in words, on the page and on the erasure's entry page.
    entry_page = client.get(erasure.get_absolute_url()).content.decode()
    for html in (done.content.decode().split('data-testid="erased"')[1].split("</div>")[0],
                 entry_page.split('data-testid="erased-counts"')[1].split("</dd>")[0]):
        assert "Audit entries: " in html and "Records the portal added: 2" in html, html
        assert "Import rows: " in html
        assert "Do-not-call list entries (still blocking, by its digest): " in html
        assert "added_records" not in html and "import_rows" not in html


def nothing_kept() -> bool:
    """No number is held by the caches that key and read numbers."""
    return phone_key.cache_info().currsize == 0 == phones._read.cache_info().currsize


def test_no_process_keeps_a_number_it_keyed_once_its_request_or_import_ended(logged_in,
                                                                              campaigns):
    """A web or worker process lives on after its work: it may not hold a number that has
    been erased since."""
    add(logged_in, {"phone_number": "601 234 568"})
    assert AddedRecord.objects.filter(phone_key="48601234568").exists()
    assert nothing_kept()
    job = previewed(logged_in, campaigns["00002"], csv_bytes([["601234569", "Jan", "N", "Ł"]]))
    assert import_confirm(job=job)
    phone_key("601234569")  # as the push's check in Thulium of a lost answer would

    import_push(job.pk)

    assert AddedRecord.objects.filter(phone_key="48601234569").exists()
    assert nothing_kept()
    upload(logged_in, campaigns["00001"], csv_bytes([["601234570", "Zofia", "K", "Ł"]]),
           name="checked.csv")
    checked = ImportJob.objects.get(file_name="checked.csv")
    assert import_check_start(job=checked, mapping=checked.mapping)
    import_check(checked.pk)  # as a worker checks a large file
    assert ImportJob.objects.get(pk=checked.pk).state == ImportJob.State.PREVIEWED
    assert nothing_kept()


def test_only_those_allowed_to_erase_see_the_page(logged_in):
    assert logged_in.get(reverse("audit:forget")).status_code == 403
    assert logged_in.post(reverse("audit:forget"), {"number": NUMBER,
                                                    "reference": REFERENCE}).status_code == 403


def rotated_leaving_the_old_key_out(settings, user, campaigns) -> Entry:
    """NUMBER added before a rotation, OTHER after it, and the old key then dropped from
    AUDIT_PII_RETIRED_KEYS ("to tidy up"); returns the entry of NUMBER's addition."""
    record_add(campaign=campaigns["00001"], actor=user, payload={"phone_number": NUMBER})
    settings.AUDIT_PII_KEY, settings.AUDIT_PII_RETIRED_KEYS = (
        "a-new-key-after-the-rotation", [settings.AUDIT_PII_KEY])
    record_add(campaign=campaigns["00001"], actor=user, payload={"phone_number": OTHER})
    settings.AUDIT_PII_RETIRED_KEYS = []
    return Entry.objects.get(kind="record-addition", sent__phone_number=NUMBER)


def test_an_erasure_is_refused_while_entries_were_made_under_a_key_left_out(
        user, campaigns, settings, client, django_user_model):
    """The count page and forget_number said 0 entries and recorded the erasure as done,
    while the number's addition, made under the old key, still held it."""
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "x"))
    old_key = settings.AUDIT_PII_KEY
    addition_entry = rotated_leaving_the_old_key_out(settings, user, campaigns)
    before = every_value_in_the_database()

    for attempt in (lambda: number_held(NUMBER),
                    lambda: forget_number(number=NUMBER, reference=REFERENCE)):
        with pytest.raises(ValidationError) as refused:
            attempt()
        (words,) = refused.value.messages
        assert addition_entry.pii_key in words and "AUDIT_PII_RETIRED_KEYS" in words
    with pytest.raises(CommandError, match=f"key id {addition_entry.pii_key}"):
        call_command("forget_number", NUMBER, reference=REFERENCE)
    assert every_value_in_the_database() == before
    for erase in ({}, {"erase": "yes"}):  # the page's two steps, next to the number
        page = client.post(reverse("audit:forget"),
                           {"number": NUMBER, "reference": REFERENCE, **erase})
        assert page.status_code == 200 and page.context["held"] is None
        (words,) = page.context["form"].errors["number"]
        assert addition_entry.pii_key in words and words in page.content.decode()
        assert b'data-testid="erased"' not in page.content
    assert not Entry.objects.filter(kind="erasure").exists()

    settings.AUDIT_PII_RETIRED_KEYS = [old_key]  # put back, as the refusal says
    assert forget_number(number=NUMBER, reference=REFERENCE).counts["entries"] >= 1
    assert Entry.objects.get(pk=addition_entry.pk).erased_at is not None


def test_entries_made_under_a_key_the_portal_lost_stop_it_starting(user, campaigns, settings):
    old_key = settings.AUDIT_PII_KEY
    assert check_entry_keys(None, databases=["default"]) == []
    addition_entry = rotated_leaving_the_old_key_out(settings, user, campaigns)

    (error,) = check_entry_keys(None, databases=["default"])

    assert error.id == "audit.E001" and f"key id {addition_entry.pii_key}" in error.msg
    assert "AUDIT_PII_RETIRED_KEYS" in error.hint
    assert check_entry_keys(None) == []  # not asked to look at the database
    settings.AUDIT_PII_RETIRED_KEYS = [old_key]
    assert check_entry_keys(None, databases=["default"]) == []


def test_the_chain_s_head_keeps_every_key_entries_were_made_under(user, campaigns, settings):
    """What an erasure asks first, without reading the log: the keys missing are those of
    the entries written, whichever are left out."""
    keys = ["key-one", "key-two", "key-three", "key-four"]
    for n, key in enumerate(keys):
        settings.AUDIT_PII_KEY, settings.AUDIT_PII_RETIRED_KEYS = key, keys[:n]
        addition(actor=user, campaign=campaigns["00001"], phone=f"60123450{n}")
        change(actor=user, campaign=campaigns["00001"], sent={"order": n})  # keyless
    written = set(Entry.objects.exclude(pii_key="").values_list("pii_key", flat=True))
    assert len(written) == len(keys)
    assert ChainHead.objects.get().pii_keys == sorted(written)
    for count in range(len(keys)):
        for retired in itertools.combinations(keys[:-1], count):
            settings.AUDIT_PII_RETIRED_KEYS = list(retired)
            assert entry_keys_missing() == sorted(written - known_key_ids())


def test_problem_rows_kept_before_their_key_was_stored_get_it(logged_in, campaigns):
    job = previewed(logged_in, campaigns["00002"], csv_bytes([
        ["601234567", "Zofia", "K", "Ł"], ["601 234 567", "Zofia", "K", "Ł"],
        ["12", "Jan", "N", "K"]]))
    ImportRow.objects.filter(job=job).exclude(state=RowState.QUEUED).update(phone_key="")

    import_module("imports.migrations.0010_problem_rows_keyed").key_problem_rows(
        django_apps, None)

    keys = dict(ImportRow.objects.filter(job=job).values_list("phone_number", "phone_key"))
    assert keys == {"601234567": phone_key(NUMBER), "601 234 567": phone_key(NUMBER), "12": ""}


def test_a_check_in_thulium_begun_before_an_erasure_does_not_write_the_number_back(
        user, campaigns, thulium, monkeypatch):
    """The check was begun from the page's copy of the addition: an erasure committed while
    it asked for its timing, and its entry then held the number the erasure had erased."""
    lost = addition(actor=user, campaign=campaigns["00001"], phone=NUMBER, outcome="unknown",
                    when=timezone.now() - timedelta(hours=1))
    lost = Entry.objects.get(pk=lost.pk)  # as the entry page reads it
    landed_by = services_module.landed_by

    def an_erasure_meanwhile(entry):
        forget_number(number=NUMBER, reference=REFERENCE)
        return landed_by(entry)

    monkeypatch.setattr(services_module, "landed_by", an_erasure_meanwhile)

    with pytest.raises(services_module.RecordCheckRefused,
                       match="nothing left to check: this addition's number was erased"):
        record_check(lost, actor=user)
    assert not Entry.objects.filter(kind="record-check").exists()
    assert NUMBER not in every_value_in_the_database()


def test_a_do_not_call_entry_renewed_while_its_number_is_erased_neither_deadlocks_nor_keeps_it(
        monkeypatch):
    """Renewing an expired entry took the chain's head (its removal entry), then the
    entry's row; the erasure takes the row, then the head: PostgreSQL found a deadlock, and
    the officer's page answered 500."""
    skip_unless_postgresql(connection)
    officer = make_user("officer", COMPLIANCE)
    suppression_add(key=phone_key(NUMBER), campaign=None, reason="request", source="typed",
                    actor=officer, expires_on=timezone.localdate() - timedelta(days=2))
    rows_held, go_on = threading.Event(), threading.Event()
    hold = erasure_module.chain_hold

    def holding_the_rows_a_while():
        rows_held.set()
        assert go_on.wait(60)
        hold()

    monkeypatch.setattr(erasure_module, "chain_hold", holding_the_rows_a_while)
    failures, writer = [], []
    erasing = threading.Thread(target=closing(
        lambda: forget_number(number=NUMBER, reference=REFERENCE), failures))
    erasing.start()
    assert rows_held.wait(30)
    renewing = threading.Thread(target=closing(lambda: (
        writer.append(connected_pid()),
        suppression_add(key=phone_key(NUMBER), campaign=None, reason="request",
                        source="typed", actor=officer)), failures))
    renewing.start()
    until_waiting_for_a_lock_or_done(renewing, writer)
    go_on.set()
    erasing.join(60)
    renewing.join(60)

    assert not failures
    removal = Entry.objects.get(kind="donotcall-removal")
    assert NUMBER not in json.dumps(removal.sent) and verify_chain().problem == ""


def test_an_entry_written_by_a_machine_whose_clock_is_ahead_is_erased_without_a_false_alarm(
        user, campaigns):
    """The erasure judged "written before it" by the clocks: an addition written a second
    before, by a machine two seconds ahead, was "erased before it was written", for good."""
    addition(actor=user, campaign=campaigns["00001"], phone=NUMBER,
             when=timezone.now() + timedelta(seconds=2))

    forget_number(number=NUMBER, reference=REFERENCE)

    assert verify_chain().problem == ""


def test_an_administrator_who_is_no_auditor_is_not_sent_to_an_empty_list(everywhere, client):
    """The link to the number's entries opened a timeline that searches one's own entries
    only, "No entries match", above the button erasing them."""
    client.force_login(make_user("admin", ADMINISTRATORS, is_staff=True))
    found = client.post(reverse("audit:forget"), {"number": NUMBER, "reference": REFERENCE})
    held = found.content.decode().split('data-testid="held-entries"', 1)[1].split("</p>")[0]
    assert "Only auditors may list its entries" in held and "href" not in held
