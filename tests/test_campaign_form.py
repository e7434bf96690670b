"""The campaign form holds PUT outbounds/:id's rules, and its page sends only what changed."""

from html.parser import HTMLParser

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse

from audit.models import Entry
from campaigns.entries import CAMPAIGN_CHANGE
from campaigns.forms import PARAMETERS, CampaignForm
from campaigns.reading import SETTING_KEYS
from portal.thulium.sandbox.seed import seed_campaigns
from tests.conftest import api_calls

# What the portal knows of campaign 00001 after a sync: the sandbox's seed settings.
SALES = seed_campaigns()["00001"]
KNOWN = {key: SALES[key] for key in SETTING_KEYS}
CANNOT_CLEAR = "Thulium cannot clear this setting; enter a value."
NOTHING_CHANGED = "Nothing was changed, so nothing was sent to Thulium."
# Risky changes (campaigns/risk.py) need a typed reason; the tests of what such a change
# sends give one, and test_a_risky_change_without_a_reason_is_refused proves it is needed.
REASON = "Agreed with the client"


class _FormReader(HTMLParser):
    """The values a browser submits for each form of a page when nobody touches it."""

    def __init__(self):
        super().__init__()
        self.forms, self._select, self._textarea = [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "form":
            self.forms.append({})
        elif tag == "input" and name and attrs.get("type") not in ("submit", "checkbox", "radio"):
            self.forms[-1][name] = attrs.get("value") or ""
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select:
            # A select sends its selected option, else its first one.
            if self._select not in self.forms[-1] or "selected" in attrs:
                self.forms[-1][self._select] = attrs.get("value", "")
        elif tag == "textarea":
            self._textarea = name
            self.forms[-1][name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.forms[-1][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            # Browsers drop the newline that follows <textarea>.
            self.forms[-1][self._textarea] = self.forms[-1][self._textarea].removeprefix("\n")
            self._textarea = None


def form_values(html, field: str) -> dict:
    """What the browser would send for the page's form that has `field`, untouched."""
    if not isinstance(html, str):
        html = html.content.decode()
    reader = _FormReader()
    reader.feed(html)
    values = next(form for form in reader.forms if field in form)
    values.pop("csrfmiddlewaretoken", None)
    return values


def filled(known=KNOWN, **changes) -> CampaignForm:
    """The form as sent back by a user who changed only `changes`."""
    untouched = form_values(f"<form>{CampaignForm(known_settings=known)}</form>", "name")
    return CampaignForm({**untouched, **changes}, known_settings=known)


def assert_refused(form, field, message=None):
    assert not form.is_valid()
    assert field in form.errors, form.errors
    if message:
        assert message in form.errors[field]


def assert_sends(form, payload):
    assert form.is_valid(), form.errors
    assert form.to_payload() == payload


def edit_url(campaign_id="00001"):
    return reverse("campaigns:edit", args=[campaign_id])


def submit(client, campaign_id="00001", **changes):
    """Open the edit page, change some fields as a user would, and send the form; a risky
    change is confirmed on the same post (see test_a_risky_change_waits_for_confirmation)."""
    values = form_values(client.get(edit_url(campaign_id)), "name")
    return client.post(edit_url(campaign_id), {**values, "confirmed": "1", **changes})


def flashed(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def campaign_changes():
    """The audit entries of campaign changes sent to Thulium."""
    return Entry.objects.filter(kind=CAMPAIGN_CHANGE.slug)


# --- the form on its own ------------------------------------------------------------


def test_a_form_nobody_touched_is_valid_and_sends_nothing():
    assert_sends(filled(), {})


@pytest.mark.parametrize("dialer", ["predictive", "preview"])
def test_each_documented_dialer_is_sent(dialer):
    assert_sends(filled(dialer=dialer, reason=REASON), {"dialer": dialer})


@pytest.mark.parametrize("dialer", ["auto", "PREVIEW", "manual", "preview "])
def test_a_dialer_outside_the_documented_three_is_refused(dialer):
    assert_refused(filled(dialer=dialer), "dialer")


@pytest.mark.parametrize("order, sent", [("1", 1), ("99999", 99999), ("60", 60)])
def test_an_order_from_1_to_99999_is_sent_as_a_number(order, sent):
    assert_sends(filled(order=order), {"order": sent})


@pytest.mark.parametrize("order", ["0", "100000", "-1", "abc", "1.5", str(10**30)])
def test_an_order_outside_1_to_99999_or_not_whole_is_refused(order):
    assert_refused(filled(order=order), "order")


@pytest.mark.parametrize("parity, sent", [("1", 1), ("100", 100)])
def test_a_parity_from_1_to_100_is_sent_as_a_number(parity, sent):
    assert_sends(filled(parity=parity), {"parity": sent})


@pytest.mark.parametrize("parity", ["0", "101", "-1", "abc", "2.5"])
def test_a_parity_outside_1_to_100_or_not_whole_is_refused(parity):
    assert_refused(filled(parity=parity), "parity")


@pytest.mark.parametrize("entered, sent", [
    ("2026-02-28", "2026-02-28"),
    ("2026-2-1", "2026-02-01"),
    ("2026-12-31", "2026-12-31"),
    # As a Polish user and spreadsheet write it, and as the record form reads it.
    ("30.04.2026", "2026-04-30"),
    ("1.5.2026", "2026-05-01"),
])
def test_a_start_date_is_sent_as_yyyy_mm_dd(entered, sent):
    assert_sends(filled(start_date=entered, reason=REASON), {"start_date": sent})


@pytest.mark.parametrize("field", ["start_date", "end_date"])
@pytest.mark.parametrize("entered", ["0001-01-01", "0999-12-01", "1999-12-31", "9999-12-31"])
def test_a_date_of_a_year_no_campaign_runs_in_is_refused(field, entered):
    """Year 1 or 9999, a slip of the keyboard, was sent to Thulium."""
    form = filled(**{field: entered}, reason=REASON)
    assert not form.is_valid() and field in form.errors


@pytest.mark.parametrize("field", ["start_date", "end_date"])
@pytest.mark.parametrize("entered", [
    "31.04.2026", "2026-02-30", "2026/10/05", "10/05/2026", "2026-13-01", "20261005", "today",
])
def test_a_date_not_in_either_spelling_or_not_in_the_calendar_is_refused_naming_both(
        field, entered):
    assert_refused(filled(**{field: entered}), field,
                   "Enter a date as YYYY-MM-DD or DD.MM.YYYY.")


def test_an_end_before_the_start_is_refused_when_both_change():
    form = filled(start_date="2026-06-01", end_date="2026-05-31")
    assert_refused(form, "end_date", "The end date cannot be before the start date.")


def test_a_new_end_before_the_known_start_is_refused():
    # Known start: 2026-01-05.
    assert_refused(
        filled(end_date="2026-01-04"), "end_date", "The end date cannot be before the start date."
    )


def test_a_new_start_after_the_known_end_is_refused():
    # Known end: 2026-12-31.
    assert_refused(
        filled(start_date="2027-01-01"), "end_date", "The end date cannot be before the start date."
    )


def test_an_end_on_the_start_day_is_allowed():
    assert_sends(filled(end_date="2026-01-05", reason=REASON), {"end_date": "2026-01-05"})


def test_both_dates_moved_past_the_known_end_together_are_allowed():
    assert_sends(
        filled(start_date="2027-01-01", end_date="2027-02-01", reason=REASON),
        {"start_date": "2027-01-01", "end_date": "2027-02-01"},
    )


@pytest.mark.parametrize("caller_id", ["48221234567", "1", "1" * 20])
def test_a_caller_id_of_digits_is_sent_as_a_parameter(caller_id):
    assert_sends(
        filled(caller_id=caller_id, reason=REASON), {"parameters": {"caller_id": caller_id}}
    )


@pytest.mark.parametrize("typed", ["22 111 22 33", "22-111-22-33", "(22) 111.22.33", " 221112233 "])
def test_a_caller_id_written_as_people_write_numbers_is_sent_as_its_digits(typed):
    assert_sends(filled(caller_id=typed, reason=REASON),
                 {"parameters": {"caller_id": "221112233"}})


def test_a_caller_id_typed_with_spaces_is_not_a_change_of_the_one_known():
    assert KNOWN["parameters"]["caller_id"] == "221234567"
    assert_sends(filled(caller_id="22 123 45 67", name="Nowa"), {"name": "Nowa"})


@pytest.mark.parametrize("caller_id", [
    "+48221234567", "+48 22 123 45 67", "22 123 45 67 x", "abc", "1" * 21,
    "２２１２３４５６７",  # full-width digits are not digits Thulium can dial
])
def test_a_caller_id_that_is_not_only_digits_is_refused(caller_id):
    assert_refused(filled(caller_id=caller_id), "caller_id")


@pytest.mark.parametrize("timeout, sent", [("1", 1), ("45", 45)])
def test_a_preview_timeout_of_whole_positive_seconds_is_sent(timeout, sent):
    assert_sends(filled(preview_timeout=timeout), {"parameters": {"preview_timeout": sent}})


@pytest.mark.parametrize("timeout", ["0", "-1", "1.5", "abc"])
def test_a_preview_timeout_that_is_not_a_positive_whole_number_is_refused(timeout):
    assert_refused(filled(preview_timeout=timeout), "preview_timeout")


@pytest.mark.parametrize("entered, sent", [("2.5", 2.5), ("4", 4), ("4.00", 4)])
def test_a_predictive_ratio_is_sent_as_a_json_number(entered, sent):
    form = filled(predictive_max_calls=entered, reason=REASON)
    assert_sends(form, {"parameters": {"predictive_max_calls": sent}})
    assert type(form.to_payload()["parameters"]["predictive_max_calls"]) is type(sent)


@pytest.mark.parametrize("field", ["predictive_max_calls", "predictive_min_calls"])
@pytest.mark.parametrize("ratio", ["0", "-1", "abc", "1.234", "NaN", "sNaN", "-snan",
                                   "Infinity"])
def test_a_predictive_ratio_that_is_not_a_positive_number_is_refused(field, ratio):
    """A signalling NaN ("sNaN") was read as a number, and comparing it with the value
    shown raised an error: the page failed instead of naming the field."""
    assert_refused(filled(**{field: ratio}), field)


@pytest.mark.parametrize("field", ["predictive_max_calls", "predictive_min_calls"])
def test_a_signalling_nan_ratio_is_shown_as_a_field_error(logged_in, campaigns, thulium, field):
    response = submit(logged_in, **{field: "sNaN"})
    assert response.status_code == 200
    assert response.context["form"].errors[field] == ["Enter a number."]
    assert api_calls(thulium, "PUT") == []


MIN_ABOVE_MAX = "The minimum cannot be above the maximum."


def test_a_minimum_above_the_maximum_is_refused_when_both_change():
    form = filled(predictive_min_calls="3", predictive_max_calls="2")
    assert_refused(form, "predictive_min_calls", MIN_ABOVE_MAX)


def test_a_new_minimum_above_the_known_maximum_is_refused():
    # Known maximum: 3.
    assert_refused(filled(predictive_min_calls="4"), "predictive_min_calls", MIN_ABOVE_MAX)


def test_a_new_maximum_below_the_known_minimum_is_refused():
    # Known minimum: 1.
    assert_refused(filled(predictive_max_calls="0.5"), "predictive_min_calls", MIN_ABOVE_MAX)


def test_a_minimum_equal_to_the_maximum_is_allowed():
    assert_sends(filled(predictive_min_calls="3"), {"parameters": {"predictive_min_calls": 3}})


@pytest.mark.parametrize("group_id, sent", [("16", 16), ("1", 1)])
def test_a_positive_group_id_is_sent_as_a_number(group_id, sent):
    assert_sends(filled(group_id=group_id), {"group_id": sent})


@pytest.mark.parametrize("group_id", ["0", "-1", "abc", "1.5"])
def test_a_group_id_that_is_not_a_positive_whole_number_is_refused(group_id):
    assert_refused(filled(group_id=group_id), "group_id")


@pytest.mark.parametrize("name", ["", "   "])
def test_a_campaign_name_is_required(name):
    assert_refused(filled(name=name), "name", "This field is required.")


def test_a_name_of_255_characters_is_sent_and_256_are_refused():
    assert_sends(filled(name="n" * 255), {"name": "n" * 255})
    assert_refused(filled(name="n" * 256), "name")


def test_active_can_be_turned_off():
    assert_sends(filled(active="false"), {"active": False})


@pytest.mark.parametrize("field, empty", [
    ("dialer", ""), ("active", "unknown"), ("start_date", ""), ("end_date", ""), ("order", ""),
    ("parity", ""), ("group_id", ""), ("caller_id", ""), ("preview_timeout", ""),
    ("predictive_max_calls", ""), ("predictive_min_calls", ""),
])
def test_emptying_a_known_setting_is_refused_because_thulium_cannot_clear_it(field, empty):
    assert_refused(filled(**{field: empty}), field, CANNOT_CLEAR)


def test_a_setting_the_portal_never_knew_may_stay_empty():
    known = {key: value for key, value in KNOWN.items() if key != "group_id"}
    assert_sends(filled(known, group_id="", order="70"), {"order": 70})


def test_the_reason_alone_is_not_a_change_and_is_never_in_the_payload():
    assert_sends(filled(reason="Just looking"), {})
    assert_sends(filled(reason="Season", parity="60"), {"parity": 60})


@pytest.mark.parametrize("known, changes, risk", [
    (KNOWN, {"dialer": "predictive"}, "switches the dialer to predictive"),
    (KNOWN, {"predictive_max_calls": "4"}, "raises the predictive maximum of calls per agent"),
    (KNOWN, {"caller_id": "221112233"}, "changes the caller ID"),
    ({**KNOWN, "active": False}, {"active": "true"}, "activates the campaign"),
    (KNOWN, {"start_date": "2026-02-28"}, "moves the campaign's dates"),
    (KNOWN, {"end_date": "2026-11-30"}, "moves the campaign's dates"),
])
def test_a_risky_change_without_a_reason_is_refused(known, changes, risk):
    assert_refused(filled(known, **changes), "reason", f"Say why: this change {risk}.")
    assert filled(known, **changes, reason=REASON).is_valid()


def test_top_level_settings_and_parameters_are_sent_in_their_places():
    form = filled(name="OZE jesień", dialer="predictive", caller_id="221112233", reason=REASON)
    assert_sends(form, {
        "name": "OZE jesień", "dialer": "predictive", "parameters": {"caller_id": "221112233"},
    })


def test_known_decimal_ratios_show_unchanged_so_nothing_is_sent():
    survey = seed_campaigns()["A7K2Q"]
    known = {key: survey[key] for key in SETTING_KEYS}
    form = filled(known)
    assert form.data["predictive_max_calls"] == "2.5"
    assert_sends(form, {})


# --- through the page, against the sandbox ------------------------------------------


@pytest.mark.parametrize("changes, received", [
    ({"parity": "70"}, {"parity": 70}),
    ({"caller_id": "221112233", "reason": REASON}, {"parameters": {"caller_id": "221112233"}}),
    ({"name": "OZE jesień", "dialer": "preview"}, {"name": "OZE jesień", "dialer": "preview"}),
    ({"end_date": "2026-11-30", "predictive_max_calls": "2.5", "reason": REASON},
     {"end_date": "2026-11-30", "parameters": {"predictive_max_calls": 2.5}}),
])
def test_the_sandbox_receives_exactly_the_changed_settings(
    logged_in, campaigns, thulium, changes, received
):
    submit(logged_in, **changes)
    puts = api_calls(thulium, "PUT")
    assert len(puts) == 1
    assert puts[0]["path"] == "/api/outbounds/00001"
    assert puts[0]["json"] == received


def test_an_unchanged_form_sends_nothing_and_says_so(logged_in, campaigns, thulium):
    response = submit(logged_in, reason="Checking")
    assert response.status_code == 200
    assert NOTHING_CHANGED in response.content.decode()
    assert api_calls(thulium, "PUT") == []
    assert not campaign_changes().exists()


def test_an_accepted_change_redirects_to_the_campaign_with_a_message(
    logged_in, campaigns, thulium
):
    response = submit(logged_in, order="60")
    assert response.status_code == 302
    assert response.url == campaigns["00001"].get_absolute_url()
    assert flashed(response) == ["Thulium accepted the changes to the campaign."]


def test_an_accepted_change_is_merged_into_the_known_settings(logged_in, campaigns, thulium):
    submit(logged_in, name="OZE jesień", caller_id="221112233", reason=REASON)
    campaign = campaigns["00001"]
    campaign.refresh_from_db()
    assert campaign.name == "OZE jesień"
    assert campaign.settings == {
        **KNOWN, "name": "OZE jesień",
        "parameters": {**KNOWN["parameters"], "caller_id": "221112233"},
    }
    # The form now starts from the new settings, as Thulium holds them.
    assert thulium.state.campaign("00001")["parameters"] == campaign.settings["parameters"]
    assert form_values(logged_in.get(edit_url()), "name")["caller_id"] == "221112233"


@pytest.fixture
def change_writes(thulium):
    """Each write of an audit entry row (INSERT or UPDATE) and how many PUTs the sandbox
    had received by then."""
    seen = []

    def remember(execute, sql, params, many, context):
        if '"audit_entry"' in sql and sql.startswith(("INSERT", "UPDATE")):
            seen.append((sql.split()[0], len(api_calls(thulium, "PUT"))))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(remember):
        yield seen


def test_an_accepted_change_is_audited_pending_before_the_call_and_succeeded_after(
    logged_in, user, campaigns, thulium, change_writes
):
    submit(logged_in, parity="70", reason="More calls in season")
    # Written pending before the PUT reached the sandbox; completed after it.
    assert change_writes == [("INSERT", 0), ("UPDATE", 1)]
    change = campaign_changes().get()
    assert change.campaign == campaigns["00001"]
    assert change.outcome == "succeeded"
    assert change.sent == {"parity": 70}
    assert change.details["settings_before"] == KNOWN
    assert change.reason == "More calls in season"
    assert change.actor == user
    assert change.actor_username == "manager"
    assert change.http_status == 200
    assert change.completed_at is not None
    assert change.request_id == ""
    assert change.messages == []


def test_the_reason_is_stored_but_never_sent(logged_in, campaigns, thulium):
    submit(logged_in, order="61", reason="Zmiana kolejności na prośbę klienta")
    put = api_calls(thulium, "PUT")[0]
    assert put["json"] == {"order": 61}
    assert "Zmiana" not in put["body"]
    assert campaign_changes().get().reason == "Zmiana kolejności na prośbę klienta"


@pytest.mark.parametrize("name, held", [("predictive_max_calls", 2.345),
                                        ("preview_timeout", 90000), ("name", "N" * 300)])
def test_a_value_thulium_holds_outside_the_forms_limits_does_not_block_other_changes(
        name, held):
    known = {**KNOWN, "parameters": {**KNOWN["parameters"]}}
    (known["parameters"] if name in PARAMETERS else known)[name] = held
    assert_sends(filled(known, parity="60"), {"parity": 60})
    # Changed, it is judged as any value typed.
    assert_refused(filled(known, **{name: str(held) + "1"}), name)


def test_a_dialer_thulium_holds_that_the_form_does_not_offer_stays_chosen_and_unsent():
    """The select had no option for it: the browser posted "", and every change to the
    campaign was refused as clearing the dialer."""
    known = {**KNOWN, "dialer": "power"}
    shown = str(CampaignForm(known_settings=known)["dialer"])
    assert '<option value="power" selected>power</option>' in shown
    assert_sends(filled(known, order="7"), {"order": 7})
    # Only the value held is offered: typed for another campaign, it is still refused.
    assert_refused(filled(dialer="power"), "dialer")


def test_a_change_to_a_campaign_whose_dialer_the_form_does_not_offer_sends_only_itself(
        logged_in, campaigns, thulium):
    thulium.state.update_campaign("00001", {"dialer": "power"}, lambda stored: [])
    response = submit(logged_in, order="7")
    assert response.status_code == 302, response.context["form"].errors
    assert [call["json"] for call in api_calls(thulium, "PUT")] == [{"order": 7}]
