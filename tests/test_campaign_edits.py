"""Editing a campaign safely: no silent overwrite, changes made outside the portal seen,
previous values restored, and risky changes confirmed before anything is sent."""

import datetime
import threading

import pytest
import requests
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit import recording
from audit.models import Entry, Outcome
from audit.recording import entry_begin, entry_complete, last_link
from audit.verify import verify_chain
from campaigns import reading, services
from campaigns.due import due_changes_apply
from campaigns.entries import CAMPAIGN_CHANGE, FOUND_APPLIED, OUTSIDE_CHANGE, THULIUM_PRESENCE
from campaigns.four_eyes import change_request_create
from campaigns.models import Campaign, ChangeRequest, ScheduledChange
from campaigns.reading import campaigns_sync, database_now, outside_changes_take
from campaigns.scheduling import change_schedule
from campaigns.services import CampaignChanged, campaign_update
from campaigns.templatetags.campaigns_entries import reverted_by
from portal.thulium.client import ThuliumClient
from records.models import AddedRecord
from records.services import record_add_begin_all
from tests.conftest import (
    AUDITORS,
    EDITORS,
    LATE,
    api_calls,
    make_user,
    skip_unless_postgresql,
)
from tests.db_threads import (
    closing,
    ended_once_waiting,
    named_threads,
    paused,
    started_until,
)
from tests.test_campaign_form import edit_url, form_values
from tests.test_gateway import CraftedThulium
from tests.test_scheduling import ahead, due

REASON = "Agreed with the client"


def opened(client, campaign_id="00001") -> dict:
    """What a browser sends back for the edit form it was shown, untouched."""
    return form_values(client.get(edit_url(campaign_id)), "name")


def behind_the_back(sandbox, campaign_id="00001", **changes):
    """Someone changes the campaign in Thulium's own panel (the sandbox's control API)."""
    response = requests.post(f"{sandbox.base_url}/_sandbox/campaigns/{campaign_id}",
                             json=changes, timeout=5)
    response.raise_for_status()


def puts(thulium) -> list[dict]:
    return [call["json"] for call in api_calls(thulium, "PUT")]


@pytest.fixture
def colleague(db):
    other = Client()
    other.force_login(make_user("colleague", EDITORS))
    return other


# --- no silent overwrite ----------------------------------------------------------


def test_a_form_opened_before_a_colleagues_change_is_refused_and_keeps_both(
    logged_in, colleague, campaigns, thulium
):
    mine, theirs = opened(logged_in), opened(colleague)
    assert colleague.post(edit_url(), {**theirs, "order": "7"}).status_code == 302

    response = logged_in.post(edit_url(), {**mine, "parity": "20"})

    assert response.status_code == 200
    assert puts(thulium) == [{"order": 7}]  # nothing of the second form was sent
    page = response.content.decode()
    conflict = page.split('data-testid="conflict"')[1]
    assert "colleague" in conflict  # who changed it
    fields = response.context["conflict"].fields
    assert {(f.label, f.then, f.now, f.yours) for f in fields} == {
        ("Order", 50, 7, 50), ("Parity", 50, 50, 20)}
    # The form again: the user's own change on top of the colleague's, not over it.
    again = form_values(page, "name")
    assert (again["order"], again["parity"]) == ("7", "20")

    assert logged_in.post(edit_url(), again).status_code == 302
    assert puts(thulium) == [{"order": 7}, {"parity": 20}]
    assert Campaign.objects.get(thulium_id="00001").settings["order"] == 7


def test_a_form_opened_before_a_colleague_s_risky_change_shows_the_conflict_not_its_risk(
    logged_in, colleague, campaigns, thulium
):
    mine, theirs = opened(logged_in), opened(colleague)
    assert colleague.post(edit_url(), {**theirs, "caller_id": "221112233", "reason": REASON,
                                       "confirmed": "1"}).status_code == 302

    response = logged_in.post(edit_url(), {**mine, "name": "OZE jesień"})

    assert "conflict" in response.context, response.context["form"].errors
    again = form_values(response.content.decode(), "name")
    assert (again["name"], again["caller_id"]) == ("OZE jesień", "221112233")
    # A mistake of the user's own is shown first, next to its field, with the input kept.
    wrong = logged_in.post(edit_url(), {**mine, "name": "OZE jesień", "order": "0"})
    assert "order" in wrong.context["form"].errors and "conflict" not in wrong.context
    assert form_values(wrong.content.decode(), "name")["name"] == "OZE jesień"


