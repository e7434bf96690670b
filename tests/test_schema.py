"""No index the schema carries is covered by another: each is written with every row."""

import pytest
from django.apps import apps
from django.db import connection

from tests.conftest import skip_unless_postgresql

PROJECT_APPS = {"audit", "campaigns", "records", "imports", "donotcall", "notices", "roles",
                "twofactor", "sso"}


@pytest.mark.django_db
def test_no_plain_index_is_the_leading_part_of_another():
    covered = []
    with connection.cursor() as cursor:
        for model in apps.get_models():
            if model._meta.app_label not in PROJECT_APPS:
                continue
            table = model._meta.db_table
            found = connection.introspection.get_constraints(cursor, table)
            # An expression's index (PostgreSQL names no column of it) covers no other.
            indexed = {name: found[name]["columns"] for name in found
                       if (found[name]["index"] or found[name]["unique"])
                       and found[name]["columns"]}
            covered += [
                (table, columns, other)
                for name, columns in indexed.items() if not found[name]["unique"]
                for other_name, other in indexed.items()
                if other_name != name and len(other) > len(columns)
                and other[:len(columns)] == columns
            ]
    assert covered == []


# The tables an import writes with each of its rows.
PER_ROW_TABLES = ("audit_entry", "audit_searchterm", "imports_importrow",
                  "imports_importattempt", "records_addedrecord")


@pytest.mark.django_db
def test_no_table_written_per_imported_row_carries_an_index_for_like():
    """PostgreSQL gives an indexed CharField a second, pattern-ops index for LIKE; none of
    these tables is searched so, and such an index is written with every row to no use."""
    skip_unless_postgresql(connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s) "
                       "AND indexdef LIKE '%%pattern_ops%%'", [list(PER_ROW_TABLES)])
        assert cursor.fetchall() == []


@pytest.mark.django_db
def test_no_table_written_per_imported_row_has_the_database_check_its_audit_entry():
    """An entry is never deleted, so a check of one in a reference only locked the entry's
    row, twice for each imported row."""
    skip_unless_postgresql(connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' "
                       "AND confrelid = 'audit_entry'::regclass")
        assert {table for (table,) in cursor.fetchall()} & set(PER_ROW_TABLES) == set()
