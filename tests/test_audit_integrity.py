"""Audit entries are append-only, chained by hashes, and verify_audit finds any tampering."""

import datetime
import gc
import hashlib
import hmac
import re
import threading
import time
from zoneinfo import ZoneInfo

import django
import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from audit import verify as verify_module
from audit.chain import (
    BEGUN,
    BEGUN_FIELDS,
    COMPLETED,
    COMPLETED_FIELDS,
    UNKEYED,
    begun_text,
    begun_texts,
    completed_text,
    link_hash,
    payload,
)
from audit.erasure import forget_number
from audit.findings import Finding, where
from audit.models import (
    GENESIS_HASH,
    AppendOnlyError,
    ChainCheck,
    ChainHead,
    Entry,
    Outcome,
    SearchTerm,
)
from audit.personal import KEY_UNKNOWN, current_key_id, digest
from audit.recording import (
    ChainBroken,
    _start_chain,
    entries_begin,
    entries_new,
    entries_reserve,
    entry_complete,
    entry_new,
)
from audit.services import TimelineFilters, entries_matching
from audit.signals import chain_broken
from audit.verify import Verdict, chain_check_if_due, chain_check_keep, verify_chain
from campaigns.models import Campaign
from campaigns.services import campaign_update
from portal.phones import phone_key
from portal.thulium import ThuliumError
from records.entries import RECORD_ADDITION
from records.models import AddedRecord
from records.services import added_values, record_add, record_add_begin_all, record_add_complete_all
from tests.audit_fixtures import addition, change, tamper
from tests.conftest import ADMINISTRATORS, AUDITORS, make_user, skip_unless_postgresql
from tests.db_threads import (
    closing,
    ended_once_waiting,
    named_threads,
    paused,
    started_until,
)
from tests.import_files import csv_bytes, people, previewed
from tests.scrapes import BEARER, TOKEN

pytestmark = pytest.mark.django_db

SALES = "00001"


@pytest.fixture
def sales(campaigns):
    return campaigns[SALES]


def verify_problem() -> str:
    with pytest.raises(CommandError) as failure:
        call_command("verify_audit")
    return str(failure.value)


# --- append-only --------------------------------------------------------------------


def test_a_completed_entry_cannot_be_saved_again(user, sales):
    entry = change(actor=user, campaign=sales, sent={"dialer": "predictive"}, reason="season")
    entry.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    assert Entry.objects.get().reason == "season"


def test_entries_cannot_be_deleted_one_by_one_or_in_bulk(user, sales):
    entry = addition(actor=user, campaign=sales, phone="601234567")
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        Entry.objects.filter(pk=entry.pk).delete()
    assert Entry.objects.count() == 1


def test_bulk_updates_are_refused(user, sales):
    entry = change(actor=user, campaign=sales, sent={"order": 7})
    with pytest.raises(AppendOnlyError):
        Entry.objects.update(outcome=Outcome.REFUSED)
    entry.outcome = Outcome.REFUSED
    with pytest.raises(AppendOnlyError), transaction.atomic():
        Entry.objects.bulk_update([entry], ["outcome"])
    assert Entry.objects.get().outcome == Outcome.SUCCEEDED


def test_entries_are_created_only_through_begin_which_links_them(user, sales):
    with pytest.raises(AppendOnlyError):
        Entry.objects.create(kind="campaign-change", actor=user, actor_username="manager",
                             campaign=sales, sent={})
    assert not Entry.objects.exists()


def test_a_pending_entry_is_completed_once_and_only_once(user, sales):
    entry = addition(actor=user, campaign=sales, phone="601234567", outcome="pending")
    stale_copy = Entry.objects.get(pk=entry.pk)
    entry_complete(entry, outcome=Outcome.SUCCEEDED, http_status=200,
                   results={"record_id": "231"})
    # Each in a transaction of its own, as a request's or a worker's would be.
    with pytest.raises(AppendOnlyError), transaction.atomic():
        entry_complete(entry, outcome=Outcome.FAILED)
    with pytest.raises(AppendOnlyError), transaction.atomic():
        entry_complete(stale_copy, outcome=Outcome.REFUSED, messages=["duplicate"])
    stored = Entry.objects.get()
    assert (stored.outcome, stored.results, stored.messages) == (
        "succeeded", {"record_id": "231"}, [])
    assert ChainHead.objects.get().seq == 2  # the refused completions took no link


# --- the chain ----------------------------------------------------------------------


def test_links_follow_the_order_of_events_across_kinds(user, sales):
    first = change(actor=user, campaign=sales, sent={"dialer": "predictive"}, outcome="pending")
    second = addition(actor=user, campaign=sales, phone="601234567", outcome="pending")
    record_add_complete_all([(second, added_values("231", http_status=200))])
    entry_complete(first, outcome=Outcome.REFUSED, http_status=400, messages=["Nie wolno"])

    assert (first.begin_seq, second.begin_seq) == (1, 2)
    assert (second.complete_seq, first.complete_seq) == (3, 4)
    assert first.begin_hash == link_hash(
        GENESIS_HASH, 1, BEGUN, payload({
            "kind": "campaign-change", "actor_id": user.pk, "actor_username": "manager",
            "campaign_id": sales.pk, "created_at": first.created_at,
            "sent": {"dialer": "predictive"}, "details": {"settings_before": sales.settings},
            "reason": "", "portal_request_id": "", "pii_key": "",
        }), entry_id=first.pk,
    )
    assert first.complete_hash == link_hash(
        second.complete_hash, 4, COMPLETED, payload({
            "begin_hash": first.begin_hash, "outcome": "refused",
            "completed_at": first.completed_at, "http_status": 400, "request_id": "",
            "messages": ["Nie wolno"], "detail": "", "results": {},
        })
    )
    assert ChainHead.objects.get().last_hash == first.complete_hash