def test_the_conflict_page_names_only_the_changes_that_took_effect(
    logged_in, colleague, campaigns, thulium
):
    mine = opened(logged_in)
    thulium.state.fail_next("refuse", path="/api/outbounds/00001")
    colleague.post(edit_url(), {**opened(colleague), "order": "6"})  # refused: gave it back
    colleague.post(edit_url(), {**opened(colleague), "order": "7"})

    conflict = logged_in.post(edit_url(), {**mine, "parity": "20"}).context["conflict"]

    assert [entry.sent for entry in conflict.entries] == [{"order": 7}]


def test_a_conflict_keeps_the_time_the_change_was_to_be_applied_at(logged_in, colleague,
                                                                    campaigns, thulium):
    mine = opened(logged_in)
    colleague.post(edit_url(), {**opened(colleague), "order": "7"})
    when = ahead(120)

    again = logged_in.post(edit_url(), {**mine, "parity": "20", "apply_at": when})

    assert 'data-testid="conflict"' in again.content.decode()
    shown = form_values(again.content.decode(), "name")
    assert shown["apply_at"] == when
    logged_in.post(edit_url(), shown)
    assert puts(thulium) == [{"order": 7}]  # the colleague's; this one waits for its time
    assert ScheduledChange.objects.get().changes == {"parity": 20}


def test_a_damaged_or_missing_form_version_sends_nothing_and_keeps_the_input(
    logged_in, campaigns, thulium
):
    for base in ("tampered", ""):
        response = logged_in.post(edit_url(), {**opened(logged_in), "base": base,
                                               "parity": "20"})
        assert response.status_code == 200
        assert 'data-testid="conflict"' in response.content.decode()
        assert form_values(response.content.decode(), "name")["parity"] == "20"
    assert puts(thulium) == []


def test_two_changes_based_on_one_version_send_only_the_first(user, campaigns, thulium):
    campaign = campaigns["00001"]
    stale = Campaign.objects.get(pk=campaign.pk)
    campaign_update(campaign=campaign, changes={"order": 3}, actor=user)
    with pytest.raises(CampaignChanged):
        campaign_update(campaign=stale, changes={"parity": 9}, actor=user)
    assert puts(thulium) == [{"order": 3}]


def sent_while_read(campaign, settings, *, changes, found, actor) -> None:
    """Send the changes while someone else's form (or a sync) reads `found` from Thulium."""
    def respond(method, request_path, body):
        try:
            outside_changes_take(Campaign.objects.get(pk=campaign.pk), found, actor=None,
                                 asked_at=last_link(),
                                 read_at=database_now())
        finally:
            connection.close()
        return 200, b""

    with CraftedThulium(respond=respond) as crafted:
        settings.THULIUM_API_URL = crafted.url
        campaign_update(campaign=campaign, changes=changes, actor=actor)


def test_an_unanswered_change_found_applied_is_the_portal_s_not_a_change_made_outside(
    logged_in, campaigns, thulium
):
    """Thulium applied the change and its answer was lost: reading the campaign then finds
    the values the portal had sent, which were recorded as changed outside the portal, by
    whoever opened the form. Something changed in the panel meanwhile still is."""
    thulium.state.fail_next("timeout", path="/api/outbounds/00001", delay=LATE, apply=True)
    assert logged_in.post(edit_url(), {**opened(logged_in), "order": "7"}).status_code == 200
    assert thulium.state.wait_timed_out()  # applied, perhaps after the portal gave up
    unanswered = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    assert unanswered.outcome == "unknown"
    behind_the_back(thulium, parity=77)

    shown = opened(logged_in)

    assert (shown["order"], shown["parity"]) == ("7", "77")
    found = Entry.objects.get(kind=FOUND_APPLIED.slug)
    assert (found.related, found.details["found"]) == (unanswered, {"order": 7})
    assert Entry.objects.get(kind=OUTSIDE_CHANGE.slug).details["found"] == {"parity": 77}
    page = logged_in.get(reverse("audit:entry", args=[found.pk])).content.decode()
    assert 'data-testid="found-applied"' in page and f"#{unanswered.pk}" in page
    assert verify_chain().problem == ""


def test_a_value_an_unanswered_change_sent_that_a_later_change_replaced_is_changed_outside(
    logged_in, campaigns, thulium
):
    """The portal's change whose answer was lost set the order to 7, a later change of the
    portal's set it to 8, and then someone set 7 in Thulium's panel: that 7 was recorded as
    the lost change found applied, not as changed outside the portal."""
    thulium.state.fail_next("timeout", path="/api/outbounds/00001", delay=LATE, apply=True)
    assert logged_in.post(edit_url(), {**opened(logged_in), "order": "7"}).status_code == 200
    assert thulium.state.wait_timed_out()  # applied, perhaps after the portal gave up
    unanswered = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    assert unanswered.outcome == "unknown"
    later = campaign_update(campaign=Campaign.objects.get(thulium_id="00001"),
                            changes={"order": 8}, actor=unanswered.actor)
    assert later.outcome == "succeeded"
    behind_the_back(thulium, order=7)

    shown = opened(logged_in)

    assert shown["order"] == "7"
    assert not Entry.objects.filter(kind=FOUND_APPLIED.slug).exists()
    assert Entry.objects.get(kind=OUTSIDE_CHANGE.slug).details["found"] == {"order": 7}


