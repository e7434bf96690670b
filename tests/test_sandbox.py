"""The Thulium sandbox keeps Thulium's documented rules, seen over real HTTP."""

import json
import re
import threading
import time

import pytest
import requests

from portal.thulium.sandbox import start_sandbox
from tests.conftest import LATE

AUTH = ("sandbox", "sandbox-password")


@pytest.fixture(scope="module")
def sandbox():
    server = start_sandbox(port=0, user=AUTH[0], password=AUTH[1])
    yield server
    server.shutdown()


@pytest.fixture(autouse=True)
def fresh(sandbox):
    sandbox.state.reset()


def put_campaign(sandbox, campaign_id, body, **kwargs):
    return requests.put(f"{sandbox.url}/outbounds/{campaign_id}", json=body, auth=AUTH, **kwargs)


def post_record(sandbox, campaign_id, body, **kwargs):
    url = f"{sandbox.url}/outbounds/{campaign_id}/records"
    return requests.post(url, json=body, auth=AUTH, **kwargs)


def messages(response):
    return [item["message"] for item in response.json()["errors"]]


def status_id_of(sandbox, campaign_id, system_status):
    """Learn a status id the way the portal must: from GET statuses, by system status."""
    url = f"{sandbox.url}/outbounds/{campaign_id}/statuses"
    statuses = requests.get(url, auth=AUTH).json()
    return next(s["status_id"] for s in statuses if s["system_status"] == system_status)


def assert_refused_with(response, message):
    assert response.status_code == 400
    assert message in messages(response)


# --- authentication, errors, routing ------------------------------------------------


@pytest.mark.parametrize("auth", [None, ("sandbox", "wrong"), ("someone", "sandbox-password")])
def test_api_requests_without_the_right_credentials_get_401(sandbox, auth):
    response = requests.get(f"{sandbox.url}/outbounds", auth=auth)
    assert response.status_code == 401
    assert response.json()["errors"] == [{"message": "Unauthorized", "code": 401}]


def test_a_rejected_request_changes_nothing(sandbox):
    url = f"{sandbox.url}/outbounds/00001/records"
    requests.post(url, json={"phone_number": "221234567"}, auth=("sandbox", "nope"))
    assert sandbox.state.records("00001") == []


def test_error_bodies_have_the_documented_shape(sandbox):
    response = post_record(sandbox, "00001", {"phone_number": "12"})
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert re.fullmatch(r"[0-9a-f]{13}", body["request_id"])
    assert body["errors"] == [{"message": "Wrong format of phone number.", "code": 111111}]


@pytest.mark.parametrize("campaign_id", ["99999", "0001", "000001"])
def test_an_unknown_or_not_five_character_campaign_is_404(sandbox, campaign_id):
    response = put_campaign(sandbox, campaign_id, {"name": "x"})
    assert response.status_code == 404
    assert messages(response) == ["Campaign not found."]


def test_campaign_not_found_is_polish_for_polish_clients(sandbox):
    response = post_record(
        sandbox, "99999", {"phone_number": "221234567"}, headers={"Accept-Language": "pl"}
    )
    assert messages(response) == ["Nie znaleziono kampanii."]


def test_an_unknown_api_path_is_404_with_an_error_body(sandbox):
    response = requests.get(f"{sandbox.url}/inbounds", auth=AUTH)
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == 404


def test_a_wrong_method_is_405_with_an_error_body(sandbox):
    response = requests.delete(f"{sandbox.url}/outbounds/00001", auth=AUTH)
    assert response.status_code == 405
    assert response.headers["Allow"] == "PUT"
    assert response.json()["errors"][0]["code"] == 405


@pytest.mark.parametrize("send", [requests.put, requests.post])
def test_a_body_that_is_not_json_is_refused(sandbox, send):
    suffix = "" if send is requests.put else "/records"
    response = send(f"{sandbox.url}/outbounds/00001{suffix}", data="{name:", auth=AUTH)
    assert_refused_with(response, "Request body is not valid JSON.")


