"""Every Thulium failure, seen through the campaign and record forms: no 500, the error on
top, the input kept, and the audit row completed with what really happened."""

import re

import pytest
from django.db import connection
from django.urls import reverse

from audit.models import Entry
from campaigns.entries import CAMPAIGN_CHANGE
from campaigns.forms import CampaignForm
from campaigns.models import Campaign
from records.entries import RECORD_ADDITION
from tests.conftest import (
    AUDITORS,
    LATE,
    api_calls,
    changed_in_thulium_at_the_put,
    make_user,
)
from tests.test_gateway import CraftedThulium, closed_port_url

REQUEST_ID = re.compile(r"[0-9a-f]{13}")
ERROR_BOX = re.compile(r'<div[^>]*data-testid="thulium-error"[^>]*>(.*?)</div>', re.S)
HEADINGS = {
    "refused": "Thulium refused the request:",
    "unknown": "Thulium did not confirm the request (",
    "failed": "The request to Thulium failed:",
}


def sandbox_fault(kind, **options):
    def arrange(thulium, settings, path):
        thulium.state.fail_next(kind, path=path, **options)
    return arrange


def wrong_password(thulium, settings, path):
    settings.THULIUM_API_PASSWORD = "wrong-password"


def nothing_listening(thulium, settings, path):
    settings.THULIUM_API_URL = closed_port_url()


# id: (arrange, outcome, http_status, Thulium gives a request_id, Thulium's messages)
FAULTS = {
    "http_500": (sandbox_fault("http_500"), "failed", 500, False, []),
    "http_502": (sandbox_fault("http_502"), "failed", 502, False, []),
    "http_503": (sandbox_fault("http_503"), "failed", 503, False, []),
    "refusal": (sandbox_fault("refuse"), "refused", 400, True, ["Sandbox: refused on request."]),
    "timeout-after-applying": (
        sandbox_fault("timeout", delay=LATE, apply=True), "unknown", None, False, []
    ),
    "timeout-without-applying": (
        sandbox_fault("timeout", delay=LATE, apply=False), "unknown", None, False, []
    ),
    "reset": (sandbox_fault("reset"), "unknown", None, False, []),
    "broken-json": (sandbox_fault("broken_json"), "unknown", 200, False, []),
    "wrong-credentials": (wrong_password, "failed", 401, True, ["Unauthorized"]),
    "connection-refused": (nothing_listening, "failed", None, False, []),
}


def edit_form_data(campaign: Campaign, **changes) -> dict:
    """The edit form as a browser posts it: every field as shown, then the user's changes,
    confirmed when they are risky."""
    form = CampaignForm(known_settings=campaign.settings, version=campaign.version)
    shown = {name: form[name].value() for name in form.fields}
    return {**{k: "" if v is None else str(v) for k, v in shown.items()}, "confirmed": "1",
            **changes}


CAMPAIGN_INPUT = {"name": "Kampania jesienna", "caller_id": "221112233",
                  "reason": "Sezon grzewczy"}
CAMPAIGN_SENT = {"name": "Kampania jesienna", "parameters": {"caller_id": "221112233"}}
RECORD_INPUT = {"phone_number": "601 234 567", "record_fields.imie": "Zofia"}
RECORD_SENT = {"phone_number": "601234567", "record_fields": {"imie": "Zofia"}}


def send_campaign_change(client, campaign):
    return client.post(
        reverse("campaigns:edit", args=[campaign.thulium_id]),
        edit_form_data(campaign, **CAMPAIGN_INPUT),
    )


def send_record(client, campaign, data=None):
    return client.post(
        reverse("records:new", args=[campaign.thulium_id]), data or RECORD_INPUT
    )


# form: (path the fault targets, submit, audit kind, what was sent, inputs the page keeps)
FORMS = {
    "campaign-form": (
        "/api/outbounds/00001", send_campaign_change, CAMPAIGN_CHANGE.slug, CAMPAIGN_SENT,
        ['value="Kampania jesienna"', 'value="221112233"', ">\nSezon grzewczy</textarea>"],
    ),
    "record-form": (
        "/api/outbounds/00001/records", send_record, RECORD_ADDITION.slug, RECORD_SENT,
        ['value="601 234 567"', 'value="Zofia"'],
    ),
}


def entries(kind: str):
    """The audit entries of one kind."""
    return Entry.objects.filter(kind=kind)


def error_box(html: str) -> str:
    match = ERROR_BOX.search(html)
    assert match, "the page shows no Thulium error"
    return match.group(1)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("form", FORMS)