@pytest.mark.parametrize("later_outcome", [Outcome.SUCCEEDED, Outcome.UNKNOWN])
def test_a_parameter_an_unanswered_change_sent_and_a_later_change_set_is_changed_outside(
    campaigns, user, later_outcome
):
    campaign = campaigns["00001"]
    campaign.settings.setdefault("parameters", {})["predictive_max_calls"] = 3
    campaign.save()
    lost = entry_begin(kind=CAMPAIGN_CHANGE.slug, actor=user, campaign=campaign,
                       sent={"parameters": {"predictive_max_calls": 2}, "order": 7})
    entry_complete(lost, outcome=Outcome.UNKNOWN)
    later = entry_begin(kind=CAMPAIGN_CHANGE.slug, actor=user, campaign=campaign,
                        sent={"parameters": {"predictive_max_calls": 4}})
    entry_complete(later, outcome=later_outcome)
    found = {**campaign.settings, "order": 7,
             "parameters": {**campaign.settings["parameters"], "predictive_max_calls": 2}}

    outside = outside_changes_take(campaign, found, actor=user, asked_at=last_link(),
                                   read_at=database_now())

    assert outside.details["found"] == {"parameters": {"predictive_max_calls": 2}}
    applied = Entry.objects.get(kind=FOUND_APPLIED.slug)
    assert (applied.related, applied.details["found"]) == (lost, {"order": 7})


@pytest.mark.django_db(transaction=True)
def test_a_change_found_outside_while_a_change_is_sent_is_kept(user, campaigns, settings):
    campaign = campaigns["00001"]
    sent_while_read(campaign, settings, changes={"parity": 20}, found={"order": 9}, actor=user)

    stored = Campaign.objects.get(pk=campaign.pk)
    assert (stored.settings["order"], stored.settings["parity"]) == (9, 20)
    # The read raised it, and the change taken after the read too: forms opened in between
    # did not show it.
    assert stored.version == campaign.version == 3


@pytest.mark.django_db(transaction=True)
def test_a_change_read_back_from_thulium_while_it_is_sent_is_no_change_made_outside(
    user, campaigns, settings
):
    """Thulium applied the change before its answer came: read meanwhile (a form opened, a
    sync), its own value was recorded as changed outside the portal."""
    sent_while_read(campaigns["00001"], settings, changes={"parity": 20},
                    found={"parity": 20, "order": 9}, actor=user)

    (outside,) = Entry.objects.filter(kind=OUTSIDE_CHANGE.slug)
    assert outside.details["found"] == {"order": 9}


def test_a_form_opened_while_a_change_is_sent_cannot_undo_it(
    logged_in, colleague, campaigns, thulium, monkeypatch
):
    """Opened while the change was sent, the colleague's form showed the value before it
    (Thulium's read then is not taken for a change made outside) under the version the
    change had claimed: sent back untouched, it undid the change."""
    behind_the_back(thulium, parity=77)  # found as the form opens
    mine = opened(logged_in)
    theirs = {}
    put = ThuliumClient.update_campaign

    def opened_while_sent(self, campaign_id, changes):
        theirs.update(opened(colleague))
        return put(self, campaign_id, changes)

    monkeypatch.setattr(ThuliumClient, "update_campaign", opened_while_sent)
    assert logged_in.post(edit_url(), {**mine, "order": "7"}).status_code == 302

    (outside,) = Entry.objects.filter(kind=OUTSIDE_CHANGE.slug)
    assert outside.details["found"] == {"parity": 77}
    response = colleague.post(edit_url(), {**theirs, "name": "Renamed"})
    assert 'data-testid="conflict"' in response.content.decode()
    assert [entry.sent for entry in response.context["conflict"].entries] == [{"order": 7}]
    assert puts(thulium) == [{"order": 7}]
    assert Campaign.objects.get(thulium_id="00001").settings["order"] == 7


