"""/healthz for load balancers and /healthz/thulium for monitoring: no login, no secrets."""

import logging

import pytest
from django.db import connection

from portal.caching import SESSION_ENGINES_IN_CACHE
from tests.conftest import api_calls

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_a_login_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("engine", SESSION_ENGINES_IN_CACHE)
def test_healthz_answers_503_naming_the_cache_when_it_keeps_the_logins_and_is_down(
        client, cache_down, settings, engine):
    """With sessions in Redis and Redis down no one could log in, and this said "ok"."""
    settings.SESSION_ENGINE = engine
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "cache": "unavailable"}


def test_healthz_says_degraded_but_up_when_the_cache_only_spares_calls_and_is_down(
        client, cache_down, caplog):
    with caplog.at_level(logging.WARNING):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "cache": "unavailable"}
    assert [record.getMessage() for record in caplog.records] == [
        "the cache does not answer: ConnectionError"]


def test_healthz_is_answered_for_any_host_and_never_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["portal.example.com"]
    assert client.get("/campaigns/", HTTP_HOST="portal.example.com").status_code == 301
    assert client.get("/campaigns/", HTTP_HOST="10.0.0.7:8000").status_code == 400

    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200


def test_healthz_logs_a_database_that_does_not_answer_once_as_a_warning(client, caplog,
                                                                        monkeypatch):
    """Each 503 also logged "ERROR django.request Service Unavailable: /healthz": a load
    balancer probing every 5 s through an outage filled the log with ERRORs."""
    monkeypatch.setitem(connection.settings_dict, "NAME", "/no/such/folder/db.sqlite3")
    with caplog.at_level(logging.WARNING):
        assert client.get("/healthz").status_code == 503
    assert [(record.levelname, record.name, record.getMessage()) for record in caplog.records
            ] == [("WARNING", "portal.health",
                   "health: the database does not answer: OperationalError")]


def test_the_thulium_check_says_ok_when_thulium_takes_the_portals_credentials(client, thulium):
    response = client.get("/healthz/thulium")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "thulium": "ok"}
    assert [call["path"] for call in api_calls(thulium)] == ["/api/outbounds"]


def test_the_thulium_check_reads_one_page_of_a_long_campaign_list(client, thulium):
    """An answered page says the credentials work: the other pages are no health of it."""
    thulium.state.add_generated_campaigns(250)
    assert client.get("/healthz/thulium").json() == {"status": "ok", "thulium": "ok"}
    assert [call["path"] for call in api_calls(thulium)] == ["/api/outbounds"]


def test_the_thulium_check_reports_refused_credentials_without_naming_them(
    client, settings, thulium
):
    settings.THULIUM_API_PASSWORD = "a-wrong-password"
    response = client.get("/healthz/thulium")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "thulium": "credentials refused"}
    for secret in ("a-wrong-password", settings.THULIUM_API_USER, thulium.url):
        assert secret not in response.content.decode()


def test_the_thulium_check_reports_a_thulium_answering_with_errors(client, thulium):
    thulium.state.fail_next("http_502")
    response = client.get("/healthz/thulium")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "thulium": "no proper answer"}


def test_the_thulium_check_s_503_is_no_error_of_the_request_log(client, thulium, caplog):
    thulium.state.fail_next("http_502")
    with caplog.at_level(logging.WARNING):
        assert client.get("/healthz/thulium").status_code == 503
        assert client.get("/healthz/thulium").status_code == 503  # the answer kept
    # The failed call's own line (INFO, portal.thulium) says what Thulium answered.
    assert caplog.records == []


def test_monitoring_calling_often_asks_thulium_once_per_period(client, thulium):
    for _ in range(3):
        assert client.get("/healthz/thulium").status_code == 200
    assert len(api_calls(thulium)) == 1


def test_the_thulium_check_answers_as_it_should_with_the_cache_down(client, thulium,
                                                                   cache_down):
    """With Redis down it answered 500, an HTML page, instead of its JSON."""
    response = client.get("/healthz/thulium")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "thulium": "ok"}


def test_other_methods_on_the_health_paths_are_not_health_checks(client):
    assert client.post("/healthz").status_code == 404
