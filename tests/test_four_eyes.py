"""Risky campaign changes: a typed reason always, and with FOUR_EYES a second editor."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.urls import reverse

import campaigns.four_eyes as four_eyes_module
from audit.models import Entry
from audit.recording import last_link
from audit.verify import verify_chain
from campaigns import reading
from campaigns.entries import CAMPAIGN_CHANGE, CHANGE_REQUEST, OUTSIDE_CHANGE, Step
from campaigns.four_eyes import (
    RequestOutdated,
    change_request_approve,
    change_request_create,
    outdated_why,
)
from campaigns.models import Campaign, ChangeRequest
from campaigns.notices import REQUEST_DECIDED
from campaigns.reading import campaigns_sync, database_now, outside_changes_take
from campaigns.risk import Risk, risky_changes
from notices.models import Notice
from tests.conftest import (
    ADMINISTRATORS,
    AUDITORS,
    EDITORS,
    admin_shows,
    api_calls,
    make_user,
    skip_unless_postgresql,
)
from tests.db_threads import ended_once_waiting, named_threads, paused, started_until
from tests.test_campaign_form import form_values
from tests.test_twofactor import account_form, enrolled

KNOWN = {
    "dialer": "progressive", "active": False, "start_date": "2026-01-05",
    "end_date": "2026-12-31", "order": 50,
    "parameters": {"caller_id": "221234567", "predictive_max_calls": 3},
}


@pytest.mark.parametrize("changes, risks", [
    ({"dialer": "predictive"}, [Risk.PREDICTIVE]),
    ({"parameters": {"predictive_max_calls": 3.5}}, [Risk.MORE_CALLS]),
    ({"parameters": {"caller_id": "221112233"}}, [Risk.CALLER_ID]),
    ({"active": True}, [Risk.ACTIVATION]),
    ({"start_date": "2026-02-01"}, [Risk.DATES]),
    ({"end_date": "2027-01-31"}, [Risk.DATES]),
    ({"dialer": "predictive", "parameters": {"caller_id": "1"}},
     [Risk.PREDICTIVE, Risk.CALLER_ID]),
])
def test_each_risky_change_is_recognised(changes, risks):
    assert risky_changes(changes, KNOWN) == risks


@pytest.mark.parametrize("changes", [
    {"name": "Renamed"},
    {"order": 3, "parity": 10},
    {"dialer": "preview"},
    {"active": False},
    {"parameters": {"predictive_max_calls": 2}},
    {"parameters": {"predictive_max_calls": 3}},
    {"parameters": {"caller_id": "221234567", "preview_timeout": 20}},
    {"start_date": "2026-01-05"},
])
def test_safe_changes_are_not_risky(changes):
    assert risky_changes(changes, KNOWN) == []


def test_a_setting_the_portal_never_knew_counts_as_risky():
    assert risky_changes({"parameters": {"predictive_max_calls": 1}}, {}) == [Risk.MORE_CALLS]
    assert risky_changes({"dialer": "predictive"}, {"dialer": "predictive"}) == []


@pytest.fixture
def second_editor(db):
    return make_user("second", EDITORS)


def edit(client, campaign, **changes):
    """Post the edit form as a browser would: every field filled as shown, some changed,
    and a risky change confirmed (unless `confirmed=None`)."""
    url = reverse("campaigns:edit", args=[campaign.thulium_id])
    data = {**form_values(client.get(url), "name"), "confirmed": "1", **changes}
    return client.post(url, {name: value for name, value in data.items() if value is not None})


def stop_editing(user, how: str) -> None:
    """Take the user's right to change campaigns, as an administrator would."""
    if how == "deactivated":
        user.is_active = False
        user.save()
    elif how == "role taken":
        user.groups.clear()
    else:
        user.delete()


def test_a_risky_change_without_a_reason_is_refused_and_nothing_is_sent(
    logged_in, campaigns, thulium
):
    response = edit(logged_in, campaigns["00001"], dialer="predictive", caller_id="221112233")
    assert response.status_code == 200
    error = response.context["form"].errors["reason"][0]
    assert "switches the dialer to predictive" in error and "changes the caller ID" in error
    assert 'value="221112233"' in response.content.decode()  # the input is kept
    assert api_calls(thulium, "PUT") == []