def test_a_refused_change_leaves_forms_opened_before_it_valid(logged_in, campaigns, thulium):
    shown = opened(logged_in)
    thulium.state.fail_next("refuse", path="/api/outbounds/00001")
    assert logged_in.post(edit_url(), {**shown, "order": "7"}).status_code == 200
    assert logged_in.post(edit_url(), {**shown, "order": "8"}).status_code == 302
    assert puts(thulium) == [{"order": 7}, {"order": 8}]


# --- writers of one campaign at once -----------------------------------------------

# What locks the campaign's row, then takes the chain's head for its entry.
ROW_FIRST_WRITERS = {
    "request": lambda campaign, actor: change_request_create(
        campaign=campaign, changes={"dialer": "predictive"}, actor=actor, reason=REASON,
        risks=["dialer"]),
    "scheduled change": lambda campaign, actor: change_schedule(
        campaign=campaign, changes={"order": 3}, actor=actor, reason=REASON,
        apply_at=timezone.now() + datetime.timedelta(hours=1)),
    "read": lambda campaign, actor: outside_changes_take(campaign, {"order": 9}, actor=actor,
                                                         asked_at=last_link(),
                                                         read_at=database_now()),
}


def change_and_writer(campaign, user, writer: str) -> tuple[dict, list, dict]:
    """A change of the campaign's name and the writer, as threads on connections of their
    own not started yet; what they raise, and their PostgreSQL sessions, by name."""
    other = make_user("other", EDITORS)
    works = {
        "changer": lambda: campaign_update(campaign=Campaign.objects.get(pk=campaign.pk),
                                           changes={"name": "Sales 2"}, actor=user),
        "writer": lambda: ROW_FIRST_WRITERS[writer](Campaign.objects.get(pk=campaign.pk),
                                                    other),
    }
    return named_threads(works)


def changed_once_with_each_writer(campaign, failures: list) -> None:
    assert failures == []
    sent = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    stored = Campaign.objects.get(pk=campaign.pk)
    assert (sent.outcome, stored.name) == ("succeeded", "Sales 2")
    assert verify_chain().problem == ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("writer", ROW_FIRST_WRITERS)
def test_a_writer_coming_while_a_change_completes_waits_for_it(
    campaigns, user, monkeypatch, writer
):
    """The change's completion took the chain's head, then the campaign's row, which a
    request, a scheduled change and a read take before the head: PostgreSQL ended one of
    the two as a deadlock, a server error for its editor."""
    skip_unless_postgresql(connection)
    campaign = campaigns["00001"]
    held, go_on = paused(monkeypatch, services, "entry_complete", after=True)
    threads, failures, pids = change_and_writer(campaign, user, writer)
    started_until(threads["changer"], held)
    threads["writer"].start()
    ended_once_waiting(threads, pids, "writer", go_on)

    changed_once_with_each_writer(campaign, failures)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("writer", ROW_FIRST_WRITERS)
def test_a_change_completing_while_a_writer_holds_its_campaign_waits_for_it(
    campaigns, user, monkeypatch, writer
):
    """The same two, the other way round: the completion was the one PostgreSQL ended, a
    server error though Thulium applied the change, whose entry then stayed pending (the
    next read called its values changed outside the portal)."""
    skip_unless_postgresql(connection)
    campaign = campaigns["00001"]
    answered, completing = paused(monkeypatch, ThuliumClient, "update_campaign", after=True)
    # The writer holds the campaign's row when it comes to the chain's head.
    held, go_on = paused(monkeypatch, recording, "_next_seq", on_thread="writer")
    threads, failures, pids = change_and_writer(campaign, user, writer)
    started_until(threads["changer"], answered)
    started_until(threads["writer"], held)
    completing.set()
    ended_once_waiting(threads, pids, "changer", go_on)

    changed_once_with_each_writer(campaign, failures)


@pytest.mark.django_db(transaction=True)
def test_a_record_added_while_a_read_holds_its_campaign_is_not_deadlocked(
    campaigns, user, monkeypatch
):
    """A record added to the campaign (a page's, an import's) refers to it, and PostgreSQL
    checks the reference as the addition commits, holding the chain's head (Django's
    foreign keys are deferred): a read of the campaign from Thulium holding its row FOR
    UPDATE, which that check waits for, and coming to the head next, made PostgreSQL end
    one of the two as a deadlock. The row is held FOR NO KEY UPDATE, as an UPDATE holds
    it, which the check does not wait for."""
    skip_unless_postgresql(connection)
    campaign = campaigns["00001"]
    locked, go_on = paused(monkeypatch, reading, "_not_shown")
    threads, failures, pids = named_threads({
        "reader": lambda: outside_changes_take(Campaign.objects.get(pk=campaign.pk),
                                               {"order": 9}, actor=user,
                                               asked_at=last_link(),
                                               read_at=database_now()),
        "adder": lambda: record_add_begin_all(campaign=campaign, actor=user,
                                              payloads=[{"phone_number": "601234567"}]),
    })
    started_until(threads["reader"], locked)
    threads["adder"].start()
    ended_once_waiting(threads, pids, "adder", go_on)

    assert failures == []
    assert AddedRecord.objects.get().campaign_id == campaign.pk
    assert Campaign.objects.get(pk=campaign.pk).settings["order"] == 9
    assert verify_chain().problem == ""


