"""The campaign list: search, filters, dialing order, paging, stats, the selection."""

import threading

import pytest
import requests
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.signals import post_init
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import Entry
from audit.recording import last_link
from audit.verify import verify_chain
from campaigns import reading
from campaigns.entries import OUTSIDE_CHANGE, THULIUM_PRESENCE
from campaigns.models import Campaign
from campaigns.presence import presence_mark
from campaigns.reading import campaigns_sync, database_now
from tests.conftest import AUDITORS, api_calls, make_user, skip_unless_postgresql
from tests.db_threads import (
    all_at_once,
    ended_once_waiting,
    named_threads,
    started_until,
    until_waiting_for_a_lock_or_done,
)
from tests.test_gateway import CraftedThulium

LIST = reverse("campaigns:list")


@pytest.fixture
def many(db, thulium) -> list[Campaign]:
    """120 generated campaigns beside the seed's three, seeded over HTTP and synced."""
    answer = requests.post(f"{thulium.base_url}/_sandbox/campaigns", json={"count": 120},
                           timeout=5)
    assert answer.json() == {"count": 123}
    campaigns_sync()
    return list(Campaign.objects.all())


def listed(client, **query) -> list[str]:
    page = client.get(LIST, query)
    assert page.status_code == 200
    return [campaign.thulium_id for campaign in page.context["page"]]


def everything_listed(client, **query) -> list[str]:
    """Every page of the list, in order."""
    ids, number = [], 1
    while True:
        page = client.get(LIST, {**query, "page": number}).context["page"]
        ids += [campaign.thulium_id for campaign in page]
        if not page.has_next():
            return ids
        number += 1


@pytest.mark.parametrize(("query", "matches"), [
    ({"active": "yes"}, lambda c: c.settings.get("active") is True),
    ({"active": "no"}, lambda c: c.settings.get("active") is False),
    ({"dialer": "predictive"}, lambda c: c.settings.get("dialer") == "predictive"),
    ({"kind": "CRM"}, lambda c: c.kind == "CRM"),
    ({"group": "2"}, lambda c: c.settings.get("group_id") == 2),
    ({"group": "15", "active": "no"},
     lambda c: c.settings.get("group_id") == 15 and c.settings.get("active") is False),
    ({"q": "kampania 001"}, lambda c: "kampania 001" in c.name.lower()),
    ({"q": "a7k2q"}, lambda c: c.thulium_id == "A7K2Q"),
])
def test_filters_list_exactly_the_matching_campaigns(logged_in, many, query, matches):
    expected = {c.thulium_id for c in many if matches(c)}
    assert expected
    assert set(everything_listed(logged_in, **query)) == expected


def test_the_group_filter_finds_a_group_id_thulium_gave_as_text(logged_in, campaigns):
    sales = campaigns["00001"]
    Campaign.objects.filter(pk=sales.pk).update(settings={**sales.settings, "group_id": "4242"})
    assert everything_listed(logged_in, group="4242") == ["00001"]


def test_the_list_follows_thuliums_dialing_order_lowest_order_then_larger_parity(
    logged_in, many
):
    ids = everything_listed(logged_in)
    assert len(ids) == len(many) == 123
    known = {c.thulium_id: c.settings for c in many}
    positions = [(known[i]["order"], -known[i]["parity"]) for i in ids]
    assert positions == sorted(positions)


def test_orders_thulium_sent_as_text_sort_as_numbers_and_unreadable_ones_last(
    logged_in, campaigns
):
    # Sorted by the database: a cast of "abc" or true would fail the page (and did not).
    given = {"00001": ("5", 10), "00002": (" 7 ", "30"), "A7K2Q": ("abc", 10)}
    for thulium_id, (order, parity) in given.items():
        Campaign.objects.filter(thulium_id=thulium_id).update(
            settings={**campaigns[thulium_id].settings, "order": order, "parity": parity})
    odd = {"T0001": {"order": 7, "parity": 20}, "T0002": {"order": True},
           "T0003": {"order": 7.5, "parity": [1]}, "T0004": {"parity": 99},
           "T0005": {"order": "7", "parity": 20}}
    for thulium_id, known in odd.items():
        Campaign.objects.create(thulium_id=thulium_id, name=f"Odd {thulium_id}", settings=known)
    assert listed(logged_in) == ["00001", "00002", "T0001", "T0005", "T0003",
                                 "T0004", "A7K2Q", "T0002"]


