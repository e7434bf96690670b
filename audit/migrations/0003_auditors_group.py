"""The Auditors group: its members see everyone's actions in the audit trail."""

from django.db import migrations


def create_auditors(apps, schema_editor):
    content_type, _ = apps.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="audit", model="chainhead"
    )
    permission, _ = apps.get_model("auth", "Permission").objects.get_or_create(
        content_type=content_type, codename="view_audit_trail",
        defaults={"name": "Can see everyone's actions in the audit trail"},
    )
    group, _ = apps.get_model("auth", "Group").objects.get_or_create(name="Auditors")
    group.permissions.add(permission)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0002_chain_existing_entries"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        # Left in place when unapplied: its members and permissions may have been changed since.
        migrations.RunPython(create_auditors, migrations.RunPython.noop),
    ]