# --- changes made outside the portal ----------------------------------------------


def test_opening_the_form_takes_thuliums_values_and_records_what_changed_outside(
    logged_in, campaigns, thulium
):
    behind_the_back(thulium, dialer="preview", parameters={"caller_id": "221999999"})

    response = logged_in.get(edit_url())

    shown = form_values(response, "name")
    assert (shown["dialer"], shown["caller_id"]) == ("preview", "221999999")
    # What changed, in the form's words.
    assert "changed outside the portal (Dialer, Caller ID)" in response.content.decode()
    entry = Entry.objects.get(kind=OUTSIDE_CHANGE.slug)
    assert entry.details["found"] == {"dialer": "preview",
                                      "parameters": {"caller_id": "221999999"}}
    assert entry.details["settings_before"]["dialer"] == "progressive"
    assert entry.campaign.thulium_id == "00001" and entry.outcome == "succeeded"
    page = logged_in.get(entry.get_absolute_url()).content.decode()
    diff = page.split('data-testid="diff"')[1]
    assert "progressive" in diff and "preview" in diff and "221999999" in diff
    # Read again, nothing new: no second entry.
    logged_in.get(edit_url())
    assert Entry.objects.filter(kind=OUTSIDE_CHANGE.slug).count() == 1
    assert verify_chain().problem == ""


