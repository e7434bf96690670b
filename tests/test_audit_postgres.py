"""On PostgreSQL the database itself refuses to rewrite audit history, even to raw SQL."""


import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from audit.models import Entry, SearchTerm
from audit.recording import entry_complete
from audit.verify import verify_chain
from campaigns.models import Campaign
from campaigns.reading import campaigns_sync
from tests.audit_fixtures import addition, change, tamper
from tests.conftest import skip_unless_postgresql

pytestmark = pytest.mark.django_db

@pytest.fixture(autouse=True)
def postgres(db):
    skip_unless_postgresql(connection)


@pytest.fixture
def sales(campaigns):
    return campaigns["00001"]


def refused(sql: str, params=()) -> str:
    """The database's refusal of the statement (which must be refused)."""
    with pytest.raises(DatabaseError) as error, transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, params)
    return str(error.value)


def test_raw_sql_cannot_rewrite_a_completed_entry(user, sales):
    entry = change(actor=user, campaign=sales, sent={"dialer": "predictive"})

    for sql in ("UPDATE audit_entry SET outcome = 'refused' WHERE id = %s",
                "UPDATE audit_entry SET reason = 'later' WHERE id = %s",
                "UPDATE audit_entry SET sent = '{}' WHERE id = %s"):
        assert "can only be completed once" in refused(sql, [entry.pk])
    assert Entry.objects.get().outcome == "succeeded"


def test_raw_sql_cannot_delete_entries(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})
    addition(actor=user, campaign=sales, phone="601234567", outcome="pending")

    assert "cannot be deleted" in refused("DELETE FROM audit_entry WHERE kind = 'campaign-change'")
    assert "cannot be deleted" in refused("DELETE FROM audit_entry")
    assert Entry.objects.count() == 2


def test_raw_sql_cannot_move_or_delete_the_search_terms_an_erasure_finds_entries_by(user,
                                                                                     sales):
    entry = addition(actor=user, campaign=sales, phone="601234567")
    other = change(actor=user, campaign=sales, sent={"order": 1})

    assert "written once" in refused("DELETE FROM audit_searchterm WHERE entry_id = %s",
                                     [entry.pk])
    assert "written once" in refused("UPDATE audit_searchterm SET entry_id = %s", [other.pk])
    assert SearchTerm.objects.filter(entry_id=entry.pk).exists()


def test_raw_sql_cannot_change_what_a_pending_entry_says_was_sent(user, sales):
    entry = addition(actor=user, campaign=sales, phone="601234567", outcome="pending")

    message = refused("UPDATE audit_entry SET sent = '{\"phone_number\": \"600000000\"}', "
                      "outcome = 'succeeded' WHERE id = %s", [entry.pk])
    assert "can only be completed once" in message
    assert "completed once" in refused(
        "UPDATE audit_entry SET detail = 'x' WHERE id = %s", [entry.pk]
    )


def test_an_erasure_may_only_touch_the_columns_that_hold_personal_data(user, sales):
    entry = addition(actor=user, campaign=sales, phone="601234567")

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL audit.erasing = 'on'")
        assert "completed once" in refused(
            "UPDATE audit_entry SET erased_at = now(), actor_username = 'x' WHERE id = %s",
            [entry.pk])
        cursor.execute("UPDATE audit_entry SET erased_at = now(), sent = '{}' WHERE id = %s",
                       [entry.pk])
        # The test runs in one transaction, which SET LOCAL outlives: end the erasure.
        cursor.execute("SET LOCAL audit.erasing = 'off'")
    assert "completed once" in refused(
        "UPDATE audit_entry SET erased_at = now(), sent = '{}' WHERE id = %s", [entry.pk])


def test_completing_a_pending_entry_passes_the_trigger_once(user, sales):
    entry = addition(actor=user, campaign=sales, phone="601234567", outcome="pending")

    entry_complete(entry, outcome="succeeded", http_status=200, results={"record_id": "231"})

    assert "can only be completed once" in refused(
        "UPDATE audit_entry SET results = '{\"record_id\": \"999\"}' WHERE id = %s",
        [entry.pk]
    )
    assert Entry.objects.get().results == {"record_id": "231"}
    assert not verify_chain().problem


def test_the_chain_head_cannot_be_wound_back_or_removed(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})

    assert "only moves forward" in refused("UPDATE audit_chainhead SET seq = seq - 1")
    assert "only moves forward" in refused("DELETE FROM audit_chainhead")


def test_deleting_a_user_works_with_the_trigger_and_keeps_their_entries(user, sales):
    entry = change(actor=user, campaign=sales, sent={"order": 1})
    user_id = user.pk

    user.delete()

    stored = Entry.objects.get(pk=entry.pk)
    assert (stored.actor_id, stored.actor_username) == (user_id, "manager")
    assert not verify_chain().problem


def test_verify_names_an_entry_linked_below_the_first_link_if_the_check_was_dropped(user,
                                                                                   sales):
    entry = change(actor=user, campaign=sales, sent={"order": 1})
    copied = ", ".join(field.column for field in Entry._meta.concrete_fields
                       if field.column not in ("id", "begin_seq", "complete_seq"))
    tamper('ALTER TABLE "audit_entry" DROP CONSTRAINT "entry_links_from_one"')
    tamper(f"INSERT INTO audit_entry (id, begin_seq, complete_seq, {copied}) "
           f"SELECT id + 100, -2, -1, {copied} FROM audit_entry WHERE id = %s", [entry.pk])

    assert verify_chain().problem == (f"entry #{entry.pk + 100} has a link numbered below the "
                                      "chain's first: it was slipped in outside the chain")


@pytest.mark.django_db(transaction=True)
def test_the_flush_after_a_transactional_test_empties_every_table_and_keeps_the_guards(
        user, sales):
    """The tests' flush (tests/postgresql) deletes rows where Django's truncated the tables:
    no table gets a new file, none keeps a row, and the audit triggers are on again."""
    change(actor=user, campaign=sales, sent={"order": 1})
    addition(actor=user, campaign=sales, phone="601234567")
    tables = connection.introspection.django_table_names(only_existing=True)

    before = table_files(tables)
    # As TransactionTestCase flushes, without Django's content types and permissions after.
    call_command("flush", interactive=False, reset_sequences=False, allow_cascade=False,
                 inhibit_post_migrate=True, verbosity=0)

    assert table_files(tables) == before
    with connection.cursor() as cursor:
        assert [table for table in tables if cursor.execute(
            f"SELECT EXISTS (SELECT FROM {connection.ops.quote_name(table)})").fetchone()[0]
        ] == []
    campaigns_sync()
    addition(actor=User.objects.create_user("again"),
             campaign=Campaign.objects.get(thulium_id="00001"), phone="601234567")
    assert "cannot be deleted" in refused("DELETE FROM audit_entry")
    assert "written once" in refused("DELETE FROM audit_searchterm")
    assert "only moves forward" in refused("DELETE FROM audit_chainhead")


def table_files(tables) -> dict[str, int]:
    """Each table's file: a TRUNCATE gives the table a new one, a DELETE keeps it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname, pg_relation_filenode(oid) FROM pg_class "
                       "WHERE relname = ANY (%s)", [list(tables)])
        return dict(cursor.fetchall())
