"""`make run`: the portal on http://127.0.0.1:8000, against the sandbox unless Thulium is set."""

import secrets
import signal
import subprocess
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, call_command

from campaigns.reading import campaigns_sync
from portal.thulium import ThuliumError
from portal.thulium.sandbox import start_sandbox

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = ("Serve the portal and a background worker; with no THULIUM_API_URL, start the "
            "sandbox and a demo login.")

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000")

    def handle(self, *args, addrport, **options):
        if settings.THULIUM_SANDBOX:
            sandbox = start_sandbox(
                host="127.0.0.1", port=settings.THULIUM_SANDBOX_PORT,
                user=settings.THULIUM_API_USER, password=settings.THULIUM_API_PASSWORD,
            )
            self.stdout.write(f"Thulium sandbox: {sandbox.url}")
            self._demo_login()
        try:
            summary = campaigns_sync()
            self.stdout.write(f"Campaigns from Thulium: {summary}")
        except ThuliumError as error:
            self.stderr.write(f"Could not read the campaigns from Thulium: {error.detail}")
        # Imports are sent by a worker beside the web server, stopped with it.
        worker = subprocess.Popen([sys.executable, "manage.py", "run_worker"],
                                  cwd=settings.BASE_DIR)
        self.stdout.write(f"Background worker: process {worker.pid}")
        # A SIGTERM (a process manager's stop) must also stop the worker, below.
        signal.signal(signal.SIGTERM, lambda *_args: sys.exit(0))
        try:
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
