"""Production settings: every variable documented, and Django's deploy checklist clean."""

import re
import subprocess
import sys

import pytest
import yaml
from django.conf import settings

from portal.middleware import UPLOAD_ROOM
from tests.fork_server import ForkServer

from .processes import REPO, documented_variables, production_env

# What compose.yaml gives the portal behind its proxy, as CI's `check --deploy` does.
PRODUCTION = {
    "ALLOWED_HOSTS": "portal.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://portal.example.com",
    "DATABASE_URL": "postgres://portal:secret@db:5432/portal",
    "CACHE_URL": "redis://redis:6379/0",
    "TRUSTED_PROXY_COUNT": "1",
    "EMAIL_URL": "smtp+tls://portal:secret@mail.example.com:587",
    "PORTAL_URL": "https://portal.example.com",
    "THULIUM_API_URL": "https://acme.thulium.com/api",
    "THULIUM_API_USER": "portal",
    "THULIUM_API_PASSWORD": "a-secret-api-password",
}
# Django started afresh for each check, as cheaply as a fork (tests/fork_server.py).
PYTHON = ForkServer(production_env())


@pytest.fixture(scope="module", autouse=True)
def forked_python():
    yield
    PYTHON.close()


def deploy_check(**values: str | None) -> subprocess.CompletedProcess:
    """`check --deploy` under PRODUCTION changed by `values` (None: the variable unset), in a
    process forked from PYTHON."""
    given = {name: value for name, value in {**PRODUCTION, **values}.items()
             if value is not None}
    return PYTHON.run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                      cwd=REPO, env=production_env(**given), timeout=120)


def variables_the_portal_reads() -> set[str]:
    settings = (REPO / "portal" / "settings.py").read_text()
    gunicorn = (REPO / "gunicorn.conf.py").read_text()
    compose = (REPO / "compose.yaml").read_text()
    return (
        set(re.findall(r'env(?:\.\w+|_\w+)?\(\s*"([A-Z][A-Z0-9_]*)"', settings))
        | set(re.findall(r'(?:os\.environ\.get|_whole_number)\(\s*"([A-Z][A-Z0-9_]*)"',
                         gunicorn))
        | set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose))
        | variables_the_commands_read()
    )


def variables_the_commands_read() -> set[str]:
    """What management commands read from os.environ, by name or through a constant of
    their module naming it (portal_db_role's PORTAL_DATABASE_URL was documented nowhere)."""
    read = set()
    for command in REPO.glob("*/management/commands/*.py"):
        text = command.read_text()
        constants = dict(re.findall(r'^([A-Z_]+) = "([A-Z][A-Z0-9_]*)"$', text, re.MULTILINE))
        for name, constant in re.findall(
                r'os\.environ(?:\.get\(|\[)\s*(?:"([A-Z][A-Z0-9_]*)"|([A-Z_]+)\b)', text):
            read.add(name or constants[constant])
    return read


def test_every_variable_the_portal_reads_is_documented_in_env_example():
    read = variables_the_portal_reads()
    assert {"SECRET_KEY", "GUNICORN_WORKERS", "GUNICORN_BIND", "POSTGRES_PASSWORD",
            "PORTAL_DATABASE_URL"} <= read
    assert read - documented_variables() == set()


def test_env_example_documents_no_variable_that_the_portal_ignores():
    assert documented_variables() - variables_the_portal_reads() == set()


def test_the_deploy_checklist_finds_nothing_under_production_settings(static_root):
    result = deploy_check(STATIC_ROOT=str(static_root))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("values, finding", [
    ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
    # W010, not W012: Django names the latter only for its own SessionMiddleware, which the
    # portal's SessionOutageMiddleware stands in for.
    ({"SESSION_COOKIE_SECURE": "false"}, "security.W010"),
    ({"CACHE_URL": "locmemcache://portal"}, "portal.W001"),
    ({"CACHE_URL": "locmemcache://portal",
      "SESSION_ENGINE": "django.contrib.sessions.backends.cache"}, "portal.E001"),
    ({"TRUSTED_PROXY_COUNT": "0"}, "portal.W002"),
    ({"EMAIL_URL": None}, "portal.W003"),
    ({"PORTAL_URL": None}, "portal.W004"),
    ({"THULIUM_API_URL": None}, "portal.W006"),
], ids=["no HSTS", "session cookie over HTTP", "cache in each process",
        "sessions in each process", "every browser with the proxy's address",
        "no mail server", "no public address for links", "the sandbox for Thulium"])
def test_the_deploy_checklist_names_what_production_settings_lack(values, finding):
    result = deploy_check(**values)
    assert result.returncode != 0
    assert finding in result.stderr


