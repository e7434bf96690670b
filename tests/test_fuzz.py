"""Random values into every form: never a 500, and nothing reaches Thulium that it refuses.

The sandbox applies Thulium's documented rules, so "nothing refused" means every call the
portal made was answered 200: an audit row that is not `succeeded` is a form rule missing.
Examples are few enough to keep the whole file near half a minute.
"""

import datetime
from urllib.parse import urlsplit

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from audit.models import Entry
from campaigns.entries import CAMPAIGN_CHANGE
from campaigns.four_eyes import change_request_create
from campaigns.models import Campaign, ChangeRequest
from records.entries import RECORD_ADDITION
from tests.conftest import EDITORS, api_calls, make_user
from tests.test_campaign_form import form_values

FUZZ = settings(
    max_examples=60, deadline=None, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CAMPAIGNS = ["00001", "00002", "A7K2Q"]

# Text a browser can send (no lone surrogates), and values known to break naive code.
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
NASTY = st.sampled_from([
    "", " ", "0", "-1", "1e309", "NaN", "Infinity", "true", "null", "[]", "{}", "9" * 30,
    "2026-02-30", "2026-13-01", "31.12.2026", "<script>alert(1)</script>", "=1+2",
    "\x00", "ą" * 300, "' OR 1=1 --", "../../etc/passwd", "%s%s%s", "{0}",
])
JUNK = st.one_of(TEXT, NASTY, st.integers().map(str), st.floats().map(str))


def field(*plausible):
    """A value that is mostly plausible for the field (so forms pass), one time in five junk."""
    return st.integers(0, 4).flatmap(lambda n: JUNK if n == 0 else st.one_of(*plausible))


DIGITS = st.text("0123456789", min_size=1, max_size=22)
# Mostly near today, so that a start and an end date often fit together; any date sometimes.
DATES = st.one_of(st.dates(datetime.date(2025, 1, 1), datetime.date(2028, 12, 31)),
                  st.dates()).map(datetime.date.isoformat)
CAMPAIGN_FIELDS = {
    "name": field(st.text("abcdefghij ąęśćżź-", min_size=1, max_size=260)),
    "dialer": field(st.sampled_from(["predictive", "progressive", "preview"])),
    "active": field(st.sampled_from(["true", "false", "unknown", "1", "2", "3"])),
    "start_date": field(DATES),
    "end_date": field(DATES),
    "order": field(st.integers(-5, 100_005).map(str)),
    "parity": field(st.integers(-5, 105).map(str)),
    "group_id": field(st.integers(-5, 2**31 + 5).map(str)),
    "caller_id": field(DIGITS),
    "preview_timeout": field(st.integers(-5, 90_000).map(str)),
    "predictive_max_calls": field(st.decimals(0, 10, places=2).map(str),
                                  st.decimals(-1, 1001, places=3).map(str),
                                  st.sampled_from(["2,5", "0,01", "1000,00"])),
    "predictive_min_calls": field(st.decimals(0, 10, places=2).map(str),
                                  st.decimals(-1, 1001, places=3).map(str)),
    "reason": field(TEXT),
}
PHONES = st.one_of(
    st.from_regex(r"(\+48)?[1-9][0-9]{8}", fullmatch=True),
    st.from_regex(r"\(?[0-9]{2}\)? ?[0-9]{3}[ -]?[0-9]{2}-?[0-9]{2}", fullmatch=True),
    st.text("0123456789 -+().", min_size=1, max_size=20),
)
RECORD_FIELDS = {
    "phone_number": field(PHONES, st.integers(100_000, 10**15).map(str)),
    "status_id": field(st.sampled_from(["1", "2", "3", "4", "5", "7", "8", "9", "11", "12", "14",
                                        "21", "22", "23", "24", "25", "27"])),
    "dictionary_status_id": field(st.sampled_from(["2", "3", "4", "6", "8", "15"])),
    "agent_login": field(st.sampled_from(["jkowalski", "anowak", "p.wisniewski", "m.zielinska"])),
    "next_call_date": field(st.datetimes().map(lambda d: d.isoformat(timespec="minutes"))),
    "identifier": field(st.text("abc123-_", min_size=1, max_size=70)),
    "order": field(st.integers(-5, 100_005).map(str)),
    "record_fields.imie": field(TEXT),
    "record_fields.nazwisko": field(TEXT),
    "record_fields.miasto": field(TEXT),
    "record_fields.ocena": field(TEXT),
    "record_fields.komentarz": field(TEXT),
}


def assert_stays_in_the_portal(location):
    target = urlsplit(location.replace("\\", "/"))
    assert not target.scheme and not target.netloc, location


def audit_rows() -> list:
    return list(Entry.objects.filter(kind__in=[CAMPAIGN_CHANGE.slug, RECORD_ADDITION.slug]))


def assert_thulium_accepted_all_since(earlier: list):
    """Every call made since `earlier` was answered 200 (the sandbox refuses what Thulium does)."""
    for row in audit_rows():
        if row not in earlier:
            assert row.outcome == "succeeded", (row.sent, row.messages)


@pytest.fixture
def four_eyes_off(settings):
    settings.FOUR_EYES = False


def some_of(fields: dict, **options):
    """A form's data with a random few of its fields, each drawn from its strategy."""
    return st.dictionaries(st.sampled_from(list(fields)), st.none(), **options).flatmap(
        lambda keys: st.fixed_dictionaries({key: fields[key] for key in keys})
    )


@FUZZ
# Found by this test: strftime wrote the year 0299 as "299", which Thulium refuses.
@example(campaign_id="00001", reason="old", changes={"start_date": "0299-12-13",
                                                     "end_date": "0448-11-17"})
@given(campaign_id=st.sampled_from(CAMPAIGNS), reason=field(TEXT),
       changes=some_of(CAMPAIGN_FIELDS, min_size=1, max_size=4))
def test_random_campaign_edits_never_fail_and_never_send_what_thulium_refuses(
    logged_in, campaigns, four_eyes_off, campaign_id, reason, changes
):
    edit_url = reverse("campaigns:edit", args=[campaign_id])
    shown, earlier = form_values(logged_in.get(edit_url), "name"), audit_rows()
    response = logged_in.post(edit_url, {**shown, "reason": reason, **changes})
    assert response.status_code in (200, 302)
    event("sent to Thulium" if response.status_code == 302 else "kept by the form")
    assert_thulium_accepted_all_since(earlier)


@FUZZ
@example(campaign_id="00001", phone="225550001", record={"next_call_date": "0999-01-01T10:00"})
@given(campaign_id=st.sampled_from(CAMPAIGNS), phone=RECORD_FIELDS["phone_number"],
       record=some_of(RECORD_FIELDS, max_size=4))
def test_random_records_never_fail_and_never_send_what_thulium_refuses(
    logged_in, campaigns, campaign_id, phone, record
):
    earlier = audit_rows()
    response = logged_in.post(reverse("records:new", args=[campaign_id]),
                              {"phone_number": phone, **record})
    assert response.status_code in (200, 302)
    event("sent to Thulium" if response.status_code == 302 else "kept by the form")
    assert_thulium_accepted_all_since(earlier)


@settings(FUZZ, max_examples=30)
@given(username=JUNK, password=JUNK, next_url=st.one_of(JUNK, st.just("//evil.example/")))
def test_random_logins_never_fail_and_never_leave_the_portal(client, user, username, password,
                                                             next_url):
    AccessAttempt.objects.all().delete()  # exercise the form, not only the lockout page
    response = client.post(reverse("login"),
                           {"username": username, "password": password, "next": next_url})
    assert response.status_code in (200, 302, 429)
    if response.status_code == 302:
        assert_stays_in_the_portal(response["Location"])


@settings(FUZZ, max_examples=20)
@given(language=JUNK, next_url=st.one_of(JUNK, st.just("https://evil.example/")))
def test_random_language_switches_never_fail_nor_redirect_away(client, language, next_url):
    response = client.post(reverse("set_language"), {"language": language, "next": next_url})
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert_stays_in_the_portal(response["Location"])


@settings(FUZZ, max_examples=20)
@given(note=JUNK)
def test_random_rejection_notes_never_fail(client, campaigns, user, note):
    change_request = change_request_create(
        campaign=Campaign.objects.get(thulium_id="00001"), changes={"active": True}, actor=user,
        reason="go", risks=["activation"],
    )
    client.force_login(make_user(f"approver{change_request.pk}", EDITORS))
    response = client.post(reverse("campaigns:request_reject", args=[change_request.pk]),
                           {"note": note})
    assert response.status_code in (200, 302)
    change_request.refresh_from_db()
    assert change_request.state in (ChangeRequest.State.REJECTED, ChangeRequest.State.REQUESTED)
    # A note refused (a NUL) leaves it open, and the next example's same request was refused
    # as made already: each example starts with none open.
    ChangeRequest.objects.filter(pk=change_request.pk).update(state=ChangeRequest.State.REJECTED)


def test_an_identifier_the_campaign_already_has_is_kept_from_thulium(logged_in, campaigns,
                                                                     thulium):
    """Random identifiers seldom repeat, so this rule of Thulium's is checked by hand."""
    url = reverse("records:new", args=["00001"])
    logged_in.post(url, {"phone_number": "225556677", "identifier": "client-1"})
    response = logged_in.post(url, {"phone_number": "225556678", "identifier": "client-1"})
    assert "already added a record with this identifier" in response.content.decode()
    assert len(api_calls(thulium, "POST")) == 1
