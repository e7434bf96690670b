"""A database full of entries in the four old audit tables moves into the one log intact."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.models import ChainHead, Entry
from audit.services import TimelineFilters, entries_matching
from audit.verify import verify_chain
from campaigns.models import Campaign, ChangeRequest
from imports.models import ImportAttempt, ImportJob
from records.forms import RecordForm
from records.models import AddedRecord
from tests.audit_fixtures import tamper
from tests.conftest import EDITORS, LOADERS, make_user

pytestmark = pytest.mark.django_db

# The schema as it was before the one log.
BEFORE = [("audit", "0004_append_only_triggers"), ("campaigns", "0005_change_request_events"),
          ("records", "0004_index_phone_by_date"), ("imports", "0001_initial")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def old_trail(apps, user) -> dict:
    """Entries of every old kind, linked as the old chain linked them (numbers only)."""
    campaign = apps.get_model("campaigns", "Campaign").objects.create(
        thulium_id="00001", name="Sales")
    links = iter(range(1, 100))

    def linked(model, completed=True, **fields):
        return apps.get_model(*model.split(".")).objects.create(
            actor_id=user.pk, actor_username="manager", campaign=campaign,
            begin_seq=next(links), begin_hash="b" * 64,
            complete_seq=next(links) if completed else None,
            complete_hash="c" * 64 if completed else "",
            outcome=fields.pop("outcome", "succeeded" if completed else "pending"), **fields)

    request = apps.get_model("campaigns", "ChangeRequest").objects.create(
        campaign=campaign, changes={"active": True}, reason="season", actor_username="manager",
        state="approved")
    linked("campaigns.ChangeRequestEvent", change_request=request, action="requested",
           sent={"active": True}, reason="season")
    approval = linked("campaigns.ChangeRequestEvent", change_request=request, action="approved",
                      sent={"active": True}, reason="season")
    change = linked("campaigns.CampaignChange", sent={"active": True}, change_request=request,
                    reason="season", http_status=204)
    added = linked("records.RecordAddition", sent={"phone_number": "601234567"},
                   phone_number="601234567", phone_key="48601234567", record_id="231")
    unknown = linked("records.RecordAddition", sent={"phone_number": "601234568"},
                     phone_number="601234568", phone_key="48601234568", outcome="unknown")
    linked("records.RecordAddition", sent={"phone_number": "601234569"},
           phone_number="601234569", phone_key="48601234569", outcome="refused",
           messages=["Numer jest niepoprawny"])
    linked("records.RecordAddition", completed=False, sent={"phone_number": "601234560"},
           phone_number="601234560", phone_key="48601234560")
    job = apps.get_model("imports", "ImportJob").objects.create(
        campaign=campaign, actor_username="manager", file_name="lista.csv", file_size=10,
        file_sha256="a" * 64, file_kind="csv", state="done")
    row = apps.get_model("imports", "ImportRow").objects.create(
        job=job, number=2, phone_number="601234568", state="unknown")
    apps.get_model("imports", "ImportAttempt").objects.create(row=row, addition=unknown)
    linked("imports.ImportReceipt", job=job, file_name="lista.csv", file_sha256="a" * 64,
           sent={"file_name": "lista.csv"}, result="done", rows_total=1, unknown=1, added=0)
    apps.get_model("audit", "ChainHead").objects.update_or_create(
        pk=1, defaults={"seq": next(links) - 1, "last_hash": "d" * 64})
    return {"request": request.pk, "approval": approval.pk, "change": change.pk,
            "added": added.pk, "job": job.pk}


@pytest.fixture(scope="module")
def migrated(django_db_setup, django_db_blocker):
    """The old trail, moved into the one log once for the module (going back and forth
    takes some 15 s), outside any transaction as migrations run; each test's own changes
    are rolled back. The module ends with the rows the tests after it expect, as they were
    (a serialized rollback: the migrations' rows, such as the groups and the chain head,
    are back, and PostgreSQL's sequences are set past them, as loaddata sets them)."""
    with django_db_blocker.unblock():
        rows_before = connection.creation.serialize_db_to_string()
        executor = MigrationExecutor(connection)
        latest = executor.loader.graph.leaf_nodes()
        old = old_trail(migrate(BEFORE), make_user("manager", EDITORS, LOADERS))
        migrate(latest)
        try:
            yield old
        finally:
            call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
            connection.creation.deserialize_db_from_string(rows_before)
            tables = connection.introspection
            models = tables.installed_models(tables.table_names())
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), models):
                    cursor.execute(sql)
            # Going back and forth made content types Django's cache still holds.
            ContentType.objects.clear_cache()


def test_every_old_entry_moves_into_the_one_log_and_the_chain_verifies(migrated):
    verdict = verify_chain()

    assert verdict.problem == ""
    assert verdict.entries == 1 + 8  # the carry-over entry, and every old one
    first = Entry.objects.order_by("begin_seq").first()
    assert first.kind == "carried-over"
    assert first.details["old_head"] == {"seq": 15, "hash": "d" * 64}
    assert first.details["entries"] == {
        "campaigns.campaignchange": 1, "campaigns.changerequestevent": 2,
        "records.recordaddition": 4, "imports.importreceipt": 1}
    kinds = list(Entry.objects.order_by("begin_seq").values_list("kind", flat=True))
    assert kinds == ["carried-over", "change-request", "change-request", "campaign-change",
                     *["record-addition"] * 4, "import"]


def test_the_domain_state_the_old_tables_held_is_carried_over(migrated):
    change = ChangeRequest.objects.get(pk=migrated["request"]).sent_change
    assert (change.kind, change.http_status, change.reason) == ("campaign-change", 204, "season")
    assert change.related.details == {
        "carried_from": f"campaigns.changerequestevent #{migrated['approval']}",
        "request": migrated["request"], "step": "approved", "settings_before": {}}
    receipt = ImportJob.objects.get(pk=migrated["job"]).receipt
    assert (receipt.kind, receipt.results["unknown"]) == ("import", 1)
    assert ImportAttempt.objects.get().entry.sent == {"phone_number": "601234568"}
    known = dict(AddedRecord.objects.values_list("phone_key", "status"))
    assert known == {"48601234567": "added", "48601234568": "unknown", "48601234560": "sending"}
    assert AddedRecord.objects.get(phone_key="48601234567").record_id == "231"


def test_numbers_added_before_the_migration_are_still_refused_as_already_added(migrated):
    form = RecordForm({"phone_number": "+48 601 234 567"},
                      campaign=Campaign.objects.get(thulium_id="00001"))

    assert not form.is_valid()
    assert "already added this number" in str(form.errors["phone_number"])


def test_a_migrated_number_is_found_by_its_digest(migrated):
    found = entries_matching(TimelineFilters(search="+48 601-234-567"))

    assert [entry.results.get("record_id") for entry in found] == ["231"]
    # The keys they were digested under are the chain head's, as an erasure asks them.
    keys = set(Entry.objects.exclude(pii_key="").values_list("pii_key", flat=True))
    assert keys and ChainHead.objects.get().pii_keys == sorted(keys)


def test_an_entry_lost_after_the_move_is_noticed(migrated):
    moved = Entry.objects.filter(kind="import").get()
    tamper("UPDATE imports_importjob SET receipt_id = NULL WHERE receipt_id = %s", [moved.pk])
    tamper("DELETE FROM audit_entry WHERE id = %s", [moved.pk])

    assert "the newest entries were removed" in verify_chain().problem