def test_refresh_and_sync_record_changes_made_outside_too(logged_in, campaigns, thulium):
    behind_the_back(thulium, order=9)
    behind_the_back(thulium, "A7K2Q", active=True)
    response = logged_in.post(reverse("campaigns:sync"), follow=True)
    assert "2 changed outside the portal" in response.content.decode()
    assert campaigns_sync().changed_outside == 0
    found = Entry.objects.filter(kind=OUTSIDE_CHANGE.slug).order_by("pk")
    assert [(e.campaign.thulium_id, e.details["found"], e.actor_username) for e in found] == [
        ("00001", {"order": 9}, "manager"), ("A7K2Q", {"active": True}, "manager")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("read", ["the edit form", "a sync"])
@pytest.mark.parametrize("begun", ["before Thulium was asked", "after"])
def test_a_read_answered_before_a_change_landed_and_taken_after_it_keeps_the_change(
    logged_in, user, campaigns, thulium, monkeypatch, read, begun
):
    """Thulium answered the read with the order before the portal's change, which landed
    and finished before the answer was taken: the old order was recorded as changed
    outside the portal and taken, undoing the change in the portal's copy."""
    behind_the_back(thulium, parity=77)  # found all the same
    campaign = campaigns["00001"]
    listed, put = ThuliumClient.list_campaigns, ThuliumClient.update_campaign
    sending, answered, failures = threading.Event(), threading.Event(), []
    changer = threading.Thread(target=closing(lambda: campaign_update(
        campaign=Campaign.objects.get(pk=campaign.pk), changes={"order": 7}, actor=user),
        failures))

    def put_once_the_read_is_answered(self, *args, **kwargs):
        sending.set()
        assert answered.wait(30)
        return put(self, *args, **kwargs)

    def answered_before_the_change_landed(self, **kwargs):
        items = listed(self, **kwargs)
        answered.set()
        if begun == "after":
            changer.start()
        changer.join(30)
        return items

    monkeypatch.setattr(ThuliumClient, "update_campaign", put_once_the_read_is_answered)
    monkeypatch.setattr(ThuliumClient, "list_campaigns", answered_before_the_change_landed)
    if begun != "after":
        changer.start()
        assert sending.wait(30)

    if read == "a sync":
        campaigns_sync()
    else:
        assert opened(logged_in)["order"] == "7"

    assert failures == []
    stored = Campaign.objects.get(pk=campaign.pk)
    assert (stored.settings["order"], stored.settings["parity"]) == (7, 77)
    outside = Entry.objects.filter(kind=OUTSIDE_CHANGE.slug)
    assert [entry.details["found"] for entry in outside] == [{"parity": 77}]


def test_a_value_never_known_before_is_learnt_without_an_entry(campaigns, thulium):
    Campaign.objects.filter(thulium_id="00001").update(settings={"order": 50}, version=0)
    campaigns_sync()
    campaign = Campaign.objects.get(thulium_id="00001")
    assert campaign.settings["dialer"] == "progressive" and campaign.version == 1
    assert not Entry.objects.filter(kind=OUTSIDE_CHANGE.slug).exists()


def test_a_number_thulium_writes_back_as_text_is_no_change_made_outside(
    logged_in, colleague, campaigns, thulium
):
    """Order 7 saved, then listed as "7": it was recorded as changed outside the portal in
    the reader's name, with a warning, and its new version sent forms opened meanwhile to
    the conflict page."""
    assert logged_in.post(edit_url(), {**opened(logged_in), "order": "7"}).status_code == 302
    theirs = opened(colleague)
    version = Campaign.objects.get(thulium_id="00001").version
    thulium.state.update_campaign("00001", {"order": "7", "parameters": {"preview_timeout": "30"}},
                                  lambda stored: [])

    response = logged_in.get(edit_url())

    assert "changed outside the portal" not in response.content.decode()
    assert not Entry.objects.filter(kind=OUTSIDE_CHANGE.slug).exists()
    campaign = Campaign.objects.get(thulium_id="00001")
    assert campaign.version == version
    assert (campaign.settings["order"], campaign.settings["parameters"]["preview_timeout"]) == (
        7, 30)
    assert colleague.post(edit_url(), {**theirs, "parity": "20"}).status_code == 302
    assert puts(thulium) == [{"order": 7}, {"parity": 20}]
    # A value that differs is still one: "8" for 7.
    thulium.state.update_campaign("00001", {"order": "8"}, lambda stored: [])
    logged_in.get(edit_url())
    assert Entry.objects.get(kind=OUTSIDE_CHANGE.slug).details["found"] == {"order": "8"}


def test_when_thulium_cannot_be_read_the_form_opens_with_the_last_known_values(
    logged_in, campaigns, thulium
):
    thulium.state.fail_next("http_503")
    response = logged_in.get(edit_url())
    assert response.status_code == 200
    warning = response.content.decode().split('data-testid="read-error"')[1]
    assert "last values it knew" in warning
    assert form_values(response, "name")["order"] == "50"


def campaign_lists_read(thulium) -> list[str]:
    """The pages of GET outbounds the sandbox was asked for, as their paths."""
    return [call["path"] for call in api_calls(thulium, "GET")
            if call["path"].partition("?")[0] == "/api/outbounds"]


def test_the_form_of_a_campaign_on_the_first_page_of_hundreds_reads_that_page_only(
    logged_in, campaigns, thulium
):
    """Thulium has no GET outbounds/:id: every page of its list was read for one form."""
    thulium.state.add_generated_campaigns(250)
    behind_the_back(thulium, "A7K2Q", order=9)
    response = logged_in.get(edit_url("A7K2Q"))
    assert form_values(response, "name")["order"] == "9"
    assert campaign_lists_read(thulium) == ["/api/outbounds"]
    Campaign.objects.create(thulium_id="G0250", name="Kampania 0250")
    thulium.state.received_forget()
    assert logged_in.get(edit_url("G0250")).status_code == 200
    assert len(campaign_lists_read(thulium)) == 3


def test_the_form_of_a_campaign_deep_in_a_slow_list_opens_by_the_reads_one_deadline(
    logged_in, campaigns, thulium, settings
):
    """THULIUM_VIEW_TIMEOUT bounded each page, not the reading: a campaign on page 40 of a
    slow Thulium kept the form waiting 40 times it, past gunicorn's timeout."""
    settings.THULIUM_VIEW_TIMEOUT = 1.0  # the whole reading: VIEW_READ_TIMEOUTS (2) times it
    thulium.state.add_generated_campaigns(450)  # G0450 is on the list's fifth page
    Campaign.objects.create(thulium_id="G0450", name="Kampania 0450", settings={"order": 4})
    # Each page answers within its own timeout, but three pages take longer than the reading.
    thulium.state.fail_next("timeout", path="/api/outbounds", delay=0.7, every=1)

    response = logged_in.get(edit_url("G0450"))

    assert response.status_code == 200
    assert len(campaign_lists_read(thulium)) <= 3
    warning = response.content.decode().split('data-testid="read-error"')[1]
    assert "last values it knew" in warning and "no answer in time" in warning
    assert form_values(response, "name")["order"] == "4"
    assert Campaign.objects.get(thulium_id="G0450").in_thulium is not False
    assert not Entry.objects.filter(kind=THULIUM_PRESENCE.slug).exists()


def test_a_campaign_thulium_no_longer_lists_opens_with_the_last_known_values(
    logged_in, campaigns, thulium
):
    Campaign.objects.create(thulium_id="GONE1", name="Gone", settings={"order": 4})
    response = logged_in.get(edit_url("GONE1"))
    assert response.status_code == 200
    assert "does not hold this campaign" in response.content.decode()


# --- restore previous values ------------------------------------------------------


def test_restoring_a_change_sends_the_old_values_of_its_fields_and_links_both_ways(
    logged_in, campaigns, thulium
):
    logged_in.post(edit_url(), {**opened(logged_in), "order": "7", "preview_timeout": "45"})
    logged_in.post(edit_url(), {**opened(logged_in), "parity": "20"})
    first = Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug).earliest("pk")

    response = logged_in.get(reverse("campaigns:revert", args=[first.pk]))

    shown = form_values(response, "name")
    assert (shown["order"], shown["preview_timeout"], shown["parity"]) == ("50", "30", "20")
    assert 'data-testid="reverting"' in response.content.decode()
    assert f'action="{edit_url()}"' in response.content.decode()
    assert logged_in.post(edit_url(), {**shown, "reason": "Back"}).status_code == 302
    assert puts(thulium)[-1] == {"order": 50, "parameters": {"preview_timeout": 30}}
    revert = Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug).latest("pk")
    assert (revert.details["reverts"], revert.related_id) == (first.pk, first.pk)
    first_page = logged_in.get(first.get_absolute_url()).content.decode()
    assert f'href="{revert.get_absolute_url()}"' in first_page.split('data-testid="reverted-by"')[1]
    revert_page = logged_in.get(revert.get_absolute_url()).content.decode()
    assert f'href="{first.get_absolute_url()}" data-testid="reverts"' in revert_page