def test_a_json_body_that_is_not_an_object_is_refused(sandbox):
    response = post_record(sandbox, "00001", ["221234567"])
    assert_refused_with(response, "Request body must be a JSON object.")


# --- GET endpoints ------------------------------------------------------------------


def test_get_outbounds_answers_a_result_object_by_default(sandbox):
    body = requests.get(f"{sandbox.url}/outbounds", auth=AUTH).json()
    campaigns = {c["id"]: c for c in body["result"]}
    assert set(campaigns) == {"00001", "00002", "A7K2Q"}
    assert campaigns["00002"]["type"] == "CRM"
    assert campaigns["00001"]["fields"] == ["imie", "nazwisko", "miasto"]
    assert campaigns["A7K2Q"]["active"] is False


def test_get_outbounds_pages_as_thuliums_lists_do(sandbox):
    """With every campaign on one page, the portal's paging was never tried."""
    sandbox.state.add_generated_campaigns(150)
    first = requests.get(f"{sandbox.url}/outbounds", auth=AUTH).json()
    assert (first["count"], len(first["result"])) == (153, 100)
    rest = requests.get(f"{sandbox.url}/outbounds", params={"offset": 100, "limit": 100},
                        auth=AUTH).json()
    assert [c["id"] for c in rest["result"]][-1] == "G0150" and len(rest["result"]) == 53
    refused = requests.get(f"{sandbox.url}/outbounds", params={"limit": 101}, auth=AUTH)
    assert refused.status_code == 400


def test_get_outbounds_answers_a_bare_list_when_asked_for_that_shape(sandbox):
    body = requests.get(f"{sandbox.url}/outbounds?shape=list", auth=AUTH).json()
    assert [c["id"] for c in body] == ["00001", "00002", "A7K2Q"]


def test_statuses_mix_string_and_number_ids_and_null_dictionary_ids(sandbox):
    statuses = requests.get(f"{sandbox.url}/outbounds/00001/statuses", auth=AUTH).json()
    assert {type(s["status_id"]) for s in statuses} == {str, int}
    assert None in {s["dictionary_status_id"] for s in statuses}
    assert "CUSTOM_CALLBACK" in {s["system_status"] for s in statuses}


def test_agents_have_the_documented_fields(sandbox):
    agents = requests.get(f"{sandbox.url}/outbounds/00001/agents", auth=AUTH).json()
    assert set(agents[0]) == {"login", "number", "active", "active_in_outbound", "agent_id"}
    assert "jkowalski" in {a["login"] for a in agents}


# --- PUT outbounds/:id --------------------------------------------------------------

