"""The flush after a transactional test keeps the content types, permissions and role groups
only while no test has changed them (tests/kept_rows.py): the second test runs after the
first and finds what the migrations made, not what the first left."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from tests.conftest import EDITORS

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_test_may_change_the_groups_permissions_and_content_types():
    editors = Group.objects.get(name=EDITORS)
    editors.permissions.add(Permission.objects.get(codename="delete_campaign"))
    Permission.objects.filter(codename="change_campaign").update(name="Renamed")
    ContentType.objects.create(app_label="tests", model="leftover")
    Group.objects.create(name="Made by a test")


def test_the_next_test_finds_them_as_the_migrations_made_them():
    assert set(Group.objects.get(name=EDITORS).permissions.values_list("codename", flat=True)
               ) == {"change_campaign", "approve_changerequest"}
    assert Permission.objects.get(codename="change_campaign").name == "Can change campaign"
    assert not ContentType.objects.filter(app_label="tests").exists()
    assert not Group.objects.filter(name="Made by a test").exists()
