"""Settings start the portal only when safe, with sane defaults, and `.env.example` works.

Each case starts Django in a process of its own from a fresh copy of the project (no `.env`,
no inherited environment), so a developer's own `.env` or shell cannot change the answer. The
process is forked from a server that imported Django and the libraries once
(tests/fork_server.py); gunicorn runs in a subprocess, as the image runs it.
(That `.env.example` documents every variable is tested in tests/production/.)
"""

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fork_server import ForkServer

PROJECT = Path(__file__).resolve().parent.parent
REAL_THULIUM = {
    "THULIUM_API_URL": "https://acme.thulium.com/api",
    "THULIUM_API_USER": "portal",
    "THULIUM_API_PASSWORD": "a-secret-api-password",
}
URL_UNREADABLE = ("its port is not a number, or its password holds a / # ? or @ not written "
                  "%2F, %23, %3F or %40.")
KEY = {"SECRET_KEY": "a-production-key-for-the-test", "AUDIT_PII_KEY": "an-audit-key-for-the-test"}
DATABASE_URL_REFUSED = ("DATABASE_URL is not a PostgreSQL or SQLite URL (postgres://... or "
                        "sqlite:///...).")
# Each case's process: Python started afresh, as cheaply as a fork (tests/fork_server.py).
PYTHON = ForkServer({"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"})
SHOW_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "debug": settings.DEBUG,
    "sandbox": settings.THULIUM_SANDBOX,
    "thulium_url": settings.THULIUM_API_URL,
    "thulium_user": settings.THULIUM_API_USER,
    "database_engine": settings.DATABASES["default"]["ENGINE"],
    "database_name": str(settings.DATABASES["default"]["NAME"]),
    "time_zone": settings.TIME_ZONE,
    "require_2fa_for": settings.REQUIRE_2FA_FOR,
    "retired_keys": settings.AUDIT_PII_RETIRED_KEYS,
    "cache_location": settings.CACHES["default"].get("LOCATION"),
    "audit_verify_hours": settings.AUDIT_VERIFY_HOURS,
    "four_eyes": settings.FOUR_EYES,
    "database_options": settings.DATABASES["default"].get("OPTIONS", {}),
    "log_level": settings.LOGGING["root"]["level"],
}))
"""
# A cache call, as a page makes it, and the timeouts its Redis client was given.
A_CACHE_CALL = """
import json, django
django.setup()
from django.core.cache import cache
from portal.caching import cache_answer
answer = cache_answer(cache.get, "campaign-stats")
connection = cache._cache.get_client().connection_pool.connection_kwargs
print(json.dumps({"answer": answer,
                  "timeouts": [connection.get("socket_connect_timeout"),
                               connection.get("socket_timeout")]}))
"""
# The keys of one number written nationally and with its country code, as the do-not-call
# list and the record form make them.
TWO_SPELLINGS_KEYED = """
import django
django.setup()
from portal.phones import number_key
print(number_key("601 234 567"), number_key("+48 601 234 567"))
"""
# The secrets as the settings read them.
SECRETS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps([settings.THULIUM_API_PASSWORD, settings.SECRET_KEY, settings.AUDIT_PII_KEY,
                  settings.OIDC_RP_CLIENT_SECRET, *settings.AUDIT_PII_RETIRED_KEYS]))
"""


