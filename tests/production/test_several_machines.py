"""More than one machine: gunicorn instances sharing only PostgreSQL, and the cache in the
database or Redis, serve the same users and data, so a load balancer may send any request
to any instance."""

import uuid
from urllib.parse import urlsplit

import pytest

from tests.conftest import api_calls

from .conftest import ADMIN_PASSWORD, create_admin
from .processes import Gunicorn, Visitor, manage, page_forms, production_env

pytestmark = pytest.mark.processes


@pytest.fixture(scope="module", params=["database", "redis"])
def machines(request, postgres_database, static_root, sandbox):
    """Two instances of one portal (one key, one database) and the user both serve.

    The cache, and with Redis the sessions too, live where the parameter says.
    """
    shared = {"CACHE_URL": "dbcache://portal_cache"}
    if request.param == "redis":
        shared = {"CACHE_URL": request.getfixturevalue("redis_url"),
                  "SESSION_ENGINE": "django.contrib.sessions.backends.cache"}
    env = production_env(
        DATABASE_URL=postgres_database, STATIC_ROOT=str(static_root), CONN_MAX_AGE="60",
        THULIUM_SANDBOX_PORT=str(urlsplit(sandbox.url).port),
        CACHE_KEY_PREFIX=f"test-{uuid.uuid4().hex}", **shared,
    )
    manage(env, "createcachetable")
    username = f"manager-{request.param}"
    create_admin(postgres_database, username)
    with Gunicorn(env) as first, Gunicorn(env) as second:
        yield first, second, username


def visitors(machines) -> tuple[Visitor, Visitor]:
    """One person logged in through the first instance, and the same browser session
    (its cookie) reaching the second."""
    first, second, username = machines
    on_first, on_second = Visitor(first.url), Visitor(second.url)
    on_first.log_in(username, ADMIN_PASSWORD)
    on_second.session.cookies.set_cookie(on_first.session_cookie())
    return on_first, on_second


def test_a_login_on_one_instance_is_honoured_by_the_other_until_logout(machines):
    on_first, on_second = visitors(machines)
    page = on_second.get("/campaigns/")
    assert page.status_code == 200
    assert machines[2] in page.text

    assert on_first.submit("/campaigns/", {}, action="/accounts/logout/").status_code == 302
    after_logout = on_second.get("/campaigns/")
    assert after_logout.status_code == 302
    assert after_logout.headers["Location"].startswith("/accounts/login/")


def test_a_campaign_updated_through_one_instance_is_seen_through_the_other(machines, thulium):
    on_first, on_second = visitors(machines)
    on_first.submit("/campaigns/", {}, action="/campaigns/sync/")
    new_name = f"Sprzedaż OZE ({machines[2]})"

    # Predictive dialing is a risky change: it needs a reason (campaigns/risk.py).
    changed = on_first.submit("/campaigns/00001/edit/", {
        "name": new_name, "dialer": "predictive", "reason": "More calls in the season",
    })
    assert changed.status_code == 302, changed.text

    (form,) = [f for f in page_forms(on_second.get("/campaigns/00001/edit/").text)
               if "name" in f["fields"]]
    assert (form["fields"]["name"], form["fields"]["dialer"]) == (new_name, "predictive")
    detail = on_second.get("/campaigns/00001/").text
    assert new_name in detail
    assert "settings changed" in detail


def test_statuses_read_through_one_instance_are_reused_by_the_other(machines, thulium):
    on_first, on_second = visitors(machines)
    on_first.submit("/campaigns/", {}, action="/campaigns/sync/")
    thulium.state.reset()

    assert on_first.get("/campaigns/00002/records/new/").status_code == 200
    assert on_second.get("/campaigns/00002/records/new/").status_code == 200
    assert len(api_calls(thulium)) == 2  # statuses and agents, asked once for both

    reload = on_second.submit("/campaigns/00002/records/new/", {},
                              action="/campaigns/00002/records/refresh-choices/")
    assert reload.status_code == 302
    assert on_first.get("/campaigns/00002/records/new/").status_code == 200
    assert len(api_calls(thulium)) == 4  # the reload through the second served the first
