"""One entry's page: the change field by field, what was sent, Thulium's answer, links."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import Entry
from audit.recording import entry_begin, entry_complete, outcome_values
from campaigns.entries import FOUND_APPLIED, OUTSIDE_CHANGE
from campaigns.services import campaign_update
from portal.thulium import ThuliumError
from records.entries import LISTED_SINCE_CHECKED
from records.services import record_add, record_add_begin_all, record_add_complete_all
from tests.audit_fixtures import addition, auditor, change  # noqa: F401

pytestmark = pytest.mark.django_db


def diff_rows(response) -> list[tuple[str, str, str, str]]:
    """The diff table as (field's label, field's path, before, after) texts; a value in
    the user's words reads "words value"."""
    table = re.search(r'data-testid="diff">(.*?)</table>', response.content.decode(), re.S)
    cells = re.findall(r"<tr[^>]*>\s*<td>(?:(.*?) <small>)?<code>(.*?)</code>(?:</small>)?</td>"
                       r"<td>(.*?)</td><td>→</td><td>(.*?)(?: <small>\(.*?</small>)?</td>",
                       table.group(1), re.S)
    return [tuple(re.sub(r"<[^>]+>", "", cell).strip() for cell in row) for row in cells]


def test_a_campaign_change_reads_field_by_field_old_to_new(logged_in, user, campaigns):
    campaign_update(
        campaign=campaigns["00001"], actor=user, reason="Więcej połączeń w sezonie",
        changes={"dialer": "predictive", "parameters": {"caller_id": "456", "preview_timeout": 30}},
    )

    response = logged_in.get(Entry.objects.get(kind="campaign-change").get_absolute_url())

    # Each setting as the form names it, beside its path in what Thulium was sent.
    assert diff_rows(response) == [
        ("Dialer", "dialer", "progressive", "predictive"),
        ("Caller ID", "parameters.caller_id", "221234567", "456"),
        ("Preview timeout (seconds)", "parameters.preview_timeout", "30", "30"),
    ]
    text = response.content.decode()
    assert "(unchanged)" in text
    assert "Więcej połączeń w sezonie" in text
    # A choice in the words of the reader's language, beside the value sent.
    polish = logged_in.get(Entry.objects.get(kind="campaign-change").get_absolute_url(),
                           HTTP_ACCEPT_LANGUAGE="pl")
    assert diff_rows(polish)[0] == ("Dialer", "dialer", "progresywny progressive",
                                    "predykcyjny predictive")
    assert '&quot;caller_id&quot;: &quot;456&quot;' in text  # exactly what was sent
    assert "Accepted." in text


def test_a_refused_change_shows_thuliums_answer_and_request_id(logged_in, user, campaigns,
                                                              thulium):
    with pytest.raises(ThuliumError) as refusal:
        campaign_update(campaign=campaigns["00001"], actor=user, changes={"order": 0})

    entry = Entry.objects.get(kind="campaign-change")
    text = logged_in.get(entry.get_absolute_url()).content.decode()

    assert refusal.value.request_id and refusal.value.request_id in text
    assert all(message in text for message in refusal.value.messages)
    assert "refused" in text and "(HTTP 400)" in text


def test_a_record_addition_shows_each_field_it_set(logged_in, user, campaigns):
    entry = record_add(campaign=campaigns["00001"], actor=user, payload={
        "phone_number": "601234567", "identifier": "K-7", "record_fields": {"imie": "Zofia"},
    })
    assert entry == Entry.objects.get(kind="record-addition")

    response = logged_in.get(entry.get_absolute_url())

    assert diff_rows(response) == [
        ("Identifier", "identifier", "(not set)", "K-7"),
        ("Phone number", "phone_number", "(not set)", "601234567"),
        ("", "record_fields.imie", "(not set)", "Zofia"),  # the campaign's field: its name
    ]
    assert entry.results["record_id"]
    assert f"<code>{entry.results['record_id']}</code>" in response.content.decode()


def test_a_pending_entry_whose_page_stopped_says_no_answer_was_recorded(logged_in, user,
                                                                        campaigns):
    (entry,) = record_add_begin_all(
        campaign=campaigns["00001"], payloads=[{"phone_number": "601234567"}], actor=user,
        created_at=timezone.now() - datetime.timedelta(hours=1), portal_request_id="stopped")

    text = logged_in.get(entry.get_absolute_url()).content.decode()

    assert "No answer recorded" in text and "Being sent" not in text
    assert "pending" in text


def test_an_addition_still_being_sent_says_it_waits_for_thulium_s_answer(logged_in, user,
                                                                         campaigns):
    """It read as stopped ("the call never finished") while its call was under way."""
    (entry,) = record_add_begin_all(
        campaign=campaigns["00001"], payloads=[{"phone_number": "601234567"}], actor=user,
        portal_request_id="still-sending")

    text = logged_in.get(entry.get_absolute_url()).content.decode()

    assert "Being sent: waiting for Thulium's answer." in text
    assert "No answer recorded" not in text and "pending" in text


def test_an_entry_links_to_its_campaign_and_its_authors_other_actions(client, auditor, user,  # noqa: F811
                                                                      campaigns):
    entry = addition(actor=user, campaign=campaigns["00002"], phone="601234567")
    client.force_login(auditor)

    text = client.get(entry.get_absolute_url()).content.decode()

    assert f'href="{reverse("campaigns:detail", args=["00002"])}"' in text
    assert f'href="{reverse("audit:timeline")}?campaign=00002"' in text
    assert f'href="{reverse("audit:timeline")}?user={user.pk}"' in text