def project_files() -> list[str]:
    """What a clone of the project would hold once committed: tracked and new files, not
    those git ignores (`.env`, databases, caches)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=PROJECT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    # A tracked file deleted but not yet committed is listed and is not there.
    return [name for name in listed.split("\0") if name and (PROJECT / name).is_file()]


def copy_project(root: Path) -> Path:
    """The project as a fresh clone has it: every app, template and setting, no `.env`."""
    for name in project_files():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT / name, root / name)
    assert (root / "manage.py").is_file()
    assert not (root / ".env").exists()
    return root


@pytest.fixture(scope="module")
def fresh_checkout(tmp_path_factory) -> Path:
    yield copy_project(tmp_path_factory.mktemp("checkout"))
    PYTHON.close()


def run_django(checkout: Path, environment: dict, *args: str) -> subprocess.CompletedProcess:
    """Run Python in the checkout with exactly `environment` (plus PATH) set; a variable
    given None is left unset. A module (`-m gunicorn`) runs in a subprocess, anything else
    in a process forked from PYTHON."""
    env = {**PYTHON.environment, "DJANGO_SETTINGS_MODULE": "portal.settings", **environment}
    env = {name: value for name, value in env.items() if value is not None}
    if args[0] == "-m":
        return subprocess.run([sys.executable, *args], cwd=checkout, env=env,
                              capture_output=True, text=True, timeout=120)
    return PYTHON.run(list(args), cwd=checkout, env=env, timeout=120)


def check(checkout, environment):
    return run_django(checkout, environment, "manage.py", "check")


def settings_of(checkout, environment) -> dict:
    result = run_django(checkout, environment, "-c", SHOW_SETTINGS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def refusal(result: subprocess.CompletedProcess) -> str:
    """The one line saying why the portal refused to start: its last, with no traceback."""
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


def gunicorn(checkout, environment) -> subprocess.CompletedProcess:
    """gunicorn as the image's CMD runs it (the image sets no DJANGO_SETTINGS_MODULE), on a
    free port, until it ends."""
    return run_django(checkout, {**environment, "GUNICORN_BIND": "127.0.0.1:0",
                                 "DJANGO_SETTINGS_MODULE": None},
                      "-m", "gunicorn", "--config", "gunicorn.conf.py", "portal.wsgi")


# --- refusing to start --------------------------------------------------------------


@pytest.mark.parametrize("debug", [None, "false"], ids=["debug-unset", "debug-false"])
@pytest.mark.parametrize("key", [None, ""], ids=["key-unset", "key-empty"])
def test_production_refuses_to_start_without_a_secret_key(fresh_checkout, debug, key):
    environment = {name: value for name, value in (("DEBUG", debug), ("SECRET_KEY", key))
                   if value is not None}
    message = refusal(check(fresh_checkout, environment))
    assert message.startswith("SECRET_KEY is not set")


def test_gunicorn_refused_by_the_settings_ends_on_their_line_before_any_worker_boots(
        fresh_checkout):
    """Each worker read the settings: gunicorn printed its traceback, 165 lines with the
    refusal in the middle, and ended on "Reason: Worker failed to boot."."""
    result = gunicorn(fresh_checkout, {"AUDIT_PII_KEY": KEY["AUDIT_PII_KEY"]})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "SECRET_KEY is not set: set it in the environment or .env.")
    assert "Booting worker" not in result.stderr and "Traceback" not in result.stderr


def test_gunicorn_makes_the_metrics_folder_it_is_given_before_the_settings_look_for_it(
        fresh_checkout, tmp_path):
    folder = tmp_path / "metrics"
    result = gunicorn(fresh_checkout, {**KEY, "PROMETHEUS_MULTIPROC_DIR": str(folder),
                                       "FOUR_EYES": "enabled"})  # refused after the folder
    assert refusal(result).startswith("FOUR_EYES must be true or false")
    assert folder.is_dir()


def test_gunicorn_reads_the_env_file_beside_manage_py_as_the_portal_does(tmp_path):
    """gunicorn.conf.py read the environment alone: GUNICORN_BIND=127.0.0.1:8000 in .env
    left gunicorn listening on every interface, and LOG_FORMAT=json wrote its lines plain
    beside the portal's JSON. The environment still wins over .env."""
    checkout = copy_project(tmp_path / "checkout")
    (checkout / ".env").write_text(
        "DEBUG=true\nGUNICORN_BIND=127.0.0.1:8123\nGUNICORN_WORKERS=3\nGUNICORN_THREADS=3\n"
        "LOG_FORMAT=json\n")
    result = run_django(
        checkout, {"GUNICORN_THREADS": "5", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)},
        "-m", "gunicorn", "--config", "gunicorn.conf.py", "--print-config", "portal.wsgi")
    assert result.returncode == 0, result.stderr
    config = {name.strip(): value for name, _, value in
              (line.partition(" = ") for line in result.stdout.splitlines())}
    assert {name: config[name] for name in ("bind", "workers", "threads")} == {
        "bind": "['127.0.0.1:8123']", "workers": "3", "threads": "5"}
    assert "'formatter': 'json'" in config["logconfig_dict"]