def test_a_risky_change_with_a_reason_is_sent_and_the_reason_is_in_the_audit(
    logged_in, campaigns, thulium
):
    campaign = campaigns["00001"]
    edit(logged_in, campaign, start_date="2026-02-02", reason="Start after the winter break")
    assert api_calls(thulium, "PUT")[0]["json"] == {"start_date": "2026-02-02"}
    change = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    assert change.reason == "Start after the winter break"
    detail = logged_in.get(campaign.get_absolute_url()).content.decode()
    assert "Start after the winter break" in detail
    audit_page = logged_in.get(change.get_absolute_url()).content.decode()
    assert "Start after the winter break" in audit_page


def test_a_safe_change_needs_no_reason(logged_in, campaigns, thulium):
    edit(logged_in, campaigns["00001"], name="Renamed")
    assert api_calls(thulium, "PUT")[0]["json"] == {"name": "Renamed"}


@pytest.fixture
def four_eyes(settings):
    settings.FOUR_EYES = True


@pytest.fixture
def change_request(four_eyes, logged_in, user, campaigns):
    """The manager asks to switch the sales campaign to predictive dialing."""
    response = edit(logged_in, campaigns["00001"], dialer="predictive",
                    reason="More calls in the season")
    change_request = ChangeRequest.objects.get()
    assert response.url == change_request.get_absolute_url()
    return change_request


@pytest.fixture
def approve(change_request, client, second_editor):
    """Approve the request as the second editor: the response they are shown after."""
    def approve():
        client.force_login(second_editor)
        return client.post(reverse("campaigns:request_approve", args=[change_request.pk]),
                           follow=True)
    return approve


def test_with_four_eyes_a_risky_change_becomes_a_request_and_nothing_is_sent(
    change_request, user, campaigns, thulium
):
    assert api_calls(thulium, "PUT") == []
    assert Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug).count() == 0
    assert change_request.changes == {"dialer": "predictive"}
    assert change_request.settings_before == campaigns["00001"].settings
    assert change_request.requester == user
    assert change_request.reason == "More calls in the season"
    assert change_request.risks == [Risk.PREDICTIVE]
    assert change_request.state == ChangeRequest.State.REQUESTED


def test_with_four_eyes_a_safe_change_is_still_sent_at_once(four_eyes, logged_in, campaigns,
                                                           thulium):
    edit(logged_in, campaigns["00001"], name="Renamed")
    assert api_calls(thulium, "PUT")[0]["json"] == {"name": "Renamed"}
    assert ChangeRequest.objects.count() == 0


def test_the_requester_cannot_approve_their_own_request(change_request, logged_in, thulium):
    page = logged_in.get(change_request.get_absolute_url()).content.decode()
    assert reverse("campaigns:request_approve", args=[change_request.pk]) not in page
    assert "you cannot approve your own request" in page
    response = logged_in.post(reverse("campaigns:request_approve", args=[change_request.pk]))
    assert response.status_code == 403
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.REQUESTED
    assert api_calls(thulium, "PUT") == []