def test_a_thulium_failure_is_shown_on_the_form_and_completes_the_audit_row(
    logged_in, campaigns, thulium, settings, form, fault
):
    path, submit, kind, sent, kept_inputs = FORMS[form]
    arrange, outcome, http_status, has_request_id, messages = FAULTS[fault]
    campaign = campaigns["00001"]
    known_before = dict(campaign.settings)
    if form == "record-form":
        logged_in.get(reverse("records:new", args=["00001"]))  # statuses read while all is well
    arrange(thulium, settings, path)

    response = submit(logged_in, campaign)

    assert response.status_code == 200
    html = response.content.decode()
    box = error_box(html)
    assert html.index('data-testid="thulium-error"') < html.index("<fieldset")
    assert HEADINGS[outcome] in box
    for message in messages:
        assert message in box
    for kept in kept_inputs:
        assert kept in html

    row = entries(kind).get()
    assert (row.outcome, row.http_status, row.messages) == (outcome, http_status, messages)
    assert row.sent == sent
    assert row.actor_username == "manager"
    assert row.completed_at is not None
    if has_request_id:
        assert REQUEST_ID.fullmatch(row.request_id)
        assert f"<code>{row.request_id}</code>" in box
    else:
        assert row.request_id == ""
    campaign.refresh_from_db()
    assert campaign.settings == known_before


@pytest.mark.parametrize("form", FORMS)
def test_a_refusal_with_several_errors_shows_them_all(logged_in, campaigns, thulium, form,
                                                      monkeypatch):
    campaign = campaigns["00001"]
    if form == "campaign-form":
        changed_in_thulium_at_the_put(monkeypatch, thulium, {
            "start_date": "2026-02-01", "parameters": {"predictive_max_calls": 1}})
        response = logged_in.post(
            reverse("campaigns:edit", args=["00001"]),
            edit_form_data(campaign, predictive_min_calls="2", end_date="2026-01-06",
                           reason="Shorter campaign"),
        )
        expected = ["End date cannot be earlier than start date.",
                    "predictive_min_calls cannot be greater than predictive_max_calls."]
        kind = CAMPAIGN_CHANGE.slug
    else:
        thulium.state.add_record(
            "00001", {"phone_number": "601234567", "identifier": "K-1"}, lambda c, r: []
        )
        response = send_record(
            logged_in, campaign, {"phone_number": "601234567", "identifier": "K-1"}
        )
        expected = ["Phone number already exists in the campaign.",
                    "Identifier already exists in the campaign."]
        kind = RECORD_ADDITION.slug
    box = error_box(response.content.decode())
    row = entries(kind).get()
    assert (row.outcome, row.http_status, row.messages) == ("refused", 400, expected)
    for message in expected:
        assert f"<li>{message}</li>" in box
    assert row.request_id in box


# --- the audit row is written before the call ---------------------------------------


def read_answer(request_path: str) -> tuple[int, bytes]:
    """A crafted Thulium's answer to the portal's reads: its list of campaigns fails, so
    that the edit form's save judges the change on what it knew (an empty list would say
    the campaign is gone from Thulium, and nothing would be sent); the rest are empty."""
    return (503, b"") if request_path.rstrip("/").endswith("/outbounds") else (200, b"[]")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("refusal", "request_id"), [
    ((b"<b>Z\xc5\x82y numer</b>", {"Content-Type": "text/plain; charset=utf-8"}), ""),
    ((b'{"request_id": "53678450401cf", "message": "<b>Z\\u0142y numer</b>"}', {}),
     "53678450401cf"),
], ids=["plain-text", "json-message"])
@pytest.mark.parametrize("form", FORMS)
def test_a_refusal_s_words_outside_errors_are_shown_escaped_and_audited(
    logged_in, campaigns, settings, form, refusal, request_id
):
    """Only "Thulium refused the request." showed, and the request_id was lost."""
    _, submit, kind, _, _ = FORMS[form]

    def respond(method, request_path, body):
        return read_answer(request_path) if method == "GET" else (400, *refusal)

    with CraftedThulium(respond=respond) as crafted:
        settings.THULIUM_API_URL = crafted.url
        response = submit(logged_in, campaigns["00001"])

    assert "&lt;b&gt;Zły numer&lt;/b&gt;" in error_box(response.content.decode())
    row = entries(kind).get()
    assert (row.outcome, row.messages, row.request_id) == ("refused", ["<b>Zły numer</b>"],
                                                           request_id)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("form", FORMS)
