"""The record form holds POST outbounds/:id/records' rules, and its page adds each number once."""

import datetime
import re
from importlib import import_module

import phonenumbers
import pytest
from django.apps import apps as django_apps
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import Entry
from campaigns.services import campaign_choices
from portal import phones
from portal.phones import phone_key
from portal.thulium.sandbox.seed import seed_campaigns
from records import views
from records.entries import RECORD_ADDITION
from records.forms import RecordForm
from records.models import AddedRecord
from records.services import record_add, record_add_begin_all
from tests.conftest import LATE, LOADERS, api_calls, make_user, records_sent
from tests.test_campaign_form import assert_refused, assert_sends, form_values
from tests.test_gateway import CraftedThulium

SEED = seed_campaigns()
PHONE_FORMAT = (
    "Enter a phone number of 6 to 15 digits; spaces, dashes, dots and brackets are allowed, "
    "and one + at the start."
)
DUPLICATE = "This portal already added this number to the campaign."
# What a field holding two numbers is told, the second after `separator`.
TWO_NUMBERS = ("This holds two numbers (the second after “{}”), which would be sent glued into "
               "one wrong number: keep one number here and put the other in a column or a row "
               "of its own.")
NOT_NATIONAL = (
    "Written without a country code, this is read as a number of the country code 48, and "
    "it is no number of that country: check its digits, or write another country's number "
    "with + and its country code."
)


def status_id(campaign_id, system_status):
    """The campaign's id for a system status, as the sandbox lists it (string or number)."""
    statuses = SEED[campaign_id]["statuses"]
    return next(s["status_id"] for s in statuses if s["system_status"] == system_status)


def agent_of(campaign_id):
    return SEED[campaign_id]["agents"][0]["login"]


def record_form(campaign, data) -> RecordForm:
    """The form with the campaign's statuses and agents as the sandbox gives them."""
    statuses, agents = campaign_choices(campaign)
    return RecordForm(data, campaign=campaign, statuses=statuses, agents=agents)


def additions():
    """The audit entries of records sent to Thulium."""
    return Entry.objects.filter(kind=RECORD_ADDITION.slug)


def new_url(campaign_id="00001"):
    return reverse("records:new", args=[campaign_id])


def add(client, data, campaign_id="00001"):
    """Open the form, fill in `data` as a user would, and send it."""
    values = form_values(client.get(new_url(campaign_id)), "phone_number")
    return client.post(new_url(campaign_id), {**values, **data})


# --- phone numbers ------------------------------------------------------------------


@pytest.mark.parametrize("typed, sent", [
    ("601 234 567", "601234567"),
    ("601-234-567", "601234567"),
    ("601.234.567", "601234567"),
    ("(22) 555-66-77", "225556677"),
    ("[22] 555/66/77", "225556677"),
    ("22/555 66 77", "225556677"),  # a slash after a part of a number: a separator still
    ("+48 601 234 567", "601234567"),
    ("+48.601.234.567", "601234567"),
    (" \t601 234 567\n", "601234567"),
    ("+123456789012345", "+123456789012345"),
    # As a program that took the number for a decimal writes it: not a digit more.
    ("601234567.0", "601234567"),
    ("601234567,00", "601234567"),
    ("+48601234567.0", "601234567"),
    ("48601234567", "601234567"),
    ("601 234 567.0", "601234567"),
    ("601-234-567,00", "601234567"),
    ("601\u00a0234\u00a0567,00", "601234567"),  # Polish Excel's thousands and decimals
    ("+48 (0) 601 234 567.0", "601234567"),
    # Points between groups, the last of them zeros: digits of the number, not a decimal.
    ("22.555.66.00", "225556600"),
    ("22 555 66.00", "225556600"),
    # The trunk 0 written for callers in the country, bracketed after the country code.
    ("+48 (0) 601 234 567", "601234567"),
    ("0048 (0)601234567", "601234567"),
    ("+44 (0)20 7946 0958", "+442079460958"),
    # A trunk 0 Poland no longer dials, written before a national number; a number valid
    # with its 0 keeps it.
    ("0601 234 567", "601234567"),
    ("(0-22) 555 66 77", "225556677"),
    ("0 800 123 456", "800123456"),
    # Pasted with the marks a phone's contacts or a chat put around it, which show nothing.
    ("\u200e601 234 567\u200f", "601234567"),
    ("\ufeff+48 (0) 601 234 567", "601234567"),
    # Starting with Poland's country code, and a number: Radom's landlines written
    # nationally, and numbers written with a country code.
    ("481234567", "481234567"),
    ("483621234", "483621234"),
    ("+48221234567", "221234567"),
    ("0048221234567", "221234567"),
    # Another country's number: with its "+", however its country code was written.
    ("+12025550100", "+12025550100"),
    ("0044 20 7946 0958", "+442079460958"),
])
def test_a_number_is_sent_in_one_spelling_whatever_its_separators_and_country_code(
        campaigns, typed, sent):
    """Thulium held "601234567" and took "+48601234567" for another number: the person was
    added twice."""
    assert_sends(record_form(campaigns["00001"], {"phone_number": typed}), {"phone_number": sent})


