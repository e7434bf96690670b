"""On PostgreSQL, make the database itself refuse to rewrite or delete audit entries."""

from django.db import migrations

from audit.dbtriggers import append_only_trigger, chain_head_trigger

COMPLETION = ["outcome", "completed_at", "http_status", "request_id", "messages", "detail",
              "complete_seq", "complete_hash"]


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0003_auditors_group"),
    ]

    operations = [
        append_only_trigger("campaigns_campaignchange", COMPLETION),
        append_only_trigger("records_recordaddition", [*COMPLETION, "record_id"]),
        chain_head_trigger("audit_chainhead"),
    ]
