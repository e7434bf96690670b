"""The roles' permissions once the audit log is one table and added records are state."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "Campaign editors": [
        ("campaigns", "change_campaign"),
        ("campaigns", "approve_changerequest"),
    ],
    "Record loaders": [
        ("records", "add_addedrecord"),
    ],
    # Django staff: user accounts, the campaigns registry, unlocking locked-out logins.
    "Administrators": [
        ("auth", "add_user"),
        ("auth", "change_user"),
        ("auth", "delete_user"),
        ("auth", "view_user"),
        ("auth", "view_group"),
        ("campaigns", "add_campaign"),
        ("campaigns", "change_campaign"),
        ("campaigns", "delete_campaign"),
        ("campaigns", "view_campaign"),
        ("campaigns", "view_changerequest"),
        ("audit", "view_entry"),
        ("audit", "erase_personal_data"),
        ("axes", "view_accessattempt"),
        ("axes", "delete_accessattempt"),
        ("axes", "view_accessfailurelog"),
        ("axes", "view_accesslog"),
    ],
}


def create_groups(apps, schema_editor):
    # Permissions are normally made after all migrations; these groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, permissions in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            Permission.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in permissions
        )


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0006_carry_over"),
        ("campaigns", "0007_remove_old_audit_tables"),
        ("records", "0006_remove_recordaddition"),
        ("roles", "0001_groups"),
    ]

    operations = [
        migrations.RunPython(create_groups, migrations.RunPython.noop),
    ]
