"""A change request's steps found by the request's id in their details: its page and each
decision read one request's few entries, where they read all 19,700 four-eyes entries.

An expression index on PostgreSQL only: SQLite's json_extract lookups match no such index,
and a deployment on SQLite holds too few entries to need one."""

from django.db import migrations

INDEX = "entry_change_request_step"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON audit_entry "
                              "((details -> 'request')) WHERE kind = 'change-request'")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):

    dependencies = [("audit", "0005_entry"), ("campaigns", "0012_campaign_in_thulium")]

    operations = [migrations.RunPython(create, drop)]