PUT_RULES = [
    ({"color": "red"}, "Unknown parameter: color."),
    ({"id": "00002"}, "Unknown parameter: id."),
    ({"name": ""}, "Name must be a non-empty text of at most 255 characters."),
    ({"name": "x" * 256}, "Name must be a non-empty text of at most 255 characters."),
    ({"name": 15}, "Name must be a non-empty text of at most 255 characters."),
    ({"dialer": "manual"}, "Dialer must be one of: predictive, progressive, preview."),
    ({"active": "yes"}, "Active must be true or false."),
    ({"active": 1}, "Active must be true or false."),
    ({"start_date": "2026-02-30"}, "Wrong format of start date (expected YYYY-MM-DD)."),
    ({"start_date": "2026-2-3"}, "Wrong format of start date (expected YYYY-MM-DD)."),
    ({"end_date": "20261231"}, "Wrong format of end date (expected YYYY-MM-DD)."),
    ({"end_date": "2026-12-31 10:00"}, "Wrong format of end date (expected YYYY-MM-DD)."),
    ({"end_date": "2026-01-04"}, "End date cannot be earlier than start date."),
    ({"start_date": "2027-01-01"}, "End date cannot be earlier than start date."),
    (
        {"start_date": "2026-05-01", "end_date": "2026-04-30"},
        "End date cannot be earlier than start date.",
    ),
    ({"order": 0}, "Order must be an integer from 1 to 99999."),
    ({"order": 100000}, "Order must be an integer from 1 to 99999."),
    ({"order": 50.0}, "Order must be an integer from 1 to 99999."),
    ({"parity": 0}, "Parity must be an integer from 1 to 100."),
    ({"parity": 101}, "Parity must be an integer from 1 to 100."),
    ({"parity": 50.5}, "Parity must be an integer from 1 to 100."),
    ({"parity": True}, "Parity must be an integer from 1 to 100."),
    ({"group_id": 0}, "Group id must be a positive integer."),
    ({"group_id": "15"}, "Group id must be a positive integer."),
    ({"parameters": ["caller_id"]}, "Parameters must be an object."),
    ({"parameters": {"volume": 3}}, "Unknown campaign parameter: volume."),
    ({"parameters": {"caller_id": "22-123"}}, "Caller id must be 1 to 20 digits."),
    ({"parameters": {"caller_id": ""}}, "Caller id must be 1 to 20 digits."),
    ({"parameters": {"caller_id": "1" * 21}}, "Caller id must be 1 to 20 digits."),
    ({"parameters": {"caller_id": 221234567}}, "Caller id must be 1 to 20 digits."),
    (
        {"parameters": {"preview_timeout": 0}},
        "Preview timeout must be a positive integer.",
    ),
    (
        {"parameters": {"preview_timeout": 1.5}},
        "Preview timeout must be a positive integer.",
    ),
    (
        {"parameters": {"predictive_max_calls": 0}},
        "predictive_max_calls must be a positive number.",
    ),
    (
        {"parameters": {"predictive_max_calls": "3"}},
        "predictive_max_calls must be a positive number.",
    ),
    (
        {"parameters": {"predictive_min_calls": -1}},
        "predictive_min_calls must be a positive number.",
    ),
    (
        {"parameters": {"predictive_min_calls": 4}},
        "predictive_min_calls cannot be greater than predictive_max_calls.",
    ),
    (
        {"parameters": {"predictive_max_calls": 0.5}},
        "predictive_min_calls cannot be greater than predictive_max_calls.",
    ),
]


@pytest.mark.parametrize(("body", "message"), PUT_RULES)
def test_put_refuses_a_body_breaking_a_documented_rule(sandbox, body, message):
    response = put_campaign(sandbox, "00001", body)
    assert_refused_with(response, message)


def test_a_refused_put_changes_nothing(sandbox):
    before = sandbox.state.campaign("00001")
    put_campaign(sandbox, "00001", {"name": "New name", "parity": 0})
    assert sandbox.state.campaign("00001") == before


def test_a_valid_put_answers_200_with_an_empty_body_and_stores_the_changes(sandbox):
    body = {
        "name": "Some new name",
        "dialer": "predictive",
        "active": False,
        "start_date": "2026-02-01",
        "end_date": "2026-02-01",
        "order": 99999,
        "parity": 1,
        "group_id": 3,
        "parameters": {"caller_id": "1234", "predictive_min_calls": 2.5},
    }
    response = put_campaign(sandbox, "00001", body)
    assert response.status_code == 200
    assert response.content == b""
    campaign = sandbox.state.campaign("00001")
    assert campaign["name"] == "Some new name"
    assert campaign["end_date"] == "2026-02-01"
    assert campaign["parameters"] == {
        "caller_id": "1234",
        "preview_timeout": 30,
        "predictive_max_calls": 3,
        "predictive_min_calls": 2.5,
    }


def test_an_empty_put_object_is_valid_and_changes_nothing(sandbox):
    before = sandbox.state.campaign("00001")
    response = put_campaign(sandbox, "00001", {})
    assert response.status_code == 200
    assert response.content == b""
    assert sandbox.state.campaign("00001") == before


def test_put_reports_every_broken_rule_at_once(sandbox):
    response = put_campaign(sandbox, "00001", {"name": "", "order": 0, "color": "red"})
    assert sorted(messages(response)) == [
        "Name must be a non-empty text of at most 255 characters.",
        "Order must be an integer from 1 to 99999.",
        "Unknown parameter: color.",
    ]
    assert len({item["code"] for item in response.json()["errors"]}) == 3