@pytest.mark.parametrize("key", [None, ""], ids=["key-unset", "key-empty"])
def test_production_refuses_to_start_without_the_audit_key(fresh_checkout, key):
    environment = {"SECRET_KEY": KEY["SECRET_KEY"]}
    if key is not None:
        environment["AUDIT_PII_KEY"] = key
    assert refusal(check(fresh_checkout, environment)).startswith("AUDIT_PII_KEY is not set")


@pytest.mark.parametrize("missing", ["THULIUM_API_USER", "THULIUM_API_PASSWORD"])
def test_a_real_thulium_url_refuses_to_start_without_its_credentials(fresh_checkout, missing):
    environment = {**KEY, **REAL_THULIUM}
    del environment[missing]
    message = refusal(check(fresh_checkout, environment))
    assert message.startswith(f"{missing} is not set")


def test_an_empty_thulium_password_counts_as_missing(fresh_checkout):
    message = refusal(check(fresh_checkout, {**KEY, **REAL_THULIUM, "THULIUM_API_PASSWORD": ""}))
    assert message.startswith("THULIUM_API_PASSWORD is not set")


@pytest.mark.parametrize("url", ["http://acme.thulium.com/api", "acme.thulium.com/api"])
def test_a_thulium_url_without_https_is_refused(fresh_checkout, url):
    result = check(fresh_checkout, {**KEY, **REAL_THULIUM, "THULIUM_API_URL": url})
    assert refusal(result) == "THULIUM_API_URL must start with https://."
    assert REAL_THULIUM["THULIUM_API_PASSWORD"] not in result.stderr + result.stdout


@pytest.mark.parametrize("url", ["https:/acme.thulium.com/api", "https:///api",
                                 "https://portal@/api"])
def test_a_thulium_url_naming_no_host_is_refused(fresh_checkout, url):
    """It passed `check`, and every call to Thulium then failed as "unavailable"."""
    result = check(fresh_checkout, {**KEY, **REAL_THULIUM, "THULIUM_API_URL": url})
    assert refusal(result) == "THULIUM_API_URL names no host (https://acme.thulium.com/api)."


def test_a_metrics_folder_that_is_not_there_is_refused_at_start(fresh_checkout, tmp_path):
    # Not at the first count, which comes right after a Thulium call has been made.
    missing = tmp_path / "no-such-folder"
    result = check(fresh_checkout, {**KEY, "PROMETHEUS_MULTIPROC_DIR": str(missing)})
    assert refusal(result) == f"PROMETHEUS_MULTIPROC_DIR is not a folder: {missing}"