def test_a_page_of_the_list_reads_only_the_campaigns_it_shows(logged_in, many):
    read = []
    post_init.connect(lambda instance, **_: read.append(instance), sender=Campaign,
                      weak=False, dispatch_uid="read")
    try:
        page = logged_in.get(LIST, {"page": 2}).context["page"]
    finally:
        post_init.disconnect(sender=Campaign, dispatch_uid="read")
    assert len(page) == 50 and page.paginator.count == 123
    assert len(read) == 50


def test_the_list_pages_by_fifty(logged_in, many):
    first, third = logged_in.get(LIST).context["page"], logged_in.get(LIST, {"page": 3})
    assert len(first) == 50 and first.paginator.num_pages == 3
    assert len(third.context["page"]) == 23
    assert "Page 3 of 3" in third.content.decode()


@pytest.mark.parametrize("query", [
    {"page": "abc"}, {"page": "-4"}, {"page": "99999"}, {"page": "1e9"},
    {"group": "xyz"}, {"group": "-1"}, {"active": "maybe"}, {"dialer": "<script>"},
    {"kind": "XYZ"}, {"q": "x" * 400}, {"campaign": ["nope!", "00001"]},
])
def test_garbage_in_the_query_string_gives_a_normal_page(logged_in, campaigns, query):
    page = logged_in.get(LIST, query)
    assert page.status_code == 200
    assert "<table" in page.content.decode()


