"""Several campaigns at once: the form, the preview, the confirmation and each outcome."""

import datetime
import re

import pytest
from django.urls import reverse

from audit.models import Entry
from campaigns import bulk
from campaigns.models import Campaign, ChangeRequest
from tests.conftest import LOADERS, api_calls, make_user

FORM, CONFIRM = reverse("campaigns:bulk"), reverse("campaigns:bulk_confirm")
ALL = ["00001", "00002", "A7K2Q"]


def preview(client, campaigns=ALL, **fields):
    return client.post(FORM, {"campaign": campaigns, **fields})


def token_of(page) -> str:
    return re.search(r'name="preview" value="([^"]+)"', page.content.decode())[1]


def lines(page) -> dict:
    return {line.campaign.thulium_id: line for line in page.context["lines"]}


# --- the form and the preview -----------------------------------------------------------


def test_the_form_lists_the_campaigns_ticked_on_the_list(logged_in, campaigns):
    page = logged_in.get(FORM, {"campaign": ["A7K2Q", "00001"]})
    assert [c.thulium_id for c in page.context["chosen"]] == ["A7K2Q", "00001"]
    assert "name" not in page.context["form"].fields  # one name for many makes no sense
    # A bulk change is sent at once: no time to apply it at is offered (it was ignored).
    assert 'name="apply_at"' not in page.content.decode()


def test_the_preview_shows_old_and_new_and_skips_campaigns_already_there(
    logged_in, campaigns, thulium
):
    page = preview(logged_in, dialer="preview", order="5")
    shown = lines(page)
    assert shown["00001"].state == "change"
    assert shown["00001"].changes == {"dialer": "preview", "order": 5}
    assert ("Dialer", "progressive", "preview") in shown["00001"].rows
    assert ("Order", "50", "5") in shown["00001"].rows
    # 00002 already dials in preview: only its order is sent.
    assert shown["00002"].changes == {"order": 5}
    assert "50</span> → <strong>5" in page.content.decode()
    assert [call["method"] for call in api_calls(thulium)] == ["GET"]  # the read, no PUT

    again = lines(preview(logged_in, campaigns=["00002"], dialer="preview", order="10"))
    assert again["00002"].state == "skip"


def test_the_preview_writes_numbers_and_days_as_the_campaign_page_does(logged_in, campaigns):
    """In Polish it wrote "2.5 → 3.5" and "2026-03-31 → 2027-01-31"."""
    page = logged_in.post(FORM, {"campaign": ["A7K2Q"], "end_date": "2027-01-31",
                                 "predictive_max_calls": "3,5", "reason": "sezon"},
                          HTTP_ACCEPT_LANGUAGE="pl")
    changed = {(old, new) for _label, old, new in lines(page)["A7K2Q"].rows}
    assert ("2,5", "3,5") in changed
    assert ("31 marca 2026", "31 stycznia 2027") in changed


def test_campaigns_the_change_would_break_are_refused_in_the_preview(logged_in, campaigns):
    # A7K2Q starts on 2026-03-01; 00002 has a maximum of 2 calls per agent.
    shown = lines(preview(logged_in, end_date="2026-02-15", reason="Koniec sezonu"))
    assert shown["A7K2Q"].state == "refuse"
    assert "End date: The end date cannot be before the start date." in shown["A7K2Q"].problems
    assert shown["00001"].state == shown["00002"].state == "change"

    shown = lines(preview(logged_in, predictive_min_calls="2.2"))
    assert shown["00002"].state == "refuse"
    assert any("minimum cannot be above the maximum" in p for p in shown["00002"].problems)
    assert shown["00001"].state == shown["A7K2Q"].state == "change"


def test_a_campaign_thuliums_list_does_not_hold_is_refused_in_the_preview(
    logged_in, campaigns
):
    Campaign.objects.create(thulium_id="B1234", name="Zarejestrowana ręcznie")
    shown = lines(preview(logged_in, campaigns=["B1234", "00001"], order="50", parity="50"))
    assert shown["B1234"].state == "refuse"
    assert shown["B1234"].problems == [
        "Thulium's list of campaigns does not hold this campaign."]
    assert shown["00001"].state == "skip"