@pytest.mark.parametrize("typed, message", [
    ("++48601234567", PHONE_FORMAT),
    ("+", PHONE_FORMAT),
    ("48+601234567", PHONE_FORMAT),
    ("60123456a", PHONE_FORMAT),
    ("phone", PHONE_FORMAT),
    ("12345", PHONE_FORMAT),
    ("1234567890123456", PHONE_FORMAT),
    ("12345.0", PHONE_FORMAT),  # five digits and a decimal point: not 123450
    # Written without a country code, no number of Poland's plan: a digit too many or too
    # few, a short internal number, a foreign one without its +.
    *((typed, NOT_NATIONAL) for typed in ("6012345678", "601 234 56", "123456", "4812345",
                                          "0123456", "123456789012345", "442079460958")),
    # Poland's country code, then a number no phone there has (a digit lost).
    *((typed, "This number starts with the country code 48, but what follows (60123456) is "
              "no number of that country: check its digits.")
      for typed in ("4860123456", "+48 60 123 456", "0048 601 23 456")),
    # The same, where phonenumbers also takes the ten digits for a possible national number.
    *((typed, "This number starts with the country code 48, but what follows "
              f"({typed[2:]}) is no number of that country: check its digits.")
      for typed in ("4850123456", "4851234567", "4879123456", "4822555667")),
    ("６０１２３４５６７", PHONE_FORMAT),  # full-width digits: not a number Thulium can dial
    (" - ( ) ", "Enter a phone number."),
    ("", "This field is required."),
    ("   ", "This field is required."),
    # As Excel saves a long number to CSV, Polish and English: six digits kept.
    *((excel, f"Excel wrote this number in scientific notation ({excel}), which has lost "
               "its last digits: upload the .xlsx workbook itself, or format the column as "
               "Text in Excel and save the CSV again.")
      for excel in ("4,86012E+11", "4.86012E+11", "6E+08")),
])
def test_a_number_that_is_not_6_to_15_digits_gets_a_clear_error(campaigns, typed, message):
    assert_refused(record_form(campaigns["00001"], {"phone_number": typed}), "phone_number",
                   message)


@pytest.mark.parametrize("typed, separator", [
    ("22 123 45 67/68", "/"), ("601-234-567/8", "/"), ("601234567, 602000001", ","),
    ("601 234 567; 602 000 001", ";"), ("601234567 lub 602000001", "lub"),
    ("+48 601 234 567 or +48 602 000 001", "or"),
])
def test_two_numbers_in_one_field_are_refused_not_glued_into_one(campaigns, typed, separator):
    """"22 123 45 67/68" was sent as 22123456768, and blocked by no do-not-call entry."""
    assert_refused(record_form(campaigns["00001"], {"phone_number": typed}), "phone_number",
                   TWO_NUMBERS.format(separator))


# --- statuses and agents ------------------------------------------------------------


@pytest.mark.parametrize("campaign_id", ["00001", "A7K2Q", "00002"])
def test_statuses_and_agents_offered_are_those_the_sandbox_lists(campaigns, thulium, campaign_id):
    form = record_form(campaigns[campaign_id], None)
    seed = SEED[campaign_id]
    dictionary_ids = dict.fromkeys(
        str(s["dictionary_status_id"]) for s in seed["statuses"]
        if s["dictionary_status_id"] is not None
    )
    assert [key for key, _ in form.fields["status_id"].choices] == [
        "", *(str(s["status_id"]) for s in seed["statuses"])
    ]
    assert [key for key, _ in form.fields["dictionary_status_id"].choices] == ["", *dictionary_ids]
    assert [key for key, _ in form.fields["agent_login"].choices] == [
        "", *(a["login"] for a in seed["agents"])
    ]
    assert [(c["method"], c["path"]) for c in api_calls(thulium)] == [
        ("GET", f"/api/outbounds/{campaign_id}/statuses"),
        ("GET", f"/api/outbounds/{campaign_id}/agents"),
    ]


def test_a_record_is_added_with_the_cache_down(logged_in, campaigns, cache_down):
    """With Redis down the form answered 500, and so did the addition once Thulium had
    added the record."""
    form = logged_in.get(new_url())
    assert form.status_code == 200 and form.context["choices_error"] is None
    response = add(logged_in, {"phone_number": "601234567"})
    assert response.status_code == 302 and additions().get().outcome == "succeeded"


@pytest.mark.parametrize("campaign_id, field, value", [
    ("A7K2Q", "status_id", "5"),  # MY_RECORD in 00001, unknown in A7K2Q
    ("00001", "status_id", "99"),
    ("00001", "dictionary_status_id", "3"),
    ("00001", "agent_login", "m.zielinska"),  # an agent of 00002 only
    ("00001", "agent_login", "JKOWALSKI"),
])
def test_a_status_or_agent_the_campaign_does_not_have_is_refused(
    campaigns, campaign_id, field, value
):
    form = record_form(campaigns[campaign_id], {"phone_number": "601234567", field: value})
    assert_refused(form, field)
    assert form.errors[field][0].startswith(f"“{value}” is ")