def test_active_campaigns_show_their_records_and_completion_from_one_cached_call(
    logged_in, campaigns, thulium
):
    for number in ("601234567", "601234568"):
        requests.post(f"{thulium.url}/outbounds/00001/records", json={"phone_number": number},
                      auth=(thulium.user, thulium.password), timeout=5).raise_for_status()
    page = logged_in.get(LIST)
    rows = {c.thulium_id: c for c in page.context["page"]}
    assert rows["00001"].stats == {"records_count": 2, "percent": "0.0"}
    assert rows["00002"].stats == {"records_count": 0, "percent": "0.0"}
    assert not hasattr(rows["A7K2Q"], "stats")  # inactive: Thulium gives none
    assert "2 records, 0.0%" in page.content.decode()
    polish = logged_in.get(LIST, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    # The label in the reader's language; the bar's value as HTML wants it, in any language.
    assert "0,0%" in polish and 'value="0.0"' in polish
    # Counted as Polish counts: 1 rekord, 2 rekordy, 5 rekordów.
    assert "2 rekordy, 0,0%" in polish and "0 rekordów, 0,0%" in polish
    assert len([c for c in api_calls(thulium) if c["path"] == "/api/outbounds/stats"]) == 1


def test_the_list_still_works_and_says_so_when_the_stats_call_fails(
    logged_in, campaigns, thulium
):
    thulium.state.fail_next("http_503", path="/api/outbounds/stats")
    page = logged_in.get(LIST)
    assert page.status_code == 200
    assert len(page.context["page"]) == 3
    assert "Records and completion could not be read from Thulium" in page.content.decode()


def test_an_active_campaigns_page_shows_its_records_and_completion_too(
    logged_in, campaigns, thulium
):
    requests.post(f"{thulium.url}/outbounds/00001/records", json={"phone_number": "601234567"},
                  auth=(thulium.user, thulium.password), timeout=5).raise_for_status()
    url = reverse("campaigns:detail", args=["00001"])
    page = logged_in.get(url, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert '<div class="small" data-testid="campaign-stats">1 rekord, 0,0%</div>' in page
    assert "campaign-stats" not in logged_in.get(
        reverse("campaigns:detail", args=["A7K2Q"])).content.decode()  # inactive: none

    cache.clear()
    thulium.state.fail_next("http_503", path="/api/outbounds/stats")
    page = logged_in.get(url)
    assert page.status_code == 200
    assert "Records and completion could not be read from Thulium" in page.content.decode()


def test_the_list_and_a_campaigns_page_show_thuliums_figures_with_the_cache_down(
    logged_in, campaigns, cache_down
):
    """With Redis down both answered 500."""
    page = logged_in.get(LIST)
    assert page.status_code == 200 and page.context["stats_error"] is None
    page = logged_in.get(reverse("campaigns:detail", args=["00001"]))
    assert page.status_code == 200
    assert 'data-testid="campaign-stats">0 records, 0.0%<' in page.content.decode()


def test_no_stats_call_when_the_page_has_no_active_campaign(logged_in, campaigns, thulium):
    logged_in.get(LIST, {"active": "no"})
    assert api_calls(thulium) == []


def test_the_selection_is_kept_across_pages_and_filters(logged_in, many):
    first_page = listed(logged_in)
    ticked = [first_page[0], first_page[1]]
    page = logged_in.get(LIST, {"campaign": ticked, "page": 2}).content.decode()
    for thulium_id in ticked:
        assert f'<input type="hidden" name="campaign" value="{thulium_id}">' in page
    back = logged_in.get(LIST, {"campaign": ticked}).content.decode()
    assert back.count(" checked>") == 2
    assert "2 more campaigns are selected on other pages" in page


def test_who_may_not_change_campaigns_sees_the_list_without_selection(client, campaigns):
    from tests.conftest import LOADERS, make_user

    client.force_login(make_user("loader", LOADERS))
    page = client.get(LIST).content.decode()
    assert 'name="campaign"' not in page and "Change the selected campaigns" not in page


def test_the_sandbox_seeds_generated_campaigns_until_reset_and_refuses_a_bad_count(thulium):
    control = f"{thulium.base_url}/_sandbox/campaigns"
    assert requests.post(control, json={"count": 0}, timeout=5).status_code == 400
    assert requests.post(control, json={"count": "5"}, timeout=5).status_code == 400
    assert requests.post(control, json={"count": 5}, timeout=5).json() == {"count": 8}
    assert thulium.state.campaign("G0005")["name"] == "Kampania 0005"
    thulium.state.reset()
    assert thulium.state.campaign("G0005") is None


def test_a_campaign_deleted_in_thulium_is_flagged_and_listed_last_after_a_refresh(
        logged_in, campaigns, thulium):
    thulium.state.remove_campaign("00002")
    response = logged_in.post(reverse("campaigns:sync"), follow=True)
    assert ("0 new, 0 updated, 0 skipped, 1 no longer in Thulium; 0 changed outside the "
            "portal") in response.content.decode()
    assert listed(logged_in)[-1] == "00002"
    assert response.content.decode().count('data-testid="not-in-thulium"') == 1
    assert Campaign.objects.get(thulium_id="00002").in_thulium is False
    assert Campaign.objects.filter(in_thulium=True).count() == 2
    assert "not-in-thulium" in logged_in.get(reverse("campaigns:detail",
                                                     args=["00002"])).content.decode()


def test_a_campaign_back_in_thulium_loses_the_flag(logged_in, campaigns, thulium):
    Campaign.objects.filter(thulium_id="00002").update(in_thulium=False)
    summary = campaigns_sync()
    assert summary.not_in_thulium == 0
    assert Campaign.objects.get(thulium_id="00002").in_thulium is True


def presence_entries() -> list[tuple[str, str, bool]]:
    """The "presence in Thulium" entries: campaign, who, the flag set; oldest first."""
    return [(entry.campaign.thulium_id, entry.actor_username, entry.details["in_thulium"])
            for entry in Entry.objects.filter(kind=THULIUM_PRESENCE.slug).order_by("begin_seq")]


def test_a_campaign_gone_from_thulium_and_back_says_so_on_its_timeline(
        logged_in, campaigns, thulium):
    """Its flag changed with no entry: its history gave no reason its changes stopped."""
    thulium.state.remove_campaign("00002")
    logged_in.post(reverse("campaigns:sync"))
    logged_in.post(reverse("campaigns:sync"))  # still gone: nothing new to say
    thulium.state.reset()
    campaigns_sync()
    assert presence_entries() == [("00002", "manager", False), ("00002", "sync_campaigns", True)]
    auditor = Client()
    auditor.force_login(make_user("auditor", AUDITORS))
    history = reverse("campaigns:detail", args=["00002"])
    english = auditor.get(history).content.decode()
    assert ">no longer in Thulium<" in english and ">in Thulium again<" in english
    polish = auditor.get(history, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert ">już nie ma w Thulium<" in polish
    for entry in Entry.objects.filter(kind=THULIUM_PRESENCE.slug):
        for language in ("en", "pl"):
            page = auditor.get(entry.get_absolute_url(), HTTP_ACCEPT_LANGUAGE=language)
            assert 'data-testid="presence"' in page.content.decode()


def test_marking_a_hundred_campaigns_gone_takes_the_statements_of_marking_one(many):
    read_at = database_now()
    with CaptureQueriesContext(connection) as one:
        presence_mark(Campaign.objects.filter(pk=many[0].pk), in_thulium=False, actor=None,
                      read_at=read_at)
    with CaptureQueriesContext(connection) as the_rest:
        presence_mark(Campaign.objects.all(), in_thulium=False, actor=None, read_at=read_at)
    assert len(the_rest) == len(one)
    assert len(presence_entries()) == len(many) > 100
    assert not Campaign.objects.filter(in_thulium=True).exists()


def test_updated_counts_only_the_campaigns_whose_settings_or_name_changed(campaigns, thulium):
    assert campaigns_sync().updated == 0
    thulium.state.update_campaign("00001", {"order": 9}, lambda stored: [])
    thulium.state.update_campaign("A7K2Q", {"name": "Renamed"}, lambda stored: [])
    summary = campaigns_sync()
    assert (summary.updated, summary.changed_outside) == (2, 2)


def test_a_refresh_finding_fifty_campaigns_changed_outside_takes_the_queries_of_five(
        db, thulium):
    """Each campaign changed outside the portal took a dozen statements, in a transaction
    of its own: a refresh finding 2,500 took 46 s, with its reading past gunicorn's 60 s."""
    def queries_of_a_refresh_finding(count: int) -> int:
        thulium.state.add_generated_campaigns(count)
        campaigns_sync()
        for number in range(1, count + 1):
            thulium.state.update_campaign(f"G{number:04d}", {"order": 99}, lambda stored: [])
        written = Entry.objects.filter(kind=OUTSIDE_CHANGE.slug).count()
        with CaptureQueriesContext(connection) as queries:
            summary = campaigns_sync()
        assert (summary.updated, summary.changed_outside) == (count, count)
        assert Entry.objects.filter(kind=OUTSIDE_CHANGE.slug).count() == written + count
        return len(queries)

    assert queries_of_a_refresh_finding(5) == queries_of_a_refresh_finding(50)
    assert set(Campaign.objects.filter(thulium_id__startswith="G").values_list(
        "settings__order", flat=True)) == {99}
    assert verify_chain().problem == ""


@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_once_both_end_and_record_each_change_once(
        campaigns, user, thulium, monkeypatch):
    """A Refresh and sync_campaigns from cron both found the new campaigns missing before
    either created them: the second's INSERT failed on their Thulium ids, a server error."""
    thulium.state.add_generated_campaigns(2)
    thulium.state.update_campaign("00001", {"order": 9}, lambda stored: [])
    thulium.state.remove_campaign("00002")
    both_read, waited = threading.Barrier(2, timeout=30), threading.local()
    take = reading.outside_changes_take_all

    def taken_once_both_read(*args, **kwargs):
        # Both have read the portal's campaigns, and written nothing yet.
        if not getattr(waited, "once", False):
            waited.once = True
            both_read.wait()
        return take(*args, **kwargs)

    monkeypatch.setattr(reading, "outside_changes_take_all", taken_once_both_read)
    summaries = []
    all_at_once([lambda: summaries.append(campaigns_sync(actor=user)),
                 lambda: summaries.append(campaigns_sync())])

    assert sorted(summary.created for summary in summaries) == [0, 2]
    assert Campaign.objects.filter(thulium_id__startswith="G").count() == 2
    assert sum(summary.changed_outside for summary in summaries) == 1
    assert Entry.objects.filter(kind=OUTSIDE_CHANGE.slug).count() == 1
    assert [(thulium_id, flag) for thulium_id, _who, flag in presence_entries()] == [
        ("00002", False)]
    assert verify_chain().problem == ""


def refreshed_while_taking(monkeypatch, meanwhile) -> None:
    """Run `meanwhile` once, as the next refresh has read Thulium and is about to take the
    changes it found: beside it, as two refreshes at once can, in this test's order."""
    take, ran = reading.outside_changes_take_all, []

    def taken_after(*args, **kwargs):
        if not ran:
            ran.append(True)
            meanwhile()
        return take(*args, **kwargs)

    monkeypatch.setattr(reading, "outside_changes_take_all", taken_after)


@pytest.mark.parametrize("then", ["changed again", "changed back"])
def test_a_refresh_that_read_thulium_before_another_leaves_what_the_other_took(
        campaigns, thulium, monkeypatch, then):
    """Two refreshes at once: the one that read Thulium's list first, taking what it found
    after the other, wrote its older values over the newer ones, with an entry saying the
    campaign had changed outside the portal to them."""
    known = campaigns["00001"].settings["order"]
    thulium.state.update_campaign("00001", {"order": known + 5}, lambda stored: [])
    newest = known + 9 if then == "changed again" else known
    later = []
    refreshed_while_taking(monkeypatch, lambda: (
        thulium.state.update_campaign("00001", {"order": newest}, lambda stored: []),
        later.append(campaigns_sync())))

    first = campaigns_sync()

    assert Campaign.objects.get(thulium_id="00001").settings["order"] == newest
    assert (first.updated, first.changed_outside) == (0, 0)
    taken = 1 if then == "changed again" else 0
    assert (later[0].updated, later[0].changed_outside) == (taken, taken)
    assert [entry.details["found"] for entry in Entry.objects.filter(
        kind=OUTSIDE_CHANGE.slug)] == [{"order": newest}] * taken
    assert verify_chain().problem == ""


def taken_after_marking(monkeypatch, meanwhile) -> None:
    """Run `meanwhile` once, as the next refresh has read Thulium and is about to take the
    changes it found, and take them only when a refresh `meanwhile` runs marks its
    campaigns synced: after that one read Thulium and compared, before it marks."""
    take, mark, taken = reading.outside_changes_take_all, reading._synced_mark, []

    def taken_later(*args, **kwargs):
        monkeypatch.setattr(reading, "outside_changes_take_all", take)

        def marked_after(*mark_args, **mark_kwargs):
            monkeypatch.setattr(reading, "_synced_mark", mark)
            taken.append(take(*args, **kwargs))
            return mark(*mark_args, **mark_kwargs)

        monkeypatch.setattr(reading, "_synced_mark", marked_after)
        meanwhile()
        return taken[0]

    monkeypatch.setattr(reading, "outside_changes_take_all", taken_later)


def test_a_refresh_finding_a_change_undone_takes_it_back_from_an_older_reading(
        campaigns, thulium, monkeypatch):
    """Thulium's value went X -> Y -> X: a refresh that read Y took it after another read
    X and found the campaign unchanged, which then left it holding Y (its version had
    moved), a value Thulium no longer held, until the next sync."""
    known = campaigns["00001"].settings["order"]
    thulium.state.update_campaign("00001", {"order": known + 5}, lambda stored: [])
    later = []
    taken_after_marking(monkeypatch, lambda: (
        thulium.state.update_campaign("00001", {"order": known}, lambda stored: []),
        later.append(campaigns_sync())))

    first = campaigns_sync()

    assert Campaign.objects.get(thulium_id="00001").settings["order"] == known
    assert (first.updated, first.changed_outside) == (1, 1)
    assert (later[0].updated, later[0].changed_outside) == (1, 1)
    assert [entry.details["found"] for entry in Entry.objects.filter(
        kind=OUTSIDE_CHANGE.slug).order_by("pk")] == [{"order": known + 5}, {"order": known}]
    assert verify_chain().problem == ""


def test_a_campaign_read_for_a_form_before_a_refresh_gives_what_the_refresh_took(
        campaigns, thulium, user, monkeypatch):
    """A form's reading of one campaign takes what it found as a refresh's does: begun
    before a refresh's reading, it leaves the newer values the refresh took, and the form
    opens with them."""
    campaign = campaigns["00001"]
    known = campaign.settings["order"]
    thulium.state.update_campaign("00001", {"order": known + 5}, lambda stored: [])
    refreshed_while_taking(monkeypatch, lambda: (
        thulium.state.update_campaign("00001", {"order": known + 9}, lambda stored: []),
        campaigns_sync()))

    assert reading.campaign_read(campaign, actor=user) is None

    assert campaign.settings["order"] == known + 9
    assert Campaign.objects.get(pk=campaign.pk).settings == campaign.settings
    assert Entry.objects.filter(kind=OUTSIDE_CHANGE.slug).count() == 1


# What Thulium's list gains or loses while the first refresh reads it, the second
# refresh's marks then, and as the campaign was (in_thulium) before either.
MEANWHILE = {
    "created": ("G0001", True, [], None),
    "deleted": ("00002", False, [("00002", False)], True),
    "deleted again": ("00002", False, [], False),
    "back": ("00002", True, [("00002", True)], False),
}


@pytest.mark.parametrize("meanwhile", list(MEANWHILE))
def test_a_refresh_that_read_thulium_before_another_leaves_the_presence_the_other_found(
        campaigns, thulium, monkeypatch, meanwhile):
    """Two refreshes at once: the one that read Thulium's list first, marking after the
    other, marked a campaign created since (absent from its older list) no longer in
    Thulium, or one deleted since in Thulium again, with an entry saying so."""
    thulium_id, held, entries, before = MEANWHILE[meanwhile]
    thulium.state.update_campaign("00001", {"order": 9}, lambda stored: [])
    listed = thulium.state.data_saved()
    if before is False:
        Campaign.objects.filter(thulium_id="00002").update(in_thulium=False)
    if meanwhile == "back":
        thulium.state.remove_campaign("00002")

    def changed():
        if meanwhile == "created":
            thulium.state.add_generated_campaigns(1)
        elif meanwhile == "back":
            thulium.state.data_restore(listed)
        else:
            thulium.state.remove_campaign("00002")
        campaigns_sync()

    refreshed_while_taking(monkeypatch, changed)

    assert campaigns_sync().not_in_thulium == 0

    assert Campaign.objects.get(thulium_id=thulium_id).in_thulium is held
    assert [(named, flag) for named, _who, flag in presence_entries()] == entries
    assert verify_chain().problem == ""


def test_a_campaign_read_for_a_form_before_a_refresh_found_it_gone_stays_gone(
        campaigns, thulium, user, monkeypatch):
    """A form's reading listing the campaign, begun before a refresh's that found it
    deleted in Thulium, marked it in Thulium again, and the form would send to it."""
    campaign = campaigns["00001"]
    refreshed_while_taking(monkeypatch, lambda: (thulium.state.remove_campaign("00001"),
                                                 campaigns_sync()))

    with pytest.raises(reading.CampaignNotListed):
        reading.campaign_read(campaign, actor=user)

    assert campaign.in_thulium is False
    assert Campaign.objects.get(pk=campaign.pk).in_thulium is False
    assert presence_entries() == [("00001", "sync_campaigns", False)]


def test_a_refresh_finding_a_change_another_just_took_counts_it_unchanged(
        campaigns, thulium, monkeypatch):
    """Both refreshes counted it updated: the second found the campaign's settings, as its
    row held them, differing from those it had read before the first took the change."""
    thulium.state.update_campaign("00001", {"order": 9}, lambda stored: [])
    thulium.state.update_campaign("A7K2Q", {"name": "Renamed"}, lambda stored: [])
    other = []
    refreshed_while_taking(monkeypatch, lambda: other.append(campaigns_sync()))

    summary = campaigns_sync()

    assert (other[0].updated, other[0].changed_outside) == (2, 2)
    assert (summary.updated, summary.changed_outside) == (0, 0)
    assert Entry.objects.filter(kind=OUTSIDE_CHANGE.slug).count() == 2
    assert Campaign.objects.get(thulium_id="00001").settings["order"] == 9


def test_a_list_that_ends_before_its_count_marks_no_campaign_missing(
        logged_in, campaigns, settings):
    """Thulium counted three and gave one: the other two may still exist."""
    item = {"id": "00001", "name": campaigns["00001"].name, **campaigns["00001"].settings}
    with CraftedThulium({"count": 3, "result": [item]}) as crafted:
        settings.THULIUM_API_URL = crafted.url
        response = logged_in.post(reverse("campaigns:sync"), follow=True)
    assert "ended before the count it gave" in response.content.decode()
    assert not Campaign.objects.filter(in_thulium=False).exists()


def test_a_refresh_of_a_slow_list_stops_by_its_deadline_and_refreshes_none(
        logged_in, campaigns, thulium):
    """Each page was waited THULIUM_TIMEOUT, the reading as long as its pages took: fifty
    slow pages held the user, and a gunicorn worker, fifty times it. The reading's
    deadline is THULIUM_CONNECT_TIMEOUT + THULIUM_TIMEOUT (1 s each here)."""
    thulium.state.add_generated_campaigns(450)  # five pages
    thulium.state.update_campaign("00001", {"order": 9}, lambda stored: [])
    # Each page answers within its own timeout, but three take longer than the reading.
    thulium.state.fail_next("timeout", path="/api/outbounds", delay=0.7, every=1)

    response = logged_in.post(reverse("campaigns:sync"), follow=True)

    assert response.status_code == 200
    pages = [call for call in api_calls(thulium, "GET")
             if call["path"].partition("?")[0] == "/api/outbounds"]
    assert 1 <= len(pages) <= 3
    assert ("Could not read the campaigns from Thulium, so none was refreshed: Thulium did "
            "not answer properly. Try again later. (no answer in time)"
            ) in response.content.decode()
    # Page one's campaigns are not taken either: no change found outside, none created.
    assert Campaign.objects.count() == 3
    assert Campaign.objects.get(thulium_id="00001").settings["order"] != 9
    assert not Entry.objects.exists()


def test_a_refresh_of_unchanged_campaigns_takes_as_many_queries_for_fifty_as_for_five(
        db, thulium):
    """Each campaign cost about seven queries: 5,000 of them outlasted the web request."""
    def queries_of_a_second_refresh(count: int) -> int:
        thulium.state.add_generated_campaigns(count)
        campaigns_sync()
        with CaptureQueriesContext(connection) as queries:
            summary = campaigns_sync()
        assert (summary.created, summary.updated, summary.changed_outside) == (0, 0, 0)
        return len(queries)

    assert queries_of_a_second_refresh(5) == queries_of_a_second_refresh(50)
    assert Campaign.objects.count() == 53
    assert not Campaign.objects.filter(synced_at=None).exists()


@pytest.mark.django_db(transaction=True)
def test_a_refresh_beside_a_read_of_several_campaigns_is_not_deadlocked(
        campaigns, user, monkeypatch):
    """A refresh set every campaign's time of sync in one UPDATE, which locks their rows in
    the order it finds them in the table, while a read of several (a bulk change's, a
    refresh's batch of changed ones) locks them in id order: each held one the other
    wanted next, and PostgreSQL ended one of the two as a deadlock. A third writer holding
    the middle campaign lines them up; the table holds them last to first, as updates
    leave it."""
    skip_unless_postgresql(connection)
    first, middle, last = sorted(campaign.pk for campaign in campaigns.values())
    with connection.cursor() as cursor:
        # The table rewritten with no room between its rows: the flush between tests
        # deletes rows, and once autovacuum had freed their places an updated row could
        # be written back into one, ahead of the others.
        cursor.execute("VACUUM FULL campaigns_campaign")
    for pk in (middle, first):  # an updated row is written anew, after the others
        Campaign.objects.filter(pk=pk).update(synced_at=None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM campaigns_campaign")  # in the table's order
        assert [pk for (pk,) in cursor.fetchall()] == [last, middle, first]

    def holder():
        with transaction.atomic():
            Campaign.objects.get(pk=middle).lock()
            held.set()
            assert go_on.wait(30)

    held, go_on = threading.Event(), threading.Event()
    reread = [(Campaign.objects.get(pk=pk), {"order": 9}) for pk in (first, last)]
    threads, failures, pids = named_threads({
        "holder": holder,
        "refresh": lambda: campaigns_sync(actor=user),
        "read": lambda: reading.outside_changes_take_all(reread, actor=user,
                                                         asked_at=last_link(),
                                                         read_at=database_now()),
    })
    started_until(threads["holder"], held)
    threads["refresh"].start()
    until_waiting_for_a_lock_or_done(threads["refresh"], pids["refresh"])
    threads["read"].start()
    ended_once_waiting(threads, pids, "read", go_on)

    assert failures == []
    assert not Campaign.objects.filter(synced_at=None).exists()
    assert Entry.objects.filter(kind=OUTSIDE_CHANGE.slug).count() == 2
    assert verify_chain().problem == ""