def test_the_approver_reads_the_change_field_by_field_in_their_language(
    change_request, client, second_editor
):
    """The request's page showed its changes as raw JSON, in English ("dialer":
    "predictive"), where the confirmation page and the audit trail show them by name."""
    client.force_login(second_editor)
    page = client.get(change_request.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl")
    table = page.content.decode().split('data-testid="requested-changes"')[1].split("</table>")[0]
    assert "Dialer" in table and "progresywny" in table and "predykcyjny" in table
    assert '"dialer"' not in table


def test_a_second_editor_approves_and_the_change_goes_to_thulium(
    change_request, client, second_editor, campaigns, thulium
):
    client.force_login(second_editor)
    page = client.get(change_request.get_absolute_url()).content.decode()
    assert reverse("campaigns:request_approve", args=[change_request.pk]) in page
    client.post(reverse("campaigns:request_approve", args=[change_request.pk]))

    assert [call["json"] for call in api_calls(thulium, "PUT")] == [{"dialer": "predictive"}]
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.APPROVED
    assert change_request.decided_by == second_editor
    sent = change_request.sent_change
    assert (sent.kind, sent.actor, sent.outcome, sent.reason) == (
        CAMPAIGN_CHANGE.slug, second_editor, "succeeded", "More calls in the season"
    )
    campaigns["00001"].refresh_from_db()
    assert campaigns["00001"].settings["dialer"] == "predictive"
    history = client.get(campaigns["00001"].get_absolute_url()).context["history"]
    kinds = [(row.entry.kind, row.entry.details.get("step")) for row in history.rows]
    assert sorted(kinds) == [(CAMPAIGN_CHANGE.slug, None), (CHANGE_REQUEST.slug, Step.APPROVED),
                             (CHANGE_REQUEST.slug, Step.REQUESTED)]


def test_a_rejected_request_sends_nothing_and_shows_in_the_history(
    change_request, client, second_editor, campaigns, thulium
):
    client.force_login(second_editor)
    client.post(reverse("campaigns:request_reject", args=[change_request.pk]),
                {"note": "Not before the list is cleaned"})
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.REJECTED
    assert change_request.decision_note == "Not before the list is cleaned"
    assert api_calls(thulium, "PUT") == []
    page = client.get(campaigns["00001"].get_absolute_url()).content.decode()
    assert f"change request #{change_request.pk} rejected" in page
    # The history links the step to its entry, which holds the note.
    rejected = Entry.objects.get(kind=CHANGE_REQUEST.slug, details__step=Step.REJECTED)
    assert rejected.get_absolute_url() in page
    entry_page = client.get(rejected.get_absolute_url()).content.decode()
    assert "Not before the list is cleaned" in entry_page
    # A decided request cannot be approved afterwards.
    client.post(reverse("campaigns:request_approve", args=[change_request.pk]))
    assert api_calls(thulium, "PUT") == []


def test_a_request_cannot_be_approved_after_the_campaign_changed_under_it(
    change_request, client, logged_in, second_editor, campaigns, thulium
):
    edit(logged_in, campaigns["00001"], name="Renamed meanwhile")
    assert len(api_calls(thulium, "PUT")) == 1
    client.force_login(second_editor)
    page = client.get(change_request.get_absolute_url()).content.decode()
    assert reverse("campaigns:request_approve", args=[change_request.pk]) not in page
    response = client.post(reverse("campaigns:request_approve", args=[change_request.pk]),
                           follow=True)
    assert "already decided" in response.content.decode()  # outdated by the rename
    assert len(api_calls(thulium, "PUT")) == 1  # only the rename
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.STALE


def test_another_editors_change_outdates_the_campaigns_open_requests_at_once(
    change_request, user, second_editor, campaigns
):
    """Another change, even of a field the request does not touch: the request stayed
    awaiting approval in every approver's count, and its requester was not told."""
    user.email = "manager@example.com"
    user.save()
    other = Client()
    other.force_login(second_editor)
    assert edit(other, campaigns["00001"], order="3").status_code == 302
    page = other.get(change_request.get_absolute_url())
    assert page.context["requests_to_approve"] == 0
    change_request.refresh_from_db()
    assert (change_request.state, change_request.decided_by) == (ChangeRequest.State.STALE,
                                                                 None)
    assert outdated_why(change_request) == "the campaign changed after the request was made"
    told = Notice.objects.filter(kind=REQUEST_DECIDED.slug, user=user)
    assert [notice.context["ending"] for notice in told] == [ChangeRequest.State.STALE]
    step = Entry.objects.filter(kind=CHANGE_REQUEST.slug).latest("pk")
    assert (step.details["step"], step.details["why"]) == (Step.OUTDATED,
                                                           Step.CAMPAIGN_CHANGED)
    change = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    assert step.complete_seq < change.complete_seq  # in the change's own transaction
    assert verify_chain().problem == ""


def test_a_change_found_made_outside_the_portal_outdates_the_open_requests(
    change_request, user, campaigns, thulium
):
    user.email = "manager@example.com"
    user.save()
    thulium.state.update_campaign("00001", {"parity": 77}, lambda stored: [])
    campaigns_sync()
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.STALE
    assert Notice.objects.filter(kind=REQUEST_DECIDED.slug, user=user).exists()
    assert api_calls(thulium, "PUT") == []


def test_a_request_made_on_the_settings_a_change_leaves_stays_open(change_request, campaigns):
    """Only a request the change made outdated closes: one read since stays."""
    campaigns_sync()
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.REQUESTED


def test_a_request_goes_stale_when_a_refresh_from_thulium_changed_the_campaign(
    change_request, client, second_editor, campaigns, thulium
):
    thulium.state.update_campaign("00001", {"parity": 77}, lambda stored: [])
    client.force_login(second_editor)
    client.post(reverse("campaigns:sync"))
    client.post(reverse("campaigns:request_approve", args=[change_request.pk]))
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.STALE
    assert api_calls(thulium, "PUT") == []


def test_a_request_goes_stale_when_thulium_changed_the_campaign_since_it_was_made(
    change_request, approve, campaigns, thulium
):
    """The approval judged the request by the portal's last known settings only: it sent
    the change over one made in Thulium's panel since."""
    thulium.state.update_campaign("00001", {"dialer": "preview"}, lambda stored: [])
    response = approve()
    assert "approving it could undo that change" in response.content.decode()
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.STALE
    assert api_calls(thulium, "PUT") == []
    assert Entry.objects.get(kind=OUTSIDE_CHANGE.slug).details["found"] == {"dialer": "preview"}


def test_a_request_is_not_approved_when_thulium_cannot_be_read(
    change_request, approve, thulium
):
    thulium.state.fail_next("refuse", path="/api/outbounds")
    response = approve()
    shown = response.content.decode()
    assert "Not approved: the campaign could not be read from Thulium" in shown
    assert "Sandbox: refused on request." in shown and "request_id" in shown
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.REQUESTED
    assert api_calls(thulium, "PUT") == []


@pytest.mark.parametrize("how", ["deactivated", "role taken", "deleted"])
def test_a_request_of_someone_who_may_no_longer_edit_is_outdated_not_approved(
    change_request, approve, user, client, second_editor, thulium, how
):
    """Unticking Active stops someone at once (docs/operations.md): their request was still
    offered for approval, counted for approvers, and sent once approved."""
    stop_editing(user, how)
    client.force_login(second_editor)
    page = client.get(change_request.get_absolute_url())
    assert 'data-testid="requester-gone"' in page.content.decode()
    assert reverse("campaigns:request_approve",
                   args=[change_request.pk]) not in page.content.decode()
    assert page.context["requests_to_approve"] == 0
    thulium.state.received_forget()

    response = approve()

    assert ("Not approved: the one who asked for this change was deactivated or may no "
            "longer change campaigns. The request is now outdated.") in response.content.decode()
    assert api_calls(thulium) == []  # nothing sent, nor Thulium asked
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.STALE
    assert change_request.decided_by == second_editor
    assert outdated_why(change_request) == ("the one who asked for it was deactivated or may "
                                            "no longer change campaigns")
    assert not Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug).exists()