# --- starting -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value", "said"), [
    ("IMPORT_CONCURRENCY", "0", "IMPORT_CONCURRENCY must be at least 1, not 0."),
    ("THULIUM_TIMEOUT", "0", "THULIUM_TIMEOUT must be more than 0, not 0.0."),
    ("SCHEDULE_POLL_SECONDS", "-1", "SCHEDULE_POLL_SECONDS must be more than 0, not -1.0."),
    ("IMPORT_HEARTBEAT_SECONDS", "0", "IMPORT_HEARTBEAT_SECONDS must be more than 0, not 0.0."),
    ("OIDC_TIMEOUT", "0", "OIDC_TIMEOUT must be more than 0, not 0.0."),
    ("AUDIT_EXPORT_DATABASE_WORKERS", "-1",
     "AUDIT_EXPORT_DATABASE_WORKERS must be at least 0, not -1."),
    ("SESSION_IDLE_SECONDS", "0", "SESSION_IDLE_SECONDS must be at least 60, not 0."),
    ("LOGIN_FAILURE_LIMIT", "0", "LOGIN_FAILURE_LIMIT must be at least 1, not 0."),
    ("SCHEDULE_GRACE_MINUTES", "-5", "SCHEDULE_GRACE_MINUTES must be at least 0, not -5."),
    ("THULIUM_TIMEOUT", "abc", "THULIUM_TIMEOUT must be a number."),
    ("IMPORT_BATCH_SIZE", "1e3", "IMPORT_BATCH_SIZE must be a number."),
    # django-environ's float parser kept the digits of these (5 and 13.0).
    ("AUDIT_VERIFY_HOURS", "5m", "AUDIT_VERIFY_HOURS must be a number."),
    ("THULIUM_TIMEOUT", "1e3x", "THULIUM_TIMEOUT must be a number."),
    ("AUDIT_VERIFY_HOURS", "nan", "AUDIT_VERIFY_HOURS must be a number."),
    ("WORKER_METRICS_PORT", "70000", "WORKER_METRICS_PORT must be at most 65535, not 70000."),
    # Not numbers, but refused with a traceback that named no setting, or not at all.
    ("DATABASE_URL", "notaurl", DATABASE_URL_REFUSED),
    # Taken for engines of those names, refused by Django in a traceback naming no variable.
    ("DATABASE_URL", "postgress://portal@db.example.com/portal", DATABASE_URL_REFUSED),
    ("DATABASE_URL", "mysqlx://portal@db.example.com/portal", DATABASE_URL_REFUSED),
    # Django's own backend, whose driver the portal does not have, nor its triggers.
    ("DATABASE_URL", "mysql://portal@db.example.com/portal", DATABASE_URL_REFUSED),
    ("DATABASE_URL", "postgres://portal@127.0.0.1:5432",
     "DATABASE_URL names no database (postgres://host/name)."),
    ("EMAIL_URL", "smtp+tls://u:p@mail.example.com:notaport",
     "EMAIL_URL is not a mail server URL: " + URL_UNREADABLE),
    # Read as STARTTLS on port 465, where every send timed out.
    ("EMAIL_URL", "smtps://u:p@mail.example.com:465",
     "EMAIL_URL may not start with smtps://, which means STARTTLS to the portal and TLS from "
     "the first byte to most mail tools: write smtp+ssl:// for TLS from the first byte "
     "(port 465) or smtp+tls:// for STARTTLS (port 587)."),
])
def test_a_setting_out_of_range_is_refused_at_start_naming_it(fresh_checkout, name, value,
                                                              said):
    """Accepted, IMPORT_CONCURRENCY=0 left every import running for ever; a timeout of 0
    failed each call to Thulium, later, with a traceback naming no setting."""
    assert refusal(check(fresh_checkout, {**KEY, name: value})) == said


@pytest.mark.parametrize("name", [
    "SECURE_HSTS_SECONDS", "CONN_MAX_AGE", "THULIUM_SANDBOX_PORT",
    "THULIUM_CHOICES_CACHE_SECONDS", "CAMPAIGN_STATS_CACHE_SECONDS",
    "IMPORT_CHECK_INLINE_BYTES", "IMPORT_KEEP_DAYS", "DONOTCALL_KEEP_DAYS",
    "SCHEDULE_GRACE_MINUTES",
    "SESSION_IDLE_SECONDS", "LOGIN_FAILURE_LIMIT", "LOGIN_LOCKOUT_MINUTES",
    "LOGIN_LOG_KEEP_DAYS", "TRUSTED_PROXY_COUNT", "NOTICES_KEEP_DAYS", "AUDIT_VERIFY_HOURS",
])
def test_every_number_setting_that_is_no_number_is_refused_naming_it(fresh_checkout, name):
    """These ended in a ValueError traceback naming no setting ("invalid literal for int()
    with base 10: 'ten'"), as README says none does."""
    assert refusal(check(fresh_checkout, {**KEY, name: "ten"})) == f"{name} must be a number."


