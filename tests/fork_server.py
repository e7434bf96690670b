"""`python manage.py ...` and `python -c ...` in a process of their own, started at a
fraction of the cost: a server process imports Django and the libraries once, and forks a
child for each run. The child takes exactly the run's environment and folder, sys.argv,
sys.path and a __main__ as Python gives them, and ends as Python ends: an uncaught
exception's traceback and status 1, SystemExit's message and status, threads joined and
atexit functions run. `run` waits for it to end, as subprocess.run does; `start` leaves it
running in a session of its own, as subprocess.Popen(start_new_session=True) does.

Starting Python, Django and the portal's libraries took most of each settings test's second
or so; the portal's own modules and its settings are still read afresh by each child. The
server imports no portal module and starts without DJANGO_SETTINGS_MODULE, so a library
that read the settings as it is imported would fail it. Libraries that read the environment
as they are imported are left to each child: prometheus_client (PROMETHEUS_MULTIPROC_DIR),
rq (RQ_KEY_PREFIX) and wsgiref (a copy of the whole environment).
"""

import atexit
import builtins
import gc
import importlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import types
from pathlib import Path

# Imported by the server once, for every child: some 1,100 modules of Django and the
# libraries the portal imports as it starts.
PRELOADED = (
    "django.core.management", "django.db.models", "django.db.migrations", "django.forms",
    "django.template.defaulttags", "django.views.generic",
    "django.db.backends.postgresql.base", "django.db.backends.sqlite3.base",
    "environ", "phonenumbers", "psycopg", "redis", "requests", "openpyxl", "sqlparse",
    "qrcode", "tenacity", "whitenoise.storage", "dateutil", "cryptography",
)
# What Python reads from the environment as it starts, before any child exists: a run must
# give these as the server was given them.
READ_AT_START = ("PYTHON", "LANG", "LC_")


class ForkServer:
    """Runs Python as a subprocess would (`run` answers a CompletedProcess), forking each run
    from a server started on first use with PATH and what Python reads as it starts of
    `environment`: each run gives its own environment."""

    def __init__(self, environment: dict[str, str]):
        self.environment = {name: value for name, value in environment.items()
                            if name == "PATH" or name.startswith(READ_AT_START)}
        self.server = None
        self.lock = threading.Lock()

    def run(self, args: list[str], *, cwd: Path, env: dict[str, str],
            timeout: float) -> subprocess.CompletedProcess:
        """`python *args`; args start with a script's path or "-c"."""
        self._check(env)
        with self.lock, tempfile.TemporaryDirectory() as folder:
            stdout, stderr = Path(folder, "stdout"), Path(folder, "stderr")
            answer = self._ask({"args": args, "cwd": str(cwd), "env": env, "timeout": timeout,
                                "stdout": str(stdout), "stderr": str(stderr)})
            # As subprocess.run(text=True) reads them: the locale's encoding, \r\n as \n.
            output, errors = stdout.read_text(), stderr.read_text()
        if answer["timed_out"]:
            raise subprocess.TimeoutExpired(args, timeout, output, errors)
        return subprocess.CompletedProcess(args, answer["returncode"], output, errors)

    def start(self, args: list[str], *, cwd: Path, env: dict[str, str],
              output: Path) -> "Started":
        """`python *args` running on in a session of its own (its process group), its stdout
        and stderr both written to `output`."""
        self._check(env)
        with self.lock:
            answer = self._ask({"args": args, "cwd": str(cwd), "env": env, "stdout": str(output),
                                "stderr": str(output), "session": True})
        return Started(self, args, answer["pid"])

    def reaped(self, pid: int) -> int:
        """The exit status of a started run that ended, as Popen.returncode gives it."""
        with self.lock:
            return self._ask({"reap": pid})["returncode"]

    def _check(self, env: dict[str, str]) -> None:
        for name in {*env, *self.environment}:
            if name.startswith(READ_AT_START) and env.get(name) != self.environment.get(name):
                raise ValueError(f"{name} is read as Python starts: run it in a subprocess")

    def _ask(self, request: dict) -> dict:
        if self.server is None:
            self.server = subprocess.Popen(
                [sys.executable, __file__], env=self.environment, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, bufsize=1)
        self.server.stdin.write(json.dumps(request) + "\n")
        answer = self.server.stdout.readline()
        if not answer:
            server, self.server = self.server, None
            raise RuntimeError(f"the fork server ended, status {server.wait()}")
        return json.loads(answer)

    def close(self):
        """Ends the server (it ends on its own when this process does)."""
        if self.server is not None:
            self.server.stdin.close()
            self.server.wait()
            self.server.stdout.close()
            self.server = None


