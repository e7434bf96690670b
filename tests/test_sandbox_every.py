"""The sandbox's `every` fault: each n-th matching request fails, until reset."""

import pytest
import requests

BATCH_PATH = "/api/batch/outbounds/00001/records"


def control(thulium, name, body):
    return requests.post(f"{thulium.base_url}/_sandbox/{name}", json=body)


def post_batch(thulium, number):
    return requests.post(f"{thulium.url}/batch/outbounds/00001/records",
                         json={"records": [{"phone_number": number}]},
                         auth=(thulium.user, thulium.password))


def test_every_third_batch_call_gets_the_fault_and_the_others_pass(thulium):
    assert control(thulium, "faults", {"kind": "http_503", "every": 3,
                                       "path": "/api/batch/"}).status_code == 200
    statuses = [post_batch(thulium, f"60100000{n}").status_code for n in range(7)]
    assert statuses == [200, 200, 503, 200, 200, 503, 200]
    assert thulium.state.faults_queued == 0  # never used up, so not counted as queued


def taken(thulium, *paths):
    """The kind of fault each request of `paths` gets, in turn; None for none."""
    return [getattr(thulium.state.take_fault(path), "kind", None) for path in paths]


def test_requests_of_other_paths_are_not_counted(thulium):
    thulium.state.fail_next("http_503", path=BATCH_PATH, every=2)
    assert taken(thulium, BATCH_PATH, "/api/outbounds", "/api/outbounds", BATCH_PATH) == [
        None, None, None, "http_503"]


def test_the_requests_it_lets_pass_meet_the_faults_queued_after_it(thulium):
    thulium.state.fail_next("http_503", every=2)
    thulium.state.fail_next("refuse")
    assert taken(thulium, BATCH_PATH, BATCH_PATH, BATCH_PATH, BATCH_PATH) == [
        "refuse", "http_503", None, "http_503"]


def test_a_reset_ends_it(thulium):
    thulium.state.fail_next("http_503", every=1)
    assert taken(thulium, BATCH_PATH) == ["http_503"]
    thulium.state.reset()
    assert taken(thulium, BATCH_PATH) == [None]


@pytest.mark.parametrize("body", [
    {"kind": "timeout", "every": 0},
    {"kind": "timeout", "every": "10"},
    {"kind": "timeout", "every": 10, "times": 5},
])
def test_a_bad_every_is_refused_with_400(thulium, body):
    assert control(thulium, "faults", body).status_code == 400