def test_a_batch_begun_together_takes_consecutive_links_that_verify(user, sales, capsys):
    change(actor=user, campaign=sales, sent={"order": 3})
    batch = record_add_begin_all(campaign=sales, actor=user, payloads=[
        {"phone_number": number} for number in ("601234567", "601234568", "601234569")
    ])
    assert [entry.begin_seq for entry in batch] == [3, 4, 5]
    stored = Entry.objects.filter(pk=batch[1].pk).values(
        "kind", "campaign_id", "actor_id", "actor_username", "created_at", "sent",
        "portal_request_id", "reason", "details", "pii_key").get()
    # The chain covers the number by its keyed digest, never the number itself.
    stored["sent"] = {"phone_number": digest("601234568", stored["pii_key"])}
    assert batch[1].begin_hash == link_hash(batch[0].begin_hash, 4, BEGUN, payload(stored),
                                            entry_id=batch[1].pk)
    record_add_complete_all([(batch[2], added_values("9", http_status=200))])
    assert ChainHead.objects.get().seq == 6
    call_command("verify_audit")
    assert "The audit trail is intact: 4 entries, 6 links" in capsys.readouterr().out


def test_entries_made_together_are_each_as_entry_new_makes_it(user, sales,
                                                              django_assert_num_queries):
    sents = [{"phone_number": "601234567"}, {"phone_number": "601234568"}]
    made = entries_new(kind=RECORD_ADDITION.slug, actor=user, campaign=sales, sents=sents,
                       reason="season")
    alone = entry_new(kind=RECORD_ADDITION.slug, actor=user, campaign=sales, sent=sents[1],
                      reason="season")
    names = [field.attname for field in Entry._meta.concrete_fields
             if field.attname not in ("created_at", "portal_request_id")]
    assert [getattr(made[1], name) for name in names] == [getattr(alone, name) for name in names]
    assert [entry.sent for entry in made] == sents
    # Each its own empty values, as it is completed and erased on its own.
    assert made[0].messages is not made[1].messages and made[0].results is not made[1].results
    # Each its own state, not written yet, with the campaign and actor cached.
    assert made[1]._state.adding and made[1]._state.db is None
    assert made[1]._state.fields_cache is not made[0]._state.fields_cache
    with django_assert_num_queries(0):
        assert made[1].campaign == sales and made[1].actor == user


def test_entries_made_together_are_each_covered_as_alone(user, sales):
    """An import's claim writes the values its entries share once (chain.begun_texts)."""
    sents = [{"phone_number": "601234567", "identifier": "A-1",
              "record_fields": {"name": "Zoë", "amount": 1e16}},
             {"phone_number": "601234568", "record_fields": {"name": "Łukasz"}},
             {"phone_number": "601234569"}]
    made = entries_new(kind=RECORD_ADDITION.slug, actor=user, campaign=sales, sents=sents)
    made[2].details = {"other": True}  # not shared: written out on its own
    values = [{name: getattr(entry, name) for name in BEGUN_FIELDS} for entry in made]
    assert begun_texts(values) == [begun_text(each) for each in values]
    # Each text ends with what was sent, the last of the fields in the canonical order.
    assert max(BEGUN_FIELDS) == "sent"


def test_a_batch_given_its_numbers_keys_is_found_by_the_number_as_one_keyed_here(user, sales):
    """An import's claim hands over the keys its preview made, instead of parsing again."""
    numbers = ["+48 601 234 567", "601234568"]
    given = record_add_begin_all(campaign=sales, actor=user, phone_keys=[
        phone_key(number) for number in numbers], payloads=[
        {"phone_number": number} for number in numbers])
    found = [set(SearchTerm.objects.filter(entry=entry).values_list("term", flat=True))
             for entry in given]
    assert found == [{digest(phone_key(number), entry.pii_key)}
                     for number, entry in zip(numbers, given, strict=True)]
    assert set(AddedRecord.objects.values_list("phone_key", flat=True)) == {
        "48601234567", "48601234568"}


def test_verify_audit_vouches_for_a_trail_written_by_the_portal(user, campaigns, thulium,
                                                                 capsys):
    campaign_update(campaign=campaigns[SALES], changes={"dialer": "predictive"}, actor=user)
    record_add(campaign=campaigns[SALES], payload={"phone_number": "601234567"}, actor=user)
    thulium.state.fail_next("http_503")
    with pytest.raises(ThuliumError):
        record_add(campaign=campaigns[SALES], payload={"phone_number": "601234568"}, actor=user)

    call_command("verify_audit")

    assert "The audit trail is intact: 3 entries, 6 links" in capsys.readouterr().out


def test_times_given_in_another_zone_hash_the_same_after_the_database_gives_them_back(
    user, sales
):
    warsaw = ZoneInfo("Europe/Warsaw")
    change(actor=user, campaign=sales, sent={"order": 1},
           when=datetime.datetime(2026, 7, 1, 12, 0, 0, 250, tzinfo=warsaw))

    assert not verify_chain().problem


def test_large_floats_hash_the_same_after_the_database_gives_them_back(user, sales):
    change(actor=user, campaign=sales, sent={"parameters": {"x": 1e20, "y": 0.1, "z": 2.0}})
    assert Entry.objects.get().sent == {"parameters": {"x": 10**20, "y": 0.1, "z": 2.0}}
    assert not verify_chain().problem


@pytest.mark.parametrize("odd", [-0.0, float("nan"), float("inf")], ids=["-0.0", "NaN", "inf"])
def test_floats_jsonb_has_not_hash_as_the_database_gives_them_back(user, sales, odd):
    """PostgreSQL's jsonb gives back 0.0 for -0.0, and null for NaN and infinity (which
    Python's JSON reads in an answer): such an entry never verified, on PostgreSQL."""
    change(actor=user, campaign=sales, sent={"parameters": {"x": odd, "y": [odd]}})
    addition_entry = record_add_begin_all(campaign=sales, actor=user, payloads=[
        {"phone_number": "601234567", "record_fields": {"z": odd}}])[0]
    kept = 0.0 if odd == 0 else None
    assert Entry.objects.get(pk=addition_entry.pk).sent["record_fields"] == {"z": kept}
    assert not verify_chain().problem