class Started:
    """A run going on, as a subprocess.Popen is: its pid, and `wait`."""

    def __init__(self, server: ForkServer, args: list[str], pid: int):
        self.server, self.args, self.pid = server, args, pid
        self.returncode = None
        # Readable once it ended: the server, its parent, is asked its status only then.
        self.exited = os.pidfd_open(pid)

    def wait(self, timeout: float | None = None) -> int:
        """Its exit status once it ended; TimeoutExpired if it did not within `timeout`."""
        if self.returncode is None:
            if not select.select([self.exited], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(self.args, timeout)
            os.close(self.exited)
            self.returncode = self.server.reaped(self.pid)
        return self.returncode


def serve():
    """Reads a run per line, forks it, and answers its status once it ended."""
    del sys.path[0]  # this folder: each child puts its own first, as Python would
    for name in PRELOADED:
        importlib.import_module(name)
    # The portal's modules are compiled once, into a cache outside the checkout, rather than
    # in every child (PYTHONDONTWRITEBYTECODE keeps Python from writing it in the checkout).
    sys.pycache_prefix = tempfile.mkdtemp(prefix="fork-server-pycache-")
    sys.dont_write_bytecode = False
    # Kept out of the children's garbage collections, which would copy their memory.
    gc.freeze()
    for line in sys.stdin:
        request = json.loads(line)
        if "reap" in request:
            status = os.waitpid(request["reap"], 0)[1]
            print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)
            continue
        timeout = request.pop("timeout", None)
        session = request.pop("session", False)
        sys.stdout.flush()
        sys.stderr.flush()
        child = os.fork()
        if child == 0:
            if session:
                os.setsid()
            run_as_python(**request)
        print(json.dumps({"pid": child} if session else ended(child, timeout)), flush=True)
    shutil.rmtree(sys.pycache_prefix)


def ended(child: int, timeout: float) -> dict:
    """The child's status once it ended, killed if it did not within `timeout` seconds."""
    waitable = os.pidfd_open(child)
    timed_out = not select.select([waitable], [], [], timeout)[0]
    os.close(waitable)
    if timed_out:
        os.kill(child, signal.SIGKILL)
    status = os.waitpid(child, 0)[1]
    return {"returncode": os.waitstatus_to_exitcode(status), "timed_out": timed_out}


def run_as_python(args, cwd, env, stdout, stderr):
    """In the child: runs `python *args`, and ends the process as Python would."""
    opened = {}  # stdout and stderr to one file write it through one offset, as 2>&1 does
    for fd, path, mode in ((0, os.devnull, os.O_RDONLY), (1, stdout, os.O_WRONLY),
                           (2, stderr, os.O_WRONLY)):
        if path not in opened:
            opened[path] = os.open(path, mode | (os.O_CREAT if fd else 0), 0o600)
        os.dup2(opened[path], fd)
    for each in opened.values():
        os.close(each)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    if args[0] == "-c":
        sys.argv = ["-c", *args[2:]]
        sys.path.insert(0, "")
        source, main_file = args[1], "<string>"
    else:
        sys.argv = list(args)
        main.__file__ = main_file = os.path.abspath(args[0])
        sys.path.insert(0, os.path.dirname(os.path.realpath(args[0])))
        source = Path(args[0]).read_bytes()
    try:
        exec(compile(source, main_file, "exec"), main.__dict__)
        status = 0
    except SystemExit as ending:
        status = exit_status(ending.code)
    except BaseException as error:
        # Its traceback from the code run on, as Python shows it (a SyntaxError has none).
        error.__traceback__ = error.__traceback__.tb_next
        sys.excepthook(type(error), error, error.__traceback__)
        status = 1
    # What Python does as it ends, short of tearing down every module: in a fork of the
    # server, that copied most of its memory and took up to a second.
    threading._shutdown()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def exit_status(code) -> int:
    """The status of a SystemExit(code) that ends Python, which prints a message."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    serve()
