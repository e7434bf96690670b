"""An upgrade's `migrate` may run while the release before still serves (docs/operations.md,
"Upgrade"): a migration building an index on one of the tables that grow with use holds
their writers until it ends, unless it builds the index concurrently. At a contact centre's
size (2,500,000 audit entries) a plain build of the timeline's filter-pair indexes held
every audit write, so every user action and imported row, for 8 s.

Migrations a released database may already hold are left as they ran; every later one is
read: its SQL as sqlmigrate prints it for PostgreSQL, and the code of its RunPython and
RunSQL operations, which sqlmigrate does not show."""

import inspect
import re

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython, RunSQL

from audit.models import Entry, SearchTerm
from donotcall.models import Suppression
from imports.models import ImportAttempt, ImportRow
from records.models import AddedRecord
from tests.conftest import skip_unless_postgresql

BIG_TABLES = [model._meta.db_table for model in
              (Entry, SearchTerm, ImportRow, ImportAttempt, Suppression, AddedRecord)]
# The last migration of each app at the release contact centres run (their databases hold
# them as they ran); later ones are checked.
RELEASED = {"audit": 17, "campaigns": 12, "donotcall": 8, "imports": 14, "notices": 2,
            "records": 10, "roles": 2, "sso": 1}
ON_BIG_TABLE = "|".join(BIG_TABLES)
BLOCKING_INDEX = re.compile(
    rf"CREATE\s+(UNIQUE\s+)?INDEX\s+(?!\s|CONCURRENTLY)[^;]*?\sON\s+\"?({ON_BIG_TABLE})\b"
    rf"|ALTER\s+TABLE\s+\"?({ON_BIG_TABLE})\"?\s+ADD\s+CONSTRAINT\s+\S+\s+UNIQUE",
    re.IGNORECASE)


def migrations_after_the_release(loader: MigrationLoader):
    return sorted((key, migration) for key, migration in loader.disk_migrations.items()
                  if key[0] in RELEASED and int(key[1][:4]) > RELEASED[key[0]])


def code_of(operation) -> str:
    if isinstance(operation, RunPython):
        return "".join(inspect.getsource(code) for code in (operation.code, operation.reverse_code)
                       if callable(code) and code is not RunPython.noop)
    if isinstance(operation, RunSQL):
        return str(operation.sql) + str(operation.reverse_sql)
    return ""


def test_the_check_reads_the_migrations_made_since_the_release():
    names = [name for (app, name), _ in migrations_after_the_release(MigrationLoader(None))]
    assert "0018_timeline_filter_pairs" in names and "0013_change_request_steps_index" in names
    assert BLOCKING_INDEX.search("CREATE INDEX IF NOT EXISTS entry_x ON audit_entry (kind)")
    assert not BLOCKING_INDEX.search("CREATE INDEX CONCURRENTLY entry_x ON audit_entry (kind)")


def test_no_new_migration_s_own_sql_builds_an_index_on_a_big_table_holding_its_writers():
    blocking = [f"{app}.{name}" for (app, name), migration
                in migrations_after_the_release(MigrationLoader(None))
                if any(BLOCKING_INDEX.search(code_of(operation))
                       for operation in migration.operations)]
    assert blocking == []


@pytest.mark.django_db
def test_no_new_migration_builds_an_index_on_a_big_table_holding_its_writers_on_postgresql():
    skip_unless_postgresql(connection)
    loader = MigrationLoader(connection, replace_migrations=False)
    blocking = {}
    for key, migration in migrations_after_the_release(loader):
        sql = "\n".join(statement for statement
                        in loader.collect_sql([(loader.graph.nodes[key], False)])
                        if not statement.startswith("--"))  # sqlmigrate's descriptions
        if found := BLOCKING_INDEX.search(sql):
            blocking[".".join(key)] = found.group(0)
        if "CONCURRENTLY" in sql:
            assert not migration.atomic, f"{'.'.join(key)} builds concurrently: atomic = False"
    assert blocking == {}