def test_a_refused_status_or_agent_is_told_with_a_few_of_those_accepted(campaigns):
    """A file's "Status" column has no list to choose from: the refusal gives one."""
    form = record_form(campaigns["00001"], {"phone_number": "601234567", "status_id": "99",
                                            "agent_login": "Jan Kowalski"})
    assert not form.is_valid()
    assert form.errors["status_id"] == [
        "“99” is neither the id of one of this campaign's statuses nor the name of only one: "
        "1 (Do zadzwonienia), 3 (Kontakt potrzebny), 5 (Mój rekord), 7 (Nie dzwonić), "
        "8 (Oddzwonić nie wcześniej niż), …"]
    assert form.errors["agent_login"] == [
        "“Jan Kowalski” is not the login of one of this campaign's agents: jkowalski, anowak, "
        "p.wisniewski"]


@pytest.mark.parametrize("typed", ["Kontakt potrzebny", " kontakt  POTRZEBNY"])
def test_a_status_given_by_its_name_is_sent_by_its_id(campaigns, typed):
    form = record_form(campaigns["00001"], {"phone_number": "601234567", "status_id": typed})
    assert_sends(form, {"phone_number": "601234567", "status_id": "3"})


def test_a_name_two_statuses_share_is_refused_naming_both(campaigns):
    statuses = [*SEED["00001"]["statuses"],
                {"system_status": "CALL", "status_id": "40", "name": "Kontakt potrzebny"}]
    form = RecordForm({"phone_number": "601234567", "status_id": "Kontakt potrzebny"},
                      campaign=campaigns["00001"], statuses=statuses)
    assert_refused(form, "status_id")
    assert form.errors["status_id"][0].endswith(
        ": 3 (Kontakt potrzebny), 40 (Kontakt potrzebny), …")


@pytest.mark.parametrize("campaign_id, system_status", [
    ("00001", "NO_CALL"), ("00001", "CALL"), ("A7K2Q", "CALL"), ("A7K2Q", "NO_CALL"),
])
def test_a_status_is_sent_with_the_id_as_thulium_listed_it(campaigns, campaign_id, system_status):
    chosen = status_id(campaign_id, system_status)
    form = record_form(campaigns[campaign_id], {"phone_number": "601234567",
                                                "status_id": str(chosen)})
    assert_sends(form, {"phone_number": "601234567", "status_id": chosen})


def test_a_dictionary_status_is_sent_as_thulium_listed_it(campaigns):
    form = record_form(campaigns["00001"], {"phone_number": "601234567",
                                            "dictionary_status_id": "15"})
    assert_sends(form, {"phone_number": "601234567", "dictionary_status_id": 15})


BOTH_CAMPAIGNS_AND_CRM = pytest.mark.parametrize("campaign_id", ["00001", "A7K2Q", "00002"])


@BOTH_CAMPAIGNS_AND_CRM
def test_my_record_needs_an_agent_and_a_next_call_date(campaigns, campaign_id):
    chosen = str(status_id(campaign_id, "MY_RECORD"))
    form = record_form(campaigns[campaign_id], {"phone_number": "601234567", "status_id": chosen})
    assert not form.is_valid()
    for field in ("agent_login", "next_call_date"):
        assert "(system status MY_RECORD)" in form.errors[field][0]


@BOTH_CAMPAIGNS_AND_CRM
def test_my_record_with_an_agent_but_no_date_still_needs_the_date(campaigns, campaign_id):
    chosen = str(status_id(campaign_id, "MY_RECORD"))
    form = record_form(campaigns[campaign_id], {
        "phone_number": "601234567", "status_id": chosen, "agent_login": agent_of(campaign_id),
    })
    assert not form.is_valid()
    assert list(form.errors) == ["next_call_date"]


@pytest.mark.parametrize("typed", ["0001-01-01T00:00", "9999-12-31T23:59", "1999-12-31"])
def test_a_next_call_in_a_year_no_one_calls_in_is_refused_next_to_the_field(campaigns, typed):
    """Year 1 and 9999, slips of the keyboard, were sent to Thulium."""
    form = record_form(campaigns["00001"], {"phone_number": "601234567",
                                            "next_call_date": typed})
    assert not form.is_valid()
    assert form.errors["next_call_date"] == ["Enter a date between 2000 and 2999."]


@BOTH_CAMPAIGNS_AND_CRM
def test_my_record_with_an_agent_and_a_date_is_sent(campaigns, campaign_id):
    chosen = status_id(campaign_id, "MY_RECORD")
    form = record_form(campaigns[campaign_id], {
        "phone_number": "601234567", "status_id": str(chosen),
        "agent_login": agent_of(campaign_id), "next_call_date": "2026-12-01T09:30",
    })
    assert_sends(form, {
        "phone_number": "601234567", "status_id": chosen, "agent_login": agent_of(campaign_id),
        "next_call_date": "2026-12-01 09:30",
    })


@BOTH_CAMPAIGNS_AND_CRM
def test_call_no_sooner_than_needs_a_next_call_date_but_no_agent(campaigns, campaign_id):
    chosen = str(status_id(campaign_id, "CALL_NO_SOONER_THAN"))
    form = record_form(campaigns[campaign_id], {"phone_number": "601234567", "status_id": chosen})
    assert not form.is_valid()
    assert list(form.errors) == ["next_call_date"]
    assert "(system status CALL_NO_SOONER_THAN)" in form.errors["next_call_date"][0]