def test_a_change_made_outside_the_portal_can_be_restored(logged_in, campaigns, thulium):
    behind_the_back(thulium, order=9)
    logged_in.get(edit_url())
    outside = Entry.objects.get(kind=OUTSIDE_CHANGE.slug)
    assert 'data-testid="restore"' in logged_in.get(outside.get_absolute_url()).content.decode()
    shown = form_values(logged_in.get(reverse("campaigns:revert", args=[outside.pk])), "name")
    assert shown["order"] == "50"
    logged_in.post(edit_url(), shown)
    assert puts(thulium) == [{"order": 50}]
    assert Entry.objects.get(kind=CAMPAIGN_CHANGE.slug).details["reverts"] == outside.pk


def test_a_restore_saved_for_later_keeps_the_link_once_sent(logged_in, campaigns, thulium):
    """Sent at its time, the restore named no change it restored, and the restored change
    no restore."""
    logged_in.post(edit_url(), {**opened(logged_in), "order": "7"})
    first = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    shown = form_values(logged_in.get(reverse("campaigns:revert", args=[first.pk])), "name")
    logged_in.post(edit_url(), {**shown, "apply_at": ahead(30)})
    due(ScheduledChange.objects.get())

    due_changes_apply()

    revert = Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug).latest("pk")
    assert (revert.details["reverts"], revert.outcome) == (first.pk, "succeeded")
    assert puts(thulium)[-1] == {"order": 50}
    first_page = logged_in.get(first.get_absolute_url()).content.decode()
    assert f'href="{revert.get_absolute_url()}"' in first_page.split('data-testid="reverted-by"')[1]


def test_a_risky_restore_under_four_eyes_waits_and_keeps_the_link(
    logged_in, campaigns, thulium, settings
):
    behind_the_back(thulium, active=False)
    logged_in.get(edit_url())
    outside = Entry.objects.get(kind=OUTSIDE_CHANGE.slug)
    settings.FOUR_EYES = True
    shown = form_values(logged_in.get(reverse("campaigns:revert", args=[outside.pk])), "name")
    logged_in.post(edit_url(), {**shown, "reason": "Start again"})  # activating is risky
    request = ChangeRequest.objects.get()
    assert (request.changes, request.reverts_id) == ({"active": True}, outside.pk)
    assert puts(thulium) == []
    logged_in.force_login(make_user("approver", EDITORS))
    logged_in.post(reverse("campaigns:request_approve", args=[request.pk]))
    sent = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    assert (sent.details["reverts"], sent.outcome) == (outside.pk, "succeeded")
    assert puts(thulium) == [{"active": True}]
    assert reverted_by(outside) == [sent]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL plans from table "
                    "statistics, which an almost empty test table does not have")