@pytest.mark.parametrize(("name", "value"), [
    ("FOUR_EYES", "enabled"), ("FOUR_EYES", "ture"), ("BEHIND_PROXY", "ture"),
    ("SESSION_COOKIE_SECURE", "flase"), ("DEBUG", "debug"), ("LOCAL_LOGIN", ""),
])
def test_a_yes_no_setting_that_is_neither_is_refused_naming_it(fresh_checkout, name, value):
    """Taken for false: FOUR_EYES=enabled left risky changes unapproved, BEHIND_PROXY=ture
    sent every page round a redirect loop behind the proxy."""
    assert refusal(check(fresh_checkout, {**KEY, name: value})) == (
        f"{name} must be true or false (or 1/0, yes/no, on/off), not {value!r}.")


@pytest.mark.parametrize("value", ["debug", " Warning", "error"])
def test_a_log_level_may_be_written_in_any_case(fresh_checkout, value):
    """logging knows upper-case names only: "debug" ended the start in "ValueError: Unable
    to configure root logger", naming no variable."""
    assert settings_of(fresh_checkout, {**KEY, "LOG_LEVEL": value})["log_level"] == (
        value.strip().upper())


@pytest.mark.parametrize("value", ["verbose", ""])
def test_a_log_level_logging_does_not_know_is_refused_at_start_naming_it(fresh_checkout,
                                                                         value):
    assert refusal(check(fresh_checkout, {**KEY, "LOG_LEVEL": value})) == (
        f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {value!r}.")


@pytest.mark.parametrize("value", ["cache", "django.contrib.sessions.backends.memcache",
                                   "django.contrib.sessions.backends.cache.x", ".cache", ""])
def test_a_session_engine_that_is_no_module_is_refused_at_start_naming_it(fresh_checkout,
                                                                          value):
    """SESSION_ENGINE=cache passed `check`, and every gunicorn worker then failed to boot
    with "ModuleNotFoundError: No module named 'cache'"."""
    assert refusal(check(fresh_checkout, {**KEY, "SESSION_ENGINE": value})) == (
        "SESSION_ENGINE must name a module such as django.contrib.sessions.backends.cache, "
        f"not {value!r}.")


def test_a_session_engine_django_has_is_taken(fresh_checkout, static_root):
    engine = {"SESSION_ENGINE": "django.contrib.sessions.backends.cache",
              "STATIC_ROOT": str(static_root)}
    result = check(fresh_checkout, {**KEY, **engine})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("value", "read"), [
    ("true", True), ("Yes", True), ("ON", True), ("1", True),
    ("False", False), ("no", False), ("off", False), (" 0 ", False),
])
def test_a_yes_no_setting_may_be_written_in_any_of_its_usual_words(fresh_checkout, value,
                                                                   read):
    assert settings_of(fresh_checkout, {**KEY, "FOUR_EYES": value})["four_eyes"] is read


def test_a_float_setting_is_read_as_python_reads_a_number(fresh_checkout):
    # django-environ's parser read "1e3" as 13.0.
    assert settings_of(fresh_checkout, {**KEY, "AUDIT_VERIFY_HOURS": "1e3"})[
        "audit_verify_hours"] == 1000.0


@pytest.mark.parametrize(("name", "url", "said"), [
    ("EMAIL_URL", "smtp+tls://portal:Zq8s3cr/et-Pass@mail.example.com:587",
     "EMAIL_URL is not a mail server URL: "),
    ("DATABASE_URL", "postgres://portal:Zq8s3cr?et-Pass@db.example.com:5432/portal",
     "DATABASE_URL is not a database URL: "),
    # Read as a socket's path, which the cache then never answered on.
    ("CACHE_URL", "redis://:Zq8s3cr/et-Pass@redis:6379/0", "CACHE_URL is not a cache URL: "),
    ("CACHE_URL", "redis://:Zq8s3cr#et-Pass@redis:6379/0", "CACHE_URL is not a cache URL: "),
])
def test_a_password_with_a_character_left_unescaped_is_refused_without_showing_it(
        fresh_checkout, name, url, said):
    """The parser took the password's start for the port and the refusal quoted it (the
    database's in a raw traceback): the logs of a failed start held part of it."""
    result = check(fresh_checkout, {**KEY, name: url})
    assert refusal(result) == said + URL_UNREADABLE
    assert "Zq8s3cr" not in result.stderr + result.stdout