# --- POST outbounds/:id/records -----------------------------------------------------


def test_a_valid_record_is_stored_and_gets_an_increasing_string_id(sandbox):
    first = post_record(sandbox, "00001", {"phone_number": "111222333", "status_id": "3"})
    second = post_record(sandbox, "00002", {"phone_number": "111222333"})
    assert first.status_code == 200
    assert first.json() == {"record_id": "231"}
    assert second.json() == {"record_id": "232"}
    assert sandbox.state.records("00001") == [
        {"record_id": "231", "phone_number": "111222333", "status_id": "3"}
    ]


def test_a_record_with_every_field_is_accepted(sandbox):
    body = {
        "phone_number": "+48221234567",
        "status_id": status_id_of(sandbox, "00001", "MY_RECORD"),
        "dictionary_status_id": 4,
        "identifier": "crm-1234567890",
        "agent_login": "jkowalski",
        "next_call_date": "2026-05-24 12:24",
        "record_fields": {"imie": "Jan", "nazwisko": "Kowalski", "miasto": ""},
        "order": 50,
    }
    response = post_record(sandbox, "00001", body)
    assert response.status_code == 200
    assert sandbox.state.records("00001")[0]["record_fields"]["miasto"] == ""


def test_a_record_needs_a_phone_number(sandbox):
    assert_refused_with(post_record(sandbox, "00001", {}), "Phone number is required.")


@pytest.mark.parametrize(
    "phone", ["12345", "1" * 16, "48 221 234 567", "+48-221234567", "++48221234567", 221234567]
)
def test_a_phone_number_in_a_wrong_format_is_refused(sandbox, phone):
    response = post_record(sandbox, "00001", {"phone_number": phone})
    assert_refused_with(response, "Wrong format of phone number.")


def test_a_duplicate_phone_number_in_the_same_campaign_is_refused(sandbox):
    post_record(sandbox, "00001", {"phone_number": "221234567"})
    response = post_record(sandbox, "00001", {"phone_number": "221234567"})
    assert_refused_with(response, "Phone number already exists in the campaign.")
    assert len(sandbox.state.records("00001")) == 1


def test_the_same_phone_number_may_be_in_another_campaign(sandbox):
    post_record(sandbox, "00001", {"phone_number": "221234567"})
    assert post_record(sandbox, "A7K2Q", {"phone_number": "221234567"}).status_code == 200


@pytest.mark.parametrize(("status_id", "accepted"), [(3, True), ("7", True), ("99", False)])
def test_status_ids_compare_as_text_whatever_their_json_type(sandbox, status_id, accepted):
    response = post_record(sandbox, "00001", {"phone_number": "221234567", "status_id": status_id})
    assert (response.status_code == 200) is accepted
    if not accepted:
        assert messages(response) == ["Status 99 does not exist in the campaign."]


@pytest.mark.parametrize(
    ("dictionary_status_id", "accepted"), [(2, True), ("8", True), (99, False), (None, False)]
)
def test_dictionary_status_must_be_one_of_the_campaign(sandbox, dictionary_status_id, accepted):
    body = {"phone_number": "221234567", "dictionary_status_id": dictionary_status_id}
    response = post_record(sandbox, "00001", body)
    assert (response.status_code == 200) is accepted


def test_my_record_and_call_no_sooner_than_ids_differ_between_campaigns(sandbox):
    for system_status in ("MY_RECORD", "CALL_NO_SOONER_THAN"):
        ids = {str(status_id_of(sandbox, c, system_status)) for c in ("00001", "00002")}
        assert len(ids) == 2