def test_the_changes_that_restored_an_entry_are_found_by_index(logged_in, campaigns, thulium):
    """They were found by reading `details.reverts` of every settings change: 266 ms at a
    million entries, for every settings change's page."""
    logged_in.post(edit_url(), {**opened(logged_in), "order": "7"})
    first = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    shown = form_values(logged_in.get(reverse("campaigns:revert", args=[first.pk])), "name")
    logged_in.post(edit_url(), shown)
    with CaptureQueriesContext(connection) as queries:
        (revert,) = reverted_by(first)
    assert revert.details["reverts"] == first.pk
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {queries.captured_queries[-1]['sql']}")
        plan = " ".join(str(row) for row in cursor.fetchall())
    # The entries related to this one, and the requests' and scheduled changes' own: not
    # every settings change walked through the index of kinds.
    assert "entry_related (related_id=?)" in plan and "entry_kind_when" not in plan, plan


@pytest.mark.parametrize("case", ["failed", "not-a-change", "campaign-deleted"])
def test_what_cannot_be_restored_says_why_without_an_error_page(
    logged_in, campaigns, thulium, case
):
    campaign = campaigns["00001"]
    shown = opened(logged_in)
    if case == "failed":
        thulium.state.fail_next("refuse", path="/api/outbounds/00001")
    logged_in.post(edit_url(), {**shown, "order": "7"})
    entry = Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug).latest("pk")
    if case == "not-a-change":
        logged_in.post(reverse("records:new", args=["00001"]), {"phone_number": "601234567"})
        entry = Entry.objects.latest("pk")
    if case == "campaign-deleted":
        Campaign.objects.filter(pk=campaign.pk).delete()

    response = logged_in.get(reverse("campaigns:revert", args=[entry.pk]), follow=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert "cannot be restored" in page or "Only a settings change that succeeded" in page
    assert puts(thulium) == [{"order": 7}]  # the change itself; nothing restored
    assert logged_in.get(reverse("campaigns:revert", args=[2**70])).status_code == 404


def test_restoring_is_for_editors_and_the_button_shows_only_to_them(
    logged_in, campaigns, thulium
):
    logged_in.post(edit_url(), {**opened(logged_in), "order": "7"})
    change = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    auditor = Client()
    auditor.force_login(make_user("auditor", AUDITORS))
    page = auditor.get(change.get_absolute_url()).content.decode()
    assert page.count('data-testid="restore"') == 0
    assert auditor.get(reverse("campaigns:revert", args=[change.pk])).status_code == 403
    assert 'data-testid="restore"' in logged_in.get(change.get_absolute_url()).content.decode()


# --- confirming a risky change ----------------------------------------------------


def test_a_risky_change_waits_for_confirmation_and_back_keeps_the_input(
    logged_in, campaigns, thulium
):
    shown = {**opened(logged_in), "dialer": "predictive", "caller_id": "221112233",
             "reason": REASON}
    response = logged_in.post(edit_url(), shown)

    assert response.status_code == 200 and puts(thulium) == []
    page = response.content.decode()
    table = page.split('data-testid="confirm-changes"')[1].split("</table>")[0]
    assert "progressive" in table and "predictive" in table and "221112233" in table
    assert "switches the dialer to predictive" in page
    confirmation = form_values(page, "base")
    back = logged_in.post(edit_url(), {**confirmation, "edit": "1"})
    assert form_values(back, "name")["caller_id"] == "221112233" and puts(thulium) == []

    assert logged_in.post(edit_url(), {**confirmation, "confirmed": "1"}).status_code == 302
    assert puts(thulium) == [{"dialer": "predictive",
                              "parameters": {"caller_id": "221112233"}}]


def test_a_safe_change_is_sent_without_a_confirmation_page(logged_in, campaigns, thulium):
    assert logged_in.post(edit_url(), {**opened(logged_in), "order": "7"}).status_code == 302
    assert puts(thulium) == [{"order": 7}]


@pytest.mark.parametrize("when", [{}, {"apply_at": ahead()}])
def test_the_form_of_a_campaign_deleted_in_thulium_says_so_and_sends_nothing(
        logged_in, user, campaigns, thulium, when):
    thulium.state.remove_campaign("00001")
    url = edit_url("00001")
    response = logged_in.post(url, {**opened(logged_in), "order": "7", "reason": REASON,
                                    **when})
    assert response.status_code == 200
    assert "no longer in Thulium" in response.content.decode()
    assert api_calls(thulium, "PUT") == []
    assert not Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug).exists()
    assert not ScheduledChange.objects.exists()
    assert Campaign.objects.get(thulium_id="00001").in_thulium is False
    gone = Entry.objects.get(kind=THULIUM_PRESENCE.slug)
    assert (gone.campaign.thulium_id, gone.actor, gone.details) == (
        "00001", user, {"in_thulium": False})
