"""The imports page: every import a user may read, filtered, newest first."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from imports.models import ImportJob
from imports.services import import_cancel, import_confirm
from tests.conftest import AUDITORS, LOADERS, make_user
from tests.import_files import csv_bytes, people, previewed

pytestmark = pytest.mark.django_db

LIST = reverse("imports:list")


def listed(client, **filters) -> list[str]:
    """The file names the page lists, in its order."""
    response = client.get(LIST, filters)
    assert response.status_code == 200
    return [job.file_name for job in response.context["page"]]


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def jobs(logged_in, campaigns):
    """The loader's imports: one previewed, one confirmed then cancelled; a colleague's."""
    sent = previewed(logged_in, campaigns["00001"], csv_bytes(people(2)), name="sent.csv")
    assert import_confirm(job=sent)
    import_cancel(job=ImportJob.objects.get(pk=sent.pk))
    previewed(logged_in, campaigns["00002"], csv_bytes(people(3)), name="waiting.csv")
    colleague = as_user(make_user("colleague", LOADERS))
    previewed(colleague, campaigns["00001"], csv_bytes(people(1)), name="colleague.csv")


def test_each_user_sees_the_imports_they_may_read(logged_in, jobs):
    assert listed(logged_in) == ["waiting.csv", "sent.csv"]
    assert listed(as_user(make_user("auditor", AUDITORS))) == [
        "colleague.csv", "waiting.csv", "sent.csv"]
    assert listed(as_user(make_user("member"))) == []


def test_the_filters_narrow_the_list_and_a_bad_one_lists_nothing(jobs):
    auditor = as_user(make_user("auditor", AUDITORS))
    assert listed(auditor, campaign="00001") == ["colleague.csv", "sent.csv"]
    assert listed(auditor, state="cancelled") == ["sent.csv"]
    assert listed(auditor, campaign="00001", state="previewed") == ["colleague.csv"]
    assert listed(auditor, mine="on") == []
    assert listed(auditor, state="no-such-state") == []
    assert listed(auditor, campaign="99999") == []


def test_an_ended_import_shows_what_became_of_its_rows(logged_in, jobs):
    sent = ImportJob.objects.get(file_name="sent.csv")
    ImportJob.objects.filter(pk=sent.pk).update(rows_cleared_at=timezone.now())
    page = logged_in.get(LIST).content.decode()
    assert "2 not sent" in page and ">personal data cleared</span>" in page
    assert f'href="{sent.get_absolute_url()}"' in page


def test_an_import_uploaded_in_the_repeated_hour_is_listed_with_its_zone(logged_in, jobs):
    """02:30 comes twice on 2027-10-31 in Warsaw: the list read the same for both."""
    ImportJob.objects.filter(file_name="sent.csv").update(
        created_at=datetime.datetime(2027, 10, 31, 0, 30, tzinfo=datetime.UTC))
    assert "2027-10-31 02:30 CEST" in logged_in.get(LIST).content.decode()


def test_the_list_pages_by_fifty_keeping_the_filters(logged_in, campaigns, user):
    ImportJob.objects.bulk_create(
        ImportJob(campaign=campaigns["00002"], actor=user, actor_username=user.username,
                  file_name=f"{n:02d}.csv", file_size=1, file_sha256="0" * 64, file_kind="csv")
        for n in range(51))
    first = logged_in.get(LIST, {"campaign": "00002"})
    assert len(first.context["page"]) == 50
    assert "?campaign=00002&amp;page=2" in first.content.decode()
    assert len(logged_in.get(LIST, {"campaign": "00002", "page": 2}).context["page"]) == 1
    # A page number that is none is the first (or the last, past the end).
    assert logged_in.get(LIST, {"page": "x\x00"}).context["page"].number == 1
    assert logged_in.get(LIST, {"page": "99"}).context["page"].number == 2


def test_loaders_and_auditors_find_the_page_from_the_menu(logged_in, jobs):
    link = f'href="{LIST}"'
    assert link in logged_in.get(reverse("home"), follow=True).content.decode()
    assert link in as_user(make_user("auditor", AUDITORS)).get(
        reverse("home"), follow=True).content.decode()
    assert link not in as_user(make_user("member")).get(
        reverse("home"), follow=True).content.decode()
    upload_page = logged_in.get(reverse("imports:upload", args=["00001"])).content.decode()
    assert f'href="{LIST}?campaign=00001"' in upload_page
