"""The permissions of the portal's models deleted since are gone, with every grant of them:
the group and user pages offered them to grant, in English, meaning nothing."""

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from audit.models import Entry
from roles.entries import GROUP
from roles.services import group_roles_record
from tests.conftest import make_user

# The models DeleteModel removed, by app.
REMOVED = {"campaigns": ["campaignchange", "changerequestevent"],
           "records": ["recordaddition"], "imports": ["importreceipt"]}
# Each of those apps just before the migration that removes their content types.
BEFORE = [("campaigns", "0015_campaign_read_at"),
          ("records", "0010_rekey_numbers_written_with_a_trunk_zero"),
          ("imports", "0020_model_names")]


def of_removed_models(queryset, prefix=""):
    return [row for app, models in REMOVED.items()
            for row in queryset.filter(**{f"{prefix}app_label": app, f"{prefix}model__in": models})]


@pytest.mark.django_db
def test_no_permission_of_a_removed_model_is_left_to_grant(client):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))

    chooser = client.get(reverse("admin:auth_group_add")).content.decode()

    assert of_removed_models(Permission.objects, prefix="content_type__") == []
    for words in ("campaignchange", "changerequestevent", "recordaddition", "importreceipt",
                  "Can add campaign change"):
        assert words not in chooser
    assert "Can view campaign" in chooser


def migrate(targets) -> None:
    MigrationExecutor(connection).migrate(targets)
    ContentType.objects.clear_cache()


@pytest.mark.django_db(transaction=True)
def test_each_app_s_migration_removes_its_deleted_models_permissions_and_their_grants():
    """As in a database migrated before: the content types, permissions and grants made
    while the models were. Another app's content type of no model, and one of the portal's
    apps not named, are not theirs to remove; the admin's history and the audit trail keep
    what they recorded."""
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    migrate(BEFORE)
    try:
        removed = [ContentType.objects.get_or_create(app_label=app, model=model)[0]
                   for app, models in REMOVED.items() for model in models]
        for content_type in removed:
            for action in ("add", "change", "delete", "view"):
                Permission.objects.get_or_create(
                    content_type=content_type, codename=f"{action}_{content_type.model}",
                    defaults={"name": f"Can {action} {content_type.model}"})
        not_theirs = [ContentType.objects.create(app_label="axes", model="gone"),
                      ContentType.objects.create(app_label="campaigns", model="gone")]
        root = make_user("root", is_staff=True, is_superuser=True)
        ewa = make_user("ewa")
        ewa.user_permissions.add(Permission.objects.get(codename="view_campaignchange"))
        group = Group.objects.create(name="Old loaders")
        group.permissions.add(Permission.objects.get(codename="add_recordaddition"),
                              Permission.objects.get(codename="view_campaign"))
        LogEntry.objects.create(user=root, content_type=removed[0], object_id="7",
                                object_repr="Sales", action_flag=ADDITION)
        group_roles_record(actor=root, before=None, after={
            "name": group.name,
            "permissions": {"records.add_recordaddition", "campaigns.view_campaign"}},
            members=[])
    finally:
        migrate(latest)

    assert of_removed_models(ContentType.objects) == []
    assert of_removed_models(Permission.objects, prefix="content_type__") == []
    assert ContentType.objects.filter(pk__in=[gone.pk for gone in not_theirs]).count() == 2
    assert list(group.permissions.values_list("codename", flat=True)) == ["view_campaign"]
    assert not ewa.user_permissions.exists()
    assert LogEntry.objects.get(object_id="7").content_type is None
    assert "records.add_recordaddition" in GROUP.summary(Entry.objects.get(kind=GROUP.slug))
