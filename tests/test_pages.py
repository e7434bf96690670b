"""The portal's pages: who may see them, the admin, the campaign sync, and static files."""

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from io import StringIO
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import Campaign
from imports.models import ImportJob
from portal.request_id import set_current_request_id
from portal.views import server_error
from tests.audit_fixtures import addition, change
from tests.conftest import ADMINISTRATORS, COMPLIANCE, PASSWORD, api_calls, make_user
from tests.import_files import csv_bytes, people, previewed, upload
from tests.test_gateway import CraftedThulium

PROJECT = Path(__file__).resolve().parent.parent
SEEDED = {"00001", "00002", "A7K2Q"}


@pytest.fixture
def history(campaigns, user):
    """One audit row of each kind, so every detail page has something to show."""
    campaign = campaigns["00001"]
    changed = change(actor=user, campaign=campaign, sent={"name": "Nowa"}, http_status=200)
    added = addition(actor=user, campaign=campaign, phone="601234567", outcome="refused",
                     http_status=400, request_id="0123456789abc",
                     messages=["Phone number already exists in the campaign."])
    return changed, added


def portal_urls(change, addition) -> dict[str, str]:
    return {
        "home": reverse("home"),
        "campaign list": reverse("campaigns:list"),
        "campaign": reverse("campaigns:detail", args=["00001"]),
        "campaign form": reverse("campaigns:edit", args=["00001"]),
        "record form": reverse("records:new", args=["00001"]),
        "campaign change": reverse("audit:entry", args=[change.pk]),
        "record addition": reverse("audit:entry", args=[addition.pk]),
        "sync": reverse("campaigns:sync"),
        "reload statuses": reverse("records:refresh_choices", args=["00001"]),
    }


# --- login --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_portal_page_sends_an_anonymous_visitor_to_the_login_page(
    client, history, thulium, method
):
    for name, url in portal_urls(*history).items():
        response = getattr(client, method)(url)
        assert response.status_code == 302, name
        assert response["Location"] == f"{reverse('login')}?next={url}", name
    assert api_calls(thulium) == []  # neither sync nor reload reached Thulium