def test_an_approval_beaten_by_another_change_leaves_the_request_outdated_not_approved(
    change_request, approve, user, thulium, monkeypatch
):
    """Another change took the campaign between the approval's commit and its send: the
    request stayed approved with nothing sent, could never be approved again, and its
    requester was told it failed."""
    user.email = "manager@example.com"
    user.save()
    send = four_eyes_module.campaign_update

    def renamed_first(**kwargs):
        other = type(kwargs["campaign"]).objects.get(pk=kwargs["campaign"].pk)
        send(campaign=other, changes={"name": "Renamed meanwhile"}, actor=user)
        return send(**kwargs)

    monkeypatch.setattr(four_eyes_module, "campaign_update", renamed_first)
    response = approve()
    assert "approving it could undo that change" in response.content.decode()
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.STALE
    assert change_request.sent_change is None
    assert outdated_why(change_request) == "the campaign changed after the request was made"
    assert [call["json"] for call in api_calls(thulium, "PUT")] == [{"name": "Renamed meanwhile"}]
    told = Notice.objects.filter(kind=REQUEST_DECIDED.slug)
    assert [notice.context["ending"] for notice in told] == [ChangeRequest.State.STALE]


def test_a_request_is_sent_once_even_if_approved_twice(
    change_request, client, second_editor, thulium
):
    client.force_login(second_editor)
    url = reverse("campaigns:request_approve", args=[change_request.pk])
    client.post(url)
    thulium.state.received_forget()
    response = client.post(url, follow=True)
    assert "already decided" in response.content.decode()
    assert len(api_calls(thulium, "PUT")) == 0  # nor is Thulium asked for the campaign
    assert api_calls(thulium, "GET") == []


def test_when_thulium_refuses_the_approved_change_its_words_are_shown_and_audited(
    change_request, approve, thulium
):
    thulium.state.fail_next("refuse", path="/api/outbounds/00001")  # the PUT, not the read
    response = approve()
    assert "Approved, but Thulium did not take the change" in response.content.decode()
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.APPROVED
    assert change_request.sent_change.outcome == "refused"