def test_verify_names_an_entry_whose_request_was_edited(user, sales):
    entry = change(actor=user, campaign=sales, sent={"dialer": "predictive"})
    change(actor=user, campaign=sales, sent={"dialer": "preview"})
    tamper("UPDATE audit_entry SET sent = %s WHERE id = %s",
           ['{"dialer": "progressive"}', entry.pk])

    problem = verify_problem()

    assert f"entry #{entry.pk} (begun, link #1) does not match" in problem


def test_verify_names_an_entry_whose_outcome_was_edited(user, sales):
    entry = addition(actor=user, campaign=sales, phone="601234567", outcome="refused",
                     messages=["Numer już istnieje"])
    tamper("UPDATE audit_entry SET outcome = 'succeeded' WHERE id = %s", [entry.pk])

    problem = verify_problem()

    assert f"entry #{entry.pk} (completed, link #2) does not match" in problem


def test_verify_names_the_gap_a_deleted_entry_leaves(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})
    removed = addition(actor=user, campaign=sales, phone="601234567")
    kept = change(actor=user, campaign=sales, sent={"order": 2})
    tamper("DELETE FROM records_addedrecord WHERE entry_id = %s", [removed.pk])
    tamper("DELETE FROM audit_entry WHERE id = %s", [removed.pk])

    problem = verify_problem()

    assert (f"link #3 is missing: an entry was removed (the next link is "
            f"entry #{kept.pk} (begun, link #5))") in problem


def test_verify_notices_the_newest_entries_were_removed(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})
    newest = addition(actor=user, campaign=sales, phone="601234567")
    tamper("DELETE FROM records_addedrecord WHERE entry_id = %s", [newest.pk])
    tamper("DELETE FROM audit_entry WHERE id = %s", [newest.pk])

    assert "links #3 to #4 are missing: the newest entries were removed" in verify_problem()


def test_verify_names_an_entry_moved_to_another_place_in_the_chain(user, sales):
    first = change(actor=user, campaign=sales, sent={"order": 1}, outcome="pending")
    second = change(actor=user, campaign=sales, sent={"order": 2}, outcome="pending")
    # Swap their places: what the trail says happened first now appears second.
    tamper("UPDATE audit_entry SET begin_seq = 1000 + begin_seq")
    tamper("UPDATE audit_entry SET begin_seq = 1003 - begin_seq")

    problem = verify_problem()

    assert f"entry #{second.pk} (begun, link #1) does not match" in problem
    assert Entry.objects.get(pk=first.pk).begin_seq == 2


def test_verify_names_entries_whose_ids_were_swapped(user, sales):
    """Every reference to an entry (a retry's or an approval's related entry, an import
    row's step, an added record) goes by its id: swapped, they would name the other."""
    first = change(actor=user, campaign=sales, sent={"order": 1}, outcome="pending")
    second = change(actor=user, campaign=sales, sent={"order": 2}, outcome="pending")
    tamper("UPDATE audit_entry SET id = -id")
    tamper("UPDATE audit_entry SET id = %s WHERE id = %s", [second.pk, -first.pk])
    tamper("UPDATE audit_entry SET id = %s WHERE id = %s", [first.pk, -second.pk])

    assert f"entry #{second.pk} (begun, link #1) does not match" in verify_problem()


def test_verify_takes_the_links_written_before_they_covered_their_entry_s_id(user, sales):
    entry = change(actor=user, campaign=sales, sent={"order": 1}, outcome="pending")
    text = begun_text({name: getattr(entry, name) for name in BEGUN_FIELDS})
    older = link_hash(GENESIS_HASH, 1, BEGUN, text, key_id=UNKEYED)  # as such links were made
    assert older != entry.begin_hash
    tamper("UPDATE audit_entry SET begin_hash = %s", [older])
    tamper("UPDATE audit_chainhead SET last_hash = %s", [older])

    assert not verify_chain().problem


def test_verify_names_a_head_that_does_not_hold_its_last_link_s_hash(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})
    tamper("UPDATE audit_chainhead SET last_hash = %s", ["e" * 64])

    assert "the chain's head does not hold the hash of its last link #2" in verify_problem()


def test_verify_names_an_entry_inserted_without_a_link(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})
    tamper(
        "INSERT INTO audit_entry (kind, actor_id, actor_username, campaign_id, "
        "created_at, sent, outcome, messages, detail, details, results, reason, begin_hash, "
        "complete_hash, request_id, portal_request_id, pii_key) VALUES ('campaign-change', "
        "%s, 'manager', %s, %s, '{}', 'pending', '[]', '', '{}', '{}', '', '', '', '', '', '')",
        [user.pk, sales.pk, "2026-01-01 10:00:00+00:00"],
    )
    forged = Entry.objects.get(begin_seq=None)

    problem = verify_problem()

    assert f"entry #{forged.pk} is not in the chain" in problem


def test_verify_names_an_entry_slipped_in_after_the_newest_link(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})
    tamper(
        "INSERT INTO audit_entry (kind, actor_id, actor_username, campaign_id, "
        "created_at, sent, outcome, messages, detail, details, results, reason, begin_seq, "
        "begin_hash, complete_hash, request_id, portal_request_id, pii_key) VALUES "
        "('campaign-change', %s, 'manager', %s, %s, '{}', 'pending', '[]', '', '{}', '{}', "
        "'', 3, %s, '', '', '', '')",
        [user.pk, sales.pk, "2026-01-01 10:00:00+00:00", "f" * 64],
    )
    forged = Entry.objects.get(begin_seq=3)

    problem = verify_problem()

    assert f"entry #{forged.pk} has a link beyond the chain's head" in problem