def test_a_risky_change_needs_a_reason_naming_the_campaigns_it_is_risky_for(
    logged_in, campaigns
):
    page = preview(logged_in, active="true", order="7")
    assert page.templates[0].name == "campaigns/bulk_form.html"
    error = page.context["form"].errors["reason"][0]
    assert "A7K2Q" in error and "activates the campaign" in error
    assert "00001" not in error  # already active: nothing risky there
    assert page.context["form"]["order"].value() == "7"


@pytest.mark.parametrize(("query", "message"), [
    ({}, "Choose at least one campaign on the list."),
    ({"campaign": ["00001", "ZZZZZ"]}, "No campaign has the id ZZZZZ"),
    ({"campaign": ["<b>x"]}, "No campaign has the id &lt;b&gt;x"),
])
def test_a_bad_selection_is_explained_on_the_form(logged_in, campaigns, query, message):
    for page in (logged_in.get(FORM, query), logged_in.post(FORM, {**query, "order": "3"})):
        assert page.status_code == 200
        assert message in page.content.decode()


def test_a_form_with_no_field_set_says_so_and_keeps_the_selection(logged_in, campaigns):
    page = preview(logged_in, campaigns=["00001", "00002"], reason="nic")
    assert "Set at least one field to change" in page.content.decode()
    assert [c.thulium_id for c in page.context["chosen"]] == ["00001", "00002"]
    assert page.context["form"]["reason"].value() == "nic"


@pytest.mark.parametrize(("field", "value"), [
    ("order", "abc"), ("order", "0"), ("parity", "101"), ("caller_id", "+48 22"),
    ("start_date", "2026-13-45"), ("predictive_max_calls", "lots"), ("dialer", "robot"),
    ("predictive_max_calls", "sNaN"), ("predictive_min_calls", "-Infinity"),
])
def test_invalid_values_are_refused_next_to_their_field_with_the_input_kept(
    logged_in, campaigns, field, value
):
    page = preview(logged_in, **{field: value, "preview_timeout": "45"})
    assert page.status_code == 200
    assert field in page.context["form"].errors
    assert page.context["form"]["preview_timeout"].value() == "45"


def test_the_back_button_shows_the_form_again_filled_in(logged_in, campaigns):
    page = logged_in.post(FORM, {"campaign": ALL, "order": "8", "edit": "1"})
    assert page.templates[0].name == "campaigns/bulk_form.html"
    assert page.context["form"]["order"].value() == "8"


def test_only_campaign_editors_may_change_several_campaigns(client, campaigns):
    client.force_login(make_user("loader", LOADERS))
    assert client.get(FORM, {"campaign": ALL}).status_code == 403
    assert client.post(CONFIRM, {"preview": "x"}).status_code == 403


# --- the confirmation -------------------------------------------------------------------

sends = pytest.mark.django_db(transaction=True)  # the PUTs run in threads of their own


@sends
def test_confirm_sends_one_put_per_campaign_concurrently_each_audited(
    logged_in, campaigns, thulium, monkeypatch
):
    token = token_of(preview(logged_in, order="5", parity="40"))
    read = bulk.campaigns_read

    def read_then_gather(*args, **kwargs):
        found = read(*args, **kwargs)
        thulium.state.gather(3)  # the PUTs answered only once all three are in flight
        return found

    monkeypatch.setattr(bulk, "campaigns_read", read_then_gather)
    page = logged_in.post(CONFIRM, {"preview": token})
    assert thulium.state.gathered
    assert {o.state for o in page.context["outcomes"]} == {"succeeded"}
    puts = {call["path"]: call["json"] for call in api_calls(thulium, "PUT")}
    assert puts == {f"/api/outbounds/{i}": {"order": 5, "parity": 40} for i in ALL}
    entries = Entry.objects.filter(kind="campaign-change")
    assert sorted(e.campaign.thulium_id for e in entries) == ALL
    assert {e.outcome for e in entries} == {"succeeded"}
    # Found in the logs by the request's id, as a change from one campaign's page is.
    assert {e.portal_request_id for e in entries} == {page["X-Request-ID"]}
    assert Campaign.objects.get(thulium_id="00002").settings["order"] == 5


