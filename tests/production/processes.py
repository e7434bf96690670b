"""The portal in real processes, run as in production: manage.py, gunicorn, and a browser's
HTTP behind the TLS proxy. Shared by the production tests and `bench/bench_gunicorn.py`.
"""

import contextlib
import http.cookiejar
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import psycopg
import requests
from requests.adapters import HTTPAdapter

from portal.checks import DOCUMENTED_VARIABLE

REPO = Path(__file__).resolve().parents[2]
# The machine's PostgreSQL, used when TEST_DATABASE_URL names no PostgreSQL server.
POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_SERVER = "redis://127.0.0.1:6379/0"
# Variables of the test run that a production process must not inherit (the browser
# tests allow Django's synchronous ORM under Playwright's event loop).
TEST_ONLY_VARIABLES = ("DJANGO_SETTINGS_MODULE", "TEST_DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
# One audit key for every process of the run, as every machine of a deployment has one:
# processes that share a database link its audit chain under the same key (audit.chain).
AUDIT_KEY = secrets.token_urlsafe(50)


def documented_variables() -> set[str]:
    """The variables .env.example documents, set or commented out."""
    return set(DOCUMENTED_VARIABLE.findall((REPO / ".env.example").read_text()))


def production_env(**values: str) -> dict[str, str]:
    """A production process's environment: DEBUG off, a real key, behind a TLS proxy on
    loopback, and none of the portal settings of the shell running the tests."""
    inherited = documented_variables().union(TEST_ONLY_VARIABLES)
    env = {name: value for name, value in os.environ.items() if name not in inherited}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        AUDIT_PII_KEY=AUDIT_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        BEHIND_PROXY="true",
        PYTHONUNBUFFERED="1",
    )
    env.update(values)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Run manage.py as an operator would; its output, or an error that shows it."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=timeout,
    )
    if result.returncode:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


def postgres_server() -> str:
    """TEST_DATABASE_URL when it is PostgreSQL, else the machine's PostgreSQL."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else POSTGRES_SERVER


def with_database(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of `server_url`."""
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


def unreachable_reason(url: str) -> str | None:
    """Why nothing listens at the URL's host and port, or None when something does."""
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=3).close()
    except OSError as error:
        return f"nothing answers at {parts.hostname}:{parts.port} ({error})"
    return None


class PostgresDatabase:
    """A database of its own on a PostgreSQL server, dropped when done."""

    def __init__(self, name: str, server: str | None = None):
        self.server = server or postgres_server()
        self.name = name
        self.url = with_database(self.server, name)

    def _admin(self, sql: str):
        with psycopg.connect(with_database(self.server, "postgres"), autocommit=True) as db:
            db.execute(sql)

    def create(self):
        self.drop()
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self):
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class StallingProxy:
    """Passes TCP connections on to (host, port) until told to stall; then it passes nothing
    more either way and answers no new connection, as a hung database server, a failover
    or a dropped network look from the client: its kernel still takes the bytes sent."""

    def __init__(self, host: str, port: int):
        self._target = (host, port)
        self._stalled = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        for sock in (self._listener, *self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def stall(self):
        self._stalled.set()

    def _accept(self):
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            if self._stalled.is_set():
                continue
            server = socket.create_connection(self._target)
            self._sockets.append(server)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pass, args=(source, sink), daemon=True).start()

    def _pass(self, source: socket.socket, sink: socket.socket):
        with contextlib.suppress(OSError):
            while (data := source.recv(65536)) and not self._stalled.is_set():
                sink.sendall(data)