def test_the_actions_of_a_deleted_user_stay_listed_under_their_name(client, auditor, user,  # noqa: F811
                                                                   campaigns):
    entry = addition(actor=user, campaign=campaigns["00001"], phone="601234567")
    user_id = user.pk
    user.delete()
    client.force_login(auditor)

    response = client.get(reverse("audit:timeline"), {"user": user_id})

    assert [row.entry for row in response.context["page"].rows] == [entry]
    assert "manager (deleted)" in response.content.decode()


def test_a_record_addition_shows_its_next_call_in_the_portal_s_zone(logged_in, user, campaigns,
                                                                    settings):
    """Thulium is sent Warsaw's time: the page showed it bare, 6 hours off New York's 09:00."""
    settings.TIME_ZONE = "America/New_York"
    entry = record_add(campaign=campaigns["00001"], actor=user, payload={
        "phone_number": "601234567", "next_call_date": "2026-12-24 15:00"})

    response = logged_in.get(entry.get_absolute_url())

    assert ("Next call", "next_call_date", "(not set)",
            "24 Dec. 2026, 09:00 2026-12-24 15:00") in diff_rows(response)
    assert '&quot;next_call_date&quot;: &quot;2026-12-24 15:00&quot;' in response.content.decode()
    polish = logged_in.get(entry.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl")
    assert diff_rows(polish)[0][3] == "24 grudnia 2026, 09:00 2026-12-24 15:00"


def test_an_unanswered_change_links_the_entry_that_found_it_applied_and_back(client, auditor,  # noqa: F811
                                                                             user, campaigns):
    """The change's page said only "unknown", though the portal had found its values in
    Thulium; the finding's page named the change by its number alone."""
    unanswered = change(actor=user, campaign=campaigns["00001"], sent={"order": 7},
                        outcome="unknown")
    found = entry_complete(entry_begin(
        kind=FOUND_APPLIED.slug, actor=user, campaign=campaigns["00001"], related=unanswered,
        details={"found": {"order": 7}, "settings_before": {"order": 1}}), outcome="succeeded")
    client.force_login(auditor)

    text = client.get(unanswered.get_absolute_url()).content.decode()
    polish = client.get(unanswered.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl")
    found_page = client.get(found.get_absolute_url()).content.decode()

    assert 'data-testid="found-applied-by"' in text
    assert f'href="{found.get_absolute_url()}">#{found.pk}</a>' in text
    assert 'data-testid="found-applied-by"' in polish.content.decode()
    assert f'data-testid="related">#{unanswered.pk}</a> · Settings changed' in found_page


def test_a_change_found_made_outside_the_portal_says_its_user_only_found_it(client, auditor,  # noqa: F811
                                                                            user, campaigns):
    """Its user is whoever's page read the campaign: "Who: manager" beside "changed outside
    the portal" read as if they had made the change."""
    outside = entry_complete(entry_begin(
        kind=OUTSIDE_CHANGE.slug, actor=user, campaign=campaigns["00001"],
        details={"found": {"order": 7}, "settings_before": {"order": 1}}), outcome="succeeded")
    made = change(actor=user, campaign=campaigns["00001"], sent={"order": 8})
    client.force_login(auditor)

    page = client.get(outside.get_absolute_url()).content.decode()
    timeline = client.get(reverse("audit:timeline")).content.decode()
    own_page = client.get(made.get_absolute_url()).content.decode()

    assert ('data-testid="who">manager <span class="text-muted">(found it on reading '
            'Thulium)</span></dd>') in page
    assert 'manager <small class="text-muted">(found it on reading Thulium)</small>' in timeline
    assert timeline.count("found it on reading Thulium") == 1
    assert 'data-testid="who">manager</dd>' in own_page


def test_an_addition_never_sent_reads_as_not_sent_not_as_sent_and_failed(client, auditor,  # noqa: F811
                                                                         user, campaigns):
    """Its number was put on the do-not-call list between the form's check and the POST:
    nothing went to Thulium, and its page said "failed" under "Sent to Thulium, exactly"."""
    (entry,) = record_add_begin_all(campaign=campaigns["00001"], actor=user,
                                    payloads=[{"phone_number": "601234567"}])
    record_add_complete_all([(entry, outcome_values(outcome="failed",
                                                    detail=LISTED_SINCE_CHECKED))])
    refused = addition(actor=user, campaign=campaigns["00001"], phone="601234568",
                       outcome="failed", detail="HTTP 503")
    client.force_login(auditor)

    text = client.get(entry.get_absolute_url()).content.decode()
    polish = client.get(entry.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    timeline = client.get(reverse("audit:timeline")).content.decode()
    failed = client.get(refused.get_absolute_url()).content.decode()

    assert re.search(r'data-testid="outcome"><span class="fw-semibold">not sent</span>', text)
    assert "To be sent to Thulium (not sent)" in text and "Sent to Thulium, exactly" not in text
    assert re.search(r'data-testid="outcome"><span class="fw-semibold">nie wysłano</span>',
                     polish)
    assert timeline.count(">not sent</span>") == 1
    assert "Sent to Thulium, exactly" in failed and ">not sent<" not in failed