@BOTH_CAMPAIGNS_AND_CRM
def test_call_no_sooner_than_with_a_date_is_sent(campaigns, campaign_id):
    chosen = status_id(campaign_id, "CALL_NO_SOONER_THAN")
    form = record_form(campaigns[campaign_id], {
        "phone_number": "601234567", "status_id": str(chosen), "next_call_date": "2026-12-01T09:30",
    })
    assert_sends(form, {"phone_number": "601234567", "status_id": chosen,
                        "next_call_date": "2026-12-01 09:30"})


@BOTH_CAMPAIGNS_AND_CRM
@pytest.mark.parametrize("system_status", ["TO_CALL", "CALL", "NO_CALL", "CUSTOM_CALLBACK"])
def test_other_statuses_need_neither_agent_nor_date(campaigns, campaign_id, system_status):
    chosen = str(status_id(campaign_id, system_status))
    form = record_form(campaigns[campaign_id], {"phone_number": "601234567", "status_id": chosen})
    assert form.is_valid(), form.errors


# --- next call date, identifier, order ----------------------------------------------


@pytest.mark.parametrize("entered, sent", [
    ("2026-12-01T09:30", "2026-12-01 09:30"),
    ("2026-07-01T09:30", "2026-07-01 09:30"),
    ("2026-12-01 09:30", "2026-12-01 09:30"),
    # As a Polish spreadsheet writes it, and the portal shows it in Polish: day first.
    ("01.12.2026 09:30", "2026-12-01 09:30"),
    ("24.12.2026 10:00:00", "2026-12-24 10:00"),
    # A date alone, in either spelling: from the start of that day.
    ("24.12.2026", "2026-12-24 00:00"),
    ("2026-12-24", "2026-12-24 00:00"),
])
def test_a_next_call_date_is_sent_in_thulium_format(campaigns, entered, sent):
    form = record_form(campaigns["00001"], {"phone_number": "601234567",
                                            "next_call_date": entered})
    assert_sends(form, {"phone_number": "601234567", "next_call_date": sent})


@pytest.mark.parametrize("entered, sent", [
    ("2026-12-01T09:30", "2026-12-01 10:30"),  # CET, UTC+1
    ("2026-07-01T09:30", "2026-07-01 11:30"),  # CEST, UTC+2
])
def test_a_next_call_date_entered_in_another_zone_is_sent_as_warsaw_time(
    campaigns, settings, entered, sent
):
    settings.TIME_ZONE = "UTC"
    form = record_form(campaigns["00001"], {"phone_number": "601234567",
                                            "next_call_date": entered})
    assert_sends(form, {"phone_number": "601234567", "next_call_date": sent})


@pytest.mark.parametrize("zone, entered, sent", [
    # The clocks jump from 00:00 to 01:00 (UTC-4 to UTC-3): the day begins at 01:00.
    ("America/Santiago", "2026-09-06", "2026-09-06 06:00"),
    ("America/Santiago", "06.09.2026", "2026-09-06 06:00"),
    # The clocks go back from 01:00 to 00:00 (UTC-4 to UTC-5): the day begins at the first.
    ("America/Havana", "2026-11-01", "2026-11-01 05:00"),
])
def test_a_date_alone_is_the_start_of_that_day_where_the_clocks_change_at_midnight(
        campaigns, settings, zone, entered, sent):
    """Refused before as a time that "does not exist or happens twice", though none was typed."""
    settings.TIME_ZONE = zone
    form = record_form(campaigns["00001"], {"phone_number": "601234567",
                                            "next_call_date": entered})
    assert_sends(form, {"phone_number": "601234567", "next_call_date": sent})


@pytest.mark.parametrize("entered, words", [
    *((typed, "Enter a date and time as YYYY-MM-DD HH:MM or DD.MM.YYYY HH:MM.") for typed in (
        "2026-02-30T10:00", "2026-12-01T25:00", "31.02.2026 10:00", "tomorrow",
        "01/12/2026 09:30",  # January to some, December to others
        # With a zone, at the calendar's edge: no Warsaw time (a server error before).
        "9999-12-31T23:59:00-05:00", "0001-01-01T00:10:00+05:00",
    )),
    # Does not exist in Warsaw: the clocks jump from 02:00 to 03:00.
    ("2026-03-29T02:30", "2026-03-29 02:30 does not exist or happens twice in Europe/Warsaw"),
])
def test_a_next_call_date_that_is_not_a_local_date_and_time_is_refused_saying_why(
    campaigns, entered, words
):
    form = record_form(campaigns["00001"], {"phone_number": "601234567",
                                            "next_call_date": entered})
    assert_refused(form, "next_call_date")
    assert words in form.errors["next_call_date"][0]


@pytest.mark.parametrize("excel", ["1,23457E+11", "1.23457E+11", "1E+15"])
def test_an_identifier_excel_wrote_in_scientific_notation_is_refused_saying_why(campaigns, excel):
    form = record_form(campaigns["00001"], {"phone_number": "601234567", "identifier": excel})
    assert_refused(form, "identifier",
                   f"Excel wrote this identifier in scientific notation ({excel}), which has "
                   "lost its last digits: upload the .xlsx workbook itself, or format the "
                   "column as Text in Excel and save the CSV again.")