class Gunicorn:
    """gunicorn serving the portal on a free loopback port; keeps every line it prints.

    Ready once made, unless made with `wait=False`: then `wait_until_ready()` says when, and
    the caller may do other work (or start other processes) while it boots."""

    def __init__(self, env: dict[str, str], *, workers: int = 1, threads: int = 2,
                 wait: bool = True):
        self.env = {**env, "GUNICORN_BIND": "127.0.0.1:0", "GUNICORN_WORKERS": str(workers),
                    "GUNICORN_THREADS": str(threads)}
        self.lines: list[str] = []
        self.url = ""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "portal.wsgi"],
            cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self._reader = threading.Thread(target=self._keep_lines, daemon=True)
        self._reader.start()
        if wait:
            self.wait_until_ready()

    def wait_until_ready(self):
        """Return once it answers HTTP; stop it, and raise, if it never does."""
        try:
            # gunicorn binds port 0 to a free port and says which.
            listening = self.wait_for_line(r"Listening at: (http://127\.0\.0\.1:\d+)")
            self.url = listening.group(1)
            self._wait_until_answering()
        except BaseException:
            self.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def _keep_lines(self):
        for line in self._process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, pattern: str, timeout: float = 60) -> re.Match:
        """The first printed line matching `pattern`, waiting for it if need be."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = re.search(pattern, line)
                if match:
                    return match
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"gunicorn never printed {pattern!r}:\n" + "\n".join(self.lines))

    def _wait_until_answering(self, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/healthz", timeout=5)
                return
            except (requests.ConnectionError, requests.Timeout):
                # Not listening yet, or its worker still loading the portal on a busy machine.
                time.sleep(0.1)
        raise AssertionError("gunicorn never answered:\n" + "\n".join(self.lines))

    def terminate(self):
        """Ask it to stop (SIGTERM), as `docker compose stop` does, without waiting."""
        if self._process.poll() is None:
            self._process.terminate()

    def stop(self):
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        # Its last lines (a worker exiting) are in `lines` once the process is stopped.
        self._reader.join(timeout=30)


@contextlib.contextmanager
def gunicorns(env: dict[str, str], count: int, **options):
    """`count` instances of the portal on one environment, booted at the same time and
    stopped at the same time: each boot and graceful stop is mostly a wait of its own."""
    servers: list[Gunicorn] = []
    try:
        for _ in range(count):
            servers.append(Gunicorn(env, wait=False, **options))
        for server in servers:
            server.wait_until_ready()
        yield servers
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.stop()


def concurrently(*calls: Callable[[], object]) -> list:
    """The calls' results, each call run in a thread of its own (as one starting a process
    and waiting for it), once all have ended; the first call's error, if any, is raised."""
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
    return [future.result() for future in futures]


class _TLSProxy(HTTPAdapter):
    """Plays the TLS-terminating proxy: takes the browser's HTTPS request, passes it to the
    portal over plain HTTP, and tells it so with X-Forwarded-Proto."""

    def send(self, request, **kwargs):
        request = request.copy()
        request.url = "http://" + request.url.removeprefix("https://")
        request.headers["X-Forwarded-Proto"] = "https"
        return super().send(request, **kwargs)


class Visitor:
    """A person's browser reaching a portal process through the TLS proxy it expects."""

    def __init__(self, url: str):
        self.url = "https://" + urlsplit(url).netloc
        self.session = requests.Session()
        self.session.mount("https://", _TLSProxy())
        # The Origin a browser sends with a form.
        self.session.headers["Origin"] = self.url

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.url + path, allow_redirects=False, timeout=30, **kwargs)

    def post(self, path: str, data: dict, **kwargs) -> requests.Response:
        return self.session.post(self.url + path, data=data, allow_redirects=False,
                                 timeout=30, **kwargs)

    def submit(self, page: str, values: dict[str, str], *, action: str | None = None):
        """Open `page`, fill its form (the one posting to `action`, else the one having
        all of `values`' fields) as a person would, and send it."""
        response = self.get(page)
        assert response.status_code == 200, (page, response.status_code)
        forms = page_forms(response.text)
        if action is not None:
            form = next(f for f in forms if f["action"] == action)
        else:
            form = next(f for f in forms if set(values) <= set(f["fields"]))
        target = urlsplit(urljoin(page, form["action"] or page)).path
        return self.post(target, {**form["fields"], **values})

    def confirm(self, response: requests.Response, button: str = "confirmed"):
        """On a confirmation page (the answer to a risky change's form), press the button
        named `button`: its form's hidden fields, sent back with the button's name."""
        assert response.status_code == 200, response.status_code
        (form,) = [f for f in page_forms(response.text) if "base" in f["fields"]]
        return self.post(urlsplit(form["action"]).path, {**form["fields"], button: "1"})

    def log_in(self, username: str, password: str):
        response = self.submit("/accounts/login/", {"username": username, "password": password})
        assert response.status_code == 302, f"the login was refused: {response.status_code}"
        return response

    def session_cookie(self) -> http.cookiejar.Cookie:
        return next(c for c in self.session.cookies if c.name == "sessionid")


class _FormReader(HTMLParser):
    """The forms of a page and the values a browser would send if nothing were changed."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._select = self._textarea = None
        self._chosen: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action") or "", "fields": {}})
            return
        if not self.forms:
            return
        fields, name = self.forms[-1]["fields"], attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "image", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            fields[name] = attrs.get("value") or ("on" if kind == "checkbox" else "")
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            # The selected option, else the first one, as a browser sends.
            if "selected" in attrs or self._select not in fields:
                if self._select not in self._chosen:
                    fields[self._select] = attrs.get("value", "")
                if "selected" in attrs:
                    self._chosen.add(self._select)
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ""

    def handle_data(self, data):
        if self._textarea:
            self.forms[-1]["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            # Browsers drop the line break that opens a textarea's content.
            fields = self.forms[-1]["fields"]
            fields[self._textarea] = fields[self._textarea].removeprefix("\n")
            self._textarea = None


def page_forms(html: str) -> list[dict]:
    """[{"action": ..., "fields": {name: value}}] of every form on the page."""
    reader = _FormReader()
    reader.feed(html)
    return reader.forms
