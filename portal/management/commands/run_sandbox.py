"""`manage.py run_sandbox`: serve the Thulium sandbox alone, for manual testing (`make run`
starts one of its own in `run_portal`)."""

from django.core.management.base import BaseCommand

from portal.thulium.sandbox import SandboxServer


class Command(BaseCommand):
    help = "Serve a local stand-in for Thulium's REST API until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument(
            "--latency", type=float, default=0.0, help="seconds added before every /api answer"
        )
        parser.add_argument("--user", default="sandbox")
        parser.add_argument("--password", default="sandbox-password")

    def handle(self, *args, host, port, latency, user, password, **options):
        server = SandboxServer(host, port, user, password, latency, verbose=True)
        # The password is never printed: logs and terminals get copied around.
        self.stdout.write(f"Thulium sandbox API at {server.url} (user {user!r})")
        self.stdout.write(f"Control endpoints at {server.base_url}/_sandbox/ - Ctrl-C to stop")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopping the sandbox.")
        finally:
            server.shutdown()