def test_the_audit_row_is_committed_as_pending_before_thulium_is_called(
    logged_in, campaigns, settings, form
):
    _, submit, kind, sent, _ = FORMS[form]
    seen_by_thulium = []

    def respond(method, request_path, body):
        if method == "GET":
            return read_answer(request_path)
        try:
            # Another thread, another database connection: only committed rows are visible.
            seen_by_thulium.extend(entries(kind).values("outcome", "completed_at", "sent"))
        finally:
            connection.close()
        return 200, b'{"record_id": "77"}' if method == "POST" else b""

    with CraftedThulium(respond=respond) as crafted:
        settings.THULIUM_API_URL = crafted.url
        response = submit(logged_in, campaigns["00001"])

    assert response.status_code == 302
    assert seen_by_thulium == [{"outcome": "pending", "completed_at": None, "sent": sent}]
    assert entries(kind).get().outcome == "succeeded"


@pytest.mark.parametrize("form", FORMS)
def test_a_crash_inside_the_call_leaves_the_pending_row_as_evidence(
    logged_in, campaigns, settings, form
):
    _, submit, kind, sent, _ = FORMS[form]
    logged_in.get(reverse("records:new", args=["00001"]))  # cache statuses and agents
    settings.THULIUM_TIMEOUT = -1  # requests raises ValueError: a bug, not a Thulium failure
    logged_in.raise_request_exception = False

    response = submit(logged_in, campaigns["00001"])

    assert response.status_code == 500
    row = entries(kind).get()
    assert (row.outcome, row.completed_at, row.sent) == ("pending", None, sent)


def test_a_timed_out_change_was_recorded_before_and_completed_after_the_wait(
    logged_in, campaigns, thulium
):
    thulium.state.fail_next("timeout", path="/api/outbounds/00001", delay=LATE, apply=True)
    send_campaign_change(logged_in, campaigns["00001"])
    row = entries(CAMPAIGN_CHANGE.slug).get()
    assert row.outcome == "unknown"
    assert row.created_at < row.completed_at
    # The sandbox applied it: "unknown" is the honest outcome, not "failed".
    assert thulium.state.wait_timed_out()
    assert thulium.state.campaign("00001")["name"] == "Kampania jesienna"


# --- history and people -------------------------------------------------------------


def test_the_audit_keeps_the_username_after_the_user_is_deleted(
    logged_in, campaigns, user, django_user_model
):
    campaign = campaigns["00001"]
    assert send_record(logged_in, campaign).status_code == 302
    assert send_campaign_change(logged_in, campaign).status_code == 302
    user_id = user.pk
    user.delete()

    # The entries keep the deleted user's id (no constraint, nothing done on delete).
    for row in [entries(RECORD_ADDITION.slug).get(), entries(CAMPAIGN_CHANGE.slug).get()]:
        assert (row.actor_id, row.actor_username) == (user_id, "manager")
    assert not django_user_model.objects.filter(pk=user_id).exists()
    logged_in.force_login(make_user("auditor", AUDITORS))
    page = logged_in.get(campaign.get_absolute_url())
    assert page.status_code == 200
    history = page.content.decode().split('data-testid="history"')[1]
    assert history.count('<td data-label="Who">manager</td>') == 2
    detail = logged_in.get(entries(RECORD_ADDITION.slug).get().get_absolute_url())
    assert detail.status_code == 200
    assert "manager" in detail.content.decode()


def test_the_campaign_page_shows_its_history_newest_first(logged_in, campaigns, thulium):
    campaign = campaigns["00001"]
    first = edit_form_data(campaign, name="Pierwsza zmiana")
    assert logged_in.post(reverse("campaigns:edit", args=["00001"]), first).status_code == 302
    assert send_record(logged_in, campaign).status_code == 302
    campaign.refresh_from_db()
    thulium.state.fail_next("refuse", path="/api/outbounds/00001")
    third = edit_form_data(campaign, name="Trzecia zmiana")
    assert logged_in.post(reverse("campaigns:edit", args=["00001"]), third).status_code == 200

    page = logged_in.get(campaign.get_absolute_url())
    rows = page.context["history"].rows
    assert [(row.entry.outcome, row.entry.sent.get("name") or row.entry.sent["phone_number"])
            for row in rows] == [("refused", "Trzecia zmiana"), ("succeeded", "601234567"),
                                 ("succeeded", "Pierwsza zmiana")]
    history = page.content.decode().split('data-testid="history"')[1]
    positions = [history.index(f'href="{row.entry.get_absolute_url()}"') for row in rows]
    assert positions == sorted(positions)
    assert "601234567" in history  # the record's number in its line
    assert history.count("<tr>") == 4  # the header and three attempts


