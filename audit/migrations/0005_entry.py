"""The one audit log: every kind of entry in one append-only table, with its search terms."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import audit.models
import portal.request_id
from audit.dbtriggers import log_trigger

COMPLETION = ["outcome", "completed_at", "http_status", "request_id", "messages", "detail",
              "results", "complete_seq", "complete_hash"]
PERSONAL = ["sent", "messages", "detail", "erased_at"]


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0004_append_only_triggers"),
        ("campaigns", "0005_change_request_events"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="chainhead",
            options={
                "default_permissions": (),
                "permissions": [
                    ("view_audit_trail", "Can see everyone's actions in the audit trail"),
                    ("erase_personal_data", "Can erase a person's phone number everywhere"),
                ],
                "verbose_name": "audit chain head",
            },
        ),
        migrations.CreateModel(
            name="Entry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(max_length=40, verbose_name="action")),
                ("actor_username", models.CharField(max_length=150, verbose_name="user")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name="when")),
                ("completed_at", models.DateTimeField(blank=True, null=True, verbose_name="completed")),
                ("outcome", models.CharField(choices=[("pending", "pending"), ("succeeded", "succeeded"), ("refused", "refused"), ("failed", "failed"), ("unknown", "unknown")], default="pending", max_length=10, verbose_name="outcome")),
                ("http_status", models.PositiveSmallIntegerField(blank=True, null=True, verbose_name="HTTP status")),
                ("request_id", models.CharField(blank=True, max_length=64, verbose_name="Thulium request_id")),
                ("messages", models.JSONField(blank=True, default=list, encoder=audit.models.LettersJSONEncoder, verbose_name="Thulium's messages")),
                ("detail", models.TextField(blank=True, verbose_name="detail")),
                ("portal_request_id", models.CharField(blank=True, default=portal.request_id.current_request_id, editable=False, max_length=64, verbose_name="portal request id")),
                ("reason", models.TextField(blank=True, verbose_name="reason")),
                ("sent", models.JSONField(blank=True, default=dict, encoder=audit.models.LettersJSONEncoder, verbose_name="sent to Thulium")),
                ("details", models.JSONField(blank=True, default=dict, encoder=audit.models.LettersJSONEncoder, verbose_name="details")),
                ("results", models.JSONField(blank=True, default=dict, encoder=audit.models.LettersJSONEncoder, verbose_name="results")),
                ("pii_key", models.CharField(blank=True, editable=False, max_length=16)),
                ("erased_at", models.DateTimeField(blank=True, editable=False, null=True, verbose_name="personal data erased")),
                ("begin_seq", models.BigIntegerField(editable=False, null=True, unique=True, verbose_name="chain link (begun)")),
                ("begin_hash", models.CharField(blank=True, editable=False, max_length=64)),
                ("complete_seq", models.BigIntegerField(editable=False, null=True, unique=True, verbose_name="chain link (completed)")),
                ("complete_hash", models.CharField(blank=True, editable=False, max_length=64)),
                ("actor", models.ForeignKey(db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("campaign", models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="campaigns.campaign")),
                ("related", models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="audit.entry", verbose_name="related entry")),
            ],
            options={
                "verbose_name": "audit entry",
                "verbose_name_plural": "audit entries",
                "ordering": ["-created_at", "-pk"],
                "base_manager_name": "objects",
                "indexes": [
                    models.Index(fields=["created_at", "id"], name="entry_when"),
                    models.Index(fields=["campaign", "created_at", "id"], name="entry_campaign_when"),
                    models.Index(fields=["actor", "created_at", "id"], name="entry_actor_when"),
                    models.Index(fields=["outcome", "created_at", "id"], name="entry_outcome_when"),
                    models.Index(fields=["kind", "created_at", "id"], name="entry_kind_when"),
                    models.Index(fields=["request_id"], name="entry_request_id"),
                ],
            },
        ),
        migrations.CreateModel(
            name="SearchTerm",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("term", models.CharField(db_index=True, max_length=255)),
                ("entry", models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="audit.entry")),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("entry", "term"), name="search_term_once")],
            },
        ),
        log_trigger("audit_entry", completion=COMPLETION, personal=PERSONAL),
    ]