def test_the_login_page_is_open_to_anonymous_visitors(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


def test_an_anonymous_visitor_can_choose_the_language(client):
    response = client.post(
        reverse("set_language"), {"language": "pl", "next": reverse("login")}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert response.cookies["django_language"].value == "pl"
    # Kept past the browser's session: a restart does not bring English back.
    assert response.cookies["django_language"]["max-age"] == 365 * 24 * 60 * 60
    assert '<html lang="pl">' in client.get(reverse("login")).content.decode()


def test_logging_in_with_the_form_opens_the_campaign_list(client, user, campaigns):
    response = client.post(
        reverse("login"), {"username": "manager", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain == [(reverse("campaigns:list"), 302)]
    html = response.content.decode()
    assert "manager" in html
    assert "Sprzedaż OZE 2026" in html


def test_a_wrong_password_keeps_the_visitor_out(client, user):
    response = client.post(reverse("login"), {"username": "manager", "password": "nope"})
    assert response.status_code == 200
    assert SESSION_KEY not in client.session
    assert "Please enter a correct username and password" in response.content.decode()


def test_login_returns_to_the_page_asked_for(client, user, campaigns):
    wanted = reverse("campaigns:detail", args=["00002"])
    response = client.post(
        f"{reverse('login')}?next={wanted}",
        {"username": "manager", "password": PASSWORD, "next": wanted},
    )
    assert response["Location"] == wanted


def test_a_form_sent_after_the_session_ran_out_leads_back_to_its_page_after_login(
    client, user, campaigns
):
    """The form's own address takes posts only (a GET there answers 405)."""
    listing = reverse("donotcall:list")
    sent = client.post(reverse("donotcall:add"), {"phone_number": "601234567"},
                       HTTP_REFERER=f"http://testserver{listing}?scope=00001")
    assert sent["Location"] == f"{reverse('login')}?next={quote(listing + '?scope=00001')}"
    # Another site's page is never where the login leads.
    foreign = client.post(reverse("donotcall:add"), HTTP_REFERER="https://example.com/x")
    assert foreign["Location"] == f"{reverse('login')}?next={reverse('donotcall:add')}"

    user.user_permissions.add(Permission.objects.get(codename="manage_list"))
    back = client.post(sent["Location"], {"username": "manager", "password": PASSWORD},
                       follow=True)
    assert back.redirect_chain == [(f"{listing}?scope=00001", 302)]
    assert back.status_code == 200


# --- pages and 404s -----------------------------------------------------------------


def test_every_portal_page_opens_for_a_logged_in_manager(logged_in, history):
    for name, url in portal_urls(*history).items():
        if name in ("sync", "reload statuses"):
            continue  # POST only
        response = logged_in.get(url, follow=True)
        assert response.status_code == 200, name


def test_no_page_of_a_logged_in_user_is_stored_by_the_browser(logged_in, client, history,
                                                               campaigns):
    """They show people's numbers and fields: a stored copy outlived an erasure, for the
    next user of the computer to open from its history."""
    upload(logged_in, campaigns["00002"], csv_bytes(people(2)))
    mapping = reverse("imports:mapping", args=[ImportJob.objects.get().pk])
    assert "601000000" in logged_in.get(mapping).content.decode()  # the file's first rows
    for name, url in {**portal_urls(*history), "import mapping": mapping}.items():
        if name in ("sync", "reload statuses"):
            continue  # POST only
        response = logged_in.get(url)
        assert response.status_code in (200, 302), name
        assert "no-store" in response.get("Cache-Control", ""), name
    officer = Client()
    officer.force_login(make_user("officer", COMPLIANCE))
    assert "no-store" in officer.get(reverse("donotcall:list"))["Cache-Control"]


@pytest.mark.parametrize("name", ["campaigns:detail", "campaigns:edit", "records:new"])
def test_an_unknown_campaign_id_is_not_found(logged_in, campaigns, thulium, name):
    assert logged_in.get(reverse(name, args=["ZZZZZ"])).status_code == 404
    assert api_calls(thulium) == []


def error_page(response, status: int) -> str:
    """The portal's own page for an error: its layout, its words, the way on."""
    assert response.status_code == status
    page = response.content.decode()
    assert 'data-testid="error-page"' in page and reverse("campaigns:list") in page
    return page


def test_error_pages_are_the_portal_s_own_in_the_reader_s_language(logged_in, campaigns,
                                                                  django_user_model):
    logged_in.post(reverse("set_language"), {"language": "pl"})

    missing = error_page(logged_in.get(reverse("campaigns:detail", args=["ZZZZZ"])), 404)
    assert '<html lang="pl">' in missing and "Nie znaleziono strony" in missing
    assert reverse("audit:timeline") in missing  # the menu, to go on from
    assert "ZZZZZ" not in missing  # nor the address refused, which may name what is hidden

    forbidden = error_page(logged_in.get(reverse("audit:forget")), 403)
    assert "Twoja rola nie pozwala otworzyć tej strony" in forbidden

    # More fields than Django reads (a thousand campaigns ticked on the list).
    ticked = "&".join(f"campaign=G{n:04d}" for n in range(1001))
    too_many = error_page(logged_in.get(f"{reverse('campaigns:list')}?{ticked}"), 400)
    assert "Nie udało się odczytać" in too_many

    # An address that takes posts only, opened (an old link, a kept address).
    opened = logged_in.get(reverse("campaigns:sync"))
    assert "Na ten adres wysyła się formularz" in error_page(opened, 405)
    assert opened["Allow"] == "POST"


def test_a_form_from_before_the_last_login_is_refused_with_a_page_saying_so(user, campaigns,
                                                                          thulium):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("campaigns:list"))  # the CSRF cookie, as a browser has it
    thulium.state.received_forget()
    stale = client.post(reverse("campaigns:sync"), {"csrfmiddlewaretoken": "x" * 64})
    assert "The form has expired" in error_page(stale, 403)
    assert api_calls(thulium) == []  # nothing was done


def test_an_unexpected_error_s_page_names_the_request_id_and_needs_no_database(db):
    set_current_request_id("4f2a9c0d1e")
    try:
        with CaptureQueriesContext(connection) as queries:
            response = server_error(RequestFactory().get("/campaigns/"))
    finally:
        set_current_request_id("")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert '<code data-testid="request-id">4f2a9c0d1e</code>' in page
    assert len(queries) == 0


def test_reloading_statuses_of_an_unknown_campaign_is_not_found(logged_in, campaigns):
    url = reverse("records:refresh_choices", args=["ZZZZZ"])
    assert logged_in.post(url).status_code == 404


def test_an_unknown_audit_entry_is_not_found(logged_in, history):
    assert logged_in.get(reverse("audit:entry", args=[999999])).status_code == 404


# --- admin --------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", password=PASSWORD))
    return client


def test_the_admin_is_at_slash_admin(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Audit entries" in html


@pytest.mark.parametrize("page", ["/admin/", "/admin/login/?next=/admin/"])
def test_a_user_logged_in_who_is_not_staff_is_told_the_admin_is_not_for_their_role(
        client, user, page):
    """Its login page would log them in as themselves and send them back to it."""
    client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    response = client.get(page)
    assert response.status_code == 403
    assert "Your role does not allow this page" in response.content.decode()
    assert client.get("/campaigns/").status_code == 200  # still logged in


@pytest.mark.parametrize("superuser", [True, False], ids=["superuser", "staff"])
def test_no_administrator_finds_a_page_of_rq_s_queues_in_the_admin(client, db, settings,
                                                                   superuser):
    """django_rq's dashboard let any staff member empty the import queue, unaudited, and
    answered 500 where no Redis listens (compose's web container)."""
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0"}}
    client.force_login(make_user("ops", ADMINISTRATORS, is_staff=True, is_superuser=superuser))
    assert "django_rq" not in client.get("/admin/").content.decode()
    assert client.get("/admin/django_rq/dashboard/").status_code == 404
    assert client.post("/admin/django_rq/dashboard/queues/0/empty/").status_code == 404


def test_an_anonymous_visitor_of_the_admin_is_asked_to_log_in(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize("which", ["campaign change", "record addition"])
def test_the_admin_shows_audit_rows_without_letting_anyone_change_them(
    admin_client, history, which
):
    admin = "audit_entry"
    row = history[0] if which == "campaign change" else history[1]
    listing = admin_client.get(reverse(f"admin:{admin}_changelist"))
    assert listing.status_code == 200
    assert reverse(f"admin:{admin}_change", args=[row.pk]) in listing.content.decode()
    assert "Delete selected" not in listing.content.decode()

    page = admin_client.get(reverse(f"admin:{admin}_change", args=[row.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "manager" in page.content.decode()

    assert admin_client.get(reverse(f"admin:{admin}_add")).status_code == 403
    assert admin_client.post(
        reverse(f"admin:{admin}_change", args=[row.pk]), {"actor_username": "someone"}
    ).status_code == 403
    assert admin_client.post(
        reverse(f"admin:{admin}_delete", args=[row.pk]), {"post": "yes"}
    ).status_code == 403
    row.refresh_from_db()
    assert row.actor_username == "manager"


def test_an_administrator_registers_a_campaign_with_fields_one_per_line(admin_client):
    response = admin_client.post(reverse("admin:campaigns_campaign_add"), {
        "thulium_id": "B2C3D",
        "name": "Kampania spoza listy",
        "kind": "CSV",
        "structure_fields": "imie\r\n  nazwisko  \r\n\r\nimie\r\nmiasto\r\n",
        "settings": "{}",
    })
    assert response.status_code == 302
    campaign = Campaign.objects.get(thulium_id="B2C3D")
    assert campaign.structure_fields == ["imie", "nazwisko", "miasto"]
    page = admin_client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert "imie\nnazwisko\nmiasto</textarea>" in page.content.decode()


@pytest.mark.parametrize("names", ["imie\nna\x00zwisko", "imie\n" + "x" * 101])
def test_the_admin_refuses_a_field_name_with_a_nul_or_too_long_next_to_the_field(
        admin_client, names):
    """A NUL was saved on SQLite and a server error on PostgreSQL; any length passed."""
    response = admin_client.post(reverse("admin:campaigns_campaign_add"), {
        "thulium_id": "B2C3D", "name": "Nowa", "kind": "CSV", "structure_fields": names,
        "settings": "{}"})
    assert response.status_code == 200
    assert "structure_fields" in response.context["adminform"].form.errors
    assert not Campaign.objects.exists()


def test_the_admin_refuses_a_campaign_id_that_is_not_five_characters(admin_client):
    response = admin_client.post(reverse("admin:campaigns_campaign_add"), {
        "thulium_id": "B2C3", "name": "Za krótki", "kind": "CSV", "settings": "{}",
    })
    assert response.status_code == 200
    assert "exactly five letters or digits" in response.content.decode()
    assert not Campaign.objects.exists()


# --- campaign sync ------------------------------------------------------------------

# Items the sandbox cannot produce: Thulium documents no shape for GET outbounds.
ODD_ITEMS = [
    {"id": "00001", "name": "Dobra kampania", "type": "CRM", "fields": []},
    {"id": 12345, "name": "Id jako liczba"},
    {"id": "B0001", "name": "Dziwne dodatki", "type": "PHONE", "fields": [1, 2]},
    {"name": "Bez id"},
    {"id": "", "name": "Puste id"},
    {"id": None, "name": "Id null"},
    {"id": "000001", "name": "Sześć znaków"},
    {"id": "00-01", "name": "Znak spoza"},
    {"id": "00003"},
    {"id": "00004", "name": ""},
    {"id": "00005", "name": 42},
]


def assert_seeded_campaigns(thulium):
    assert set(Campaign.objects.values_list("thulium_id", flat=True)) == SEEDED
    for seed in thulium.state.campaigns():
        campaign = Campaign.objects.get(thulium_id=seed["id"])
        assert (campaign.name, campaign.kind) == (seed["name"], seed["type"])
        assert campaign.structure_fields == seed["fields"]
        assert campaign.settings["parameters"] == seed["parameters"]
        assert campaign.synced_at is not None


def assert_odd_items_handled():
    campaigns = {c.thulium_id: c for c in Campaign.objects.all()}
    assert set(campaigns) == {"00001", "12345", "B0001"}
    assert campaigns["00001"].kind == "CRM"
    assert (campaigns["B0001"].kind, campaigns["B0001"].structure_fields) == ("CSV", [])


def sandbox_bare_list(thulium) -> list:
    """The sandbox's other answer shape for GET outbounds (`?shape=list`)."""
    return requests.get(
        f"{thulium.url}/outbounds?shape=list", auth=(thulium.user, thulium.password), timeout=5
    ).json()


def test_the_sync_button_fills_the_campaigns_from_the_sandbox(logged_in, db, thulium):
    response = logged_in.post(reverse("campaigns:sync"), follow=True)
    assert "3 new, 0 updated, 0 skipped" in response.content.decode()
    assert_seeded_campaigns(thulium)
    again = logged_in.post(reverse("campaigns:sync"), follow=True)
    assert "0 new, 0 updated, 0 skipped" in again.content.decode()  # nothing changed


def test_the_sync_button_accepts_a_bare_list_too(logged_in, db, thulium, settings):
    with CraftedThulium(sandbox_bare_list(thulium)) as crafted:
        settings.THULIUM_API_URL = crafted.url
        response = logged_in.post(reverse("campaigns:sync"), follow=True)
    assert "3 new, 0 updated, 0 skipped" in response.content.decode()
    assert_seeded_campaigns(thulium)


@pytest.mark.parametrize("shape", ["result", "list"])
def test_the_sync_button_skips_items_without_a_usable_id_or_name(logged_in, db, settings, shape):
    body = {"result": ODD_ITEMS} if shape == "result" else ODD_ITEMS
    with CraftedThulium(body) as crafted:
        settings.THULIUM_API_URL = crafted.url
        response = logged_in.post(reverse("campaigns:sync"), follow=True)
    assert "3 new, 0 updated, 8 skipped" in response.content.decode()
    assert_odd_items_handled()


def test_a_failed_sync_says_why_on_the_list(logged_in, db, thulium):
    thulium.state.fail_next("refuse")
    response = logged_in.post(reverse("campaigns:sync"), follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert ("Could not read the campaigns from Thulium, so none was refreshed: Sandbox: "
            "refused on request.") in html
    assert re.search(r"\(Thulium request_id: [0-9a-f]{13}\)", html)
    assert not Campaign.objects.exists()


def test_the_sync_command_prints_its_summary(db, thulium):
    out = StringIO()
    call_command("sync_campaigns", stdout=out)
    assert out.getvalue() == (
        "Campaigns refreshed from Thulium: 3 new, 0 updated, 0 skipped, "
        "0 no longer in Thulium; 0 changed outside the portal.\n")
    assert_seeded_campaigns(thulium)


def test_the_sync_command_accepts_a_bare_list_and_skips_odd_items(db, thulium, settings):
    out = StringIO()
    with CraftedThulium(ODD_ITEMS) as crafted:
        settings.THULIUM_API_URL = crafted.url
        call_command("sync_campaigns", stdout=out)
    assert "3 new, 0 updated, 8 skipped" in out.getvalue()
    assert_odd_items_handled()


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory, migrated_sqlite):
    """A database file of its own for `manage.py` run in a subprocess."""
    path = tmp_path_factory.mktemp("command") / "db.sqlite3"
    shutil.copyfile(migrated_sqlite, path)
    return f"sqlite:///{path}"


def manage_py_env(*, database_url, sandbox_port, static_root) -> dict[str, str]:
    """The environment of manage.py as an operator runs it, in sandbox mode."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
        "SECRET_KEY": "command-test-key", "AUDIT_PII_KEY": "command-test-audit-key",
        "DEBUG": "false", "DATABASE_URL": database_url, "STATIC_ROOT": str(static_root),
        "THULIUM_API_URL": "", "THULIUM_SANDBOX_PORT": str(sandbox_port),
        "THULIUM_TIMEOUT": "5", "CACHE_URL": "locmemcache://command",
    }


def run_manage_py(*args, database_url, sandbox_port, static_root) -> subprocess.CompletedProcess:
    """manage.py as an operator runs it, against the test sandbox (its sandbox mode)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT,
        env=manage_py_env(database_url=database_url, sandbox_port=sandbox_port,
                          static_root=static_root),
        capture_output=True, text=True, timeout=120,
    )


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def test_the_sync_command_exits_zero_and_fills_its_database(migrated_database, thulium,
                                                            static_root):
    port = urlsplit(thulium.url).port
    result = run_manage_py("sync_campaigns", database_url=migrated_database, sandbox_port=port,
                           static_root=static_root)
    assert result.returncode == 0, result.stderr
    assert "Campaigns refreshed from Thulium: 3 new" in result.stdout
    path = migrated_database.removeprefix("sqlite:///")
    with sqlite3.connect(path) as database:
        ids = {row[0] for row in database.execute("SELECT thulium_id FROM campaigns_campaign")}
    assert ids == SEEDED


def test_the_sync_command_exits_non_zero_with_thuliums_message(migrated_database, thulium,
                                                               static_root):
    thulium.state.fail_next("refuse")
    port = urlsplit(thulium.url).port
    result = run_manage_py("sync_campaigns", database_url=migrated_database, sandbox_port=port,
                           static_root=static_root)
    assert result.returncode == 1
    assert re.search(
        r"CommandError: Could not read the campaigns from Thulium: Sandbox: refused on "
        r"request\. \(Thulium request_id: [0-9a-f]{13}\)",
        result.stderr,
    )
    assert "sandbox-password" not in result.stderr + result.stdout



@pytest.mark.parametrize("taken", ["portal", "sandbox"])
def test_make_run_on_a_taken_port_says_which_before_starting_anything(
        taken, migrated_database, thulium, static_root):
    """runserver ends its process with os._exit on a taken port, skipping run_portal's stop of
    the worker it had started: `make run` with 8000 taken said "That port is already in use"
    and left a run_worker running, orphaned. A taken sandbox port ended in a traceback."""
    busy = urlsplit(thulium.url).port
    addrport = f"127.0.0.1:{busy if taken == 'portal' else free_port()}"
    result = run_manage_py("run_portal", "--addrport", addrport, database_url=migrated_database,
                           sandbox_port=busy, static_root=static_root)
    assert result.returncode == 1
    said = {"portal": f"The portal cannot listen on {addrport}: Address already in use.",
            "sandbox": f"The sandbox cannot listen on 127.0.0.1:{busy}: Address already in use."}
    assert result.stderr.strip().splitlines()[-1].startswith(f"CommandError: {said[taken]}")
    assert "Background worker" not in result.stdout


def test_make_run_tells_the_demo_login_and_the_campaigns_and_stops_its_worker_with_it(
        migrated_database, static_root):
    """It printed Python's SyncSummary(created=3, updated=0, ...) where sync_campaigns says
    what it did in words."""
    portal = subprocess.Popen(
        [sys.executable, "manage.py", "run_portal", "--addrport", f"127.0.0.1:{free_port()}"],
        cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**manage_py_env(database_url=migrated_database, sandbox_port=free_port(),
                             static_root=static_root), "PYTHONUNBUFFERED": "1"})
    said = []
    while not (said and said[-1].startswith(("Background worker: process ", "CommandError"))):
        said.append(portal.stdout.readline() or "CommandError: run_portal ended")
    portal.send_signal(signal.SIGTERM)
    assert portal.wait(timeout=30) == 0
    text = "".join(said)
    assert re.search(r"^Demo login \(sandbox only\): user demo  password \S+$", text, re.M)
    # The module's database may hold the campaigns already, from the tests above.
    assert re.search(r"^Campaigns refreshed from Thulium: \d new, \d updated, \d skipped, "
                     r"0 no longer in Thulium; 0 changed outside the portal\.$", text, re.M)
    with pytest.raises(ProcessLookupError):  # stopped and reaped by run_portal
        os.kill(int(said[-1].split()[-1]), 0)

# --- static files -------------------------------------------------------------------

STATIC_LINK = re.compile(r'(?:href|src)="(/static/[^"]+)"')
ANY_URL = re.compile(r"(?:https?:)?//[\w.-]+")


def test_bootstrap_is_served_by_the_portal_itself(logged_in, campaigns, settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", "--noinput", verbosity=0)
    page = logged_in.get(reverse("campaigns:list")).content.decode()
    links = STATIC_LINK.findall(page)
    assert "/static/vendor/bootstrap/bootstrap.min.css" in links
    assert "/static/vendor/bootstrap/bootstrap.bundle.min.js" in links
    # The icon is named, so browsers do not ask for /favicon.ico (a 404 every first visit).
    assert "/static/portal/icon.svg" in links

    fresh = Client()  # a new client loads WhiteNoise, which indexes STATIC_ROOT on start
    for link in links:
        response = fresh.get(link)
        assert response.status_code == 200, link
        served = b"".join(response.streaming_content)
        assert served == (PROJECT / "static" / link.removeprefix("/static/")).read_bytes()


def test_no_page_loads_anything_from_another_host(logged_in, history):
    pages = [Client().get(reverse("login"))]
    for name, url in portal_urls(*history).items():
        if name not in ("sync", "reload statuses"):
            pages.append(logged_in.get(url, follow=True))
    for response in pages:
        html = response.content.decode()
        assert "<link" in html and "<script" in html
        assert ANY_URL.findall(html) == []


def test_the_admin_names_the_columns_of_entries_and_imports_in_polish(user, logged_in,
                                                                      campaigns,
                                                                      django_user_model):
    addition(actor=user, campaign=campaigns["00001"], phone="601234567")
    previewed(logged_in, campaigns["00001"], csv_bytes(people(1)))
    admin = Client()
    admin.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "x"))
    for page in ("/admin/audit/entry/", "/admin/imports/importjob/"):
        html = admin.get(page, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
        assert "Kampania" in html and ">Campaign<" not in html, page