@pytest.mark.parametrize("decimal", ["1234567891.0", "1234567890,00"])
def test_an_identifier_written_as_a_decimal_is_refused_saying_why(campaigns, decimal):
    """As pandas and a cell formatted with decimals write a numeric id: sent so, it is not
    the id the customer's system knows the record by."""
    form = record_form(campaigns["00001"], {"phone_number": "601234567", "identifier": decimal})
    assert_refused(form, "identifier",
                   f"This identifier was written as a decimal number ({decimal}): format the "
                   "column as Text, or without decimal places, and save the file again.")


@pytest.mark.parametrize("identifier", ["KL-2E+10", "E+12", "12E5", "1,5", "1.05", "KL-7.0"])
def test_an_identifier_that_only_looks_alike_is_sent(campaigns, identifier):
    form = record_form(campaigns["00001"], {"phone_number": "601234567",
                                            "identifier": identifier})
    assert_sends(form, {"phone_number": "601234567", "identifier": identifier})


def test_an_identifier_pasted_with_invisible_characters_is_the_one_the_user_sees(
    logged_in, campaigns, thulium
):
    """Kept, a byte-order mark or a zero-width space made "OZE-1" another identifier than
    the one the portal added, and reached Thulium as typed."""
    assert add(logged_in, {"phone_number": "601234567", "identifier": "OZE-1"}).status_code == 302

    page = add(logged_in, {"phone_number": "601234568",
                           "identifier": "\ufeffOZE-1\u200b"}).content.decode()

    assert "This portal already added a record with this identifier to the campaign." in page
    assert add(logged_in, {"phone_number": "601234569",
                           "identifier": "\u200e OZE-2\u2060"}).status_code == 302
    assert [record.get("identifier") for record in thulium.state.records("00001")] == [
        "OZE-1", "OZE-2"]


def test_an_identifier_up_to_64_characters_is_sent(campaigns):
    form = record_form(campaigns["00001"], {"phone_number": "601234567", "identifier": "i" * 64})
    assert_sends(form, {"phone_number": "601234567", "identifier": "i" * 64})
    form = record_form(campaigns["00001"], {"phone_number": "601234567", "identifier": "i" * 65})
    assert_refused(form, "identifier")


@pytest.mark.parametrize("order, sent", [("1", 1), ("99999", 99999)])
def test_an_order_from_1_to_99999_is_sent_as_a_number(campaigns, order, sent):
    form = record_form(campaigns["00001"], {"phone_number": "601234567", "order": order})
    assert_sends(form, {"phone_number": "601234567", "order": sent})


@pytest.mark.parametrize("order", ["0", "100000", "-1", "abc", "1.5"])
def test_an_order_outside_1_to_99999_or_not_whole_is_refused(campaigns, order):
    form = record_form(campaigns["00001"], {"phone_number": "601234567", "order": order})
    assert_refused(form, "order")


# --- campaign fields ----------------------------------------------------------------


@pytest.mark.parametrize("campaign_id, inputs", [
    ("00001", ["record_fields.imie", "record_fields.nazwisko", "record_fields.miasto"]),
    ("A7K2Q", ["record_fields.ocena", "record_fields.komentarz"]),
    ("00002", []),  # CRM: Thulium takes field values only in non-CRM campaigns
])
def test_the_page_has_one_input_per_structure_field_and_none_on_a_crm_campaign(
    logged_in, campaigns, campaign_id, inputs
):
    # Fields an administrator left on the CRM campaign must not bring inputs back.
    campaigns["00002"].structure_fields = ["notatka"]
    campaigns["00002"].save()
    values = form_values(logged_in.get(new_url(campaign_id)), "phone_number")
    assert [name for name in values if name.startswith("record_fields")] == inputs


def test_only_the_fields_filled_in_are_sent(campaigns):
    form = record_form(campaigns["00001"], {
        "phone_number": "601234567", "record_fields.imie": "Zofia",
        "record_fields.nazwisko": "", "record_fields.miasto": "Kraków",
        "status_id": "", "agent_login": "", "identifier": "", "order": "", "next_call_date": "",
    })
    assert_sends(form, {"phone_number": "601234567",
                        "record_fields": {"imie": "Zofia", "miasto": "Kraków"}})


def test_no_record_fields_are_sent_when_none_is_filled_in(campaigns):
    form = record_form(campaigns["A7K2Q"], {"phone_number": "601234567",
                                            "record_fields.ocena": ""})
    assert_sends(form, {"phone_number": "601234567"})


def test_a_crm_campaign_ignores_posted_campaign_fields(campaigns):
    form = record_form(campaigns["00002"], {"phone_number": "601234567",
                                            "record_fields.imie": "Zofia"})
    assert_sends(form, {"phone_number": "601234567"})


def test_a_campaign_field_over_1000_characters_is_refused(campaigns):
    form = record_form(campaigns["00001"], {"phone_number": "601234567",
                                            "record_fields.imie": "z" * 1001})
    assert_refused(form, "record_fields.imie")


# --- through the page, against the sandbox ------------------------------------------

FULL_RECORD = {
    "phone_number": "+48 601 234 567", "status_id": "5", "dictionary_status_id": "4",
    "agent_login": "jkowalski", "next_call_date": "2026-12-01T09:30", "identifier": "OZE-0001",
    "order": "10", "record_fields.imie": "Zofia", "record_fields.miasto": "Kraków",
}
FULL_RECORD_SENT = {
    "phone_number": "601234567", "status_id": "5", "dictionary_status_id": 4,
    "agent_login": "jkowalski", "next_call_date": "2026-12-01 09:30", "identifier": "OZE-0001",
    "order": 10, "record_fields": {"imie": "Zofia", "miasto": "Kraków"},
}