@pytest.mark.parametrize("campaign_id", ["00001", "00002"])
def test_my_record_needs_an_agent_and_a_next_call_date(sandbox, campaign_id):
    status_id = status_id_of(sandbox, campaign_id, "MY_RECORD")
    response = post_record(
        sandbox, campaign_id, {"phone_number": "221234567", "status_id": status_id}
    )
    assert sorted(messages(response)) == [
        "Agent login is required for system status MY_RECORD.",
        "Next call date is required for system status MY_RECORD.",
    ]
    complete = {
        "phone_number": "221234567",
        "status_id": status_id,
        "agent_login": "jkowalski",
        "next_call_date": "2026-05-24 12:24",
    }
    assert post_record(sandbox, campaign_id, complete).status_code == 200


@pytest.mark.parametrize("campaign_id", ["00001", "00002"])
def test_call_no_sooner_than_needs_only_a_next_call_date(sandbox, campaign_id):
    status_id = status_id_of(sandbox, campaign_id, "CALL_NO_SOONER_THAN")
    body = {"phone_number": "221234567", "status_id": status_id}
    response = post_record(sandbox, campaign_id, body)
    assert messages(response) == [
        "Next call date is required for system status CALL_NO_SOONER_THAN."
    ]
    body["next_call_date"] = "2026-05-24 12:24"
    assert post_record(sandbox, campaign_id, body).status_code == 200


def test_another_campaigns_my_record_id_is_no_special_status_here(sandbox):
    my_record_elsewhere = status_id_of(sandbox, "00001", "MY_RECORD")  # "5"
    response = post_record(
        sandbox, "00002", {"phone_number": "221234567", "status_id": my_record_elsewhere}
    )
    assert_refused_with(response, f"Status {my_record_elsewhere} does not exist in the campaign.")
    assert len(messages(response)) == 1


def test_an_unknown_system_status_needs_nothing_extra(sandbox):
    status_id = status_id_of(sandbox, "00001", "CUSTOM_CALLBACK")
    body = {"phone_number": "221234567", "status_id": status_id}
    assert post_record(sandbox, "00001", body).status_code == 200


@pytest.mark.parametrize("login", ["nobody", "m.zielinska", 12])
def test_the_agent_must_belong_to_the_campaign(sandbox, login):
    response = post_record(sandbox, "00001", {"phone_number": "221234567", "agent_login": login})
    assert_refused_with(response, f"Agent {login} is not assigned to the campaign.")


@pytest.mark.parametrize(
    "when",
    [
        "2026-05-24 12:24:00",
        "2026-05-24T12:24",
        "2026-02-30 12:00",
        "2026-05-24 24:00",
        "2026-05-24",
    ],
)
def test_next_call_date_must_be_a_real_minute_without_seconds(sandbox, when):
    response = post_record(sandbox, "00001", {"phone_number": "221234567", "next_call_date": when})
    assert_refused_with(response, "Wrong format of next call date (expected YYYY-MM-DD hh:mm).")


@pytest.mark.parametrize("identifier", ["", "x" * 65, 1234567890])
def test_the_identifier_must_be_text_of_at_most_64_characters(sandbox, identifier):
    body = {"phone_number": "221234567", "identifier": identifier}
    response = post_record(sandbox, "00001", body)
    assert_refused_with(response, "Identifier must be a non-empty text of at most 64 characters.")


def test_a_duplicate_identifier_in_the_same_campaign_is_refused(sandbox):
    post_record(sandbox, "00001", {"phone_number": "221234567", "identifier": "K-1"})
    response = post_record(sandbox, "00001", {"phone_number": "221234568", "identifier": "K-1"})
    assert_refused_with(response, "Identifier already exists in the campaign.")


@pytest.mark.parametrize("order", ["50", 5.5, True])
def test_the_record_order_must_be_an_integer(sandbox, order):
    response = post_record(sandbox, "00001", {"phone_number": "221234567", "order": order})
    assert_refused_with(response, "Order must be an integer.")


def test_unknown_record_keys_are_refused(sandbox):
    response = post_record(sandbox, "00001", {"phone_number": "221234567", "email": "a@b.pl"})
    assert_refused_with(response, "Unknown parameter: email.")


def test_record_fields_are_refused_on_a_crm_campaign(sandbox):
    body = {"phone_number": "221234567", "record_fields": {"imie": "Jan"}}
    response = post_record(sandbox, "00002", body)
    assert_refused_with(response, "Campaign fields can be set only in non-CRM campaigns.")


