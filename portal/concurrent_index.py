"""A PostgreSQL-only index built without blocking the table's writers, for migrations.

A plain CREATE INDEX holds a SHARE lock on its table until the migration's transaction ends:
on a contact centre's audit log (2,500,000 entries) the timeline's three filter-pair indexes
held every audit write, so every user action and import of the running portal, for 8 s.
CREATE INDEX CONCURRENTLY reads the table twice instead and lets writes go on; it cannot run
in a transaction, so a migration using this operation sets `atomic = False`.

The index is the database's alone (partial or expression indexes SQLite has no use for), so
the operation changes no model state, and on SQLite it does nothing. sqlmigrate shows its SQL.
"""

from django.db import NotSupportedError
from django.db.migrations.operations.base import Operation


class PostgresIndexConcurrently(Operation):
    """CREATE INDEX CONCURRENTLY `name` ON `table` (`columns`) [WHERE `condition`]."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, *, name: str, table: str, columns: str, condition: str = ""):
        self.name, self.table, self.columns, self.condition = name, table, columns, condition

    def deconstruct(self):
        kwargs = {"name": self.name, "table": self.table, "columns": self.columns}
        if self.condition:
            kwargs["condition"] = self.condition
        return self.__class__.__qualname__, [], kwargs

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if not self._applies(schema_editor):
            return
        # A build that failed or was interrupted (the deploy stopped, a lock timeout) leaves an
        # invalid index of the name, which IF NOT EXISTS would keep for good: build it anew.
        if not schema_editor.collect_sql:
            with schema_editor.connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_index JOIN pg_class ON pg_class.oid = indexrelid"
                               " WHERE relname = %s AND NOT indisvalid", [self.name])
                if cursor.fetchone():
                    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {self.name}")
        where = f" WHERE {self.condition}" if self.condition else ""
        schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {self.name} "
                              f"ON {self.table} ({self.columns}){where}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if self._applies(schema_editor):
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {self.name}")

    def describe(self):
        return f"Create index {self.name} on {self.table} concurrently (PostgreSQL only)"

    @property
    def migration_name_fragment(self):
        return self.name.lower()

    def _applies(self, schema_editor) -> bool:
        if schema_editor.connection.vendor != "postgresql":
            return False
        if schema_editor.connection.in_atomic_block and not schema_editor.collect_sql:
            raise NotSupportedError(f"{self.name} is built concurrently, which cannot run in a "
                                    "transaction: set atomic = False on the migration.")
        return True
