"""The gateway's batch addition, records list and stats, over real HTTP.

Calls go to the session's sandbox; answers it never gives come from `CraftedThulium`.
"""

import json
import re
from datetime import UTC, date, datetime

import pytest

from portal.thulium import (
    RecordResult,
    ThuliumMethodRefused,
    ThuliumRefused,
    ThuliumUnavailable,
    get_client,
)
from portal.thulium.batch import ADDED, ALREADY_EXISTS, FAILED, UNKNOWN
from tests.conftest import LATE, api_calls
from tests.test_gateway import ECHOED, ECHOED_SECRETS, CraftedThulium, client_for

BATCH_PATH = "/api/batch/outbounds/00001/records"
MIXED = [
    {"phone_number": "221234567"},  # already added by a single POST
    {"phone_number": "601234567", "identifier": "K-1"},
    {"phone_number": "12"},
    {"phone_number": "601234568", "identifier": "K-1"},
]
SOME = [{"phone_number": "601000001"}, {"phone_number": "601000002"}]


@pytest.fixture(scope="module")
def crafted():
    """One crafted server for the file (each stops in half a second): `answer(body)` sets
    what it sends next and returns a client pointed at it."""
    server = CraftedThulium(respond=lambda method, path, sent: (200, server.body))

    def answer(body):
        server.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        return client_for(server.url)

    with server:
        yield answer


def statuses(results):
    return [(r.status, r.record_id) for r in results]


# --- add_records --------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["keyed", "list"])
def test_a_mixed_batch_gives_one_result_per_record_in_the_order_sent(thulium, shape):
    thulium.state.batch_shape = shape
    client = get_client()
    client.add_record("00001", {"phone_number": "221234567"})
    results = client.add_records("00001", MIXED)
    assert statuses(results) == [
        (ALREADY_EXISTS, ""), (ADDED, "232"), (FAILED, ""), (ALREADY_EXISTS, ""),
    ]
    assert results[2].messages == ("Wrong format of phone number.",)
    assert results[1].raw["record_id"] == 232
    assert api_calls(thulium, "POST")[-1]["json"] == {"records": MIXED}


@pytest.mark.parametrize(
    ("shape", "second"), [("keyed", UNKNOWN), ("list", ALREADY_EXISTS)]
)
def test_a_number_sent_twice_is_added_once_and_the_keyed_answer_cannot_tell_the_second(
    thulium, shape, second
):
    thulium.state.batch_shape = shape
    twice = [{"phone_number": "601000001"}, {"phone_number": "601000001"}]
    results = get_client().add_records("00001", twice)
    assert [r.status for r in results] == [ADDED, second]
    assert len(thulium.state.records("00001")) == 1


@pytest.mark.parametrize(
    "answer",
    [
        {"601000001": {"record_id": "5", "status": "ADDED"},
         "601000002": {"status": "QUEUED", "record_id": 6},
         "601000003": {"status": "ADDED"},
         "601000005": {"status": "ADDED", "record_id": 7}},
        [{"phone_number": 601000001, "status": "ADDED", "record_id": 5},
         {"phone_number": "601000002", "status": "added", "record_id": 6},
         {"phone_number": "601000003", "status": "ADDED", "record_id": ""}],
    ],
)
def test_a_missing_item_an_undocumented_status_or_an_added_without_id_is_unknown(
    crafted, answer
):
    sent = [{"phone_number": f"60100000{n}"} for n in range(1, 5)]
    results = crafted(answer).add_records("00001", sent)
    assert statuses(results) == [(ADDED, "5"), (UNKNOWN, ""), (UNKNOWN, ""), (UNKNOWN, "")]
    assert results[3] == RecordResult(UNKNOWN)


def test_failed_items_keep_thuliums_words_in_either_form(crafted):
    answer = {
        "601000001": {"http_status": 400, "status": "FAILED",
                      "errors": [{"message": "Wrong format of phone number.", "code": 1}]},
        "601000002": {"http_status": 400, "status": "FAILED", "message": "Nope."},
    }
    results = crafted(answer).add_records("00001", SOME)
    assert [r.messages for r in results] == [("Wrong format of phone number.",), ("Nope.",)]


def test_failed_items_echoing_the_password_keep_thuliums_words_with_it_redacted(crafted):
    """They are shown on the import's page and kept in each row's audit entry."""
    answer = {
        "601000001": {"status": "FAILED", "errors": [{"message": ECHOED, "code": 1}]},
        "601000002": {"status": "FAILED", "message": ECHOED},
    }
    results = crafted(answer).add_records("00001", SOME)
    for result in results:
        assert result.status == FAILED and "PHP_AUTH_PW=[redacted]" in result.messages[0]
        assert not [text for text in result.messages for secret in ECHOED_SECRETS
                    if secret in text]


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>OK</body></html>",
        b"",
        b'{"601000001": {"status": "ADDE',
        b"null",
        b'"ADDED"',
        b"[1, 2]",
        b'{"601000001": "ADDED"}',
        b'{"request_id": "53678450401cf", "errors": [{"message": "x", "code": 1}]}',
    ],
)
def test_an_answer_of_no_known_shape_means_the_batch_may_have_applied(crafted, body):
    client = crafted(body)
    with pytest.raises(ThuliumUnavailable) as caught:
        client.add_records("00001", SOME)
    assert caught.value.may_have_applied
    assert caught.value.outcome == "unknown"


