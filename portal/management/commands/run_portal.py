"""`make run`: the portal on http://127.0.0.1:8000, against the sandbox unless Thulium is set."""

import secrets
import signal
import socket
import subprocess
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError, call_command

from portal.thulium.sandbox import start_sandbox

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = ("Serve the portal and a background worker; with no THULIUM_API_URL, start the "
            "sandbox and a demo login.")

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000")

    def handle(self, *args, addrport, **options):
        # Before anything starts: runserver ends the process with os._exit when its port is
        # taken, skipping the `finally` below, and the worker it had started ran on, orphaned.
        _refuse_if_taken(addrport)
        if settings.THULIUM_SANDBOX:
            try:
                sandbox = start_sandbox(
                    host="127.0.0.1", port=settings.THULIUM_SANDBOX_PORT,
                    user=settings.THULIUM_API_USER, password=settings.THULIUM_API_PASSWORD,
                )
            except OSError as error:
                raise CommandError(
                    f"The sandbox cannot listen on 127.0.0.1:{settings.THULIUM_SANDBOX_PORT}: "
                    f"{error.strerror or error}. Stop what listens there, or choose another "
                    "port: THULIUM_SANDBOX_PORT=8101.") from None
            self.stdout.write(f"Thulium sandbox: {sandbox.url}")
            self._demo_login()
        try:
            call_command("sync_campaigns", stdout=self.stdout, stderr=self.stderr)
        except CommandError as error:  # Thulium's refusal: the portal serves all the same
            self.stderr.write(str(error))
        # A SIGTERM (a process manager's stop) must also stop the worker, below: heard from
        # the worker's start on (one between the start and this line left it running).
        signal.signal(signal.SIGTERM, lambda *_args: sys.exit(0))
        # Imports are sent by a worker beside the web server, stopped with it.
        worker = subprocess.Popen([sys.executable, "manage.py", "run_worker"],
                                  cwd=settings.BASE_DIR)
        try:
            self.stdout.write(f"Background worker: process {worker.pid}")
            call_command("runserver", addrport, use_reloader=False)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()

    def _demo_login(self):
        """A fresh password each start, printed here only; never made outside sandbox mode."""
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(self.style.SUCCESS(
            f"Demo login (sandbox only): user {DEMO_USERNAME}  password {password}"
        ))


def _refuse_if_taken(addrport: str) -> None:
    """Raise CommandError when nothing could listen on `addrport`, in runserver's spelling
    (8000, 127.0.0.1:8000, [::1]:8000; runserver itself refuses a port that is no number)."""
    host, _, port = addrport.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit():
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as runserver binds
        try:
            probe.bind((host, int(port)))
        except OSError as error:
            raise CommandError(
                f"The portal cannot listen on {addrport}: {error.strerror or error}. Stop what "
                "listens there, or choose another address: make run ADDRPORT=127.0.0.1:8001."
            ) from None
