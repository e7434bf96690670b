"""The do-not-call list itself: what blocks where and until when, its audit entries, and
what an erasure leaves of it."""

import csv
import datetime
import io
from functools import partial
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.erasure import forget_number
from audit.export import COMMON_COLUMNS
from audit.models import Entry, SearchTerm
from audit.personal import digest
from audit.recording import WORKER
from audit.verify import verify_chain
from donotcall import lookup, services
from donotcall.checks import check_list_keys
from donotcall.entries import (
    DONOTCALL_ADDITION,
    DONOTCALL_REMOVAL,
    DONOTCALL_UPLOAD,
    EXPIRED_LONG_AGO,
)
from donotcall.lookup import blocked
from donotcall.models import Suppression
from donotcall.reading import NumbersRead
from donotcall.services import (
    AlreadySuppressed,
    suppression_add,
    suppression_remove,
    suppressions_add_all,
    suppressions_clear_expired,
    suppressions_upload,
)
from portal.phones import key_without_trunk_zero, number_key, phone_key
from tests.audit_fixtures import change
from tests.conftest import AUDITORS, COMPLIANCE, make_user

KEY = phone_key("601234567")
# One more than the most parameters SQLite takes in a query (SQLITE_MAX_VARIABLE_NUMBER).
PAST_SQLITE_PARAMETERS = 32_767


@pytest.fixture
def officer(db):
    return make_user("officer", COMPLIANCE)


def put(officer, number="601 234 567", campaign=None, **fields) -> Suppression:
    fields = {"reason": Suppression.Reason.CUSTOMER_REQUEST, "source": "typed", **fields}
    return suppression_add(key=phone_key(number.replace(" ", "")), campaign=campaign,
                           actor=officer, **fields)


def test_a_number_on_the_list_blocks_every_campaign_in_any_spelling(campaigns, officer):
    put(officer)
    for campaign in campaigns.values():
        assert blocked(campaign, [phone_key("+48601234567"), phone_key("600000000")]) == {KEY}
    # Written with the trunk 0 Poland no longer dials, as in an old customer file.
    assert blocked(campaigns["00001"], [number_key("0601 234 567")]) == {KEY}


def test_a_number_listed_for_one_campaign_blocks_only_that_one(campaigns, officer):
    first, second = campaigns["00001"], campaigns["00002"]
    put(officer, campaign=first)
    assert blocked(first, [KEY]) == {KEY}
    assert blocked(second, [KEY]) == set()


def test_an_entry_blocks_up_to_its_last_day_in_the_portal_time_zone(campaigns, officer):
    today = timezone.localdate()
    put(officer, expires_on=today)
    put(officer, "600000001", expires_on=today - datetime.timedelta(days=1))
    campaign = campaigns["00001"]
    assert blocked(campaign, [KEY, phone_key("600000001")]) == {KEY}
    assert Suppression.objects.get(phone_key=phone_key("600000001")).is_expired


