"""PostgreSQL triggers that keep the audit log append-only even against raw SQL.

The models already refuse updates and deletes; these make the database refuse them too,
for any client of the application's database user. Only a deliberate schema change
(DROP TRIGGER, ALTER TABLE ... DISABLE TRIGGER, TRUNCATE, all owner's rights) gets past
them, and the hash chain then shows what was changed. SQLite has no such guard here:
its `flush` deletes rows one by one, which a trigger would break.
"""

from collections.abc import Sequence

from django.db import migrations

_ENTRY_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit entries are append-only: %% #%% cannot be deleted',
            TG_TABLE_NAME, OLD.id;
    END IF;
    -- The one change allowed: a pending entry receives its outcome, once. The columns
    -- completion may fill in are the trigger's arguments; every other column must stay.
    IF OLD.outcome <> 'pending' OR NEW.outcome = 'pending'
       OR to_jsonb(NEW) - TG_ARGV <> to_jsonb(OLD) - TG_ARGV THEN
        RAISE EXCEPTION 'audit entries are append-only: %% #%% can only be completed once',
            TG_TABLE_NAME, OLD.id;
    END IF;
    RETURN NEW;
END $$;
"""

_HEAD_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_chain_head_forward_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.seq < OLD.seq THEN
        RAISE EXCEPTION 'the audit chain head only moves forward';
    END IF;
    RETURN NEW;
END $$;
"""


_LOG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    kept RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit entries are append-only: entry #%% cannot be deleted', OLD.id;
    END IF;
    -- A pending entry receives its outcome, once: only the completion columns change.
    -- The new row with those columns put back must be the old row, whatever columns the
    -- table has (a comparison of rows: converting both to jsonb cost an import's
    -- completions twice as much).
    IF OLD.outcome = 'pending' AND NEW.outcome <> 'pending' THEN
        kept := NEW;
        KEEP_COMPLETION
        IF kept IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;
        END IF;
    END IF;
    -- An erasure (audit.erasing set by audit.erasure) replaces personal values by markers:
    -- only the columns that may hold them change, and the entry says it was erased. The
    -- hash chain checks that nothing but personal values changed.
    IF current_setting('audit.erasing', true) = 'on' AND NEW.erased_at IS NOT NULL THEN
        kept := NEW;
        KEEP_PERSONAL
        IF kept IS NOT DISTINCT FROM OLD THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit entries are append-only: entry #%% can only be completed once',
        OLD.id;
END $$;
"""


def log_trigger(table: str, *, completion: Sequence[str],
                personal: Sequence[str]) -> migrations.RunPython:
    """A migration operation guarding the audit log: completing once, erasing, nothing else."""

    def install(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            log_function_install(schema_editor, completion=completion, personal=personal)
            schema_editor.execute(
                f'CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON "{table}" '
                "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
            )

    def remove(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS audit_append_only ON "{table}"')

    return migrations.RunPython(install, remove)


def log_function_install(schema_editor, *, completion: Sequence[str],
                         personal: Sequence[str]) -> None:
    """(Re)write the log's guard function: the columns completion and erasure may change."""

    def keep(columns):
        return " ".join(f"kept.{column} := OLD.{column};" for column in columns)

    schema_editor.execute(_LOG_FUNCTION.replace("KEEP_COMPLETION", keep(completion))
                          .replace("KEEP_PERSONAL", keep(personal)))


def _row_trigger(table: str, trigger: str, function: str, call: str) -> migrations.RunPython:
    """A migration operation: `function` (its SQL) run before each UPDATE or DELETE of a row
    of `table`, as `call`; on PostgreSQL only (see the module's docstring)."""

    def install(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(function)
            schema_editor.execute(
                f'CREATE TRIGGER {trigger} BEFORE UPDATE OR DELETE ON "{table}" '
                f"FOR EACH ROW EXECUTE FUNCTION {call}"
            )

    def remove(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS {trigger} ON "{table}"')

    return migrations.RunPython(install, remove)


def append_only_trigger(table: str, completion_columns: Sequence[str]) -> migrations.RunPython:
    """A migration operation guarding one audit table; completion may fill in the columns."""
    arguments = ", ".join(f"'{column}'" for column in completion_columns)
    return _row_trigger(table, "audit_append_only", _ENTRY_FUNCTION,
                        f"audit_entry_append_only({arguments})")


_TERMS_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_terms_insert_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit search terms are written once: the terms of entry #%% cannot be '
        'changed or deleted', OLD.entry_id;
END $$;
"""


def insert_only_trigger(table: str) -> migrations.RunPython:
    """A migration operation refusing every change to the entries' search terms: an erasure
    finds a person's entries by them, so one moved or deleted would keep the person's data
    in the log, or erase another's."""
    return _row_trigger(table, "audit_insert_only", _TERMS_FUNCTION, "audit_terms_insert_only()")


def chain_head_trigger(table: str) -> migrations.RunPython:
    """A migration operation that lets the chain head only move forward."""
    return _row_trigger(table, "audit_forward_only", _HEAD_FUNCTION,
                        "audit_chain_head_forward_only()")
