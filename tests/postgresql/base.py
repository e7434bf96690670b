"""PostgreSQL for the tests: Django's backend with a cheaper flush.

A transactional test ends with a flush of every table. Django's one TRUNCATE of them all
gives each table and index a new file, and PostgreSQL syncs each new index to disk: most of
a second per test, for tables that hold no row or a few. A DELETE of a few rows costs next
to nothing. The audit log's tables refuse a DELETE (audit/dbtriggers.py): the flush turns
their triggers off for its own DELETE and on again, in its one transaction, which no other
connection sees before it commits with the triggers on.
"""

from django.db.backends.postgresql import base, operations

# ALTER TABLE refuses a table with foreign key checks pending: SET CONSTRAINTS runs them
# first (they find every table empty).
_FLUSH = """
DO $flush$
DECLARE
    guarded regclass[] := ARRAY(
        SELECT DISTINCT tgrelid::regclass FROM pg_trigger
        WHERE NOT tgisinternal AND tgrelid = ANY (ARRAY[TABLES]::regclass[]));
    emptied regclass;
BEGIN
    FOREACH emptied IN ARRAY guarded LOOP
        EXECUTE 'ALTER TABLE ' || emptied || ' DISABLE TRIGGER USER';
    END LOOP;
    FOREACH emptied IN ARRAY ARRAY[TABLES]::regclass[] LOOP
        EXECUTE 'DELETE FROM ' || emptied;
    END LOOP;
    SET CONSTRAINTS ALL IMMEDIATE;
    FOREACH emptied IN ARRAY guarded LOOP
        EXECUTE 'ALTER TABLE ' || emptied || ' ENABLE TRIGGER USER';
    END LOOP;
END $flush$;
"""


class DatabaseOperations(operations.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        """The flush after a transactional test; Django's own TRUNCATE for any other flush
        (a DELETE restarts no sequence, and a flush of some apps may need to cascade)."""
        if reset_sequences or allow_cascade or not tables:
            return super().sql_flush(style, tables, reset_sequences=reset_sequences,
                                     allow_cascade=allow_cascade)
        names = ", ".join("'{}'".format(self.quote_name(table).replace("'", "''"))
                          for table in tables)
        return [_FLUSH.replace("TABLES", names)]


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