def test_after_a_key_rotation_old_entries_verify_and_are_found_under_the_retired_key(
    user, sales, settings
):
    """docs/operations.md: a new AUDIT_PII_KEY, the old one kept in AUDIT_PII_RETIRED_KEYS."""
    old = record_add_begin_all(campaign=sales, actor=user,
                               payloads=[{"phone_number": "601234567"}])[0]
    settings.AUDIT_PII_RETIRED_KEYS = [settings.AUDIT_PII_KEY]
    settings.AUDIT_PII_KEY = "a-new-audit-key-for-the-test"
    new = record_add_begin_all(campaign=sales, actor=user,
                               payloads=[{"phone_number": "601234568"}])[0]

    assert new.pii_key != old.pii_key
    call_command("verify_audit")
    assert list(entries_matching(TimelineFilters(search="+48 601 234 567"))) == [old]
    # Without the old key, its entries cannot be checked, and verify_audit says so, and
    # what to do: it said the trail was tampered with.
    settings.AUDIT_PII_RETIRED_KEYS = []
    problem = verify_problem()
    assert problem.startswith("The audit trail cannot be verified: ")
    assert f"#{old.pk} (begun, link #1) cannot be checked" in problem
    assert "list the old one in AUDIT_PII_RETIRED_KEYS" in problem


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["record-addition", "campaign-change"])
def test_a_walk_that_stops_early_closes_its_cursors_in_its_own_transaction(user, sales,
                                                                           settings, kind):
    """Left to the garbage collector, a cursor would be closed in whatever transaction then
    runs (the worker checks the chain hourly): on PostgreSQL, failing that transaction, or
    hanging it (CI's PostgreSQL pass hung so, on a link made under a key left out)."""
    if kind == "record-addition":  # its digests' key is missing
        record_add_begin_all(campaign=sales, actor=user,
                             payloads=[{"phone_number": "601234567"}])
    else:  # its link's
        change(actor=user, campaign=sales, sent={"order": 1})
    settings.AUDIT_PII_KEY = "a-key-the-entry-was-not-made-with"
    gc.disable()  # the collector runs when the test says, not when it likes
    try:
        assert "cannot be checked" in verify_chain().problem
        with transaction.atomic():
            assert Entry.objects.count() == 1
            gc.collect()
            assert Entry.objects.count() == 1
    finally:
        gc.enable()


def test_verify_audit_exits_non_zero_on_tampering(user, sales, capsys, monkeypatch):
    entry = change(actor=user, campaign=sales, sent={"order": 1})
    tamper("UPDATE audit_entry SET reason = 'added later' WHERE id = %s",
           [entry.pk])
    # Django is set up already: setting it up again would tie the log handlers to this
    # test's captured stderr, closed once the test ends, and later logging would fail.
    monkeypatch.setattr(django, "setup", lambda *args, **kwargs: None)

    with pytest.raises(SystemExit) as exit_:
        execute_from_command_line(["manage.py", "verify_audit"])

    assert exit_.value.code == 1
    assert "The audit trail was tampered with" in capsys.readouterr().err


def test_a_log_cut_back_with_its_head_walks_intact_but_not_past_a_head_kept_elsewhere(
        user, sales, capsys):
    """The head printed by a run, kept outside the database, is what shows a log cut back
    (or rewritten with its hashes made anew): whoever may write the tables may make the
    hashes. docs/operations.md said to keep it; verify_audit had no way to be given it."""
    kept_entry = change(actor=user, campaign=sales, sent={"order": 1})
    cut = change(actor=user, campaign=sales, sent={"order": 2})
    call_command("verify_audit")
    kept = re.search(r"head (#\d+:[0-9a-f]{8}\.[0-9a-f]{64})", capsys.readouterr().out)[1]
    call_command("verify_audit", kept=[kept])
    # The newest entry removed, and the head moved back to the link before it.
    tamper("DELETE FROM audit_searchterm WHERE entry_id = %s", [cut.pk])
    tamper("DELETE FROM audit_entry WHERE id = %s", [cut.pk])
    tamper("UPDATE audit_chainhead SET seq = %s, last_hash = %s",
           [kept_entry.complete_seq, kept_entry.complete_hash])
    call_command("verify_audit")  # intact, without what was kept
    with pytest.raises(CommandError) as refused:
        call_command("verify_audit", kept=[kept])
    assert f"link #{cut.complete_seq}, kept as the head of an earlier check, is gone" in str(
        refused.value)
    with pytest.raises(CommandError, match="is not the one an earlier check kept"):
        call_command("verify_audit", kept=[f"#{kept_entry.complete_seq}:{'0' * 64}"])
    with pytest.raises(CommandError, match="--kept takes #SEQ:HASH"):
        call_command("verify_audit", kept=["#12:nothex"])


def test_only_a_missing_key_s_own_words_make_a_break_a_missing_key():
    """A reference written into an entry could hold those words, and pass tampering off as
    a key left out after a rotation."""
    missing = (f"entry #2 (begun, link #3) cannot be checked: audit personal-data key "
               f"ab12cd34 {KEY_UNKNOWN}")
    assert Verdict(2, 2, 4, "h", missing).key_missing
    forged = (f"entry #2 has a value erased on 2026-12-05 under “x {KEY_UNKNOWN}”, an erasure "
              "the log does not record: it was altered")
    assert not Verdict(2, 2, 4, "h", forged).key_missing


def test_a_check_is_named_by_its_time_in_the_portal_s_zone():
    check = ChainCheck(checked_at=datetime.datetime(2027, 7, 1, 8, 0, tzinfo=datetime.UTC),
                       intact=True, links=1)
    assert str(check) == "2027-07-01 10:00 CEST intact"  # it read 08:00, UTC with no zone


def test_a_check_kept_as_made_in_the_future_does_not_put_off_the_next(db):
    """Written by hand, a check "made" in 2999 stopped the worker's daily ones for good."""
    ChainCheck.objects.create(pk=ChainCheck.ONLY, checked_at=datetime.datetime(
        2999, 1, 1, tzinfo=datetime.UTC), intact=True, links=99, problem="")
    assert chain_check_if_due(24)
    assert ChainCheck.objects.get().checked_at.year != 2999


@pytest.fixture
def told():
    """The problems of the breaks told to staff (signals.chain_broken) during the test."""
    problems = []
    chain_broken.connect(lambda **kwargs: problems.append(kwargs["check"].problem),
                         weak=False, dispatch_uid="test-breaks-told")
    yield problems
    chain_broken.disconnect(dispatch_uid="test-breaks-told")