def test_a_record_field_missing_from_the_campaign_structure_is_refused(sandbox):
    body = {"phone_number": "221234567", "record_fields": {"imie": "Jan", "field1": "x"}}
    response = post_record(sandbox, "00001", body)
    assert messages(response) == ["Field field1 does not exist in the campaign."]


@pytest.mark.parametrize(
    ("record_fields", "message"),
    [
        (["imie"], "Record fields must be an object."),
        ({"ocena": 5}, "Value of field ocena must be text."),
        ({"ocena": None}, "Value of field ocena must be text."),
    ],
)
def test_record_fields_must_map_field_names_to_text(sandbox, record_fields, message):
    body = {"phone_number": "221234567", "record_fields": record_fields}
    assert_refused_with(post_record(sandbox, "A7K2Q", body), message)


@pytest.mark.parametrize("accept_language", ["pl", "pl-PL,pl;q=0.9,en;q=0.8"])
def test_messages_are_polish_when_the_client_asks_for_polish(sandbox, accept_language):
    post_record(sandbox, "00001", {"phone_number": "221234567"})
    body = {"phone_number": "221234567", "record_fields": {"pole": "x"}}
    response = post_record(sandbox, "00001", body, headers={"Accept-Language": accept_language})
    assert sorted(messages(response)) == [
        "Numer telefonu już istnieje w kampanii.",
        "Pole pole nie istnieje w kampanii.",
    ]


def test_messages_are_english_for_other_languages(sandbox):
    response = post_record(sandbox, "00001", {}, headers={"Accept-Language": "de-DE"})
    assert messages(response) == ["Phone number is required."]


def test_post_reports_every_broken_rule_at_once(sandbox):
    body = {
        "phone_number": "12",
        "status_id": "99",
        "agent_login": "nobody",
        "next_call_date": "jutro",
        "record_fields": {"x": "1"},
    }
    response = post_record(sandbox, "00001", body)
    assert len(messages(response)) == 5
    assert sandbox.state.records("00001") == []


# --- faults -------------------------------------------------------------------------

RECORDS_PATH = "/api/outbounds/00001/records"


def test_a_timeout_fault_stores_the_record_but_answers_too_late(sandbox):
    sandbox.state.fail_next("timeout", delay=LATE)
    with pytest.raises(requests.ReadTimeout):
        post_record(sandbox, "00001", {"phone_number": "221234567"}, timeout=0.2)
    assert sandbox.state.wait_timed_out()  # stored, perhaps after the client gave up
    assert [r["phone_number"] for r in sandbox.state.records("00001")] == ["221234567"]


def test_a_timeout_fault_that_is_not_applied_stores_nothing(sandbox):
    sandbox.state.fail_next("timeout", delay=LATE, apply=False)
    with pytest.raises(requests.ReadTimeout):
        post_record(sandbox, "00001", {"phone_number": "221234567"}, timeout=0.2)
    assert sandbox.state.wait_timed_out()
    assert sandbox.state.records("00001") == []
    assert sandbox.state.received[-1]["json"] == {"phone_number": "221234567"}


def test_a_request_after_a_first_timeout_fault_waits_until_its_request_was_applied(
    sandbox, monkeypatch
):
    """What a client asks once it gave up on a lost call finds what that call did, however
    long the sandbox's handler stalled before storing it (here 1.5 s, or until the question
    was answered: at once, were it not made to wait)."""
    asked = threading.Event()
    add_record = sandbox.state.add_record

    def stalled(*args):
        asked.wait(1.5)
        return add_record(*args)

    monkeypatch.setattr(sandbox.state, "add_record", stalled)
    sandbox.state.fail_next("timeout", path=RECORDS_PATH, delay=LATE, first=True)
    with pytest.raises(requests.ReadTimeout):
        post_record(sandbox, "00001", {"phone_number": "221234567"}, timeout=0.2)
    stats = requests.get(f"{sandbox.url}/outbounds/stats", auth=AUTH, timeout=30).json()
    asked.set()
    assert {c["id"]: c["records_count"] for c in stats}["00001"] == 1