def test_the_documented_proxies_take_every_body_the_portal_reads():
    """Told nothing, nginx refuses a request body over 1 MB: behind the snippet of
    docs/operations.md, imports and do-not-call uploads over 1 MB met its 413 page, and
    Caddy's, with no limit, passed bodies of any size to the portal. Each documented limit
    must take the largest body the portal reads (portal.middleware.body_refused: the largest
    upload and UPLOAD_ROOM), or a file a little too large meets the proxy's bare 413 where
    the portal would name its size next to the field; a larger IMPORT_MAX_FILE_SIZE, by
    default or in .env.example, fails here until the proxies' limits are raised with it.
    Caddy's "25MB", a million bytes each, was 1.2 MB short of it."""
    operations = (REPO / "docs" / "operations.md").read_text()
    example = int(re.search(r"^IMPORT_MAX_FILE_SIZE=(\d+)$",
                            (REPO / ".env.example").read_text(), re.MULTILINE)[1])
    largest_body = max(settings.IMPORT_MAX_FILE_SIZE, example) + UPLOAD_ROOM
    nginx = re.findall(r"^ *client_max_body_size (\d+)m;", operations, re.MULTILINE)
    caddy = re.findall(r"^ *max_size (\d+)(MiB|MB)$", operations, re.MULTILINE)
    assert (len(nginx), len(caddy)) == (1, 1)
    mib = 1024 * 1024
    limits = {"nginx": int(nginx[0]) * mib,  # nginx's "m" is a MiB
              "Caddy": int(caddy[0][0]) * {"MiB": mib, "MB": 1000 * 1000}[caddy[0][1]]}
    assert {name: limit for name, limit in limits.items() if limit < largest_body} == {}


def test_compose_gives_the_tables_owner_s_password_to_migrate_alone():
    """The web and worker services ran as the owner, which may turn the audit trail's
    triggers off: whoever read their credentials could then rewrite it."""
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    owner = services["db"]["environment"]["POSTGRES_USER"]

    def user_of(service):
        return re.match(r"postgres://([^:]+):", services[service]["environment"][
            "DATABASE_URL"])[1]

    assert user_of("migrate") == owner
    assert services["migrate"]["command"][-1].endswith("&& python manage.py portal_db_role")
    assert re.match(r"postgres://portal_app:",
                    services["migrate"]["environment"]["PORTAL_DATABASE_URL"])
    for service in ("web", "worker"):
        assert user_of(service) == "portal_app" != owner
        # .env, which every service reads, holds the owner's password for migrate.
        assert services[service]["env_file"] == ".env"
        assert services[service]["environment"]["POSTGRES_PASSWORD"] == ""


def test_a_stop_lets_requests_wait_for_thulium_as_long_as_a_worker_may_and_docker_longer(
        tmp_path):
    """A deploy cut a campaign change Thulium applied: Docker killed web after its default
    10 s and gunicorn its workers after 30 s, while a call to Thulium may last 35 s; the user
    got a dropped connection and the change's audit entry stayed pending."""
    def gunicorn_settings(**values):
        env = production_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path), **values)
        printed = subprocess.run(
            [sys.executable, "-m", "gunicorn", "--print-config", "-c", "gunicorn.conf.py",
             "portal.wsgi"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
            check=True).stdout
        return {name: int(value) for name, value in
                re.findall(r"^(timeout|graceful_timeout) += (\d+)$", printed, re.MULTILINE)}

    example = (REPO / ".env.example").read_text()
    thulium_call = sum(int(re.search(rf"^{name}=(\d+)$", example, re.MULTILINE)[1])
                       for name in ("THULIUM_CONNECT_TIMEOUT", "THULIUM_TIMEOUT"))
    default = gunicorn_settings()
    assert default["graceful_timeout"] == default["timeout"] > thulium_call
    assert gunicorn_settings(GUNICORN_TIMEOUT="90")["graceful_timeout"] == 90
    web = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]["web"]
    assert int(web["stop_grace_period"].removesuffix("s")) > default["graceful_timeout"]


@pytest.mark.parametrize("value", ["two", "0"])
def test_gunicorn_refuses_a_number_setting_in_one_line_naming_it(value):
    """It printed a traceback of its config file."""
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "-c", "gunicorn.conf.py",
         "portal.wsgi"], cwd=REPO, env=production_env(**PRODUCTION, GUNICORN_WORKERS=value),
        capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert result.stderr.strip() == (f"GUNICORN_WORKERS must be a whole number of at least 1, "
                                     f"not '{value}'.")
