"""Who may do what with an import: loaders work on their own, auditors read everyone's."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from imports.models import ImportJob
from imports.services import import_cancel, import_confirm
from tests.conftest import LOADERS, admin_shows, make_user
from tests.import_files import csv_bytes, people, previewed, upload
from tests.test_roles import PageTargets

pytestmark = pytest.mark.django_db

AUDITORS = "Auditors"  # made by audit/migrations/0003_auditors_group.py
OK, DENIED = "ok", "403"
ROLES = ("owner", "loader", "auditor", "member", "superuser")
# The owner is the loader who uploaded the imports; the other loader did not.
# url name                method job          owner loader  auditor member  superuser
ACCESS = [
    ("imports:upload",      "GET",  None,       OK,   OK,     DENIED, DENIED, OK),
    ("imports:detail",      "GET",  "previewed", OK,  DENIED, OK,     DENIED, OK),
    ("imports:detail",      "GET",  "finished", OK,   DENIED, OK,     DENIED, OK),
    ("imports:progress",    "GET",  "finished", OK,   DENIED, OK,     DENIED, OK),
    ("imports:report",      "GET",  "finished", OK,   DENIED, OK,     DENIED, OK),
    # The file's own rows: for whoever may send it again.
    ("imports:rows_to_fix", "GET",  "previewed", OK,  DENIED, DENIED, DENIED, OK),
    ("imports:mapping",     "GET",  "previewed", OK,  DENIED, DENIED, DENIED, OK),
    ("imports:read_options", "POST", "previewed", OK, DENIED, DENIED, DENIED, OK),
    ("imports:sheet",       "POST", "previewed", OK,  DENIED, DENIED, DENIED, OK),
    # On a finished import confirming and cancelling change nothing: only the answer counts.
    ("imports:confirm",     "POST", "finished", OK,   DENIED, DENIED, DENIED, OK),
    ("imports:stop_check",  "POST", "finished", OK,   DENIED, DENIED, DENIED, OK),
    ("imports:cancel",      "POST", "finished", OK,   DENIED, DENIED, DENIED, OK),
]


@pytest.fixture
def sales(campaigns):
    return campaigns["00001"]


@pytest.fixture
def jobs(logged_in, sales):
    """The owner's imports: one previewed, one finished (confirmed, then cancelled)."""
    finished = previewed(logged_in, sales, csv_bytes(people(2)))
    assert import_confirm(job=finished)
    import_cancel(job=ImportJob.objects.get(pk=finished.pk))
    return {"previewed": previewed(logged_in, sales, csv_bytes(people(3))),
            "finished": ImportJob.objects.get(pk=finished.pk)}


def role_user(role: str, owner):
    if role == "owner":
        return owner
    if role == "superuser":
        return make_user("root", is_superuser=True)
    return make_user(role, *{"loader": [LOADERS], "auditor": [AUDITORS]}.get(role, []))


def browser(role: str, owner) -> Client:
    client = Client()
    client.force_login(role_user(role, owner))
    return client


def answer(response) -> str:
    return DENIED if response.status_code == 403 else (
        OK if response.status_code in (200, 302) else str(response.status_code))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", ACCESS, ids=[f"{row[0]} {row[2]}" for row in ACCESS])
def test_each_role_gets_the_answer_the_table_says(user, sales, jobs, role, row):
    name, method, job, *expected = row
    client = browser(role, user)
    url = reverse(name, args=[jobs[job].pk] if job else [sales.thulium_id])

    response = client.get(url) if method == "GET" else client.post(url)

    assert answer(response) == expected[ROLES.index(role)]


@pytest.mark.parametrize("role", ["owner", "auditor", "superuser"])
def test_no_import_page_shows_a_button_that_answers_403(logged_in, user, sales, jobs, role):
    viewer = role_user(role, user)
    client = Client()
    client.force_login(viewer)
    sending = previewed(logged_in, sales, csv_bytes(people(2, first=603000000)))
    assert import_confirm(job=sending)  # waiting for a worker: it can be cancelled
    pages = [reverse("imports:detail", args=[job.pk])
             for job in (jobs["previewed"], jobs["finished"], sending)]
    if role != "auditor":
        pages.append(reverse("imports:upload", args=[sales.thulium_id]))

    followed = []
    for page in pages:
        response = client.get(page, follow=True)
        assert response.status_code == 200, (role, page)
        targets = PageTargets()
        targets.feed(response.content.decode())
        for link in targets.links:
            assert answer(client.get(link)) == OK, (role, page, link)
        for action in targets.forms:
            assert answer(client.post(action or page)) == OK, (role, page, action)
            client.force_login(viewer)  # again: one of the forms is the logout
        followed += targets.links + targets.forms
    assert jobs["finished"].receipt.get_absolute_url() in followed  # the receipt's entry


def test_readers_who_may_not_act_see_no_action_buttons(logged_in, user, sales, jobs):
    auditor = browser("auditor", user)
    sending = previewed(logged_in, sales, csv_bytes(people(2, first=603000000)))
    assert import_confirm(job=sending)

    preview = auditor.get(jobs["previewed"].get_absolute_url()).content.decode()
    progress = auditor.get(sending.get_absolute_url()).content.decode()
    assert 'data-testid="confirm"' not in preview and "/mapping/" not in preview
    assert 'data-testid="cancel"' not in progress
    assert 'data-testid="cancel"' in logged_in.get(sending.get_absolute_url()).content.decode()


def test_a_file_not_yet_mapped_reads_as_such_to_an_auditor(logged_in, user, sales):
    upload(logged_in, sales, csv_bytes(people(2)))
    job = ImportJob.objects.get()

    page = browser("auditor", user).get(job.get_absolute_url())

    assert page.status_code == 200
    assert "not previewed yet" in page.content.decode()
    assert logged_in.get(job.get_absolute_url()).url == reverse("imports:mapping", args=[job.pk])


def test_the_upload_page_lists_only_imports_the_user_may_open(logged_in, user, sales, jobs):
    url = reverse("imports:upload", args=[sales.thulium_id])

    theirs = browser("loader", user).get(url).context["recent"]
    own = logged_in.get(url).context["recent"]

    assert list(theirs) == []
    assert {job.pk for job in own} == {jobs["previewed"].pk, jobs["finished"].pk}


def test_staff_who_may_view_imports_in_the_admin_read_there_only_those_the_portal_shows(
        client, jobs):
    boss = make_user("boss", is_staff=True)
    boss.user_permissions.add(Permission.objects.get(codename="view_importjob"))
    client.force_login(boss)
    assert admin_shows(client, jobs["finished"]) == (False, False)
    boss.groups.add(Group.objects.get(name=AUDITORS))
    client.force_login(User.objects.get(pk=boss.pk))
    assert admin_shows(client, jobs["finished"]) == (True, True)


def test_a_superuser_may_cancel_an_import_whose_owner_is_away(logged_in, user, sales):
    job = previewed(logged_in, sales, csv_bytes(people(2)))
    assert import_confirm(job=job)

    browser("superuser", user).post(reverse("imports:cancel", args=[job.pk]))

    assert ImportJob.objects.get(pk=job.pk).state == ImportJob.State.CANCELLED
