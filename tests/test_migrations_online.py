"""An upgrade's `migrate` may run while the release before still serves (docs/operations.md,
"Upgrade"): a migration building an index on one of the tables that grow with use holds
their writers until it ends, unless it builds the index concurrently. At a contact centre's
size (2,500,000 audit entries) a plain build of the timeline's filter-pair indexes held
every audit write, so every user action and imported row, for 8 s.

Every migration is read, but the few that built such an index plainly before this check
came (released databases hold them as they ran): its SQL as sqlmigrate prints it for
PostgreSQL, and the code of its RunPython and RunSQL operations, which sqlmigrate does not
show. Being a fixed list of the past, it needs no update when a release is cut."""

import inspect
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython, RunSQL
from django.db.migrations.state import ProjectState

from audit.models import Entry, SearchTerm
from donotcall.models import Suppression
from imports.models import ImportAttempt, ImportRow
from records.models import AddedRecord
from tests.conftest import skip_unless_postgresql

BIG_TABLES = [model._meta.db_table for model in
              (Entry, SearchTerm, ImportRow, ImportAttempt, Suppression, AddedRecord)]
# Released before this check, and left as they ran: those creating a table (empty then) and
# audit 0010, 0013, donotcall 0004, 0007, 0008 (their tables held writers meanwhile). Never
# one more: a migration not yet released can still build its index concurrently.
BUILT_PLAINLY = {("audit", "0005_entry"), ("audit", "0010_lean_entry_indexes"),
                 ("audit", "0013_search_term_plain_index"), ("donotcall", "0001_initial"),
                 ("donotcall", "0004_suppression_when"),
                 ("donotcall", "0007_suppression_campaign_when"),
                 ("donotcall", "0008_suppression_expiry"), ("imports", "0001_initial"),
                 ("records", "0005_addedrecord")}
ON_BIG_TABLE = "|".join(BIG_TABLES)
BLOCKING_INDEX = re.compile(
    rf"CREATE\s+(UNIQUE\s+)?INDEX\s+(?!\s|CONCURRENTLY)[^;]*?\sON\s+\"?({ON_BIG_TABLE})\b"
    rf"|ALTER\s+TABLE\s+\"?({ON_BIG_TABLE})\"?\s+ADD\s+CONSTRAINT\s+\S+\s+UNIQUE",
    re.IGNORECASE)


def checked(key: tuple[str, str]) -> bool:
    """The portal's migrations but those built plainly: a package's (Django's, axes'...)
    has no business with the portal's tables."""
    return key not in BUILT_PLAINLY and Path(settings.BASE_DIR, key[0], "migrations").is_dir()


def migrations_checked(loader: MigrationLoader):
    return sorted((key, migration) for key, migration in loader.disk_migrations.items()
                  if checked(key))


def code_of(operation) -> str:
    if isinstance(operation, RunPython):
        return "".join(inspect.getsource(code) for code in (operation.code, operation.reverse_code)
                       if callable(code) and code is not RunPython.noop)
    if isinstance(operation, RunSQL):
        return str(operation.sql) + str(operation.reverse_sql)
    return ""


def sql_of_each(loader: MigrationLoader):
    """Each migration checked, with its SQL as sqlmigrate prints it, in one pass over them
    all: `loader.collect_sql` of one migration builds the state before it anew (9 s)."""
    plan = {}
    for leaf in loader.graph.leaf_nodes():
        plan.update(dict.fromkeys(loader.graph.forwards_plan(leaf)))
    state = ProjectState(real_apps=loader.unmigrated_apps)
    for key in plan:
        migration = loader.graph.nodes[key]
        if not checked(key):
            state = migration.mutate_state(state, preserve=False)
            continue
        with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
            state = migration.apply(state, editor, collect_sql=True)
        yield key, migration, editor.collected_sql


def test_the_check_reads_the_portal_s_migrations_but_those_built_plainly_before_it():
    loader = MigrationLoader(None)
    keys = [key for key, _ in migrations_checked(loader)]
    assert ("audit", "0018_timeline_filter_pairs") in keys
    assert ("audit", "0001_initial") in keys and ("audit", "0005_entry") not in keys
    assert ("auth", "0001_initial") not in keys
    assert BUILT_PLAINLY <= set(loader.disk_migrations)  # none renamed or squashed away
    assert BLOCKING_INDEX.search("CREATE INDEX IF NOT EXISTS entry_x ON audit_entry (kind)")
    assert not BLOCKING_INDEX.search("CREATE INDEX CONCURRENTLY entry_x ON audit_entry (kind)")


def test_no_new_migration_s_own_sql_builds_an_index_on_a_big_table_holding_its_writers():
    blocking = [f"{app}.{name}" for (app, name), migration
                in migrations_checked(MigrationLoader(None))
                if any(BLOCKING_INDEX.search(code_of(operation))
                       for operation in migration.operations)]
    assert blocking == []


@pytest.mark.django_db
def test_no_new_migration_builds_an_index_on_a_big_table_holding_its_writers_on_postgresql():
    skip_unless_postgresql(connection)
    loader = MigrationLoader(connection, replace_migrations=False)
    blocking = {}
    for key, migration, statements in sql_of_each(loader):
        sql = "\n".join(statement for statement in statements
                        if not statement.startswith("--"))  # sqlmigrate's descriptions
        if found := BLOCKING_INDEX.search(sql):
            blocking[".".join(key)] = found.group(0)
        if "CONCURRENTLY" in sql:
            assert not migration.atomic, f"{'.'.join(key)} builds concurrently: atomic = False"
    assert blocking == {}