def test_the_requester_reads_thuliums_refusal_on_the_request_page(
    change_request, approve, user, thulium
):
    """Their mail sends them there: the call's entry is the approver's, closed to them."""
    thulium.state.fail_next("refuse", path="/api/outbounds/00001")
    approve()
    change_request.refresh_from_db()
    sent = change_request.sent_change
    requester = Client()
    requester.force_login(user)
    assert requester.get(sent.get_absolute_url()).status_code == 403
    page = requester.get(change_request.get_absolute_url()).content.decode()
    assert sent.request_id and sent.messages[0] in page and sent.request_id in page
    assert f"(HTTP {sent.http_status})" in page
    requester.force_login(make_user("reader"))  # sees that it exists, not its contents
    page = requester.get(change_request.get_absolute_url()).content.decode()
    assert "refused" in page and sent.request_id not in page


def test_approvers_see_how_many_requests_wait_for_them(change_request, logged_in,
                                                      second_editor):
    # The requester's own request is not one they could approve.
    assert logged_in.get(reverse("campaigns:list")).context["requests_to_approve"] == 0
    logged_in.force_login(second_editor)
    page = logged_in.get(reverse("campaigns:list"))
    assert page.context["requests_to_approve"] == 1
    assert 'data-testid="requests-to-approve">1<' in page.content.decode()


def administrator_makes_editor(client, username: str) -> User:
    """An account made in the admin, its password set and Campaign editors given, as an
    administrator's session would."""
    client.post(reverse("admin:auth_user_add"), {
        "username": username, "password1": "Helper-pass-123", "password2": "Helper-pass-123",
        "usable_password": "true"})
    account = User.objects.get(username=username)
    client.post(reverse("admin:auth_user_change", args=[account.pk]),
                account_form(account, groups=[Group.objects.get(name=EDITORS).pk]))
    assert account.has_perm("campaigns.approve_changerequest")
    return account


@pytest.mark.parametrize("how", ["made", "password set", "second factor reset", "groups"])
def test_an_administrator_cannot_approve_their_own_change_through_an_account_they_manage(
        how, four_eyes, client, campaigns, thulium, second_editor):
    """One administrator met the four-eyes rule alone: they asked for a risky change, made
    (or took over) an approver's account in the admin, and approved it from there."""
    admin = make_user("boss", ADMINISTRATORS, is_staff=True)
    client.force_login(admin)
    edit(client, campaigns["00001"], dialer="predictive", reason="more calls")
    change_request = ChangeRequest.objects.get()
    if how == "made":
        approver = administrator_makes_editor(client, "helper")
    elif how == "password set":
        approver = second_editor
        client.post(reverse("admin:auth_user_password_change", args=[approver.pk]), {
            "password1": "Helper-pass-123", "password2": "Helper-pass-123",
            "usable_password": "true"})
    elif how == "second factor reset":
        approver = second_editor
        enrolled(approver)
        client.post("/admin/auth/user/", {"action": "second_factor_reset",
                                          "_selected_action": [approver.pk]})
    else:
        approver = make_user("helper")
        client.post(reverse("admin:auth_user_change", args=[approver.pk]),
                    account_form(approver, groups=[Group.objects.get(name=EDITORS).pk]))
    as_approver = Client()
    as_approver.force_login(User.objects.get(pk=approver.pk))
    page = as_approver.get(change_request.get_absolute_url())
    assert page.context["requests_to_approve"] == 0
    assert 'data-testid="accounts-linked"' in page.content.decode()
    assert reverse("campaigns:request_approve", args=[change_request.pk]) not in (
        page.content.decode())
    refused = as_approver.post(reverse("campaigns:request_approve", args=[change_request.pk]),
                               follow=True)
    assert "Not decided: one of you created or changed the other" in refused.content.decode()
    as_approver.post(reverse("campaigns:request_reject", args=[change_request.pk]),
                     {"note": "no"})
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.REQUESTED
    assert api_calls(thulium, "PUT") == []
    # Another editor, whose account the requester never touched, approves it.
    client.force_login(make_user("third", EDITORS))
    client.post(reverse("campaigns:request_approve", args=[change_request.pk]))
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.APPROVED


def test_nor_can_they_approve_a_change_asked_for_from_an_account_they_made(
        four_eyes, client, campaigns, thulium):
    admin = make_user("boss", ADMINISTRATORS, EDITORS, is_staff=True)
    client.force_login(admin)
    administrator_makes_editor(client, "puppet")
    puppet = Client()
    assert puppet.post(reverse("login"), {"username": "puppet",
                                          "password": "Helper-pass-123"}).status_code == 302
    edit(puppet, campaigns["00001"], dialer="predictive", reason="more calls")
    change_request = ChangeRequest.objects.get()
    assert client.get(reverse("campaigns:list")).context["requests_to_approve"] == 0
    client.post(reverse("campaigns:request_approve", args=[change_request.pk]))
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.REQUESTED
    assert api_calls(thulium, "PUT") == []