def linked_under_a_newer_key(user, sales, settings) -> tuple[str, object]:
    """A link made under this process's key, then one made under a newer key (by a process
    started after a rotation); returns the old key and the newer link's entry."""
    old_key = settings.AUDIT_PII_KEY
    change(actor=user, campaign=sales, sent={"order": 1})
    settings.AUDIT_PII_KEY, settings.AUDIT_PII_RETIRED_KEYS = "the-new-key", [old_key]
    return old_key, change(actor=user, campaign=sales, sent={"order": 2})


@pytest.mark.parametrize("intact", [True, False], ids=["intact", "broken"])
def test_a_last_check_written_by_hand_neither_puts_off_checks_nor_silences_the_alert(
        user, sales, client, settings, told, intact):
    """The portal's role may write the last check's row: kept "a minute ago", with the
    words of the break it was about to make, it put off the worker's checks, kept the alert
    from going out, and (said intact) showed the chain intact on /metrics."""
    change(actor=user, campaign=sales, sent={"order": 1})
    tamper("UPDATE audit_chainhead SET seq = seq + 5")
    problem = verify_chain().problem
    ChainCheck.objects.create(pk=ChainCheck.ONLY, intact=intact, links=2, problem=problem,
                              checked_at=timezone.now() - datetime.timedelta(minutes=1))
    settings.METRICS_TOKEN = TOKEN
    metrics = client.get("/metrics", headers={"Authorization": BEARER}).content.decode()
    assert "portal_audit_last_verify_" not in metrics  # absent, as never checked

    assert chain_check_if_due(24)

    assert told == [problem] and ChainCheck.objects.get().sealed
    assert not chain_check_if_due(24)  # checked just now


def test_a_worker_started_before_a_rotation_leaves_the_check_to_those_given_the_new_key(
        user, sales, settings, monkeypatch, caplog, told):
    """Still running with the old key alone, beside processes started with the new one, it
    found every newer link unverifiable and told staff of a break there was not."""
    old_key, _newer = linked_under_a_newer_key(user, sales, settings)
    settings.AUDIT_PII_KEY, settings.AUDIT_PII_RETIRED_KEYS = old_key, []
    monkeypatch.setitem(verify_module._checked_here, "at", time.monotonic() - 25 * 3600)

    assert not chain_check_if_due(24)

    assert told == [] and not ChainCheck.objects.exists()
    assert "restart it with the current AUDIT_PII_KEY" in caplog.text


def test_verify_audit_run_without_the_last_link_s_key_keeps_nothing_and_tells_no_break(
        user, sales, settings, told):
    """Run from cron on a machine not restarted after a rotation, it e-mailed every staff
    user that the trail was tampered with, and /metrics showed it broken."""
    old_key, _newer = linked_under_a_newer_key(user, sales, settings)
    new_key_id = link_key_of_current()
    settings.AUDIT_PII_KEY, settings.AUDIT_PII_RETIRED_KEYS = old_key, []

    problem = verify_problem()

    assert f"key id {new_key_id}" in problem
    assert "restart it with the current AUDIT_PII_KEY" in problem
    assert told == [] and not ChainCheck.objects.exists()


def test_a_retired_key_left_out_is_kept_as_the_last_check_but_told_to_no_one(
        user, sales, settings, told):
    """A missing key is no tampering: staff were e-mailed that the trail was tampered with."""
    old_key, newer = linked_under_a_newer_key(user, sales, settings)
    settings.AUDIT_PII_RETIRED_KEYS = []

    assert verify_problem().startswith("The audit trail cannot be verified: ")
    assert told == [] and not ChainCheck.objects.get().intact  # /metrics still shows it

    settings.AUDIT_PII_RETIRED_KEYS = [old_key]
    tamper("UPDATE audit_entry SET reason = 'added later' WHERE id = %s", [newer.pk])
    assert verify_problem().startswith("The audit trail was tampered with: ")
    assert len(told) == 1


@pytest.mark.django_db(transaction=True)
def test_two_first_checks_at_once_keep_one_row_and_tell_the_break_once(monkeypatch, told):
    """With no row yet to lock, both inserted theirs: the second failed on the first's key
    (a crashed verify_audit, or a worker's check lost). It now waits for the first's row
    and takes it."""
    skip_unless_postgresql(connection)
    finding = Finding("link-altered", where(2, BEGUN, 3))
    verdict = Verdict(2, 4, 4, "h", str(finding), finding.as_kept())
    inserted, go_on = paused(monkeypatch, ChainCheck, "save", after=True, on_thread="first")
    threads, failures, pids = named_threads({
        name: lambda: chain_check_keep(verdict) for name in ("first", "second")})
    started_until(threads["first"], inserted)
    threads["second"].start()
    ended_once_waiting(threads, pids, "second", go_on)

    assert failures == []
    assert told == [verdict.problem]
    check = ChainCheck.objects.get()
    assert check.sealed and check.problem == verdict.problem


def test_a_worker_checks_once_its_own_hours_pass_whatever_the_last_check_says(
        user, sales, monkeypatch):
    """A row kept fresh, even one a check sealed, put off every check."""
    change(actor=user, campaign=sales, sent={"order": 1})
    assert chain_check_if_due(24)
    assert not chain_check_if_due(24)
    monkeypatch.setitem(verify_module._checked_here, "at", time.monotonic() - 25 * 3600)
    assert chain_check_if_due(24)


def test_a_missing_head_stops_new_entries_instead_of_restarting_the_chain(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})
    tamper("DELETE FROM audit_chainhead")

    with pytest.raises(ChainBroken), transaction.atomic():
        change(actor=user, campaign=sales, sent={"order": 2})
    assert "head row is missing" in verify_problem()


def test_a_writer_that_found_no_head_uses_the_one_a_concurrent_writer_just_made(user, sales):
    # Two first entries at once (a change to several campaigns on a new log): both find no
    # head; the other one makes it and commits its entry before this one looks again.
    change(actor=user, campaign=sales, sent={"order": 1})
    with transaction.atomic():
        _start_chain()
    change(actor=user, campaign=sales, sent={"order": 2})
    call_command("verify_audit")  # raises CommandError on a broken chain


