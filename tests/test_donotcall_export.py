"""The do-not-call list's export: the very file written from each entry's model, streamed in
pieces of some hundreds of lines from one query, however long the list."""

import datetime

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from donotcall.export import CHUNK_LINES
from donotcall.models import Suppression
from portal.spreadsheets import FORMULA_STARTS, csv_lines
from tests.conftest import COMPLIANCE, make_user
from tests.test_spreadsheets import pieces_at_commas


@pytest.fixture
def officer_client(client, db):
    client.force_login(make_user("officer", COMPLIANCE))
    return client


def entries(campaigns, count):
    """Entries of every sort the export writes: for one campaign or all, erased, with a
    note to be made safe, expired, expiring today or later or never, and a reason code the
    portal no longer offers."""
    today = timezone.localdate()
    campaign = campaigns["00001"]
    Suppression.objects.bulk_create(
        Suppression(
            digest=f"digest-{n}", phone_key="" if n % 9 == 4 else f"486010{n:05d}",
            campaign=campaign if n % 3 == 0 else None,
            reason=["request", "complaint", "regulator", "other", "legacy"][n % 5],
            note=["", "=HYPERLINK(1)", 'ma "dość"; dzwońcie\nrzadziej', "zwykła"][n % 4],
            source=["typed", "upload", "opt-out"][n % 3], added_by_username=f"officer{n % 2}",
            # Winter and summer time, a whole second and a part of one.
            created_at=datetime.datetime(2025, 1 + n % 12, 1 + n % 28, n % 24, n % 60, n % 60,
                                         (n % 2) * 123456, tzinfo=datetime.UTC),
            expires_on=[None, today - datetime.timedelta(days=1), today,
                        today + datetime.timedelta(days=30)][n % 4])
        for n in range(count))


def as_each_model_writes_it() -> str:
    """The file as the plain Django path writes it: each entry's model, its campaign and
    display methods."""
    zone = settings.TIME_ZONE
    rows = [[_("phone_number"), _("digest"), _("campaign"), _("reason"), _("note"),
             _("source"), _("added_by"), f"{_('added_at')} ({zone})",
             f"{_('expires_on')} ({zone})", _("expired")]]
    for entry in Suppression.objects.select_related("campaign").order_by("pk"):
        rows.append([
            f"+{entry.phone_key}" if entry.phone_key else "", entry.digest,
            entry.campaign.thulium_id if entry.campaign else "", entry.get_reason_display(),
            entry.note, entry.get_source_display(), entry.added_by_username,
            timezone.localtime(entry.created_at).isoformat(timespec="seconds"),
            entry.expires_on.isoformat() if entry.expires_on else "",
            _("yes") if entry.is_expired else ""])
    return "\ufeff" + "".join(csv_lines(rows))


def test_the_export_s_header_names_the_zone_of_its_times(officer_client, campaigns, settings):
    """Its header said "added_at" over a time written in the portal's zone, which it named
    nowhere."""
    settings.TIME_ZONE = "America/New_York"
    Suppression.objects.create(digest="d", phone_key="48601000001", added_by_username="officer",
                               created_at=datetime.datetime(2027, 1, 10, 9, tzinfo=datetime.UTC))
    response = officer_client.get(reverse("donotcall:export"))
    header, line = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert "added_at (America/New_York);expires_on (America/New_York)" in header
    assert "2027-01-10T04:00:00-05:00" in line


@pytest.mark.parametrize("language", ["en", "pl"])
def test_the_export_is_the_file_each_entry_s_model_writes(officer_client, campaigns, language):
    entries(campaigns, 60)
    response = officer_client.get(reverse("donotcall:export"), HTTP_ACCEPT_LANGUAGE=language)
    exported = b"".join(response.streaming_content).decode()
    with translation.override(language):
        assert exported == as_each_model_writes_it()


def test_no_cell_is_a_formula_where_excel_splits_at_commas(officer_client, db):
    """English Excel splits a .csv at commas: a note "Seasonal,=2+5," held =2+5."""
    Suppression.objects.create(digest="d", phone_key="48601999999", reason="other",
                               source="typed", note="Seasonal,=2+5,")
    exported = b"".join(officer_client.get(reverse("donotcall:export")).streaming_content)
    assert not any(piece.startswith(FORMULA_STARTS)
                   for piece in pieces_at_commas(exported.decode()))
    assert "Seasonal,'=2+5," in exported.decode()


def test_a_long_list_is_one_query_and_a_piece_per_some_hundred_lines(officer_client,
                                                                     campaigns):
    """A piece per line made a million entries too slow for the web worker's timeout."""
    entries(campaigns, 3 * CHUNK_LINES + 7)
    response = officer_client.get(reverse("donotcall:export"))
    with CaptureQueriesContext(connection) as queries:
        pieces = list(response.streaming_content)
    assert len(queries) == 1
    # The byte order mark, then the header and the entries, at most 500 lines a piece.
    assert len(pieces) == 1 + 4