def test_the_sandbox_receives_exactly_the_record_as_entered(logged_in, campaigns, thulium):
    add(logged_in, FULL_RECORD)
    posts = api_calls(thulium, "POST")
    assert len(posts) == 1
    assert posts[0]["path"] == "/api/outbounds/00001/records"
    assert posts[0]["json"] == FULL_RECORD_SENT
    assert thulium.state.records("00001") == [{"record_id": "231", **FULL_RECORD_SENT}]


def test_a_number_thulium_holds_is_refused_there_in_another_spelling_not_added_twice(
        logged_in, campaigns, thulium):
    """Loaded in Thulium's own panel as "601234567", the person was added again as
    "+48601234567"."""
    thulium.state.add_record("00001", {"phone_number": "601234567"}, lambda *checked: [])
    response = add(logged_in, {"phone_number": "+48 601 234 567"})
    assert "Phone number already exists in the campaign." in response.content.decode()
    assert [record["phone_number"] for record in records_sent(thulium)] == ["601234567"]
    assert additions().get().sent == {"phone_number": "601234567"}
    assert len(thulium.state.records("00001")) == 1


def test_an_added_record_is_audited_with_its_record_id(logged_in, user, campaigns, thulium):
    add(logged_in, FULL_RECORD)
    addition = additions().get()
    assert addition.campaign == campaigns["00001"]
    assert addition.outcome == "succeeded"
    assert addition.results["record_id"] == "231"
    assert addition.sent == FULL_RECORD_SENT
    assert addition.sent["phone_number"] == "601234567"
    assert addition.sent.get("identifier", "") == "OZE-0001"
    # What the portal now knows the campaign holds, by the number in its canonical form.
    added = AddedRecord.objects.get()
    assert (added.campaign, added.phone_key, added.identifier, added.record_id, added.status,
            added.entry) == (campaigns["00001"], "48601234567", "OZE-0001", "231", "added",
                             addition)
    assert addition.actor == user
    assert addition.actor_username == "manager"
    assert addition.http_status == 200
    assert addition.completed_at is not None


def test_an_added_record_redirects_to_the_campaign_with_a_message(logged_in, campaigns):
    response = add(logged_in, {"phone_number": "601 234 567"})
    assert response.status_code == 302
    assert response.url == campaigns["00001"].get_absolute_url()
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Thulium added the record 601234567 (record id 231)."
    ]


@pytest.mark.parametrize("first, again", [
    ("601234567", "601234567"),
    ("601234567", "+48 601 234 567"),
    ("+48 601 234 567", "601-234-567"),
    ("(22) 555-66-77", "+48225556677"),
    ("601234567", "+48 (0) 601 234 567"),
    ("601234567", "0601 234 567"),
])
def test_a_number_the_portal_already_added_is_refused_before_sending(
    logged_in, campaigns, thulium, first, again
):
    add(logged_in, {"phone_number": first})
    earlier = additions().get()
    response = add(logged_in, {"phone_number": again})
    assert response.status_code == 200
    page = response.content.decode()
    assert DUPLICATE in page
    assert f'<a href="{reverse("audit:entry", args=[earlier.pk])}">' in page
    assert len(api_calls(thulium, "POST")) == 1
    assert additions().count() == 1
    assert AddedRecord.objects.count() == 1
    assert len(thulium.state.records("00001")) == 1


def test_records_keyed_with_a_trunk_zero_before_it_was_dropped_are_keyed_anew(
        logged_in, campaigns, thulium):
    """Keyed "480601234567", a number added as "0601 234 567" was not seen as added when
    typed without the 0."""
    add(logged_in, {"phone_number": "601234567"})
    add(logged_in, {"phone_number": "601000001"})
    AddedRecord.objects.filter(phone_key="48601234567").update(phone_key="480601234567")
    AddedRecord.objects.filter(phone_key="48601000001").update(phone_key="480601000001")
    AddedRecord.objects.create(campaign=campaigns["00001"], phone_key="48601000001",
                               status=AddedRecord.Status.ADDED, entry_id=10**9,
                               created_at=timezone.now())
    import_module("records.migrations.0010_rekey_numbers_written_with_a_trunk_zero").rekey(
        django_apps, None)
    assert set(AddedRecord.objects.values_list("phone_key", flat=True)) == {
        "48601234567", "48601000001", "480601000001"}
    assert DUPLICATE in add(logged_in, {"phone_number": "601 234 567"}).content.decode()


