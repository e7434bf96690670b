"""A change request's steps found by the request's id in their details: its page and each
decision read one request's few entries, where they read all 19,700 four-eyes entries.

An expression index on PostgreSQL only: SQLite's json_extract lookups match no such index,
and a deployment on SQLite holds too few entries to need one. Built concurrently, outside a
transaction: at 2,500,000 entries a plain build held every audit write for 2.8 s."""

from django.db import migrations

from portal.concurrent_index import PostgresIndexConcurrently


class Migration(migrations.Migration):

    atomic = False

    dependencies = [("audit", "0005_entry"), ("campaigns", "0012_campaign_in_thulium")]

    operations = [PostgresIndexConcurrently(
        name="entry_change_request_step", table="audit_entry", columns="(details -> 'request')",
        condition="kind = 'change-request'")]