@pytest.mark.parametrize(("name", "url", "said"), [
    ("DATABASE_URL", "postgres://portal:20714/Zq8s3cr@db.example.com:5432/portal",
     "DATABASE_URL is not a database URL: "),
    ("DATABASE_URL", "postgres://portal:20714?Zq8s3cr@db.example.com/portal",
     "DATABASE_URL is not a database URL: "),
    ("EMAIL_URL", "smtp+tls://portal:20714/Zq8s3cr@mail.example.com:587",
     "EMAIL_URL is not a mail server URL: "),
    ("CACHE_URL", "redis://portal:20714#Zq8s3cr@redis:6379/0",
     "CACHE_URL is not a cache URL: "),
])
def test_a_password_of_digits_then_a_character_left_unescaped_is_refused_without_showing_it(
        fresh_checkout, name, url, said):
    """The digits passed for a port, what followed for the path: postgres://u:123/abc@db/x
    started, as host u, port 123, and its first connection's error named them."""
    result = check(fresh_checkout, {**KEY, name: url})
    assert refusal(result) == said + URL_UNREADABLE
    assert "20714" not in result.stderr + result.stdout
    assert "Zq8s3cr" not in result.stderr + result.stdout


def test_an_sqlite_file_s_path_may_hold_an_at_sign(fresh_checkout):
    url = {"DATABASE_URL": "sqlite:////srv/portal@acme/db.sqlite3"}
    assert settings_of(fresh_checkout, {**KEY, **url})["database_name"] == (
        "/srv/portal@acme/db.sqlite3")


def test_an_at_sign_in_a_query_s_value_is_no_password_left_unescaped(fresh_checkout):
    url = {"DATABASE_URL": "postgres://db.example.com/portal?application_name=ops@prod"}
    assert settings_of(fresh_checkout, {**KEY, **url})["database_name"] == "portal"


def test_a_redis_on_a_unix_socket_is_a_cache_url(fresh_checkout):
    url = {"CACHE_URL": "redis:///run/redis/redis.sock"}
    assert settings_of(fresh_checkout, {**KEY, **url})["cache_location"] == (
        "unix:///run/redis/redis.sock")


def test_a_command_with_the_database_away_says_so_in_one_line(fresh_checkout, static_root):
    """verify_audit, forget_number, run_worker... each ended with a raw traceback."""
    result = run_django(fresh_checkout, {
        **KEY, "DATABASE_URL": "postgres://portal@127.0.0.1:1/portal",
        "STATIC_ROOT": str(static_root)}, "manage.py", "verify_audit")
    assert result.returncode == 1
    assert "\nThe database does not answer: connection failed: connection to server at" in (
        result.stderr)
    assert "Check DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


def test_debug_mode_starts_without_a_secret_key(fresh_checkout):
    result = check(fresh_checkout, {"DEBUG": "true"})
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_starts_with_a_key_and_a_real_thulium(fresh_checkout, static_root):
    result = check(fresh_checkout, {**KEY, **REAL_THULIUM, "STATIC_ROOT": str(static_root)})
    assert result.returncode == 0, result.stderr
    seen = settings_of(fresh_checkout, {**KEY, **REAL_THULIUM})
    assert (seen["debug"], seen["sandbox"]) == (False, False)
    assert seen["thulium_url"] == "https://acme.thulium.com/api"
    assert seen["thulium_user"] == "portal"


def test_a_static_root_collectstatic_never_filled_stops_the_start_naming_it(fresh_checkout,
                                                                             tmp_path):
    """Set as .env.example showed, it reached the image's containers, whose files were
    collected into /app/staticfiles: every page failed ("Missing staticfiles manifest
    entry") while /healthz answered 200."""
    result = check(fresh_checkout, {**KEY, "STATIC_ROOT": str(tmp_path / "static")})
    assert result.returncode != 0
    assert f"(portal.E002) STATIC_ROOT {tmp_path / 'static'} holds no staticfiles.json" in (
        result.stderr)
    assert "Run manage.py collectstatic" in result.stderr