def test_the_list_s_entries_read_in_the_reader_s_language(client, campaigns, officer):
    expired_on = timezone.localdate() - datetime.timedelta(days=1)
    put(officer, expires_on=expired_on)
    put(officer)
    client.force_login(officer)
    timeline = client.get("/audit/", HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "wygasł; numer dodano do listy ponownie" in timeline
    added = Entry.objects.filter(kind=DONOTCALL_ADDITION.slug).first()
    page = client.get(added.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "prośba klienta" in page and "wpisany ręcznie" in page
    # Its last day as the list shows days (it read "2026-12-04").
    expired = Entry.objects.filter(kind=DONOTCALL_ADDITION.slug).last()
    page = client.get(expired.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert expired_on.strftime("%d.%m.%Y") in page


def test_a_reason_a_user_typed_is_shown_as_typed_though_the_portal_has_the_word(
        client, campaigns, officer):
    """It was translated: "Cancel" read "Anuluj" on the Polish timeline."""
    change(actor=officer, campaign=campaigns["00001"], sent={"order": 3}, reason="Cancel")
    client.force_login(officer)
    timeline = client.get("/audit/", HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert '<small class="text-muted">Cancel</small>' in timeline


def test_entries_keyed_with_a_trunk_zero_before_it_was_dropped_are_keyed_anew(
        campaigns, officer):
    """Keyed "480601234567", an entry typed "0601 234 567" blocked nothing."""
    typed_with_zero = put(officer)
    also_plain = put(officer, "601 000 001", campaign=campaigns["00001"])
    plain = put(officer, "601 000 001")
    Suppression.objects.filter(pk=typed_with_zero.pk).update(
        phone_key="480601234567", digest=digest("480601234567"))
    Suppression.objects.filter(pk=also_plain.pk).update(
        phone_key="480601000001", digest=digest("480601000001"))
    Suppression.objects.filter(pk=plain.pk).update(campaign=campaigns["00001"])
    assert blocked(campaigns["00001"], [KEY]) == set()
    rekeying = import_module("donotcall.migrations.0003_rekey_numbers_written_with_a_trunk_zero")
    rekeying.rekey(django_apps, None)
    assert blocked(campaigns["00001"], [KEY]) == {KEY}
    assert Suppression.objects.get(pk=typed_with_zero.pk).phone_key == KEY
    # The same number listed plainly for the same campaign: the old one stays beside it.
    assert Suppression.objects.get(pk=also_plain.pk).phone_key == "480601000001"
    # Listed so again until the list was held to the record form's rules: keyed anew too.
    Suppression.objects.filter(pk=typed_with_zero.pk).update(
        phone_key="480601234567", digest=digest("480601234567"))
    import_module("donotcall.migrations.0005_rekey_numbers_listed_with_a_trunk_zero_since"
                  ).rekey(django_apps, None)
    assert Suppression.objects.get(pk=typed_with_zero.pk).phone_key == KEY
    assert key_without_trunk_zero("48226667788") == "48226667788"
    assert key_without_trunk_zero("440207946095") == "440207946095"


def test_the_same_number_and_scope_twice_is_refused(campaigns, officer):
    put(officer)
    with pytest.raises(AlreadySuppressed):
        put(officer, "+48 601 234 567")
    put(officer, campaign=campaigns["00001"])  # another scope is another entry
    assert Suppression.objects.count() == 2


def test_an_expired_entry_is_replaced_when_the_number_is_added_again(campaigns, officer):
    old = put(officer, expires_on=timezone.localdate() - datetime.timedelta(days=1))
    assert blocked(campaigns["00001"], [KEY]) == set()
    renewed = put(officer, note="asked again")
    assert list(Suppression.objects.values_list("pk", flat=True)) == [renewed.pk]
    assert not renewed.is_expired and blocked(campaigns["00001"], [KEY]) == {KEY}
    removal = Entry.objects.get(kind=DONOTCALL_REMOVAL.slug)
    assert (removal.details["digest"], removal.reason) == (old.digest, services.RENEWED)
    assert Entry.objects.filter(kind=DONOTCALL_ADDITION.slug).count() == 2


def test_an_entry_expired_longer_ago_than_the_list_keeps_is_deleted_with_its_audit_entry(
        campaigns, officer, settings, monkeypatch):
    """Expired, it blocked nothing, but was shown and exported with its number and note (a
    name) for good."""
    settings.DONOTCALL_KEEP_DAYS = 30
    monkeypatch.setattr(services, "CLEAR_CHUNK", 1)  # a chunk each, till none is left
    today = timezone.localdate()
    for number, ended_days_ago in [("601000001", 31), ("601000002", 400), ("601000003", 30),
                                   ("601000004", -1), ("601000005", None)]:
        put(officer, number, note=f"Zofia {number}", campaign=campaigns["00001"],
            expires_on=(today - datetime.timedelta(days=ended_days_ago)
                        if ended_days_ago is not None else None))

    assert suppressions_clear_expired() == 2

    assert sorted(Suppression.objects.values_list("phone_key", flat=True)) == [
        "48601000003", "48601000004", "48601000005"]
    removals = Entry.objects.filter(kind=DONOTCALL_REMOVAL.slug).order_by("pk")
    assert [(entry.actor_id, entry.actor_username, entry.reason, entry.sent["phone_number"],
             entry.sent["note"], entry.campaign.thulium_id) for entry in removals] == [
        (None, WORKER, EXPIRED_LONG_AGO, "+48601000002", "Zofia 601000002", "00001"),
        (None, WORKER, EXPIRED_LONG_AGO, "+48601000001", "Zofia 601000001", "00001")]
    assert suppressions_clear_expired() == 0
    settings.DONOTCALL_KEEP_DAYS = 0  # kept
    assert suppressions_clear_expired(now=timezone.now() + datetime.timedelta(days=999)) == 0
    assert Suppression.objects.count() == 3


def test_a_check_of_one_number_or_of_more_than_sqlite_s_parameters_is_one_query(
        campaigns, officer):
    """However many numbers (past SQLite's 32,766 parameters a query failed), one query,
    and the same answers: a number listed for all campaigns, one for this campaign, not
    one for another campaign, nor an expired one."""
    campaign, other = campaigns["00001"], campaigns["00002"]
    put(officer)
    put(officer, "600000001", campaign=campaign)
    put(officer, "600000002", campaign=other)
    put(officer, "600000003", expires_on=timezone.localdate() - datetime.timedelta(days=1))
    listed = [phone_key(f"60000000{n}") for n in range(1, 4)]
    many = [str(48500000000 + n) for n in range(PAST_SQLITE_PARAMETERS)] + [KEY, *listed]
    for keys, found, of_campaign in (([KEY], {KEY}, set()),
                                     (many, {KEY, listed[0]}, {listed[0]})):
        with CaptureQueriesContext(connection) as queries:
            assert blocked(campaign, keys) == found
            assert set(lookup.listed(keys, campaign).values()) == of_campaign
        assert len(queries) == 2


def test_a_file_of_more_numbers_than_sqlite_s_parameters_reads_the_list_in_one_query(
        campaigns, officer):
    """The list was read in chunks of 500 numbers, a query each, unless it was short beside
    them: 4.8 s of an upload of 200,000 numbers listed already on PostgreSQL. Now one
    query, however many (past SQLite's 32,766 parameters one would fail), and the counts
    the same: the expired renewed, the current on the list already."""
    keys = [str(48500000000 + n) for n in range(PAST_SQLITE_PARAMETERS)]
    before = keys[::9]  # more than a tenth of them: the list was not read whole
    upload = partial(suppressions_upload, campaign=None, reason="regulator", actor=officer,
                     file_name="lista.csv")
    upload(read=NumbersRead(keys=before))
    Suppression.objects.filter(phone_key=keys[0]).update(
        expires_on=timezone.localdate() - datetime.timedelta(days=1))
    with CaptureQueriesContext(connection) as queries:
        assert upload(read=NumbersRead(keys=keys)) == (len(keys) - len(before), 1,
                                                       len(before) - 1)
    reads = [query for query in queries
             if query["sql"].startswith("SELECT") and "donotcall_suppression" in query["sql"]]
    assert len(reads) == 2  # the lookup, and the expired entry's locking read
    assert Entry.objects.latest("pk").details == {
        "added": len(keys) - len(before), "renewed": 1, "already": len(before) - 1,
        "repeated": 0, "invalid": 0}
    assert blocked(campaigns["00001"], keys) == set(keys)


def test_every_change_is_an_audit_entry_found_by_the_number(campaigns, officer):
    suppression = put(officer, note="asked on the phone", campaign=campaigns["00001"])
    suppressions_add_all(keys=[phone_key("600000002")], campaign=None, reason="complaint",
                         source="upload", actor=officer, details={"file_name": "lista.csv"})
    suppression_remove(suppression=suppression, reason="entered by mistake", actor=officer)
    added = Entry.objects.filter(kind=DONOTCALL_ADDITION.slug).order_by("pk")
    assert [entry.sent["phone_number"] for entry in added] == ["+48601234567", "+48600000002"]
    assert added[0].sent["note"] == "asked on the phone"
    assert added[0].sent["campaign"] == "00001"
    assert added[1].details["file_name"] == "lista.csv"
    removal = Entry.objects.get(kind=DONOTCALL_REMOVAL.slug)
    assert removal.reason == "entered by mistake"
    assert removal.actor_username == "officer"
    assert SearchTerm.objects.filter(entry=removal, term=digest(KEY)).exists()
    assert not Suppression.objects.filter(pk=suppression.pk).exists()


def test_an_erased_number_stays_blocked_by_its_digest_alone(campaigns, officer):
    put(officer, note="Jan Kowalski asked")
    report = forget_number(number="601-234-567", reference="RODO-7")
    assert report.held  # found only on the list, the number was held by the portal
    assert report.counts["donotcall"] == 1
    suppression = Suppression.objects.get()
    assert suppression.phone_key == ""
    assert suppression.erased_at is not None
    assert "Jan" not in suppression.note
    assert blocked(campaigns["00001"], [KEY]) == {KEY}
    entry = Entry.objects.get(kind=DONOTCALL_ADDITION.slug)
    assert entry.erased_at is not None
    assert "601234567" not in str(entry.sent)


def test_the_removal_of_an_erased_number_s_entry_is_found_by_the_number(
        client, campaigns, officer):
    """Its entry names no number: the audit trail's search found the addition and the
    erasure, not the removal, and the number read as listed still."""
    suppression = put(officer)
    forget_number(number="601 234 567", reference="RODO-8")
    suppression_remove(suppression=suppression, reason="wpis omyłkowy", actor=officer)
    client.force_login(make_user("auditor", AUDITORS))
    found = client.get(reverse("audit:timeline"), {"q": "601 234 567"}).context["page"].rows
    assert {row.entry.kind for row in found} == {
        DONOTCALL_ADDITION.slug, DONOTCALL_REMOVAL.slug, "erasure"}


def test_a_removal_of_an_erased_number_s_entry_written_without_a_term_is_given_one(
        campaigns, officer, monkeypatch):
    suppression = put(officer)
    forget_number(number="601 234 567", reference="RODO-8")
    with monkeypatch.context() as before:  # its kind had no search place
        before.setattr("audit.recording._search_places", lambda slug, stage: ("", (), ()))
        suppression_remove(suppression=suppression, reason="wpis omyłkowy", actor=officer)
    removal = Entry.objects.get(kind=DONOTCALL_REMOVAL.slug)
    assert not SearchTerm.objects.filter(entry=removal).exists()
    import_module("donotcall.migrations.0006_removals_of_erased_numbers_found_by_the_number"
                  ).add_terms(django_apps, None)
    assert list(SearchTerm.objects.filter(entry=removal).values_list("term", flat=True)) == [
        digest(KEY)]


def test_the_same_entry_committed_meanwhile_is_refused_not_an_error(campaigns, officer,
                                                                    monkeypatch):
    first = put(officer)
    real = services.suppression_existing
    answers = iter([None])  # the check ran before the other officer's entry committed
    monkeypatch.setattr(services, "suppression_existing",
                        lambda key, campaign: next(answers, None) or real(key, campaign))
    with pytest.raises(AlreadySuppressed) as refused:
        put(officer)
    assert refused.value.suppression == first


def test_the_lists_export_columns_leave_the_shared_ones_alone():
    for kind in (DONOTCALL_ADDITION, DONOTCALL_REMOVAL):
        assert not {column for column, _place in kind.export_columns} & set(COMMON_COLUMNS)


def test_a_list_written_under_a_key_the_portal_lost_stops_it_starting(campaigns, officer,
                                                                     settings):
    put(officer)
    assert check_list_keys(None, databases=["default"]) == []
    old = settings.AUDIT_PII_KEY
    settings.AUDIT_PII_KEY, settings.AUDIT_PII_RETIRED_KEYS = "a-new-key", []
    assert blocked(campaigns["00001"], [KEY]) == set()  # what the check guards against
    (error,) = check_list_keys(None, databases=["default"])
    assert error.id == "donotcall.E001" and "AUDIT_PII_RETIRED_KEYS" in error.hint
    settings.AUDIT_PII_RETIRED_KEYS = [old]  # the rotation as documented
    assert check_list_keys(None, databases=["default"]) == []
    assert blocked(campaigns["00001"], [KEY]) == {KEY}


def test_the_start_up_check_reads_the_list_s_keys_unsorted(campaigns, officer):
    """Kept, the list's ordering made its DISTINCT one of every entry, sorted: 23 s at a
    million entries, at every migrate."""
    put(officer)
    with CaptureQueriesContext(connection) as queries:
        check_list_keys(None, databases=["default"])
    (read,) = [query["sql"] for query in queries]
    assert "DISTINCT" in read and "ORDER BY" not in read and "created_at" not in read


def test_an_upload_is_one_entry_found_by_each_number_and_an_erasure_leaves_it(
        client, campaigns, officer):
    """Its numbers are found in the audit trail by its entry, which holds none of them: an
    erasure of one blanks its row (still blocking), leaves the entry, and the number is
    found by the upload, the erasure and the removal, which links to the upload."""
    read = NumbersRead(keys=[KEY, phone_key("600000002")], repeated=1, invalid_count=2)
    assert suppressions_upload(read=read, campaign=campaigns["00001"], reason="regulator",
                               note="lista UKE", actor=officer,
                               file_name="lista.csv") == (2, 0, 0)
    upload = Entry.objects.get(kind=DONOTCALL_UPLOAD.slug)
    assert not Entry.objects.exclude(pk=upload.pk).exists()
    assert (upload.actor_username, upload.sent["note"], upload.details) == (
        "officer", "lista UKE",
        {"added": 2, "renewed": 0, "already": 0, "repeated": 1, "invalid": 2})
    assert "601234567" not in str(upload.sent)
    client.force_login(make_user("auditor", AUDITORS))
    found = client.get(reverse("audit:timeline"), {"q": "600 000 002"}).context["page"].rows
    assert [row.entry.pk for row in found] == [upload.pk]
    page = client.get(upload.get_absolute_url()).content.decode()
    assert ("Put on the list: 2. Renewed (put on the list again in place of their expired "
            "entries): 0. On the list already: 0.") in page
    exported = b"".join(client.get(reverse("audit:export_csv")).streaming_content).decode()
    (values,) = csv.DictReader(io.StringIO(exported.removeprefix("\ufeff")), delimiter=";")
    assert (values["file_name"], values["donotcall_added"], values["donotcall_scope"]) == (
        "lista.csv", "2", "00001")

    report = forget_number(number="601 234 567", reference="RODO-9")
    assert (report.counts["entries"], report.counts["donotcall"]) == (0, 1)
    erased = Suppression.objects.get(digest=digest(KEY))
    assert (erased.phone_key, erased.upload_entry_id) == ("", upload.pk)
    assert blocked(campaigns["00001"], [KEY]) == {KEY}
    upload.refresh_from_db()
    assert (upload.erased_at, upload.sent["note"]) == (None, "lista UKE")
    suppression_remove(suppression=erased, reason="wpis omyłkowy", actor=officer)
    removal = Entry.objects.get(kind=DONOTCALL_REMOVAL.slug)
    assert removal.sent["upload_entry"] == upload.pk
    found = client.get(reverse("audit:timeline"), {"q": "601 234 567"}).context["page"].rows
    assert {row.entry.kind for row in found} == {
        DONOTCALL_UPLOAD.slug, DONOTCALL_REMOVAL.slug, "erasure"}
    assert not verify_chain().problem


@pytest.mark.parametrize("expired", [1, 30])
def test_an_upload_renewing_expired_entries_is_its_one_entry_and_each_keeps_its_earlier_ones(
        client, campaigns, officer, expired):
    """Each expired entry an upload renewed had a removal entry of its own (two links of the
    chain): a regulator's list uploaded again each month took 20 s for 20,000 numbers. The
    upload's entry now counts them, its numbers block until its own last day, and a number
    is found by the entry that listed it before (which says by whom and until when), then
    by the upload that took that entry off."""
    today = timezone.localdate()
    typed = phone_key("600000001")
    put(officer, "600 000 001", expires_on=today - datetime.timedelta(days=1))
    uploaded = [phone_key(str(700_000_000 + n)) for n in range(expired)]
    suppressions_upload(read=NumbersRead(keys=uploaded), campaign=None, reason="regulator",
                        expires_on=today + datetime.timedelta(days=3), actor=officer,
                        file_name="styczen.csv")
    last_month = Entry.objects.get(kind=DONOTCALL_UPLOAD.slug)
    Suppression.objects.filter(upload_entry=last_month).update(
        expires_on=today - datetime.timedelta(days=1))
    written = Entry.objects.count()
    until = today + datetime.timedelta(days=30)
    new = phone_key("600000009")

    assert suppressions_upload(
        read=NumbersRead(keys=[typed, *uploaded, new]), campaign=None, reason="regulator",
        expires_on=until, actor=officer, file_name="luty.csv") == (1, expired + 1, 0)

    assert Entry.objects.count() == written + 1
    renewal = Entry.objects.latest("pk")
    assert (renewal.kind, renewal.details) == (DONOTCALL_UPLOAD.slug, {
        "added": 1, "renewed": expired + 1, "already": 0, "repeated": 0, "invalid": 0})
    assert not Entry.objects.filter(kind=DONOTCALL_REMOVAL.slug).exists()
    assert set(Suppression.objects.values_list("expires_on", "upload_entry")) == {
        (until, renewal.pk)}
    assert blocked(campaigns["00001"], [typed, *uploaded, new]) == {typed, *uploaded, new}
    client.force_login(make_user("auditor", AUDITORS))
    for number, before in (("600 000 001", DONOTCALL_ADDITION.slug),
                           ("700 000 000", DONOTCALL_UPLOAD.slug)):
        found = client.get(reverse("audit:timeline"), {"q": number}).context["page"].rows
        assert [row.entry.kind for row in found] == [DONOTCALL_UPLOAD.slug, before]
        assert found[0].entry == renewal
    assert found[1].entry == last_month
    page = client.get(renewal.get_absolute_url()).content.decode()
    assert (f"Put on the list: 1. Renewed (put on the list again in place of their expired "
            f"entries): {expired + 1}. On the list already: 0.") in page
    assert "A renewed number's expired entry was taken off by this upload" in page
    exported = b"".join(client.get(reverse("audit:export_csv"),
                                   {"kind": DONOTCALL_UPLOAD.slug}).streaming_content).decode()
    rows = csv.DictReader(io.StringIO(exported.removeprefix("\ufeff")), delimiter=";")
    assert {row["file_name"]: (row["donotcall_added"], row["donotcall_renewed"])
            for row in rows} == {"luty.csv": ("1", str(expired + 1)),
                                 "styczen.csv": (str(expired), "0")}
    assert not verify_chain().problem
