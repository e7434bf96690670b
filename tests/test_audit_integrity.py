"""Audit entries are append-only, chained by hashes, and verify_audit finds any tampering."""

import datetime
from importlib import import_module
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from audit.chain import BEGUN, COMPLETED, ChainBroken, link_hash, payload
from audit.models import GENESIS_HASH, ChainHead
from audit.verify import verify_chain
from campaigns.models import CampaignChange
from campaigns.services import campaign_update
from portal.auditing import AppendOnlyError, Outcome
from portal.thulium import ThuliumError
from records.models import RecordAddition
from records.services import record_add, record_add_begin_all
from tests.audit_fixtures import addition, change, tamper, triggers_off

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
    assert CampaignChange.objects.get().reason == "season"


def test_entries_cannot_be_deleted_one_by_one_or_in_bulk(user, sales):
    entry = addition(actor=user, campaign=sales, phone="601234567")
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        RecordAddition.objects.filter(pk=entry.pk).delete()
    assert RecordAddition.objects.count() == 1


def test_bulk_updates_are_refused(user, sales):
    entry = change(actor=user, campaign=sales, sent={"order": 7})
    with pytest.raises(AppendOnlyError):
        CampaignChange.objects.update(outcome=Outcome.REFUSED)
    entry.outcome = Outcome.REFUSED
    with pytest.raises(AppendOnlyError), transaction.atomic():
        CampaignChange.objects.bulk_update([entry], ["outcome"])
    assert CampaignChange.objects.get().outcome == Outcome.SUCCEEDED


def test_entries_are_created_only_through_begin_which_links_them(user, sales):
    with pytest.raises(AppendOnlyError):
        CampaignChange.objects.create(actor=user, actor_username="manager", campaign=sales,
                                      sent={})
    assert not CampaignChange.objects.exists()


def test_a_pending_entry_is_completed_once_and_only_once(user, sales):
    entry = addition(actor=user, campaign=sales, phone="601234567", outcome="pending")
    stale_copy = RecordAddition.objects.get(pk=entry.pk)
    entry.complete(outcome=Outcome.SUCCEEDED, http_status=200, record_id="231")
    with pytest.raises(AppendOnlyError):
        entry.complete(outcome=Outcome.FAILED)
    with pytest.raises(AppendOnlyError):
        stale_copy.complete(outcome=Outcome.REFUSED, messages=["duplicate"])
    stored = RecordAddition.objects.get()
    assert (stored.outcome, stored.record_id, stored.messages) == ("succeeded", "231", [])
    assert ChainHead.objects.get().seq == 2  # the refused completions took no link


# --- the chain ----------------------------------------------------------------------


def test_links_follow_the_order_of_events_across_kinds(user, sales):
    first = change(actor=user, campaign=sales, sent={"dialer": "predictive"}, outcome="pending")
    second = addition(actor=user, campaign=sales, phone="601234567", outcome="pending")
    second.complete(outcome=Outcome.SUCCEEDED, http_status=200, record_id="231")
    first.complete(outcome=Outcome.REFUSED, http_status=400, messages=["Nie wolno"])

    assert (first.begin_seq, second.begin_seq) == (1, 2)
    assert (second.complete_seq, first.complete_seq) == (3, 4)
    assert first.begin_hash == link_hash(
        GENESIS_HASH, 1, "campaigns.campaignchange", BEGUN, payload({
            "actor_id": user.pk, "actor_username": "manager", "campaign_id": sales.pk,
            "created_at": first.created_at, "sent": {"dialer": "predictive"},
            "settings_before": sales.settings, "reason": "", "portal_request_id": "",
        })
    )
    assert first.complete_hash == link_hash(
        second.complete_hash, 4, "campaigns.campaignchange", COMPLETED, payload({
            "begin_hash": first.begin_hash, "outcome": "refused",
            "completed_at": first.completed_at, "http_status": 400, "request_id": "",
            "messages": ["Nie wolno"], "detail": "",
        })
    )
    assert ChainHead.objects.get().last_hash == first.complete_hash