def test_a_number_another_page_began_adding_after_the_form_was_checked_is_not_sent_again(
    logged_in, user, campaigns, thulium, monkeypatch
):
    """Two pages sent at once: both forms find the number new; the second to write it is
    refused by the added records' unique index, next to the number, and sends nothing."""
    real_add = views.record_add
    other = {}

    def the_other_page_first(**kwargs):
        other["entry"] = real_add(campaign=campaigns["00001"], actor=user,
                                  payload={"phone_number": "601234567"})
        return real_add(**kwargs)

    monkeypatch.setattr(views, "record_add", the_other_page_first)
    response = add(logged_in, {"phone_number": "+48 601 234 567", "identifier": "K-9"})
    assert response.status_code == 200
    page = response.content.decode()
    assert DUPLICATE in page and 'value="K-9"' in page
    assert f'<a href="{reverse("audit:entry", args=[other["entry"].pk])}">' in page
    assert len(api_calls(thulium, "POST")) == 1 and additions().count() == 1
    assert AddedRecord.objects.get().entry_id == other["entry"].pk


def test_an_addition_thulium_answered_with_201_is_recorded_with_201(
    logged_in, user, campaigns, settings
):
    """The status was written as 200 whatever Thulium answered."""
    with CraftedThulium({"record_id": 77}, status=201) as crafted:
        settings.THULIUM_API_URL = crafted.url
        entry = record_add(campaign=campaigns["00001"], payload={"phone_number": "601234567"},
                           actor=user)

    entry.refresh_from_db()
    assert (entry.outcome, entry.http_status, entry.results) == ("succeeded", 201,
                                                                  {"record_id": "77"})
    assert "(HTTP 201)" in logged_in.get(entry.get_absolute_url()).content.decode()


def test_a_number_another_loader_added_is_refused_without_a_link_they_may_not_open(
    client, logged_in, campaigns, thulium
):
    add(logged_in, {"phone_number": "601234567"})
    client.force_login(make_user("ola", LOADERS))
    page = add(client, {"phone_number": "601 234 567"}).content.decode()
    assert "This portal already added this number to the campaign (" in page
    assert reverse("audit:entry", args=[additions().get().pk]) not in page
    assert len(api_calls(thulium, "POST")) == 1


def test_the_campaign_page_counts_the_record_just_added(logged_in, campaigns, thulium):
    """Thulium's figures are cached for seconds: read anew once the portal added a record."""
    def stats(url):
        page = logged_in.get(url).content.decode()
        return re.findall(r'data-testid="campaign-stats">(.*?)</div>', page, re.S)

    assert stats(campaigns["00001"].get_absolute_url()) == ["0 records, 0.0%"]
    assert stats(add(logged_in, {"phone_number": "601234567"}).url) == ["1 record, 0.0%"]


def test_a_number_added_to_one_campaign_can_be_added_to_another(logged_in, campaigns, thulium):
    add(logged_in, {"phone_number": "601234567"})
    response = add(logged_in, {"phone_number": "+48 601 234 567"}, campaign_id="A7K2Q")
    assert response.status_code == 302
    assert [c["path"] for c in api_calls(thulium, "POST")] == [
        "/api/outbounds/00001/records", "/api/outbounds/A7K2Q/records",
    ]


@pytest.mark.parametrize("fault, outcome, blocks", [
    ("refuse", "refused", False),
    ("http_503", "failed", False),
    # Thulium stored it but its answer came too late: trying again would duplicate it.
    ("timeout", "unknown", True),
])
def test_a_failed_attempt_blocks_a_retry_only_if_thulium_may_have_the_number(
    logged_in, campaigns, thulium, fault, outcome, blocks
):
    logged_in.get(new_url())  # statuses and agents now cached: the fault hits the POST
    thulium.state.fail_next(fault, delay=LATE)
    add(logged_in, {"phone_number": "601234567"})
    assert additions().get().outcome == outcome
    response = add(logged_in, {"phone_number": "601234567"})
    assert (DUPLICATE in response.content.decode()) is blocks
    assert len(api_calls(thulium, "POST")) == (1 if blocks else 2)


def test_an_attempt_left_pending_blocks_a_retry(logged_in, user, campaigns, thulium):
    record_add_begin_all(campaign=campaigns["00001"], payloads=[{"phone_number": "601234567"}],
                         actor=user)
    response = add(logged_in, {"phone_number": "+48601234567"})
    assert DUPLICATE in response.content.decode()
    assert api_calls(thulium, "POST") == []


def test_the_earlier_addition_is_dated_in_local_time(logged_in, user, campaigns, thulium):
    record_add_begin_all(
        campaign=campaigns["00001"], payloads=[{"phone_number": "601234567"}], actor=user,
        created_at=datetime.datetime(2026, 7, 1, 10, 0, tzinfo=datetime.UTC),
    )
    response = add(logged_in, {"phone_number": "601234567"})
    # 10:00 UTC is 12:00 in Warsaw in summer; the send was begun and never completed.
    assert "(2026-07-01 12:00, being sent)" in response.content.decode()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL plans from table "
                    "statistics, which an almost empty test table does not have")
def test_the_already_added_check_looks_the_number_up_by_index(campaigns):
    form = record_form(campaigns["00001"], {"phone_number": "601234567"})
    with CaptureQueriesContext(connection) as queries:
        assert form.earlier.get(phone_key("601234567")) is None
    (query,) = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
        plan = " ".join(str(row) for row in cursor.fetchall())
    # Not the campaign's numbers walked until this one turns up: the unique index on both.
    assert "USING INDEX" in plan and "(campaign_id=? AND phone_key=?)" in plan


