"""The Django admin's list of audit entries: it lists, filters by kind and outcome and
searches exactly, and no query of it reads the whole log (a million entries)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.kinds import all_kinds
from campaigns.entries import CAMPAIGN_CHANGE
from portal.paging import LongTablePaginator
from records.entries import RECORD_ADDITION
from tests.audit_fixtures import addition, change
from tests.conftest import skip_unless_postgresql

LIST = "/admin/audit/entry/"


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "x"))
    return client


@pytest.fixture
def entries(user, campaigns):
    """A refused change with Thulium's request_id, and two additions."""
    return [
        change(actor=user, campaign=campaigns["00001"], sent={"dialer": "predictive"},
               outcome="refused", http_status=400, request_id="thl-7f3a"),
        addition(actor=user, campaign=campaigns["00001"], phone="601234567"),
        addition(actor=user, campaign=campaigns["00002"], phone="601234568"),
    ]


def listed(response) -> set[int]:
    assert response.status_code == 200
    return {int(pk) for pk in re.findall(r'/admin/audit/entry/(\d+)/change/',
                                         response.content.decode())}


def test_the_list_shows_every_entry_and_offers_every_kind_the_apps_register(admin_client,
                                                                            entries):
    response = admin_client.get(LIST)
    assert listed(response) == {entry.pk for entry in entries}
    page = response.content.decode()
    # Kinds no entry has yet are offered too: they come from the registry, not the log.
    assert all(f"?kind={kind.slug}" in page for kind in all_kinds())
    assert "3 audit entries" in page


def test_the_list_filters_by_kind_and_outcome(admin_client, entries):
    change_, *additions = entries
    assert listed(admin_client.get(LIST, {"kind": RECORD_ADDITION.slug})) == {
        entry.pk for entry in additions}
    assert listed(admin_client.get(LIST, {"kind": CAMPAIGN_CHANGE.slug})) == {change_.pk}
    assert listed(admin_client.get(LIST, {"outcome__exact": "refused"})) == {change_.pk}


def test_the_search_finds_a_request_id_a_username_or_an_entry_s_number_exactly(admin_client,
                                                                              entries, user):
    change_, first, _second = entries
    assert listed(admin_client.get(LIST, {"q": "thl-7f3a"})) == {change_.pk}
    assert listed(admin_client.get(LIST, {"q": f" {user.username} "})) == {
        entry.pk for entry in entries}
    assert listed(admin_client.get(LIST, {"q": str(first.pk)})) == {first.pk}
    # Not a part of one: that read every entry. Nor a digit that is no ASCII digit.
    assert listed(admin_client.get(LIST, {"q": "7f3"})) == set()
    assert listed(admin_client.get(LIST, {"q": "²"})) == set()
    assert listed(admin_client.get(LIST, {"q": user.username[:3]})) == set()


@pytest.mark.parametrize("query", [{}, {"kind": RECORD_ADDITION.slug}, {"q": "thl-7f3a"},
                                   {"outcome__exact": "refused"}, {"p": "2"}])
def test_no_query_of_the_list_reads_the_whole_log(admin_client, entries, query,
                                                  monkeypatch):
    """The date hierarchy's years, the kinds filter's DISTINCT, the paginator's COUNT(*)
    and the search's LIKE '%...%' each read every entry, at every page."""
    monkeypatch.setattr(LongTablePaginator, "COUNTED_AT_MOST", 2)
    monkeypatch.setattr("audit.admin.EntryAdmin.list_per_page", 1)
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(LIST, query).status_code == 200
    of_the_log = [query["sql"] for query in queries if '"audit_entry"' in query["sql"]]
    assert of_the_log
    for sql in of_the_log:
        assert "DISTINCT" not in sql and " LIKE " not in sql, sql
        assert "COUNT(" not in sql or " LIMIT " in sql, sql


def test_a_long_filtered_list_is_counted_only_so_far_and_says_so(admin_client, entries,
                                                                 monkeypatch):
    monkeypatch.setattr(LongTablePaginator, "COUNTED_AT_MOST", 2)
    page = admin_client.get(LIST, {"kind": RECORD_ADDITION.slug}).content.decode()
    assert "at least 2 audit entries" in page
    page = admin_client.get(LIST, {"kind": CAMPAIGN_CHANGE.slug}).content.decode()
    assert "1 audit entry" in page


def test_the_whole_log_is_as_long_as_postgresql_estimates_it(admin_client, entries,
                                                             monkeypatch):
    skip_unless_postgresql(connection)
    monkeypatch.setattr(LongTablePaginator, "COUNTED_AT_MOST", 2)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_entry")
    page = admin_client.get(LIST).content.decode()
    assert "about 3 audit entries" in page


def test_the_list_stays_read_only(admin_client, entries):
    assert admin_client.get("/admin/audit/entry/add/").status_code == 403
    assert admin_client.post(f"/admin/audit/entry/{entries[0].pk}/delete/").status_code == 403
    page = admin_client.get(f"/admin/audit/entry/{entries[0].pk}/change/").content.decode()
    assert 'name="_save"' not in page


@pytest.mark.parametrize(("language", "words"), [("en", "Settings changed"),
                                                 ("pl", "Zmieniono ustawienia")])
def test_the_list_names_each_entry_s_action_in_the_reader_s_words(admin_client, entries,
                                                                  language, words):
    page = admin_client.get(LIST, HTTP_ACCEPT_LANGUAGE=language).content.decode()

    cells = re.findall(r'<td class="field-action">(.*?)</td>', page)
    assert words.lower() in [cell.lower() for cell in cells]
    assert CAMPAIGN_CHANGE.slug not in cells and RECORD_ADDITION.slug not in cells


@pytest.mark.parametrize(("language", "words"), [("en", "settings changed"),
                                                 ("pl", "zmieniono ustawienia")])
def test_an_entry_s_page_names_its_action_in_the_reader_s_words(admin_client, entries,
                                                                 language, words):
    page = admin_client.get(f"{LIST}{entries[0].pk}/change/",
                            HTTP_ACCEPT_LANGUAGE=language).content.decode()

    (shown,) = re.findall(r'field-action">.*?<div class="readonly">(.*?)</div>', page, re.S)
    assert shown.lower() == words
    assert CAMPAIGN_CHANGE.slug not in page
