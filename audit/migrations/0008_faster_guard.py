"""The audit log's guard compares rows instead of their jsonb copies: the same rule, at
half the cost to each completion (an import completes hundreds of entries at once)."""

from django.db import migrations

from audit.dbtriggers import log_function_install

COMPLETION = ["outcome", "completed_at", "http_status", "request_id", "messages", "detail",
              "results", "complete_seq", "complete_hash"]
PERSONAL = ["sent", "messages", "detail", "erased_at"]


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        log_function_install(schema_editor, completion=COMPLETION, personal=PERSONAL)


class Migration(migrations.Migration):

    dependencies = [("audit", "0007_chain_check")]

    # Backwards, the guard stays: the earlier function enforced the same rule.
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