def test_requests_are_listed_for_everyone_logged_in(change_request, client, db):
    client.force_login(make_user("reader"))
    page = client.get(reverse("campaigns:requests")).content.decode()
    assert change_request.get_absolute_url() in page and "(00001)" in page
    # Whose and why, only as the audit trail shows them: to those who act on it.
    assert "More calls in the season" not in page and "manager" not in page


def test_requests_awaiting_approval_are_listed_fifty_a_page_newest_first(
        change_request, client, second_editor):
    later = [ChangeRequest(campaign=change_request.campaign, changes={"parity": 10 + number},
                           reason=f"Reason {number}", actor_username="manager",
                           created_at=change_request.created_at + timedelta(minutes=number))
             for number in range(1, 61)]
    ChangeRequest.objects.bulk_create(later)
    decided = ChangeRequest.objects.filter(reason="Reason 1")
    decided.update(state=ChangeRequest.State.REJECTED)
    client.force_login(second_editor)
    first = client.get(reverse("campaigns:requests"))
    shown = first.context["open_requests"]
    assert len(shown) == 50 and shown.paginator.count == 60
    assert [r.reason for r in shown][:2] == ["Reason 60", "Reason 59"]
    text = first.content.decode()
    assert 'href="?page=2"' in text and "Page 1 of 2" in text
    assert text.count("Reason 1<") == 1  # among the decided, not awaiting approval
    second = client.get(reverse("campaigns:requests"), {"page": 2})
    assert [r.reason for r in second.context["open_requests"]] == [
        *(f"Reason {number}" for number in range(10, 1, -1)), "More calls in the season"]
    assert 'href="?page=1"' in second.content.decode()
    for unreadable in ("x", "0", "99"):
        assert client.get(reverse("campaigns:requests"), {"page": unreadable}).status_code == 200


def test_a_campaign_page_shows_its_first_requests_and_links_them_all_page_after_page(
        change_request, client, second_editor, campaigns):
    ChangeRequest.objects.bulk_create(
        [ChangeRequest(campaign=campaign, changes={"parity": 20}, reason=reason,
                       actor_username="manager")
         for campaign, reason in [*[(change_request.campaign, "Sales")] * 54,
                                  (campaigns["00002"], "Collections")]])
    client.force_login(second_editor)
    page = client.get(change_request.campaign.get_absolute_url())
    assert len(page.context["open_requests"]) == 5
    every = f"{reverse('campaigns:requests')}?campaign=00001"
    assert "All 55 requests awaiting approval for this campaign" in page.content.decode()
    assert every in page.content.decode()
    listed = client.get(every)
    assert listed.context["open_requests"].paginator.count == 55
    assert "?campaign=00001&amp;page=2" in listed.content.decode()
    second = client.get(f"{every}&page=2")
    assert {r.campaign.thulium_id for r in second.context["open_requests"]} == {"00001"}
    assert len(second.context["open_requests"]) == 5
    assert "?campaign=00001&amp;page=1" in second.content.decode()
    for unknown in ("\x00", "nope!", "99999"):
        assert client.get(reverse("campaigns:requests"), {"campaign": unknown}).status_code == 404


def test_only_those_who_may_act_on_a_request_or_see_it_in_the_audit_trail_read_it(
        change_request, client, second_editor):
    """Anyone logged in read others' reasons, notes and values on the request's page, while
    the audit trail answered 403 for the same steps."""
    client.force_login(second_editor)
    client.post(reverse("campaigns:request_reject", args=[change_request.pk]),
                {"note": "Not in December"})
    step = Entry.objects.filter(kind=CHANGE_REQUEST.slug).first()
    client.force_login(make_user("reader"))
    assert client.get(step.get_absolute_url()).status_code == 403
    page = client.get(change_request.get_absolute_url()).content.decode()
    assert 'data-testid="not-in-full"' in page and "rejected" in page
    for secret in ("More calls in the season", "Not in December", "predictive", "manager",
                   "second,", 'data-testid="requested-changes"'):
        assert secret not in page
    # The requester, an approver and an auditor read it all.
    for reader in (change_request.requester, make_user("third", EDITORS),
                   make_user("audrey", AUDITORS)):
        client.force_login(reader)
        page = client.get(change_request.get_absolute_url()).content.decode()
        assert "More calls in the season" in page and "Not in December" in page
        assert 'data-testid="requested-changes"' in page
        listed = client.get(reverse("campaigns:requests")).content.decode()
        assert "More calls in the season" in listed