def test_a_fault_given_a_method_lets_the_other_methods_pass(sandbox):
    sandbox.state.fail_next("http_503", path=RECORDS_PATH, method="post")
    assert requests.get(f"{sandbox.url}/outbounds/00001/records", auth=AUTH).status_code == 200
    assert post_record(sandbox, "00001", {"phone_number": "221234567"}).status_code == 503


def test_a_patient_client_gets_the_answer_after_a_timeout_fault(sandbox):
    sandbox.state.fail_next("timeout", delay=0.3)
    response = post_record(sandbox, "00001", {"phone_number": "221234567"}, timeout=5)
    assert response.json() == {"record_id": "231"}


def test_a_reset_ends_the_wait_of_a_timeout_fault(sandbox):
    """A test's late answers do not outlive it: the next test's reset lets them go."""
    answered = []
    call = threading.Thread(target=lambda: answered.append(
        post_record(sandbox, "00001", {"phone_number": "221234567"}, timeout=60)))
    sandbox.state.fail_next("timeout", delay=600)
    call.start()
    assert sandbox.state.wait_timed_out()
    sandbox.state.reset()
    call.join(timeout=60)
    assert [response.json() for response in answered] == [{"record_id": "231"}]


def test_a_reset_fault_drops_the_connection_and_stores_nothing(sandbox):
    sandbox.state.fail_next("reset")
    with pytest.raises(requests.ConnectionError):
        post_record(sandbox, "00001", {"phone_number": "221234567"})
    assert sandbox.state.records("00001") == []


@pytest.mark.parametrize(
    ("kind", "status", "title"),
    [
        ("http_500", 500, "Internal Server Error"),
        ("http_502", 502, "Bad Gateway"),
        ("http_503", 503, "Service Unavailable"),
    ],
)
def test_a_gateway_fault_answers_an_html_page_and_stores_nothing(sandbox, kind, status, title):
    sandbox.state.fail_next(kind)
    response = post_record(sandbox, "00001", {"phone_number": "221234567"})
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert f"<h1>{status} {title}</h1>" in response.text
    assert sandbox.state.records("00001") == []


def assert_cut_json(response):
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        response.json()


def test_a_broken_json_fault_stores_the_record_but_cuts_the_answer(sandbox):
    sandbox.state.fail_next("broken_json")
    assert_cut_json(post_record(sandbox, "00001", {"phone_number": "221234567"}))
    assert [r["phone_number"] for r in sandbox.state.records("00001")] == ["221234567"]


def test_a_broken_json_fault_on_put_stores_the_change_but_cuts_the_answer(sandbox):
    sandbox.state.fail_next("broken_json")
    assert_cut_json(put_campaign(sandbox, "00001", {"name": "Cut"}))
    assert sandbox.state.campaign("00001")["name"] == "Cut"


def test_a_refuse_fault_answers_400_with_an_error_body_and_stores_nothing(sandbox):
    sandbox.state.fail_next("refuse")
    response = post_record(sandbox, "00001", {"phone_number": "221234567"})
    assert response.status_code == 400
    assert response.json()["errors"] == [{"message": "Sandbox: refused on request.", "code": 999}]
    assert sandbox.state.records("00001") == []


def test_a_fault_with_a_path_waits_for_a_matching_request(sandbox):
    sandbox.state.fail_next("http_503", path=RECORDS_PATH)
    assert requests.get(f"{sandbox.url}/outbounds", auth=AUTH).status_code == 200
    assert post_record(sandbox, "00001", {"phone_number": "221234567"}).status_code == 503
    assert post_record(sandbox, "00001", {"phone_number": "221234567"}).status_code == 200


def test_a_fault_repeats_for_the_requested_number_of_times(sandbox):
    sandbox.state.fail_next("http_502", times=2)
    codes = [requests.get(f"{sandbox.url}/outbounds", auth=AUTH).status_code for _ in range(3)]
    assert codes == [502, 502, 200]


