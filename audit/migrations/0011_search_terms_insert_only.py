"""The entries' search terms, by which an erasure finds a person's entries, written once."""

from django.db import migrations

from audit.dbtriggers import insert_only_trigger


class Migration(migrations.Migration):

    dependencies = [("audit", "0010_lean_entry_indexes")]

    operations = [insert_only_trigger("audit_searchterm")]