def test_an_administrator_who_is_no_editor_reads_no_more_of_a_request_in_the_admin(
        change_request, client):
    """The admin showed its requester, reason and values, which the request's page hides."""
    boss = make_user("boss", ADMINISTRATORS, is_staff=True)
    client.force_login(boss)
    assert admin_shows(client, change_request) == (False, False)
    boss.groups.add(Group.objects.get(name=EDITORS))
    client.force_login(User.objects.get(pk=boss.pk))
    assert admin_shows(client, change_request) == (True, True)


def test_the_campaign_page_names_a_waiting_request_s_requester_only_to_who_reads_it_in_full(
        change_request, client, campaigns):
    page = campaigns["00001"].get_absolute_url()
    client.force_login(make_user("reader"))
    banner = client.get(page).content.decode().split('data-testid="open-requests"')[1]
    banner = banner.split("</div>")[0]
    assert change_request.get_absolute_url() in banner and "manager" not in banner
    client.force_login(make_user("third", EDITORS))
    assert "requested by manager" in client.get(page).content.decode()


def test_the_service_refuses_self_approval_too(change_request, user):
    from django.core.exceptions import PermissionDenied

    from campaigns.four_eyes import change_request_approve

    with pytest.raises(PermissionDenied):
        change_request_approve(change_request=change_request, approver=user)


def test_a_request_made_through_the_service_snapshots_the_settings(campaigns, user):
    campaign = campaigns["00001"]
    made = change_request_create(campaign=campaign, changes={"active": True}, actor=user,
                                 reason="go", risks=[Risk.ACTIVATION])
    assert made.settings_before == campaign.settings
    assert made.actor_username == "manager"


# --- the steps in the audit trail ---------------------------------------------------


def test_every_four_eyes_step_is_a_chained_audit_entry_in_the_timeline(
    change_request, approve, client, campaigns, thulium
):
    approve()

    steps = list(Entry.objects.filter(kind=CHANGE_REQUEST.slug).order_by("begin_seq"))
    assert [(s.details["step"], s.actor_username) for s in steps] == [
        ("requested", "manager"), ("approved", "second"),
    ]
    assert all(s.details["request"] == change_request.pk for s in steps)
    assert all(s.outcome == "succeeded" and s.complete_hash for s in steps)
    assert steps[0].sent == {"dialer": "predictive"}
    assert steps[0].reason == "More calls in the season"
    sent_change = Entry.objects.get(kind=CAMPAIGN_CHANGE.slug)
    assert (sent_change.related, steps[1].related, steps[0].related) == (steps[1], steps[0], None)
    change_request.refresh_from_db()
    assert change_request.sent_change == sent_change
    assert verify_chain().problem == ""

    auditor = make_user("auditor", AUDITORS)
    client.force_login(auditor)
    timeline = client.get(reverse("audit:timeline"), {"kind": "change-request"})
    assert timeline.status_code == 200
    text = timeline.content.decode()
    assert f"change request #{change_request.pk} requested" in text
    assert f"change request #{change_request.pk} approved" in text
    entry = client.get(steps[1].get_absolute_url())
    assert entry.status_code == 200
    assert "dialer" in entry.content.decode() and "predictive" in entry.content.decode()


def test_a_rejection_is_a_chained_audit_entry_with_its_note(
    change_request, second_editor, client, thulium
):

    client.force_login(second_editor)
    client.post(reverse("campaigns:request_reject", args=[change_request.pk]),
                {"note": "Not before the list is cleaned"})

    rejected = Entry.objects.get(kind=CHANGE_REQUEST.slug, details__step="rejected")
    assert rejected.details["request"] == change_request.pk
    assert (rejected.actor_username, rejected.details.get("note", "")) == (
        "second", "Not before the list is cleaned"
    )
    assert api_calls(thulium, "PUT") == []


def outcomes_shown(page: str) -> list[str]:
    """The words of each outcome on an entry's page or a timeline, top to bottom."""
    cells = re.findall(r'(?:data-testid="outcome"|data-label="Outcome")>(.*?)</(?:dd|td)>',
                       page, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]