def test_entries_given_their_ids_first_keep_them_whatever_order_they_are_chained_in(user, sales):
    # An import's claim reserves its entries' ids, writes what refers to them, and only
    # then takes the chain's head. On SQLite the first reservation of a log creates the
    # counter that AUTOINCREMENT keeps.
    if connection.vendor == "sqlite":
        tamper("DELETE FROM sqlite_sequence WHERE name = 'audit_entry'")
    first, second = ([entry_new(kind=RECORD_ADDITION.slug, actor=user, campaign=sales,
                                sent={"phone_number": phone}) for phone in phones]
                     for phones in (["601234561", "601234562"], ["601234563"]))
    with transaction.atomic():
        entries_reserve(first)
        entries_reserve(second)
        entries_begin(second)
        entries_begin(first)
    reserved = [entry.pk for entry in first + second]
    later = addition(actor=user, campaign=sales, phone="601234564")

    assert len(set(reserved)) == 3 and later.pk > max(reserved)
    assert sorted(Entry.objects.values_list("pk", flat=True)) == sorted([*reserved, later.pk])
    assert [entry.pk for entry in Entry.objects.order_by("begin_seq")] == [
        second[0].pk, first[0].pk, first[1].pk, later.pk]
    assert set(SearchTerm.objects.filter(entry__in=reserved).values_list("entry_id", "term")) == {
        (entry.pk, digest(phone_key(entry.sent["phone_number"]), entry.pii_key))
        for entry in first + second}
    call_command("verify_audit")  # raises CommandError on a broken chain


@pytest.mark.django_db(transaction=True)
def test_the_first_entries_of_a_new_log_written_at_once_on_sqlite_get_ids_of_their_own(
        user, sales):
    """Each writer read SQLite's counter of ids and, finding none, made it in a statement
    of its own: two first entries at once both made it from 1, and the second's entry
    failed on the first's id (a server error for its user)."""
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's sequence gives the ids")
    tamper("DELETE FROM sqlite_sequence WHERE name = 'audit_entry'")
    counted, go_on, failures = threading.Event(), threading.Event(), []

    def paused_once_counted(execute, sql, params, many, context):
        done = execute(sql, params, many, context)
        if sql.startswith("UPDATE sqlite_sequence") and not counted.is_set():
            counted.set()
            assert go_on.wait(30)
        return done

    def letting_it_go_on(execute, sql, params, many, context):
        if sql.startswith("BEGIN"):  # waits for the other's transaction, if it is in one
            go_on.set()
        return execute(sql, params, many, context)

    def writer(wrapper, order):
        def write():
            try:
                with connection.execute_wrapper(wrapper):
                    change(actor=user, campaign=sales, sent={"order": order})
            finally:
                go_on.set()
        return threading.Thread(target=closing(write, failures))

    first, second = writer(paused_once_counted, 1), writer(letting_it_go_on, 2)
    first.start()
    assert counted.wait(30)  # it found no counter, and is about to make it
    second.start()
    for thread in (first, second):
        thread.join(60)

    assert failures == []
    assert sorted(Entry.objects.values_list("sent__order", flat=True)) == [1, 2]
    call_command("verify_audit")  # raises CommandError on a broken chain


# --- users and the admin ------------------------------------------------------------


def test_deleting_a_user_keeps_their_entries_with_their_name_and_id(user, sales):
    entry = change(actor=user, campaign=sales, sent={"dialer": "predictive"})
    user_id = user.pk

    user.delete()

    stored = Entry.objects.get(pk=entry.pk)
    assert (stored.actor_id, stored.actor_username) == (user_id, "manager")
    assert not verify_chain().problem


def test_the_auditors_group_can_see_everyones_actions(django_user_model):
    group = Group.objects.get(name="Auditors")
    member = django_user_model.objects.create_user("member")
    member.groups.add(group)

    assert list(group.permissions.values_list("codename", flat=True)) == ["view_audit_trail"]
    assert django_user_model.objects.get(pk=member.pk).has_perm("audit.view_audit_trail")


