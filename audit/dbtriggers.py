"""PostgreSQL triggers that keep the audit tables append-only even against raw SQL.

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


def append_only_trigger(table: str, completion_columns: Sequence[str]) -> migrations.RunPython:
    """A migration operation guarding one audit table; completion may fill in the columns."""
    arguments = ", ".join(f"'{column}'" for column in completion_columns)

    def install(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(_ENTRY_FUNCTION)
            schema_editor.execute(
                f'CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON "{table}" '
                f"FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only({arguments})"
            )

    def remove(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS audit_append_only ON "{table}"')

    return migrations.RunPython(install, remove)


def chain_head_trigger(table: str) -> migrations.RunPython:
    """A migration operation that lets the chain head only move forward."""

    def install(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(_HEAD_FUNCTION)
            schema_editor.execute(
                f'CREATE TRIGGER audit_forward_only BEFORE UPDATE OR DELETE ON "{table}" '
                "FOR EACH ROW EXECUTE FUNCTION audit_chain_head_forward_only()"
            )

    def remove(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f'DROP TRIGGER IF EXISTS audit_forward_only ON "{table}"')

    return migrations.RunPython(install, remove)
