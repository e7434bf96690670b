"""The Compliance officers group: its members manage the do-not-call list. Administrators
(staff) may too; they and record loaders may put a number seen on an entry on the list."""

from django.db import migrations

GROUPS = {
    "Compliance officers": ["manage_list", "opt_out"],
    "Administrators": ["manage_list", "opt_out"],
    # The loader who added a record sees its entry, and may hear the person opt out.
    "Record loaders": ["opt_out"],
}


def create_compliance_officers(apps, schema_editor):
    content_type, _ = apps.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="donotcall", model="suppression"
    )
    Permission = apps.get_model("auth", "Permission")
    names = {"manage_list": "Can manage the do-not-call list",
             "opt_out": "Can put a number seen on an entry on the do-not-call list"}
    for name, codenames in GROUPS.items():
        group, _ = apps.get_model("auth", "Group").objects.get_or_create(name=name)
        for codename in codenames:
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type, codename=codename,
                defaults={"name": names[codename]})
            group.permissions.add(permission)


class Migration(migrations.Migration):

    dependencies = [
        ("donotcall", "0001_initial"),
        ("roles", "0002_groups_of_the_one_log"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        # Left in place when unapplied: its members and permissions may have been changed since.
        migrations.RunPython(create_compliance_officers, migrations.RunPython.noop),
    ]