@pytest.mark.parametrize("kind", ["campaign-change", "record-addition"])
def test_the_admin_shows_entries_read_only_even_to_superusers(client, django_user_model, user,
                                                              sales, kind):
    entry = (change(actor=user, campaign=sales, sent={"order": 3}) if kind == "campaign-change"
             else addition(actor=user, campaign=sales, phone="601234567"))
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com",
                                                                  "x"))
    name = "admin:audit_entry"
    model = Entry

    assert client.get(reverse(f"{name}_changelist")).status_code == 200
    page = client.get(reverse(f"{name}_change", args=[entry.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(reverse(f"{name}_change", args=[entry.pk]), {}).status_code == 403
    assert client.post(reverse(f"{name}_delete", args=[entry.pk]), {"post": "yes"}).status_code \
        == 403
    assert client.get(reverse(f"{name}_add")).status_code == 403
    assert model.objects.filter(pk=entry.pk).exists()


def test_a_campaign_the_trail_mentions_cannot_be_deleted_in_the_admin(client, user, campaigns,
                                                                      django_user_model):
    sales, other = campaigns["00001"], campaigns["00002"]
    change(actor=user, campaign=sales, sent={"order": 3})
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "x"))

    delete = "admin:campaigns_campaign_delete"
    assert client.post(reverse(delete, args=[sales.pk]), {"post": "yes"}).status_code == 403
    assert b"delete_selected" not in client.get(
        reverse("admin:campaigns_campaign_changelist")).content
    assert client.post(reverse(delete, args=[other.pk]), {"post": "yes"}).status_code == 302
    assert list(Campaign.objects.filter(pk__in=[sales.pk, other.pk])) == [sales]
    # Nor renamed to another Thulium campaign, nor its settings changed past the audit.
    page = client.get(reverse("admin:campaigns_campaign_change", args=[sales.pk]))
    assert b'name="thulium_id"' not in page.content and b'name="settings"' not in page.content
    client.post(reverse("admin:campaigns_campaign_change", args=[sales.pk]), {
        "thulium_id": "ZZZZZ", "name": sales.name, "kind": sales.kind,
        "structure_fields": "", "settings": '{"order": 3}'})
    sales.refresh_from_db()
    assert sales.thulium_id == "00001" and sales.settings != {"order": 3}


def test_the_admin_keeps_imports_and_shows_entries_to_auditors_only(client, user, sales,
                                                                    logged_in):
    job = previewed(logged_in, sales, csv_bytes(people(1)))
    entry = addition(actor=user, campaign=sales, phone="601234567")
    administrator = make_user("boss", ADMINISTRATORS, is_staff=True)
    client.force_login(administrator)
    assert client.get(reverse("admin:audit_entry_change", args=[entry.pk])).status_code == 403
    assert client.post(reverse("admin:imports_importjob_delete", args=[job.pk]),
                       {"post": "yes"}).status_code == 403
    administrator.groups.add(Group.objects.get(name=AUDITORS))
    client.force_login(User.objects.get(pk=administrator.pk))
    page = client.get(reverse("admin:audit_entry_change", args=[entry.pk]))
    assert page.status_code == 200 and "601234567" in page.content.decode()


# --- the chain's key: the database's rights are not enough to make a link ----------------

def _plain_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _hmac_under(key: str):
    """Links made as the portal makes them, under `key` (an old one, or a guess)."""
    link_key = hmac.new(key.encode(), b"audit chain link", hashlib.sha256).digest()
    key_id = hashlib.sha256(key.encode()).hexdigest()[:8]
    return lambda text: f"{key_id}.{hmac.new(link_key, text.encode(), hashlib.sha256).hexdigest()}"


def forge_after(original: Entry, *, reason: str, hasher) -> Entry:
    """What whoever may write the tables can do without the portal's key: a copy of an entry
    with another reason, appended to the chain as the next two links, made by `hasher` from
    what the chain covers, and the head moved on to them."""
    head = ChainHead.objects.get()
    new_id = Entry.objects.order_by("-pk")[0].pk + 1
    copied = ", ".join(field.column for field in Entry._meta.concrete_fields if field.column not in
                       ("id", "reason", "begin_seq", "complete_seq", "begin_hash", "complete_hash"))
    tamper(f"INSERT INTO audit_entry (id, reason, begin_seq, complete_seq, begin_hash, "
           f"complete_hash, {copied}) SELECT %s, %s, %s, %s, '', '', {copied} "
           "FROM audit_entry WHERE id = %s",
           [new_id, reason, head.seq + 1, head.seq + 2, original.pk])
    forged = Entry.objects.get(pk=new_id)
    begun = begun_text({name: getattr(forged, name) for name in BEGUN_FIELDS})
    begin_hash = hasher(f"{head.last_hash}\n{head.seq + 1}\n{BEGUN}\n{new_id}\n{begun}")
    completed = completed_text({name: getattr(forged, name) for name in COMPLETED_FIELDS},
                               kind=forged.kind, pii_key=forged.pii_key, begin_hash=begin_hash)
    complete_hash = hasher(f"{begin_hash}\n{head.seq + 2}\n{COMPLETED}\n{completed}")
    tamper("UPDATE audit_entry SET begin_hash = %s, complete_hash = %s WHERE id = %s",
           [begin_hash, complete_hash, new_id])
    tamper("UPDATE audit_chainhead SET seq = %s, last_hash = %s",
           [head.seq + 2, complete_hash])
    return forged


def test_an_entry_appended_with_the_database_s_rights_alone_breaks_the_chain(user, sales):
    """The links were plain SHA-256: anyone with the portal's database credentials could
    append a backdated entry, or complete a pending one, and verify_audit found it intact."""
    entry = change(actor=user, campaign=sales, sent={"order": 1})
    assert entry.begin_hash.startswith(f"{current_key_id()}.")

    forged = forge_after(entry, reason="approved by phone", hasher=_plain_sha256)

    assert verify_problem() == (
        f"The audit trail was tampered with: entry #{forged.pk} (begun, link #3) is made "
        "without the chain's key, after links made with it: it was written by someone who "
        "had the database but not the portal's key. (2 links before it were intact.)")


def test_a_link_made_under_a_guessed_key_does_not_match(user, sales, settings):
    entry = change(actor=user, campaign=sales, sent={"order": 1})
    guessed = _hmac_under("a-guess")
    # Named as if made under the portal's own key: only the key makes the hash.
    forged = forge_after(entry, reason="x", hasher=lambda text: (
        link_key_of_current() + guessed(text)[8:]))

    assert f"entry #{forged.pk} (begun, link #3) does not match its hash" in verify_problem()


def test_a_pending_entry_completed_without_the_key_breaks_the_chain(user, sales):
    entry = change(actor=user, campaign=sales, sent={"order": 1}, outcome="pending")
    head = ChainHead.objects.get()
    completed = completed_text({**{name: None for name in COMPLETED_FIELDS},
                                "outcome": "succeeded", "messages": [], "detail": "",
                                "request_id": "", "results": {}},
                               kind=entry.kind, pii_key=entry.pii_key,
                               begin_hash=entry.begin_hash)
    forged = _plain_sha256(f"{head.last_hash}\n2\n{COMPLETED}\n{completed}")
    tamper("UPDATE audit_entry SET outcome = 'succeeded', complete_seq = 2, complete_hash = %s",
           [forged])
    tamper("UPDATE audit_chainhead SET seq = 2, last_hash = %s", [forged])

    assert (f"entry #{entry.pk} (completed, link #2) is made without the chain's key"
            in verify_problem())


def link_key_of_current() -> str:
    return ChainHead.objects.get().last_hash.split(".")[0]


def test_the_database_refuses_an_entry_linked_below_the_chain_s_first_link(user, sales):
    """verify_audit walks links 1 to the head: an entry copied in with links -2 and -1 was
    never read, and showed in the timeline as genuine."""
    entry = change(actor=user, campaign=sales, sent={"order": 1})
    copied = ", ".join(field.column for field in Entry._meta.concrete_fields
                       if field.column not in ("id", "begin_seq", "complete_seq"))
    with pytest.raises(django.db.IntegrityError, match="entry_links_from_one"):
        tamper(f"INSERT INTO audit_entry (id, begin_seq, complete_seq, {copied}) "
               f"SELECT id + 100, -2, -1, {copied} FROM audit_entry WHERE id = %s", [entry.pk])


def test_links_made_before_the_chain_was_keyed_verify_and_the_keyed_ones_follow(
        user, sales, monkeypatch):
    """An upgrade: the log's older links are plain SHA-256, its newer ones keyed."""
    with monkeypatch.context() as before_2026_12:
        before_2026_12.setattr("audit.recording.current_key_id", lambda: UNKEYED)
        older = change(actor=user, campaign=sales, sent={"order": 1})
    newer = change(actor=user, campaign=sales, sent={"order": 2})

    assert (len(older.complete_hash), len(newer.begin_hash)) == (64, 73)
    assert verify_chain() == Verdict(2, 4, 4, newer.complete_hash)


@pytest.mark.django_db(transaction=True)
def test_after_a_rotation_the_retired_key_makes_no_more_links(user, sales, settings):
    """The old key may have leaked (the reason to rotate it): links it makes after the
    chain moved on to the new one break it, whichever stretch walks them."""
    old_key = settings.AUDIT_PII_KEY
    before = [change(actor=user, campaign=sales, sent={"order": n}) for n in range(2)]
    settings.AUDIT_PII_RETIRED_KEYS = [old_key]
    settings.AUDIT_PII_KEY = "the-key-after-the-rotation"
    after = change(actor=user, campaign=sales, sent={"order": 3})
    assert link_key_of_current() != before[0].begin_hash.split(".")[0]
    assert not verify_chain().problem and not verify_chain(workers=3).problem

    forged = forge_after(after, reason="backdated", hasher=_hmac_under(old_key))

    gone_back = (f"entry #{forged.pk} (begun, link #7) is made under key "
                 f"{before[0].begin_hash.split('.')[0]}, which the chain had moved on from")
    assert verify_chain().problem.startswith(gone_back)
    assert verify_chain(workers=4).problem.startswith(gone_back)


def test_a_process_not_given_the_last_link_s_key_links_nothing(user, sales, settings):
    """One started before a rotation, beside those started after it: its links would go
    back to the old key, which verify_audit takes for a forgery."""
    old_key = settings.AUDIT_PII_KEY
    settings.AUDIT_PII_RETIRED_KEYS = [old_key]
    settings.AUDIT_PII_KEY = "the-key-after-the-rotation"
    linked = change(actor=user, campaign=sales, sent={"order": 1})
    settings.AUDIT_PII_KEY, settings.AUDIT_PII_RETIRED_KEYS = old_key, []

    with (pytest.raises(ChainBroken, match="restart it with the current AUDIT_PII_KEY"),
          transaction.atomic()):
        change(actor=user, campaign=sales, sent={"order": 2})
    assert Entry.objects.count() == 1
    # Nor can it check the link: a key left out, not a forgery, as verify_audit tells.
    verdict = verify_chain()
    assert verdict.key_missing
    assert verdict.problem.startswith(f"entry #{linked.pk} (begun, link #1) cannot be checked: "
                                      f"audit personal-data key {link_key_of_current()} is "
                                      "neither")


# --- a long chain, walked in stretches by forked processes -----------------------------


@pytest.mark.django_db(transaction=True)
def test_stretches_walked_at_once_report_the_first_break_in_chain_order(user, sales):
    entries = [change(actor=user, campaign=sales, sent={"order": n}) for n in range(6)]
    assert verify_chain(workers=3) == verify_chain(workers=1)
    assert verify_chain(workers=3).links == 12

    # Stretches of links 1-4, 5-8 and 9-12: the third finds a break too, but later.
    tamper("UPDATE audit_entry SET reason = 'added later' WHERE id IN (%s, %s)",
           [entries[2].pk, entries[4].pk])
    assert f"entry #{entries[2].pk} (begun, link #5) does not match" in (
        verify_chain(workers=3).problem)


@pytest.mark.django_db(transaction=True)
def test_an_entry_removed_where_two_stretches_meet_is_named(user, sales):
    entries = [change(actor=user, campaign=sales, sent={"order": n}) for n in range(4)]
    tamper("DELETE FROM audit_entry WHERE id = %s", [entries[1].pk])  # links 3 and 4

    verdict = verify_chain(workers=2)

    assert verdict.problem == "link #3 is missing: an entry was removed"
    assert (verdict.entries, verdict.links) == (1, 2)


# --- checked while the portal writes --------------------------------------------------


def _written_after(statement: str, write, failures: list):
    """An execute wrapper: once a statement holding `statement` ran, `write` runs to its
    end on a connection of its own, before the next statement."""
    def wrapper(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if statement in sql and write not in done:
            done.append(write)
            writer = threading.Thread(target=closing(write, failures))
            writer.start()
            writer.join(60)
        return result
    done = []
    return wrapper, done


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("written", "after"), [
    # The head, then the links beyond it.
    ("addition", 'SELECT "audit_chainhead"."seq" AS "seq" FROM'),
    # The erasures recorded, then the entries erased.
    ("erasure", '"audit_entry"."details" AS "details", "audit_entry"."reason"'),
], ids=["addition", "erasure"])
def test_what_is_written_while_the_chain_is_checked_is_left_for_the_next_check(
        user, sales, written, after):
    """Each statement of the check read the log as it was when that statement began: an
    entry committed after the head was read lay "beyond the chain's head", entries erased
    after the erasures were read were erased "when no erasure recorded in the log was", and
    staff were told of a break that never was."""
    skip_unless_postgresql(connection)
    admin = make_user("admin", ADMINISTRATORS)
    record_add(campaign=sales, payload={"phone_number": "601234567"}, actor=user)
    writes = {
        "addition": lambda: record_add(campaign=sales, payload={"phone_number": "601234568"},
                                       actor=user),
        "erasure": lambda: forget_number(number="601234567", reference="RODO-1", actor=admin),
    }
    failures = []
    wrapper, done = _written_after(after, writes[written], failures)

    with connection.execute_wrapper(wrapper):
        verdict = verify_chain(workers=1)

    assert (done, failures) == ([writes[written]], [])
    assert verdict.problem == ""
    assert verdict.links == 2
    assert verify_chain(workers=1) == Verdict(2, 4, 4, ChainHead.objects.get().last_hash)