def test_a_rejected_request_reads_as_rejected_not_as_sent_and_accepted(
    change_request, second_editor, client, thulium
):
    """Its page said "Thulium's answer: Accepted." and showed the values under "Sent to
    Thulium, exactly", and the timeline's outcome said "succeeded": nothing was sent."""
    client.force_login(second_editor)
    client.post(reverse("campaigns:request_reject", args=[change_request.pk]),
                {"note": "Not before the list is cleaned"})
    rejected = Entry.objects.get(kind=CHANGE_REQUEST.slug, details__step=Step.REJECTED)
    client.force_login(make_user("auditor", AUDITORS))

    page = client.get(rejected.get_absolute_url()).content.decode()
    assert 'data-testid="answer"' not in page and "Sent to Thulium, exactly" not in page
    assert "What it was given, exactly" in page and outcomes_shown(page) == ["rejected"]
    polish = client.get(rejected.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "Odpowiedź Thulium" not in polish and outcomes_shown(polish) == ["odrzucony"]
    timeline = client.get(reverse("audit:timeline"), {"kind": CHANGE_REQUEST.slug})
    assert outcomes_shown(timeline.content.decode()) == ["rejected", "requested"]
    exported = client.get(reverse("audit:export_jsonl"), {"kind": CHANGE_REQUEST.slug})
    rows = [json.loads(line) for line in b"".join(exported.streaming_content).splitlines()]
    assert [(row["step"], row["http_status"], row["request_id"]) for row in rows] == [
        (Step.REJECTED, None, ""), (Step.REQUESTED, None, "")]
    assert api_calls(thulium, "PUT") == []


def test_a_change_is_judged_against_what_thulium_holds_when_it_is_saved(
        four_eyes, logged_in, campaigns, thulium):
    """Opened at 3 calls per agent, lowered outside to 1, then "lowered" to 2 in the form:
    the raise went to Thulium at once, without a second editor."""
    url = reverse("campaigns:edit", args=["00001"])
    opened = form_values(logged_in.get(url), "name")
    thulium.state.update_campaign("00001", {"parameters": {"predictive_max_calls": 1}},
                                  lambda stored: [])

    shown = logged_in.post(url, {**opened, "predictive_max_calls": "2"})
    assert shown.status_code == 200 and shown.context["conflict"]  # the outside change shown
    assert api_calls(thulium, "PUT") == []

    again = form_values(shown, "name")
    assert again["predictive_max_calls"] == "2"  # the user's input, on top of Thulium's
    edit_response = logged_in.post(url, {**again, "reason": "Season"})
    assert api_calls(thulium, "PUT") == []
    assert ChangeRequest.objects.get().risks == [Risk.MORE_CALLS]
    assert edit_response.url == ChangeRequest.objects.get().get_absolute_url()


@pytest.mark.django_db(transaction=True)
def test_an_approval_meeting_a_read_that_outdates_its_request_ends_outdated_not_deadlocked(
        change_request, second_editor, user, thulium, monkeypatch):
    """The approval locked the request, then its campaign; a read of the campaign from
    Thulium (the edit form's, Refresh's) locks the campaign, then its open requests to
    outdate them: PostgreSQL ended one of the two as a deadlock, a server error for the
    approver or a failed read. Both take the campaign's row first: the read outdates the
    request, and the approval, which waited for it, finds it outdated."""
    skip_unless_postgresql(connection)
    read, approving = paused(monkeypatch, four_eyes_module, "campaign_read", after=True)
    locked, go_on = paused(monkeypatch, reading, "_not_shown", on_thread="reader")
    works = {
        "approver": lambda: change_request_approve(
            change_request=ChangeRequest.objects.get(pk=change_request.pk),
            approver=second_editor),
        "reader": lambda: outside_changes_take(
            Campaign.objects.get(pk=change_request.campaign_id), {"order": 9}, actor=user,
            asked_at=last_link(),
            read_at=database_now()),
    }
    threads, failures, pids = named_threads(works)
    started_until(threads["approver"], read)
    started_until(threads["reader"], locked)
    approving.set()
    ended_once_waiting(threads, pids, "approver", go_on)

    assert [type(failure) for failure in failures] == [RequestOutdated], failures
    change_request.refresh_from_db()
    assert change_request.state == ChangeRequest.State.STALE
    assert Entry.objects.filter(kind=OUTSIDE_CHANGE.slug).count() == 1
    assert api_calls(thulium, "PUT") == []
    assert verify_chain().problem == ""
