"""The portal's own groups (its roles) named in the reader's language wherever the portal
shows them: an audit entry's page and timeline row, the admin's group list and user pages.
Their stored names stay English: they are the groups' keys, and the entries hold them as
recorded, under the chain's hashes."""

import re
from html import unescape

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils.translation import override

from audit.models import Entry
from audit.verify import verify_chain
from roles.groups import PORTAL_GROUPS, group_name_shown
from tests.conftest import ADMINISTRATORS, AUDITORS, EDITORS, LOADERS, make_user
from tests.test_roles import group_form
from tests.test_twofactor import account_form

pytestmark = pytest.mark.django_db

# An administrator's own group: the portal has no words for it.
NIGHT_SHIFT = "Night shift"


def polish(client, url: str, **params) -> str:
    return unescape(client.get(url, params, HTTP_ACCEPT_LANGUAGE="pl").content.decode())


def test_the_names_marked_for_translation_are_the_groups_the_migrations_make():
    """The migrations name the groups themselves, as a migration must not change with the
    code: the list the portal translates is held to what they made."""
    assert set(Group.objects.values_list("name", flat=True)) == PORTAL_GROUPS
    # A group of an administrator's whose name the catalogue knows as a word reads as named.
    with override("pl"):
        assert group_name_shown("Record") == "Record"
        assert group_name_shown(LOADERS) == "Wprowadzający rekordy"


def test_an_account_s_groups_read_in_polish_on_its_entry_and_stay_stored_in_english(client):
    """A Polish auditor read "Groups gained: Record loaders" on the entry of a role given in
    the admin, and on its timeline row."""
    root = make_user("root", is_staff=True, is_superuser=True)
    ewa = make_user("ewa")
    night_shift = Group.objects.create(name=NIGHT_SHIFT)
    client.force_login(root)
    client.post(reverse("admin:auth_user_change", args=[ewa.pk]), account_form(
        ewa, groups=[Group.objects.get(name=LOADERS).pk, night_shift.pk]))
    entry = Entry.objects.get(kind="account")
    assert entry.details["gained"] == [NIGHT_SHIFT, LOADERS]

    page = polish(client, entry.get_absolute_url())
    timeline = polish(client, reverse("audit:timeline"), kind="account")

    assert 'data-testid="gained">Night shift, Wprowadzający rekordy</dd>' in page
    assert "nadano: Night shift, Wprowadzający rekordy" in timeline
    english = client.get(entry.get_absolute_url()).content.decode()
    assert 'data-testid="gained">Night shift, Record loaders</dd>' in english
    entry.refresh_from_db()
    assert entry.details["gained"] == [NIGHT_SHIFT, LOADERS]
    assert not verify_chain().problem


def test_a_group_s_entry_names_it_in_polish_beside_its_stored_name(client):
    """Beside it, the name the timeline's search finds it by."""
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    editors = Group.objects.get(name=EDITORS)
    client.post(reverse("admin:auth_group_change", args=[editors.pk]),
                group_form(EDITORS, "change_campaign"))
    entry = Entry.objects.get(kind="group")
    assert entry.details["group"] == EDITORS

    page = polish(client, entry.get_absolute_url())

    assert 'data-testid="group">Edytorzy kampanii <code>Campaign editors</code></dd>' in page
    assert "zmieniono grupę Edytorzy kampanii" in polish(client, reverse("audit:timeline"))
    assert not verify_chain().problem


def test_the_admin_names_the_portal_s_groups_in_polish(client):
    """The user page's groups chooser, the user list's filter and the group list offered
    "Record loaders" to a Polish administrator; a group of theirs keeps its name."""
    root = make_user("root", is_staff=True, is_superuser=True)
    loaders, night_shift = Group.objects.get(name=LOADERS), Group.objects.create(name=NIGHT_SHIFT)
    client.force_login(root)

    user_page = polish(client, reverse("admin:auth_user_change", args=[root.pk]))
    groups = re.search(r'<select name="groups".*?</select>', user_page, re.S).group(0)
    user_list = polish(client, reverse("admin:auth_user_changelist"))
    group_list = polish(client, reverse("admin:auth_group_changelist"))

    assert f'<option value="{loaders.pk}">Wprowadzający rekordy</option>' in groups
    assert f'<option value="{night_shift.pk}">Night shift</option>' in groups
    assert LOADERS not in groups
    assert f'?groups__id__exact={loaders.pk}">Wprowadzający rekordy</a>' in user_list
    assert set(re.findall(r'<th class="field-name_shown"><a [^>]*>(.*?)</a>', group_list)) == {
        "Administratorzy", "Audytorzy", "Edytorzy kampanii", "Specjaliści ds. zgodności",
        "Wprowadzający rekordy", NIGHT_SHIFT}


def groups_read_only(page: str) -> str:
    """The groups a user's admin page shows without a chooser."""
    return re.search(r'field-groups\w*">.*?<div class="readonly">(.*?)</div>', page,
                     re.S).group(1)


def test_groups_an_administrator_may_not_change_read_in_polish_too(client):
    """Their own account's, and an auditor's (which they may only look at), were shown by
    Django, by their stored names."""
    boss = make_user("boss", ADMINISTRATORS, is_staff=True)
    auditor = make_user("audrey", AUDITORS, EDITORS)
    client.force_login(boss)

    own = polish(client, reverse("admin:auth_user_change", args=[boss.pk]))
    theirs = polish(client, reverse("admin:auth_user_change", args=[auditor.pk]))

    assert groups_read_only(own) == "Administratorzy"
    assert groups_read_only(theirs) == "Audytorzy, Edytorzy kampanii"
    assert "Grupy" in own and 'name="groups"' not in own + theirs


def groups_found(client, search: str) -> set[str]:
    """The names the Polish admin's group list shows for a search."""
    found = polish(client, reverse("admin:auth_group_changelist"), q=search)
    return set(re.findall(r'<th class="field-name_shown"><a [^>]*>(.*?)</a>', found))


def test_the_admin_s_group_search_finds_a_portal_group_by_its_polish_name(client):
    """A Polish administrator who typed "Audytorzy", as the list names the group, found
    nothing: Django searched its stored English name only, which still finds it."""
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    Group.objects.create(name=NIGHT_SHIFT)

    assert groups_found(client, "Audytorzy") == {"Audytorzy"}
    assert groups_found(client, "audyt") == {"Audytorzy"}
    assert groups_found(client, "ZGODNOŚCI specjaliści") == {"Specjaliści ds. zgodności"}
    assert groups_found(client, "Auditors") == {"Audytorzy"}
    assert groups_found(client, "night") == {NIGHT_SHIFT}
    assert groups_found(client, "audyt rekordy") == set()  # each word, as Django finds