def test_statuses_and_agents_are_cached_until_reloaded(logged_in, campaigns, thulium):
    def reads():
        return [c["path"] for c in api_calls(thulium, "GET")]

    logged_in.get(new_url())
    assert reads() == ["/api/outbounds/00001/statuses", "/api/outbounds/00001/agents"]
    logged_in.get(new_url())
    assert len(reads()) == 2
    response = logged_in.post(reverse("records:refresh_choices", args=["00001"]))
    assert response.status_code == 302
    assert response.url == new_url()
    assert reads()[2:] == ["/api/outbounds/00001/statuses", "/api/outbounds/00001/agents"]
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Statuses and agents reloaded from Thulium."
    ]
    logged_in.get(new_url())
    assert len(reads()) == 4


def test_a_status_chosen_before_thulium_failed_stays_chosen_with_a_clear_message(
    logged_in, campaigns, thulium
):
    """The page was opened with Thulium's lists, then posted when they could no longer be
    read: the status chosen vanished, with "Select a valid choice"."""
    page = logged_in.get(new_url()).content.decode()
    status = re.search(r'<option value="(\d+)">', page[page.index('name="status_id"'):])[1]
    cache.clear()
    thulium.state.fail_next("http_503", path="/api/outbounds/00001/statuses")
    response = logged_in.post(new_url(), {"phone_number": "601234567", "status_id": status})
    assert response.status_code == 200
    assert ("Thulium's statuses and agents could not be read, so this choice cannot be "
            "checked") in response.context["form"].errors["status_id"][0]
    assert f'<option value="{status}" selected>' in response.content.decode()
    assert api_calls(thulium, "POST") == []


def test_statuses_and_agents_thulium_could_not_give_are_not_asked_again_at_once(
    logged_in, campaigns, thulium
):
    def reads():
        return [c["path"] for c in api_calls(thulium, "GET")]

    thulium.state.fail_next("http_503", path="/api/outbounds/00001/statuses")
    note = "Statuses and agents could not be read from Thulium"
    assert note in logged_in.get(new_url()).content.decode()
    assert reads() == ["/api/outbounds/00001/statuses"]
    assert note in logged_in.get(new_url()).content.decode()
    assert len(reads()) == 1  # the failure is kept a while: the form opens at once
    logged_in.post(reverse("records:refresh_choices", args=["00001"]))  # asks again now
    assert reads()[1:] == ["/api/outbounds/00001/statuses", "/api/outbounds/00001/agents"]
    assert note not in logged_in.get(new_url()).content.decode()


@pytest.mark.parametrize("zone, typed", [
    ("UTC", "2026-10-25T00:30"), ("UTC", "2026-10-25T01:30"),
    ("America/New_York", "24.10.2026 20:30"), ("Europe/Warsaw", "2026-10-25T02:30+01:00"),
])
def test_a_next_call_in_poland_s_repeated_hour_is_refused_whatever_the_portal_s_zone(
        campaigns, settings, zone, typed):
    """Thulium takes its times in Polish wall-clock time, with no zone: 00:30 and 01:30 UTC
    on 2026-10-25 both went as "2026-10-25 02:30"."""
    settings.TIME_ZONE = zone
    form = record_form(campaigns["00001"], {"phone_number": "601234567",
                                            "next_call_date": typed})
    assert not form.is_valid()
    assert form.errors["next_call_date"] == [
        "2026-10-25 02:30, as Thulium keeps time (Poland), happens twice as the clocks go "
        "back, and Thulium could take it for either: choose another time."]
    assert record_form(campaigns["00001"], {"phone_number": "601234567",
                                            "next_call_date": "2026-10-25T04:30"}).is_valid()


def forget_region_s_readings() -> None:
    """The numbers read are kept by the number alone, whatever the region."""
    phones._read.cache_clear()
    phone_key.cache_clear()


def _key_the_full_way(raw: str) -> str:
    try:
        phones.check_one_number(raw)
        number = phones.normalise_phone(raw)
        phones.check_own_country(number)
    except ValidationError:
        return ""
    return phone_key(number)


@pytest.mark.parametrize(("region", "short_way"), [("PL", True), ("DK", True), ("CZ", True),
                                                  ("IT", False), ("GB", False), ("US", False)])
def test_national_digits_alone_are_keyed_as_the_full_reading_keys_them(request, settings,
                                                                      region, short_way):
    """The short way (read without parsing, for lists of 200,000) keys a number as the full
    reading does, or leaves it to that reading: in every leading pair of digits and length
    a plan has, and with the region's country code in front. A region whose numbers are
    dialled after a trunk prefix ("0", "1"), or sharing its country code (Italy with the
    Vatican), is read the full way."""
    settings.PHONE_DEFAULT_REGION = region
    forget_region_s_readings()
    request.addfinalizer(forget_region_s_readings)
    code = str(phonenumbers.country_code_for_region(region))
    spellings = [f"{lead}{tail}"[:length] for lead in range(10, 100)
                 for tail in ("0000000000000", "1234567890123", "9876543210987")
                 for length in range(6, 16)]
    spellings += [f"{code}{spelling}"[:len(spelling)] for spelling in spellings[::7]]
    keyed = 0
    for spelling in spellings:
        if short := phones._national_key(spelling):
            keyed += 1
            assert short == _key_the_full_way(spelling), spelling
    assert (keyed > 50) == short_way