def test_a_batch_begun_together_takes_consecutive_links_that_verify(user, sales, capsys):
    change(actor=user, campaign=sales, sent={"order": 3})
    batch = record_add_begin_all(campaign=sales, actor=user, payloads=[
        {"phone_number": number} for number in ("601234567", "601234568", "601234569")
    ])
    assert [entry.begin_seq for entry in batch] == [3, 4, 5]
    assert batch[1].begin_hash == link_hash(
        batch[0].begin_hash, 4, "records.recordaddition", BEGUN,
        payload(RecordAddition.objects.filter(pk=batch[1].pk).values(
            "campaign_id", "actor_id", "actor_username", "created_at", "sent",
            "portal_request_id", "phone_number", "phone_key", "identifier").get()),
    )
    batch[2].complete(outcome=Outcome.SUCCEEDED, http_status=200, record_id="9")
    assert ChainHead.objects.get().seq == 6
    call_command("verify_audit")
    assert "The audit trail is intact: 4 entries, 6 links" in capsys.readouterr().out


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
    assert CampaignChange.objects.get().sent == {"parameters": {"x": 10**20, "y": 0.1, "z": 2.0}}
    assert not verify_chain().problem


def test_verify_names_an_entry_whose_request_was_edited(user, sales):
    entry = change(actor=user, campaign=sales, sent={"dialer": "predictive"})
    change(actor=user, campaign=sales, sent={"dialer": "preview"})
    tamper("UPDATE campaigns_campaignchange SET sent = %s WHERE id = %s",
           ['{"dialer": "progressive"}', entry.pk])

    problem = verify_problem()

    assert f"campaigns.campaignchange #{entry.pk} (begun, link #1) does not match" in problem


def test_verify_names_an_entry_whose_outcome_was_edited(user, sales):
    entry = addition(actor=user, campaign=sales, phone="601234567", outcome="refused",
                     messages=["Numer już istnieje"])
    tamper("UPDATE records_recordaddition SET outcome = 'succeeded' WHERE id = %s", [entry.pk])

    problem = verify_problem()

    assert f"records.recordaddition #{entry.pk} (completed, link #2) does not match" in problem


def test_verify_names_the_gap_a_deleted_entry_leaves(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})
    removed = addition(actor=user, campaign=sales, phone="601234567")
    kept = change(actor=user, campaign=sales, sent={"order": 2})
    tamper("DELETE FROM records_recordaddition WHERE id = %s", [removed.pk])

    problem = verify_problem()

    assert (f"link #3 is missing: an entry was removed (the next link is "
            f"campaigns.campaignchange #{kept.pk} (begun, link #5))") in problem


def test_verify_notices_the_newest_entries_were_removed(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})
    newest = addition(actor=user, campaign=sales, phone="601234567")
    tamper("DELETE FROM records_recordaddition WHERE id = %s", [newest.pk])

    assert "links #3 to #4 are missing: the newest entries were removed" in verify_problem()


def test_verify_names_an_entry_moved_to_another_place_in_the_chain(user, sales):
    first = change(actor=user, campaign=sales, sent={"order": 1}, outcome="pending")
    second = change(actor=user, campaign=sales, sent={"order": 2}, outcome="pending")
    # Swap their places: what the trail says happened first now appears second.
    tamper("UPDATE campaigns_campaignchange SET begin_seq = -begin_seq")
    tamper("UPDATE campaigns_campaignchange SET begin_seq = 3 + begin_seq")

    problem = verify_problem()

    assert f"campaigns.campaignchange #{second.pk} (begun, link #1) does not match" in problem
    assert CampaignChange.objects.get(pk=first.pk).begin_seq == 2


def test_verify_names_an_entry_inserted_without_a_link(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})
    tamper(
        "INSERT INTO campaigns_campaignchange (actor_id, actor_username, campaign_id, "
        "created_at, sent, outcome, messages, detail, settings_before, reason, begin_hash, "
        "complete_hash, request_id, portal_request_id) VALUES (%s, 'manager', %s, %s, '{}', "
        "'pending', '[]', '', '{}', '', '', '', '', '')",
        [user.pk, sales.pk, "2026-01-01 10:00:00+00:00"],
    )
    forged = CampaignChange.objects.get(begin_seq=None)

    problem = verify_problem()

    assert f"campaigns.campaignchange #{forged.pk} is not in the chain" in problem