@sends
def test_one_refusal_does_not_stop_the_others_and_shows_thuliums_words(
    logged_in, campaigns, thulium
):
    token = token_of(preview(logged_in, group_id="33"))
    thulium.state.fail_next("refuse", path="/api/outbounds/00002")
    page = logged_in.post(CONFIRM, {"preview": token})
    outcomes = {o.campaign.thulium_id: o for o in page.context["outcomes"]}
    assert outcomes["00002"].state == "failed" and outcomes["00002"].error.request_id
    assert outcomes["00001"].state == outcomes["A7K2Q"].state == "succeeded"
    text = page.content.decode()
    assert "Thulium refused the change:" in text and outcomes["00002"].error.request_id in text
    assert Entry.objects.get(campaign__thulium_id="00002").outcome == "refused"


@sends
def test_the_campaigns_not_changed_are_a_click_away_from_a_new_preview(
    logged_in, campaigns, thulium
):
    """Failed (503), refused and changed since the preview: each offered again, the
    succeeded one not; the new preview reads Thulium, so it shows what is still to do."""
    token = token_of(preview(logged_in, order="5"))
    moved = Campaign.objects.get(thulium_id="00001")
    moved.settings_replace({**moved.settings, "order": 1})
    moved.save()
    thulium.state.fail_next("http_503", path="/api/outbounds/00002")
    page = logged_in.post(CONFIRM, {"preview": token})
    outcomes = {o.campaign.thulium_id: o.state for o in page.context["outcomes"]}
    assert outcomes == {"00001": "stale", "00002": "failed", "A7K2Q": "succeeded"}
    text = page.content.decode()
    assert re.findall(r'name="campaign" value="([^"]+)"', text) == ["00001", "00002"]
    assert "Preview the change again for the campaigns not changed" in text

    token = token_of(preview(logged_in, order="5"))
    thulium.state.fail_next("refuse", path="/api/outbounds/00002")
    page = logged_in.post(CONFIRM, {"preview": token})
    assert re.findall(r'name="campaign" value="([^"]+)"', page.content.decode()) == ["00002"]


@sends
def test_no_put_starts_that_could_outlast_the_web_workers_time_limit(
    logged_in, campaigns, thulium, settings, monkeypatch
):
    """Thulium is slow: the campaigns whose PUT could not be answered before gunicorn kills
    the request are not sent, and their preview is a click away."""
    settings.CAMPAIGN_BULK_CONCURRENCY = 1
    settings.GUNICORN_TIMEOUT, settings.THULIUM_TIMEOUT = 60, 30
    settings.THULIUM_CONNECT_TIMEOUT = 5
    clock = [0.0]
    monkeypatch.setattr(bulk, "monotonic", lambda: clock[0])
    token = token_of(preview(logged_in, order="5"))
    real_update = bulk.campaign_update

    def slow_update(**kwargs):
        clock[0] += 25  # the first PUT took 25 s of the 60: no other may start
        return real_update(**kwargs)

    monkeypatch.setattr(bulk, "campaign_update", slow_update)
    page = logged_in.post(CONFIRM, {"preview": token})
    outcomes = {o.campaign.thulium_id: o.state for o in page.context["outcomes"]}
    assert outcomes == {"00001": "succeeded", "00002": "late", "A7K2Q": "late"}
    assert [c["path"] for c in api_calls(thulium, "PUT")] == ["/api/outbounds/00001"]
    assert Entry.objects.filter(kind="campaign-change").count() == 1
    text = page.content.decode()
    assert text.count("Not sent: Thulium answered the changes before it too slowly") == 2
    again = dict(re.findall(r'name="(campaign|order)" value="([^"]+)"', text))
    assert re.findall(r'name="campaign" value="([^"]+)"', text) == ["00002", "A7K2Q"]
    assert again["order"] == "5"

    # Within the limit, every campaign goes.
    clock[0] = 0.0
    monkeypatch.setattr(bulk, "campaign_update", real_update)
    page = logged_in.post(CONFIRM, {"preview": token_of(preview(logged_in, order="7"))})
    assert {o.state for o in page.context["outcomes"]} == {"succeeded"}
    assert 'name="campaign"' not in page.content.decode()