def test_a_trailing_slash_on_the_thulium_url_is_dropped(fresh_checkout):
    url = {**REAL_THULIUM, "THULIUM_API_URL": "https://acme.thulium.com/api/"}
    assert settings_of(fresh_checkout, {**KEY, **url})["thulium_url"] == (
        "https://acme.thulium.com/api"
    )


def test_a_redis_that_takes_the_connection_and_never_answers_costs_a_call_little(
        fresh_checkout):
    """Unlike a Redis that refuses, a hung one held each cache call for redis-py's 5 s, and
    a page making a few of them stalled for as many times that."""
    # The kernel completes each connection to a listening socket; nothing reads or answers.
    with socket.create_server(("127.0.0.1", 0)) as hung:
        result = run_django(fresh_checkout, {
            **KEY, "CACHE_URL": f"redis://127.0.0.1:{hung.getsockname()[1]}/0"},
            "-c", A_CACHE_CALL)
    assert result.returncode == 0, result.stderr
    call = json.loads(result.stdout)
    assert call["answer"] is None
    # Given up after the portal's short timeouts (no wall-clock bound: a loaded machine).
    assert call["timeouts"] == [0.25, 0.25]
    assert "the cache does not answer: TimeoutError" in result.stderr


# --- defaults -----------------------------------------------------------------------


def test_without_a_thulium_url_the_portal_uses_the_sandbox(fresh_checkout):
    seen = settings_of(fresh_checkout, KEY)
    assert seen["sandbox"] is True
    assert seen["thulium_url"] == "http://127.0.0.1:8100/api"
    assert seen["thulium_user"] == "sandbox"


def test_the_sandbox_port_can_be_chosen(fresh_checkout):
    seen = settings_of(fresh_checkout, {**KEY, "THULIUM_SANDBOX_PORT": "8234"})
    assert seen["thulium_url"] == "http://127.0.0.1:8234/api"


def test_the_default_database_is_the_sqlite_file_beside_manage_py(fresh_checkout):
    seen = settings_of(fresh_checkout, KEY)
    assert seen["database_engine"] == "django.db.backends.sqlite3"
    assert seen["database_name"] == str(fresh_checkout / "db.sqlite3")


def test_a_database_url_chooses_the_database(fresh_checkout):
    url = {"DATABASE_URL": "postgres://portal:secret@127.0.0.1:5432/portal"}
    seen = settings_of(fresh_checkout, {**KEY, **url})
    assert seen["database_engine"] == "django.db.backends.postgresql"
    assert seen["database_name"] == "portal"


def test_a_postgresql_connection_gives_up_on_a_database_gone_silent(fresh_checkout):
    """connect_timeout alone bounded only opening a connection: a kept one whose database
    stopped answering (a failover, a dropped network) held its request for the kernel's
    15 minutes or more. The URL's query still chooses."""
    url = "postgres://portal:secret@127.0.0.1:5432/portal"
    assert settings_of(fresh_checkout, {**KEY, "DATABASE_URL": url})["database_options"] == {
        "connect_timeout": 5, "keepalives": 1, "keepalives_idle": 4, "keepalives_interval": 2,
        "keepalives_count": 3, "tcp_user_timeout": 10_000}
    chosen = settings_of(fresh_checkout, {
        **KEY, "DATABASE_URL": url + "?keepalives_idle=30&tcp_user_timeout=60000"})
    assert chosen["database_options"]["keepalives_idle"] == 30
    assert chosen["database_options"]["tcp_user_timeout"] == 60_000


def test_dates_are_in_warsaw_time_unless_told_otherwise(fresh_checkout):
    assert settings_of(fresh_checkout, KEY)["time_zone"] == "Europe/Warsaw"
    assert settings_of(fresh_checkout, {**KEY, "TIME_ZONE": "UTC"})["time_zone"] == "UTC"


