"""The do-not-call list's page reads the list in its order from an index, the whole list or
a campaign's entries: without one, each page read and sorted the whole list (100,000
entries and more), and a campaign's few were found by walking all of it by time."""

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from donotcall.models import Suppression


def columns_of_the_list_s_order() -> list[str]:
    """("created_at", "id") from the model's ordering ("-created_at", "-pk"): an index in
    either direction serves it, read backwards."""
    return [Suppression._meta.pk.column if name.lstrip("-") == "pk"
            else Suppression._meta.get_field(name.lstrip("-")).column
            for name in Suppression._meta.ordering]


def test_the_migrations_give_the_list_an_index_in_its_order_one_per_campaign_and_by_end():
    migrated = MigrationLoader(None, ignore_no_migrations=True).project_state().apps
    indexes = migrated.get_model("donotcall", "Suppression")._meta.indexes
    assert [index.fields for index in indexes] == [
        columns_of_the_list_s_order(), ["campaign", *columns_of_the_list_s_order()],
        ["expires_on", "id"]]


@pytest.mark.django_db
def test_the_database_holds_those_indexes_and_not_the_campaign_s_own():
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Suppression._meta.db_table)
    indexed = [constraint["columns"] for constraint in found.values() if constraint["index"]]
    assert columns_of_the_list_s_order() in indexed
    assert ["campaign_id", *columns_of_the_list_s_order()] in indexed
    assert ["campaign_id"] not in indexed  # covered by the one above
    # The worker's clearing finds the entries expired long ago by their end.
    assert ["expires_on", "id"] in indexed