def test_the_campaign_history_can_be_narrowed_to_one_kind_of_entry(logged_in, campaigns, thulium):
    # An import's records can bury a campaign's settings changes: the page offers the kinds
    # that concern a campaign (not, say, sign-ons) and shows one of them.
    campaign = campaigns["00001"]
    assert send_campaign_change(logged_in, campaign).status_code == 302
    for number in ("601234567", "601234568"):
        assert send_record(logged_in, campaign, {"phone_number": number}).status_code == 302

    page = logged_in.get(campaign.get_absolute_url(), {"kind": CAMPAIGN_CHANGE.slug})
    assert [row.entry.kind for row in page.context["history"].rows] == [CAMPAIGN_CHANGE.slug]
    html = page.content.decode()
    offered = re.findall(r'<option value="([a-z-]+)"', html.split('data-testid="history-filter"')[1]
                         .split("</form>")[0])
    assert {CAMPAIGN_CHANGE.slug, RECORD_ADDITION.slug, "import"} <= set(offered)
    assert "sign-on-roles" not in offered and "erasure" not in offered
    assert f'<option value="{CAMPAIGN_CHANGE.slug}" selected>' in html
    assert f"?campaign=00001&amp;kind={CAMPAIGN_CHANGE.slug}" in html  # the whole trail, alike

    records = logged_in.get(campaign.get_absolute_url(), {"kind": RECORD_ADDITION.slug})
    assert len(records.context["history"].rows) == 2
    empty = logged_in.get(campaign.get_absolute_url(), {"kind": "import"})
    assert not empty.context["history"].rows
    assert "No entry of this kind for this campaign." in empty.content.decode()
    # A kind no campaign has (or none at all) shows everything.
    for kind in ("sign-on-roles", "no-such-kind"):
        assert len(logged_in.get(campaign.get_absolute_url(), {"kind": kind})
                   .context["history"].rows) == 3


# --- what a page only shows -------------------------------------------------------------


@pytest.mark.parametrize("url, path, said", [
    ("/campaigns/", "/api/outbounds/stats", "Records and completion could not be read"),
    ("/campaigns/00001/edit/", "/api/outbounds", "shows the last values it knew"),
    ("/campaigns/00001/records/new/", "/api/outbounds/00001/statuses",
     "Statuses and agents could not be read from Thulium"),
])
def test_a_page_waits_for_what_it_only_shows_for_thulium_view_timeout(
    logged_in, campaigns, thulium, settings, url, path, said
):
    """Not THULIUM_TIMEOUT, which a change waits for: Thulium answers here after the one
    and within the other, and the page opens without the answer."""
    settings.THULIUM_TIMEOUT, settings.THULIUM_VIEW_TIMEOUT = 2 * LATE, 0.2
    thulium.state.fail_next("timeout", path=path, delay=LATE)
    page = logged_in.get(url)
    assert page.status_code == 200
    assert said in page.content.decode()


# --- statuses and agents --------------------------------------------------------------


def test_the_record_form_stays_usable_when_statuses_cannot_be_read(
    logged_in, campaigns, thulium
):
    url = reverse("records:new", args=["00001"])
    thulium.state.fail_next("http_503", path="/api/outbounds/00001/statuses")

    page = logged_in.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Statuses and agents could not be read from Thulium" in html
    assert 'name="phone_number"' in html
    assert page.context["form"].fields["status_id"].choices == [("", "---------")]

    response = logged_in.post(url, {"phone_number": "601234567"})
    assert response.status_code == 302
    assert entries(RECORD_ADDITION.slug).get().outcome == "succeeded"
    assert [r["phone_number"] for r in thulium.state.records("00001")] == ["601234567"]


def test_reloading_statuses_during_an_outage_says_so_instead_of_failing(
    logged_in, campaigns, thulium
):
    thulium.state.fail_next("refuse", path="/api/outbounds/00001/statuses")
    response = logged_in.post(
        reverse("records:refresh_choices", args=["00001"]), follow=True
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Could not read statuses and agents: Sandbox: refused on request." in html
    assert [c["path"] for c in api_calls(thulium)][0] == "/api/outbounds/00001/statuses"
