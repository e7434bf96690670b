"""portal.db_many: many rows in one statement, as the ORM would have written them."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from audit.models import Entry
from audit.recording import entry_begin
from portal.db_many import IDS_AMONG, ids_given, insert_each, update_each
from records.entries import RECORD_ADDITION
from records.models import AddedRecord

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 12, 3, 10, 15, 30, 123456, tzinfo=UTC)


@pytest.fixture
def entries(user, campaigns):
    return [entry_begin(kind=RECORD_ADDITION.slug, actor=user, campaign=campaigns["00001"],
                        sent={"phone_number": f"60100000{n}"}) for n in range(3)]


def added(campaign, entries, status=AddedRecord.Status.SENDING) -> list[tuple]:
    return [(campaign.pk, f"4860100000{n}", "", "", entry.pk, status, WHEN)
            for n, entry in enumerate(entries)]


COLUMNS = ["campaign_id", "phone_key", "identifier", "record_id", "entry_id", "status",
           "created_at"]


def test_rows_are_written_and_updated_as_given_to_the_microsecond(campaigns, entries):
    sales = campaigns["00001"]

    written = insert_each(AddedRecord, columns=COLUMNS, rows=added(sales, entries),
                          returning=["phone_key", "id"])
    changed = update_each(
        AddedRecord, keys=["campaign_id", "phone_key"], columns=["status", "record_id"],
        rows=[(AddedRecord.Status.ADDED, "231", sales.pk, "48601000000"),
              (AddedRecord.Status.ADDED, "232", sales.pk, "48601000001")],
        where="status = %s", where_params=[AddedRecord.Status.SENDING])

    assert sorted(key for key, _id in written) == [f"4860100000{n}" for n in range(3)]
    assert changed == 2
    rows = {row.phone_key: row for row in AddedRecord.objects.all()}
    assert {key: (row.status, row.record_id) for key, row in rows.items()} == {
        "48601000000": ("added", "231"), "48601000001": ("added", "232"),
        "48601000002": ("sending", "")}
    assert {row.created_at for row in rows.values()} == {WHEN}
    assert {row.pk for row in rows.values()} == {row_id for _key, row_id in written}


def test_the_extra_condition_leaves_rows_it_excludes_alone(campaigns, entries):
    sales = campaigns["00001"]
    insert_each(AddedRecord, columns=COLUMNS,
                rows=added(sales, entries, status=AddedRecord.Status.ADDED))

    changed = update_each(AddedRecord, keys=["campaign_id", "phone_key"], columns=["status"],
                          rows=[(AddedRecord.Status.UNKNOWN, sales.pk, "48601000000")],
                          where="status = %s", where_params=[AddedRecord.Status.SENDING])

    assert changed == 0
    assert set(AddedRecord.objects.values_list("status", flat=True)) == {"added"}


def test_a_repeated_unique_key_updates_the_row_already_there(campaigns, entries, user):
    sales = campaigns["00001"]
    insert_each(AddedRecord, columns=COLUMNS, rows=added(sales, entries[:1]))
    resend = entry_begin(kind=RECORD_ADDITION.slug, actor=user, campaign=sales,
                         sent={"phone_number": "601000000"})

    insert_each(AddedRecord, columns=COLUMNS, rows=added(sales, [resend]),
                unique=["campaign_id", "phone_key"], update=["entry_id"])

    assert list(AddedRecord.objects.values_list("phone_key", "entry_id")) == [
        ("48601000000", resend.pk)]


def test_a_repeated_unique_key_with_nothing_to_update_is_neither_written_nor_returned(
        campaigns, entries, user):
    sales = campaigns["00001"]
    insert_each(AddedRecord, columns=COLUMNS, rows=added(sales, entries[:1]))
    again = entry_begin(kind=RECORD_ADDITION.slug, actor=user, campaign=sales,
                        sent={"phone_number": "601000000"})

    written = insert_each(AddedRecord, columns=COLUMNS, rows=added(sales, [again, entries[1]]),
                          unique=["campaign_id", "phone_key"], returning=["phone_key"])

    assert written == [("48601000001",)]
    assert AddedRecord.objects.get(phone_key="48601000000").entry_id == entries[0].pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("returning", [[], ["id"]])
def test_a_call_s_rows_are_written_all_or_none(campaigns, entries, returning):
    """Outside a transaction too: SQLite wrote each row as it came, so two syncs inserting
    the same new campaigns at once took turns, each creating some of them."""
    repeated = added(campaigns["00001"], entries[:2]) + added(campaigns["00001"], entries[:1])

    with pytest.raises(IntegrityError):
        insert_each(AddedRecord, columns=COLUMNS, rows=repeated, returning=returning)

    assert not AddedRecord.objects.exists()


def test_json_values_and_ids_come_back_as_the_entries_were_given(entries):
    stored = Entry.objects.get(pk=entries[1].pk)

    assert stored.sent == {"phone_number": "601000001"}
    assert stored.begin_seq == entries[1].begin_seq
    assert stored.created_at == entries[1].created_at


def test_ids_given_as_one_parameter_find_their_rows_past_sqlite_s_parameters(entries):
    """The do-not-call upload's renewal and the imports' erasure check read rows by many
    ids through the one subquery."""
    ids = {*range(10**9, 10**9 + 32_767), entries[0].pk, entries[2].pk}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {Entry._meta.db_table} "
                       f"WHERE id IN {IDS_AMONG[connection.vendor]}", [ids_given(ids)])
        assert {pk for (pk,) in cursor.fetchall()} == {entries[0].pk, entries[2].pk}


def test_each_write_is_one_statement_counted_as_django_counts_its_own(campaigns, entries):
    """On PostgreSQL too, where the rows go apart from the statement: a test counting an
    action's queries sees its bulk writes (it did not, where the do-not-call lookup's read
    through the same kind of cursor was counted)."""
    sales = campaigns["00001"]

    with CaptureQueriesContext(connection) as queries:
        insert_each(AddedRecord, columns=COLUMNS, rows=added(sales, entries))
        update_each(AddedRecord, keys=["campaign_id", "phone_key"], columns=["status"],
                    rows=[(AddedRecord.Status.ADDED, sales.pk, "48601000000"),
                          (AddedRecord.Status.ADDED, sales.pk, "48601000001")])

    sent = [query["sql"] for query in queries]
    assert len(sent) == 2 and "INSERT INTO" in sent[0] and "UPDATE" in sent[1]
    # Logged as sent: the values apart, not quoted into the text.
    assert not [sql for sql in sent if "48601000000" in sql]
