"""The timeline filtered by an action together with a user, a campaign or an outcome reads
its page from an index of the pair, where a pair that matched nothing had PostgreSQL walk
every entry of the action (refused record checks: all 40,000 checks read, 35,800 pages).

Record additions are left out: an import writes each of its rows' entries twice (begun, then
completed, which changes indexed columns), and these indexes would take both writes, some
850 bytes more WAL a row; a filter on additions is served by the other filter's index, as
nearly every entry is one. PostgreSQL only: SQLite cannot tell that an action given as a
bound value is not the one left out, and never reads such a partial index.

Built concurrently, outside a transaction: at 2,500,000 entries a plain build held every
audit write (each user action, each imported row) of the portal still serving for 8 s."""

from django.db import migrations

from portal.concurrent_index import PostgresIndexConcurrently

# The kind an import writes for each row (records.entries.RECORD_ADDITION).
LEFT_OUT = "record-addition"
INDEXES = {
    "entry_actor_kind_when": "actor_id, kind, created_at, id",
    "entry_campaign_kind_when": "campaign_id, kind, created_at, id",
    "entry_kind_outcome_when": "kind, outcome, created_at, id",
}


class Migration(migrations.Migration):

    atomic = False

    dependencies = [("audit", "0017_chain_head_keeps_entry_keys")]

    operations = [PostgresIndexConcurrently(name=name, table="audit_entry", columns=columns,
                                            condition=f"kind <> '{LEFT_OUT}'")
                  for name, columns in INDEXES.items()]
