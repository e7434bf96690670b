"""A file uploaded again for the same campaign: its loader is shown the earlier imports."""

import pytest
from django.test import Client
from django.urls import reverse

from imports.models import ImportJob
from tests.conftest import LOADERS, make_user
from tests.import_files import csv_bytes, people, previewed, upload

pytestmark = pytest.mark.django_db

CONTENT = csv_bytes(people(2))


@pytest.fixture
def sales(campaigns):
    return campaigns["00001"]


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
