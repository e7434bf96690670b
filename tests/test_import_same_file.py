"""A file uploaded again for the same campaign: its loader is shown the earlier imports, and
no number is sent by two imports."""

import re
from collections import Counter

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from imports.models import ImportJob, ImportRow, RowState
from imports.previewing import import_check
from imports.pushing import import_push
from imports.services import import_confirm
from tests.conftest import LOADERS, make_user, records_sent
from tests.import_files import csv_bytes, people, previewed, upload

pytestmark = pytest.mark.django_db

CONTENT = csv_bytes(people(2))


@pytest.fixture
def sales(campaigns):
    return campaigns["00001"]


def states(job) -> dict[int, str]:
    return dict(ImportRow.objects.filter(job=job).values_list("number", "state"))


def same_file_note(client, url) -> str:
    """The page's note of other imports of the file, "" if it has none."""
    page = client.get(url).content.decode()
    start = page.find('data-testid="same-file"')
    return page[start:page.index("</div>", start)] if start >= 0 else ""


def test_a_file_uploaded_again_links_the_loader_s_earlier_imports_of_it(logged_in, sales,
                                                                       campaigns):
    first = previewed(logged_in, sales, CONTENT)
    previewed(logged_in, campaigns["A7K2Q"], CONTENT)  # another campaign's: not named
    other_file = previewed(logged_in, sales, csv_bytes(people(3)))
    again = previewed(logged_in, sales, CONTENT, name="leady (1).csv")

    for url in (reverse("imports:mapping", args=[again.pk]), again.get_absolute_url()):
        note = same_file_note(logged_in, url)
        assert note.count('href="/imports/') == 1
        assert f'href="{first.get_absolute_url()}">leady.csv</a>' in note
    assert same_file_note(logged_in, first.get_absolute_url()).count('href="/imports/') == 1
    assert same_file_note(logged_in, other_file.get_absolute_url()) == ""
    # Another loader uploading it is not shown imports they may not read.
    loader = Client()
    loader.force_login(make_user("loader", LOADERS))
    upload(loader, sales, CONTENT)
    job = ImportJob.objects.latest("pk")
    assert same_file_note(loader, reverse("imports:mapping", args=[job.pk])) == ""


@pytest.mark.parametrize("by_a_worker", [False, True])
def test_rows_whose_numbers_another_import_waits_to_send_are_not_offered(logged_in, sales,
                                                                         settings, by_a_worker):
    waiting = previewed(logged_in, sales, CONTENT)
    assert import_confirm(job=waiting)  # no worker has taken it yet
    if by_a_worker:  # a file deemed too large to check while its loader waits
        settings.IMPORT_CHECK_INLINE_BYTES = 1
    job = previewed(logged_in, sales, csv_bytes(people(3)))
    if by_a_worker:
        import_check(job.pk)
        job.refresh_from_db()

    assert job.rows_valid == 1
    assert states(job) == {2: RowState.ELSEWHERE, 3: RowState.ELSEWHERE, 4: RowState.QUEUED}
    page = logged_in.get(job.get_absolute_url()).content.decode()
    assert 'data-count="elsewhere">2<' in page and "Send 1 row to Thulium" in page
    assert page.count("This number waits to be sent by another import of this campaign.") == 2


def test_rows_another_import_confirmed_since_the_preview_waits_to_send_are_not_sent(logged_in,
                                                                                    sales):
    first, again = (previewed(logged_in, sales, CONTENT) for _preview in range(2))
    assert import_confirm(job=first)
    assert import_confirm(job=again)

    assert states(first) == {2: RowState.QUEUED, 3: RowState.QUEUED}
    assert states(again) == {2: RowState.ELSEWHERE, 3: RowState.ELSEWHERE}
    assert ImportJob.objects.get(pk=again.pk).rows_valid == 0


def test_a_confirmation_never_reads_the_rows_table_twice_in_one_statement(logged_in, sales):
    """As one UPDATE with a subquery of the rows' table, PostgreSQL, its statistics not yet
    counting the file just stored, looped over the other rows for each of the job's: the
    confirmation of 100,000 rows ran for minutes, past gunicorn's timeout."""
    others = [previewed(logged_in, sales, csv_bytes(people(2, first=first)))
              for first in (603000000, 604000000)]
    assert import_confirm(job=others[0])  # another import waits: its numbers are read
    job = previewed(logged_in, sales, csv_bytes(people(3, first=603000000)))
    with CaptureQueriesContext(connection) as queries:
        assert import_confirm(job=job)
    assert not [query["sql"] for query in queries.captured_queries
                if len(re.findall(r'(?:FROM|JOIN|UPDATE) "imports_importrow"', query["sql"])) > 1]
    assert states(job) == {2: RowState.ELSEWHERE, 3: RowState.ELSEWHERE, 4: RowState.QUEUED}


@pytest.mark.django_db(transaction=True)
def test_the_same_file_confirmed_after_its_first_import_was_sent_sends_no_number_again(
        logged_in, sales, thulium):
    """Both previewed before either was sent: the second offered "Send 2 rows", and its
    rows ended refused by Thulium (ALREADY_EXISTS) in an import said to be done."""
    first, again = (previewed(logged_in, sales, CONTENT) for _preview in range(2))
    assert import_confirm(job=first)
    import_push(first.pk)

    response = logged_in.post(reverse("imports:confirm", args=[again.pk]), follow=True)
    import_push(again.pk)

    assert "2 rows are not sent: since the preview, their numbers were added by the portal" in (
        response.content.decode())
    assert Counter(record["phone_number"] for record in records_sent(thulium)) == Counter(
        {row[0]: 1 for row in people(2)})
    assert states(again) == {2: RowState.ALREADY_ADDED, 3: RowState.ALREADY_ADDED}
    again.refresh_from_db()
    assert (again.state, again.receipt.results["refused"],
            again.receipt.results["rows_already_added"]) == (ImportJob.State.DONE, 0, 2)
