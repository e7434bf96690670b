"""What the portal knows of the records it added, apart from the audit log."""

import django.db.models.deletion
from django.db import migrations, models


def grant_adding(apps, schema_editor):
    """Whoever could add records (by the old log model's permission) still can."""
    Permission = apps.get_model("auth", "Permission")
    old = Permission.objects.filter(content_type__app_label="records",
                                    codename="add_recordaddition").first()
    if old is None:
        return  # a new database: roles 0001 gives the groups their permissions
    # Permissions are normally made after all migrations; this one is needed now.
    content_type, _ = apps.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="records", model="addedrecord")
    new, _ = Permission.objects.get_or_create(content_type=content_type,
                                              codename="add_addedrecord",
                                              defaults={"name": "Can add added record"})
    for group in apps.get_model("auth", "Group").objects.filter(permissions=old):
        group.permissions.add(new)
    for user in apps.get_model("auth", "User").objects.filter(user_permissions=old):
        user.user_permissions.add(new)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0005_entry"),
        ("campaigns", "0005_change_request_events"),
        ("records", "0004_index_phone_by_date"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("roles", "0001_groups"),
    ]

    operations = [
        migrations.CreateModel(
            name="AddedRecord",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("phone_key", models.CharField(max_length=20, verbose_name="phone number")),
                ("identifier", models.CharField(blank=True, max_length=64, verbose_name="identifier")),
                ("record_id", models.CharField(blank=True, max_length=64, verbose_name="Thulium record id")),
                ("status", models.CharField(choices=[("sending", "being sent"), ("added", "added"), ("unknown", "unknown")], max_length=10, verbose_name="status")),
                ("created_at", models.DateTimeField(verbose_name="when")),
                ("campaign", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="campaigns.campaign")),
                ("entry", models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="audit.entry")),
            ],
            options={
                "verbose_name": "added record",
                "verbose_name_plural": "added records",
                "constraints": [
                    models.UniqueConstraint(fields=("campaign", "phone_key"), name="added_once"),
                ],
                "indexes": [
                    models.Index(fields=["campaign", "identifier"], name="added_campaign_identifier"),
                ],
            },
        ),
        migrations.RunPython(grant_adding, migrations.RunPython.noop),
    ]