def test_verify_names_an_entry_slipped_in_after_the_newest_link(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})
    tamper(
        "INSERT INTO campaigns_campaignchange (actor_id, actor_username, campaign_id, "
        "created_at, sent, outcome, messages, detail, settings_before, reason, begin_seq, "
        "begin_hash, complete_hash, request_id, portal_request_id) VALUES (%s, 'manager', %s, "
        "%s, '{}', 'pending', '[]', '', '{}', '', 3, %s, '', '', '')",
        [user.pk, sales.pk, "2026-01-01 10:00:00+00:00", "f" * 64],
    )
    forged = CampaignChange.objects.get(begin_seq=3)

    problem = verify_problem()

    assert f"campaigns.campaignchange #{forged.pk} has a link beyond the chain's head" in problem


def test_verify_audit_exits_non_zero_on_tampering(user, sales, capsys):
    entry = change(actor=user, campaign=sales, sent={"order": 1})
    tamper("UPDATE campaigns_campaignchange SET reason = 'added later' WHERE id = %s",
           [entry.pk])

    with pytest.raises(SystemExit) as exit_:
        execute_from_command_line(["manage.py", "verify_audit"])

    assert exit_.value.code == 1
    assert "The audit trail was tampered with" in capsys.readouterr().err


def test_a_missing_head_stops_new_entries_instead_of_restarting_the_chain(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})
    tamper("DELETE FROM audit_chainhead")

    with pytest.raises(ChainBroken):
        change(actor=user, campaign=sales, sent={"order": 2})
    assert "head row is missing" in verify_problem()


def test_entries_recorded_before_the_chain_are_linked_by_the_migration(user, sales):
    # The historical models, as the migration sees them: no guards, no links yet.
    state = MigrationExecutor(connection).loader.project_state([
        ("audit", "0001_initial"), ("campaigns", "0004_audit_chain_and_timeline_indexes"),
        ("records", "0003_audit_chain_and_timeline_indexes"),
    ])
    old_change = state.apps.get_model("campaigns", "CampaignChange")
    old_addition = state.apps.get_model("records", "RecordAddition")
    common = {"actor_id": user.pk, "actor_username": "manager", "campaign_id": sales.pk}
    old_change.objects.create(**common, sent={"dialer": "preview"}, outcome="succeeded",
                              completed_at="2026-03-01T10:00:05+00:00",
                              created_at="2026-03-01T10:00:00+00:00")
    old_addition.objects.create(**common, sent={"phone_number": "601234567"},
                                phone_number="601234567", phone_key="48601234567",
                                created_at="2026-03-01T10:00:01+00:00")
    migration = import_module("audit.migrations.0002_chain_existing_entries")

    tamper("DELETE FROM audit_chainhead")
    with triggers_off():  # on PostgreSQL the migration runs before the triggers exist
        migration.chain_existing_entries(state.apps, None)

    verdict = verify_chain()
    assert (verdict.problem, verdict.entries, verdict.links) == ("", 2, 3)
    assert CampaignChange.objects.get().complete_seq == 3  # completed after the addition began


# --- users and the admin ------------------------------------------------------------


def test_deleting_a_user_keeps_their_entries_with_their_name_and_id(user, sales):
    entry = change(actor=user, campaign=sales, sent={"dialer": "predictive"})
    user_id = user.pk

    user.delete()

    stored = CampaignChange.objects.get(pk=entry.pk)
    assert (stored.actor_id, stored.actor_username) == (user_id, "manager")
    assert not verify_chain().problem


def test_the_auditors_group_can_see_everyones_actions(django_user_model):
    group = Group.objects.get(name="Auditors")
    member = django_user_model.objects.create_user("member")
    member.groups.add(group)

    assert list(group.permissions.values_list("codename", flat=True)) == ["view_audit_trail"]
    assert django_user_model.objects.get(pk=member.pk).has_perm("audit.view_audit_trail")


@pytest.mark.parametrize("model", [CampaignChange, RecordAddition])
def test_the_admin_shows_entries_read_only_even_to_superusers(client, django_user_model, user,
                                                              sales, model):
    entry = (change(actor=user, campaign=sales, sent={"order": 3}) if model is CampaignChange
             else addition(actor=user, campaign=sales, phone="601234567"))
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com",
                                                                  "x"))
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"

    assert client.get(reverse(f"{name}_changelist")).status_code == 200
    page = client.get(reverse(f"{name}_change", args=[entry.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(reverse(f"{name}_change", args=[entry.pk]), {}).status_code == 403
    assert client.post(reverse(f"{name}_delete", args=[entry.pk]), {"post": "yes"}).status_code \
        == 403
    assert client.get(reverse(f"{name}_add")).status_code == 403
    assert model.objects.filter(pk=entry.pk).exists()