def test_an_unknown_fault_kind_is_refused(sandbox):
    with pytest.raises(ValueError):
        sandbox.state.fail_next("meteor")


def test_latency_delays_every_api_answer(sandbox):
    sandbox.state.latency = 0.2
    started = time.monotonic()
    requests.get(f"{sandbox.url}/outbounds", auth=AUTH)
    assert time.monotonic() - started >= 0.2


# --- received log -------------------------------------------------------------------


def test_the_received_log_records_requests_but_never_the_password(sandbox):
    post_record(sandbox, "00001", {"phone_number": "221234567"}, headers={"Accept-Language": "pl"})
    requests.get(f"{sandbox.url}/outbounds", auth=("sandbox", "guess"))
    logged, rejected = sandbox.state.received
    assert logged["method"] == "POST"
    assert logged["path"] == RECORDS_PATH
    assert logged["json"] == {"phone_number": "221234567"}
    assert json.loads(logged["body"]) == {"phone_number": "221234567"}
    assert logged["accept_language"] == "pl"
    assert logged["content_type"] == "application/json"
    assert (logged["authorized"], rejected["authorized"]) == (True, False)
    text = json.dumps(sandbox.state.received)
    assert "sandbox-password" not in text
    assert "guess" not in text


# --- control endpoints over HTTP ----------------------------------------------------


def control(sandbox, method, name, body=None):
    return requests.request(method, f"{sandbox.base_url}/_sandbox/{name}", json=body)


def test_the_control_endpoints_steer_and_show_the_sandbox(sandbox):
    post_record(sandbox, "00001", {"phone_number": "221234567"})
    records = control(sandbox, "GET", "records/00001").json()
    assert [r["record_id"] for r in records] == ["231"]
    assert control(sandbox, "GET", "received").json()[0]["path"] == RECORDS_PATH

    assert control(sandbox, "POST", "faults", {"kind": "http_502", "path": None}).ok
    assert requests.get(f"{sandbox.url}/outbounds", auth=AUTH).status_code == 502

    assert control(sandbox, "POST", "latency", {"seconds": 0.05}).json() == {"seconds": 0.05}
    assert sandbox.state.latency == 0.05

    assert control(sandbox, "POST", "reset").ok
    assert control(sandbox, "GET", "records/00001").json() == []
    assert control(sandbox, "GET", "received").json() == []
    assert sandbox.state.latency == 0


def test_a_timeout_fault_queued_over_http_uses_its_delay_and_apply(sandbox):
    fault = {"kind": "timeout", "times": 1, "path": RECORDS_PATH, "delay": 60, "apply": False}
    assert control(sandbox, "POST", "faults", fault).ok
    with pytest.raises(requests.ReadTimeout):
        post_record(sandbox, "00001", {"phone_number": "221234567"}, timeout=0.2)
    assert sandbox.state.wait_timed_out()
    assert sandbox.state.records("00001") == []


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("faults", {"kind": "meteor"}),
        ("faults", {"kind": "timeout", "times": 0}),
        ("faults", {"kind": "http_500", "first": True}),  # only a timeout answers late
        ("faults", {"kind": "timeout", "every": 2, "first": True}),
        ("faults", {"kind": "timeout", "first": "yes"}),
        ("faults", {"kind": "timeout", "method": 1}),
        ("faults", {}),
        ("latency", {"seconds": -1}),
        ("latency", {}),
    ],
)
def test_the_control_endpoints_refuse_bad_input_with_400(sandbox, name, body):
    response = control(sandbox, "POST", name, body)
    assert response.status_code == 400
    assert "error" in response.json()


def test_control_records_of_an_unknown_campaign_are_404(sandbox):
    assert control(sandbox, "GET", "records/99999").status_code == 404


def test_control_requests_are_not_logged_as_api_requests(sandbox):
    control(sandbox, "POST", "reset")
    control(sandbox, "GET", "received")
    assert sandbox.state.received == []