def test_a_refused_batch_raises_with_thuliums_messages_and_request_id(thulium):
    too_many = [{"phone_number": f"60{n:07}"} for n in range(1001)]
    with pytest.raises(ThuliumRefused) as caught:
        get_client().add_records("00001", too_many)
    assert caught.value.messages == ["At most 1000 records can be added at once."]
    assert re.fullmatch(r"[0-9a-f]{13}", caught.value.request_id)


@pytest.mark.parametrize("status", [401, 403, 404, 405])
def test_a_batch_method_the_api_user_lacks_is_refused_while_single_posts_work(thulium, status):
    thulium.state.refuse("POST", "batch/outbounds/*", status)
    client = get_client()
    with pytest.raises(ThuliumMethodRefused) as caught:
        client.add_records("00001", SOME)
    assert caught.value.status == status
    assert caught.value.messages == ["You have no permission to use this API method."]
    assert client.add_record("00001", SOME[0]).record_id == "231"


# --- faults on the batch path -------------------------------------------------------


def test_a_lost_answer_may_have_applied_and_the_records_list_shows_what_thulium_holds(thulium):
    thulium.state.fail_next("timeout", path=BATCH_PATH, delay=LATE)
    with pytest.raises(ThuliumUnavailable) as caught:
        get_client(timeout=0.2).add_records("00001", SOME)
    assert caught.value.may_have_applied
    assert thulium.state.wait_timed_out()  # stored, perhaps after the client gave up
    count, rows = get_client().list_records("00001", created_from=date(2026, 1, 1))
    assert count == 2
    assert [row["phone_number"] for row in rows] == ["601000001", "601000002"]


def test_a_500_on_the_batch_path_stores_nothing_and_did_not_apply(thulium):
    thulium.state.fail_next("http_500", path=BATCH_PATH)
    with pytest.raises(ThuliumUnavailable) as caught:
        get_client().add_records("00001", SOME)
    assert (caught.value.status, caught.value.may_have_applied) == (500, False)
    assert thulium.state.records("00001") == []


def test_a_broken_batch_answer_may_have_applied(thulium):
    thulium.state.fail_next("broken_json", path=BATCH_PATH)
    with pytest.raises(ThuliumUnavailable) as caught:
        get_client().add_records("00001", SOME)
    assert caught.value.may_have_applied
    assert len(thulium.state.records("00001")) == 2


# --- list_records and campaign_stats ------------------------------------------------


def test_list_records_pages_from_a_day_on_with_ids_as_text(thulium):
    client = get_client()
    thulium.state.set_now(datetime(2026, 3, 1, 22, 59, tzinfo=UTC))  # 23:59 in Warsaw
    client.add_records("00001", [{"phone_number": "601000000"}])
    thulium.state.set_now(datetime(2026, 3, 1, 23, 0, tzinfo=UTC))  # midnight in Warsaw
    client.add_records("00001", [{"phone_number": f"60100000{n}"} for n in range(1, 4)])
    count, rows = client.list_records("00001", created_from=date(2026, 3, 2), offset=1, limit=2)
    assert count == 3
    assert [(row["record_id"], row["phone_number"]) for row in rows] == [
        ("233", "601000002"), ("234", "601000003"),
    ]
    assert api_calls(thulium, "GET")[-1]["path"] == (
        "/api/outbounds/00001/records?create_date_from=2026-03-02&offset=1&limit=2"
    )


def test_list_records_reads_a_count_as_text(crafted):
    client = crafted({"count": "1", "result": [{"record_id": 228, "phone_number": "5555"}]})
    assert client.list_records("00001", created_from=date(2026, 1, 1)) == (
        1, [{"record_id": "228", "phone_number": "5555"}]
    )


@pytest.mark.parametrize(
    "answer", [{"result": []}, {"count": 1, "result": {}}, [], {"count": 1.5, "result": []},
               {"count": "²", "result": []}]
)
def test_list_records_refuses_a_page_of_no_known_shape(crafted, answer):
    client = crafted(answer)
    with pytest.raises(ThuliumUnavailable) as caught:
        client.list_records("00001", created_from=date(2026, 1, 1))
    assert not caught.value.may_have_applied


def test_campaign_stats_list_the_active_campaigns(thulium):
    get_client().add_records("00001", SOME)
    assert get_client().campaign_stats() == [
        {"id": "00001", "records_count": 2, "completion_percent": 0.0},
        {"id": "00002", "records_count": 0, "completion_percent": 0.0},
    ]


def test_campaign_stats_give_a_numeric_id_back_its_five_characters(crafted):
    answer = [{"id": 1, "records_count": 1324, "completion_percent": 14.87},
              {"id": "A7K2Q", "records_count": 0, "completion_percent": 0}]
    stats = crafted(answer).campaign_stats()
    assert [row["id"] for row in stats] == ["00001", "A7K2Q"]