@sends
def test_with_four_eyes_the_requests_are_made_first_and_the_first_put_still_goes(
    logged_in, campaigns, thulium, settings, monkeypatch
):
    """The requests, which call no Thulium, are made before the PUTs (their approvers told
    before the sends): one first in the preview is no PUT, so the first PUT goes though
    Thulium's list took the time left for starting one, and the next is not sent."""
    settings.FOUR_EYES = True
    settings.CAMPAIGN_BULK_CONCURRENCY = 1
    settings.GUNICORN_TIMEOUT, settings.THULIUM_TIMEOUT = 60, 30
    settings.THULIUM_CONNECT_TIMEOUT = 5
    clock = [0.0]
    monkeypatch.setattr(bulk, "monotonic", lambda: clock[0])
    token = token_of(preview(logged_in, campaigns=["A7K2Q", "00001", "00002"],
                             active="true", order="3", reason="Sezon"))
    read = bulk.campaigns_read

    def slow_read(*args, **kwargs):
        clock[0] += 25  # past the last start: 60 - 5 answering - 35 a call's longest
        return read(*args, **kwargs)

    monkeypatch.setattr(bulk, "campaigns_read", slow_read)
    page = logged_in.post(CONFIRM, {"preview": token})
    outcomes = [(o.campaign.thulium_id, o.state) for o in page.context["outcomes"]]
    assert outcomes == [("A7K2Q", "requested"), ("00001", "succeeded"), ("00002", "late")]
    assert ChangeRequest.objects.get().campaign.thulium_id == "A7K2Q"
    assert [c["path"] for c in api_calls(thulium, "PUT")] == ["/api/outbounds/00001"]


@sends
def test_a_campaign_changed_after_the_preview_is_not_sent(logged_in, campaigns, thulium):
    token = token_of(preview(logged_in, preview_timeout="90"))
    moved = Campaign.objects.get(thulium_id="00001")
    moved.settings_replace({**moved.settings, "order": 1})
    moved.save()
    page = logged_in.post(CONFIRM, {"preview": token})
    outcomes = {o.campaign.thulium_id: o.state for o in page.context["outcomes"]}
    assert outcomes == {"00001": "stale", "00002": "succeeded", "A7K2Q": "succeeded"}
    assert "changed after the preview" in page.content.decode()
    assert [c["path"] for c in api_calls(thulium, "PUT")].count("/api/outbounds/00001") == 0


@sends
def test_a_risky_change_is_sent_with_its_reason(logged_in, campaigns, thulium):
    token = token_of(preview(logged_in, campaigns=["A7K2Q", "00001"], active="true",
                             reason="Start ankiety"))
    page = logged_in.post(CONFIRM, {"preview": token})
    assert [o.state for o in page.context["outcomes"]] == ["succeeded"]  # 00001 skipped
    assert Entry.objects.get(kind="campaign-change").reason == "Start ankiety"


@sends
def test_with_four_eyes_a_risky_change_becomes_a_request_and_the_others_are_sent(
    logged_in, campaigns, thulium, settings
):
    settings.FOUR_EYES = True
    token = token_of(preview(logged_in, campaigns=["A7K2Q", "00001"], active="true",
                             order="3", reason="Sezon"))
    page = logged_in.post(CONFIRM, {"preview": token})
    outcomes = {o.campaign.thulium_id: o.state for o in page.context["outcomes"]}
    assert outcomes == {"A7K2Q": "requested", "00001": "succeeded"}
    request = ChangeRequest.objects.get()
    assert request.campaign.thulium_id == "A7K2Q" and request.reason == "Sezon"
    assert [c["path"] for c in api_calls(thulium, "PUT")] == ["/api/outbounds/00001"]


def known_max_and_thuliums(campaign, *, known, in_thulium, thulium):
    """The campaign's predictive maximum as the portal last knew it, and as Thulium's own
    panel set it since, behind the portal's back."""
    campaign.settings = {**campaign.settings, "parameters": {
        **campaign.settings["parameters"], "predictive_max_calls": known}}
    campaign.save(update_fields=["settings"])
    thulium.state.update_campaign(campaign.thulium_id, {
        "parameters": {"predictive_max_calls": in_thulium}}, lambda stored: [])


@sends
def test_with_four_eyes_a_change_is_judged_against_the_settings_thulium_holds(
    logged_in, campaigns, thulium, settings
):
    """The portal knew 4; lowered to 1 in Thulium, "2" raises it: a second editor's call."""
    settings.FOUR_EYES = True
    known_max_and_thuliums(campaigns["00001"], known=4, in_thulium=1, thulium=thulium)
    page = preview(logged_in, campaigns=["00001"], predictive_max_calls="2", reason="Więcej")
    assert lines(page)["00001"].risks == ["more_calls"]
    assert ("Predictive: maximum calls per agent", "1", "2") in lines(page)["00001"].rows
    outcomes = logged_in.post(CONFIRM, {"preview": token_of(page)}).context["outcomes"]
    assert [o.state for o in outcomes] == ["requested"]
    assert ChangeRequest.objects.get().changes == {"parameters": {"predictive_max_calls": 2}}
    assert api_calls(thulium, "PUT") == []