@pytest.mark.parametrize("value", ["", "Europe/Warsow", "../etc/passwd", " Europe/Warsaw"])
def test_a_time_zone_zoneinfo_cannot_load_is_refused_at_start_naming_it(fresh_checkout,
                                                                          value):
    """Empty (a blank TIME_ZONE= in .env), the portal started and every page showing a date
    answered 500; misspelt, the start ended in Django's traceback naming no variable."""
    assert refusal(check(fresh_checkout, {**KEY, "TIME_ZONE": value})) == (
        f"TIME_ZONE must be a time zone such as Europe/Warsaw, not {value!r}.")


@pytest.mark.parametrize("value", ["pl", "PL ", " Pl"])
def test_a_phone_region_in_any_case_keys_a_national_number_as_its_international_spelling(
        fresh_checkout, value):
    """phonenumbers knows "PL" only: "pl" keyed 601 234 567 apart from +48 601 234 567, and
    the do-not-call list let the national spelling through to Thulium."""
    result = run_django(fresh_checkout, {**KEY, "PHONE_DEFAULT_REGION": value},
                        "-c", TWO_SPELLINGS_KEYED)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["48601234567", "48601234567"]


@pytest.mark.parametrize("value", ["POLAND", "", "XX", "001"])
def test_a_phone_region_phonenumbers_does_not_know_is_refused_at_start_naming_it(
        fresh_checkout, value):
    assert refusal(check(fresh_checkout, {**KEY, "PHONE_DEFAULT_REGION": value})) == (
        f"PHONE_DEFAULT_REGION must be a region code such as PL, not {value!r}.")


@pytest.mark.parametrize("value", ["$Ecret-Pa55", "$HOME", "${HOME}"])
def test_a_secret_starting_with_a_dollar_is_read_as_written(fresh_checkout, value):
    """django-environ took it for another variable's name: THULIUM_API_PASSWORD=$Ecret-Pa55
    refused the start as "not set", and =$HOME sent HOME's value to Thulium."""
    environment = {**REAL_THULIUM, "HOME": "/home/portal", "OIDC_ISSUER": "https://sso.example.com",
                   "OIDC_CLIENT_ID": "portal"}
    for name in ("THULIUM_API_PASSWORD", "SECRET_KEY", "AUDIT_PII_KEY", "OIDC_CLIENT_SECRET",
                 "AUDIT_PII_RETIRED_KEYS"):
        environment[name] = value
    result = run_django(fresh_checkout, environment, "-c", SECRETS)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [value] * 5


def test_lists_may_be_written_with_spaces_after_their_commas(fresh_checkout):
    seen = settings_of(fresh_checkout, {**KEY, "REQUIRE_2FA_FOR": "staff, Auditors ,",
                                        "AUDIT_PII_RETIRED_KEYS": "old-key-1, old-key-2"})
    assert seen["require_2fa_for"] == ["staff", "Auditors"]
    assert seen["retired_keys"] == ["old-key-1", "old-key-2"]


# --- documentation ------------------------------------------------------------------


def test_no_env_file_is_no_news_in_the_log(fresh_checkout):
    """The image holds no .env: with LOG_FORMAT=json gunicorn logs INFO from the start, and
    each process start logged ".env not found - if you're not configuring..."."""
    result = run_django(fresh_checkout, KEY, "-c", "import logging, django; "
                        "logging.basicConfig(level=logging.INFO); django.setup()")
    assert result.returncode == 0, result.stderr
    assert "not found" not in result.stderr


def test_env_example_copied_to_env_starts_once_a_key_is_filled_in(tmp_path, static_root):
    checkout = copy_project(tmp_path)
    dot_env = (PROJECT / ".env.example").read_text().replace(
        "\nSECRET_KEY=\n", "\nSECRET_KEY=filled-in-by-the-operator\n"
    ).replace("\nAUDIT_PII_KEY=\n", "\nAUDIT_PII_KEY=filled-in-too\n")
    (checkout / ".env").write_text(dot_env)
    result = check(checkout, {"STATIC_ROOT": str(static_root)})
    assert result.returncode == 0, result.stderr
    seen = settings_of(checkout, {})
    assert (seen["debug"], seen["sandbox"], seen["time_zone"]) == (False, True, "Europe/Warsaw")
