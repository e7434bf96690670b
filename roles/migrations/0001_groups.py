"""The portal's roles as groups, each with exactly the permissions its work needs.

Auditors are created by the audit app's own migration, next to its permission.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "Campaign editors": [
        ("campaigns", "change_campaign"),
        ("campaigns", "approve_changerequest"),
    ],
    "Record loaders": [
        ("records", "add_recordaddition"),
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
        ("campaigns", "view_campaignchange"),
        ("campaigns", "view_changerequest"),
        ("records", "view_recordaddition"),
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


def delete_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("axes", "0010_accessattemptexpiration"),
        ("campaigns", "0003_change_requests"),
        ("records", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, delete_groups)]