@sends
def test_a_campaign_changed_in_thulium_after_the_preview_is_not_sent(
    logged_in, campaigns, thulium, settings
):
    settings.FOUR_EYES = True
    known_max_and_thuliums(campaigns["00001"], known=4, in_thulium=4, thulium=thulium)
    token = token_of(preview(logged_in, campaigns=["00001", "A7K2Q"],
                             predictive_max_calls="2"))  # a lowering for both, then
    thulium.state.update_campaign("00001", {"parameters": {"predictive_max_calls": 1}},
                                  lambda stored: [])
    page = logged_in.post(CONFIRM, {"preview": token})
    outcomes = {o.campaign.thulium_id: o.state for o in page.context["outcomes"]}
    assert outcomes == {"00001": "stale", "A7K2Q": "succeeded"}
    assert [c["path"] for c in api_calls(thulium, "PUT")] == ["/api/outbounds/A7K2Q"]
    assert Campaign.objects.get(thulium_id="00001").settings["parameters"][
        "predictive_max_calls"] == 1


@sends
def test_a_campaign_thulium_no_longer_lists_is_not_sent(logged_in, campaigns, thulium):
    token = token_of(preview(logged_in, campaigns=["00001", "00002"], order="5"))
    Campaign.objects.filter(thulium_id="00002").update(thulium_id="B1234")
    page = logged_in.post(CONFIRM, {"preview": token})
    outcomes = {o.campaign.thulium_id: o.state for o in page.context["outcomes"]}
    assert outcomes == {"00001": "succeeded", "B1234": "unlisted"}
    assert "Not sent: Thulium's list of campaigns no longer holds" in page.content.decode()
    assert [c["path"] for c in api_calls(thulium, "PUT")] == ["/api/outbounds/00001"]


def test_nothing_is_previewed_when_thulium_cannot_be_read(logged_in, campaigns, thulium):
    thulium.state.fail_next("refuse", path="/api/outbounds")
    page = preview(logged_in, order="5")
    shown = page.content.decode()
    assert page.templates[0].name == "campaigns/bulk_form.html"
    assert "The campaigns could not be read from Thulium" in shown
    assert "Sandbox: refused on request." in shown and "request_id" in shown
    assert page.context["form"]["order"].value() == "5"


def test_nothing_is_sent_when_thulium_cannot_be_read_before_the_puts(
    logged_in, campaigns, thulium
):
    token = token_of(preview(logged_in, order="5", reason="x"))
    thulium.state.fail_next("refuse", path="/api/outbounds")
    page = logged_in.post(CONFIRM, {"preview": token})
    shown = page.content.decode()
    assert "Nothing was sent: the campaigns could not be read from Thulium" in shown
    assert "Sandbox: refused on request." in shown and "request_id" in shown
    assert page.context["form"]["order"].value() == "5"
    assert [c.thulium_id for c in page.context["chosen"]] == ALL
    assert api_calls(thulium, "PUT") == []
    assert not Entry.objects.filter(kind="campaign-change").exists()


def test_a_tampered_preview_sends_nothing(logged_in, campaigns, thulium):
    token = token_of(preview(logged_in, order="5"))
    page = logged_in.post(CONFIRM, {"preview": token[:-3] + "abc"})
    assert page.status_code == 200
    assert "This preview cannot be read, so nothing was sent." in page.content.decode()
    assert logged_in.post(CONFIRM, {}).status_code == 200
    assert api_calls(thulium, "PUT") == []


def test_an_old_preview_shows_the_form_again_filled_in(logged_in, campaigns, thulium,
                                                       monkeypatch):
    token = token_of(preview(logged_in, campaigns=["00002"], order="5", reason="x"))
    monkeypatch.setattr(bulk, "PREVIEW_MAX_AGE", datetime.timedelta(seconds=-1))
    page = logged_in.post(CONFIRM, {"preview": token})
    assert "This preview is more than an hour old and was not sent." in page.content.decode()
    assert page.context["form"]["order"].value() == "5"
    assert [c.thulium_id for c in page.context["chosen"]] == ["00002"]
    assert api_calls(thulium, "PUT") == []
