"""On PostgreSQL the database itself refuses to rewrite audit history, even to raw SQL."""


import pytest
from django.db import DatabaseError, connection, transaction

from audit.verify import verify_chain
from campaigns.models import CampaignChange
from records.models import RecordAddition
from tests.audit_fixtures import addition, change
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

    for sql in ("UPDATE campaigns_campaignchange SET outcome = 'refused' WHERE id = %s",
                "UPDATE campaigns_campaignchange SET reason = 'later' WHERE id = %s",
                "UPDATE campaigns_campaignchange SET sent = '{}' WHERE id = %s"):
        assert "can only be completed once" in refused(sql, [entry.pk])
    assert CampaignChange.objects.get().outcome == "succeeded"


def test_raw_sql_cannot_delete_entries(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})
    addition(actor=user, campaign=sales, phone="601234567", outcome="pending")

    assert "cannot be deleted" in refused("DELETE FROM campaigns_campaignchange")
    assert "cannot be deleted" in refused("DELETE FROM records_recordaddition")
    assert (CampaignChange.objects.count(), RecordAddition.objects.count()) == (1, 1)


def test_raw_sql_cannot_change_what_a_pending_entry_says_was_sent(user, sales):
    entry = addition(actor=user, campaign=sales, phone="601234567", outcome="pending")

    message = refused("UPDATE records_recordaddition SET phone_number = '600000000', "
                      "outcome = 'succeeded' WHERE id = %s", [entry.pk])
    assert "can only be completed once" in message
    assert "completed once" in refused(
        "UPDATE records_recordaddition SET detail = 'x' WHERE id = %s", [entry.pk]
    )


def test_completing_a_pending_entry_passes_the_trigger_once(user, sales):
    entry = addition(actor=user, campaign=sales, phone="601234567", outcome="pending")

    entry.complete(outcome="succeeded", http_status=200, record_id="231")

    assert "can only be completed once" in refused(
        "UPDATE records_recordaddition SET record_id = '999' WHERE id = %s", [entry.pk]
    )
    assert RecordAddition.objects.get().record_id == "231"
    assert not verify_chain().problem


def test_the_chain_head_cannot_be_wound_back_or_removed(user, sales):
    change(actor=user, campaign=sales, sent={"order": 1})

    assert "only moves forward" in refused("UPDATE audit_chainhead SET seq = seq - 1")
    assert "only moves forward" in refused("DELETE FROM audit_chainhead")


def test_deleting_a_user_works_with_the_trigger_and_keeps_their_entries(user, sales):
    entry = change(actor=user, campaign=sales, sent={"order": 1})
    user_id = user.pk

    user.delete()

    stored = CampaignChange.objects.get(pk=entry.pk)
    assert (stored.actor_id, stored.actor_username) == (user_id, "manager")
    assert not verify_chain().problem
