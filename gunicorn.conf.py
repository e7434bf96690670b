"""gunicorn's settings, read from the environment and an optional `.env` (see .env.example)."""

import os
import shutil
import tempfile
from pathlib import Path

import environ

# The .env beside manage.py, read as portal.settings reads it (the environment wins): read
# there alone, it reached the portal's settings but not these, so GUNICORN_BIND=127.0.0.1:8000
# in it left gunicorn listening on every interface, and LOG_FORMAT=json wrote its lines plain.
DOT_ENV = Path(__file__).resolve().parent / ".env"
if DOT_ENV.is_file():
    environ.Env.read_env(DOT_ENV)


def _whole_number(name: str, default: int) -> int:
    """The variable's value, a whole number of at least 1; a line naming it, not gunicorn's
    traceback of the config file, for anything else (as portal.settings refuses its own)."""
    text = os.environ.get(name, "").strip() or str(default)
    if not text.isdigit() or int(text) < 1:
        raise SystemExit(f"{name} must be a whole number of at least 1, not {text!r}.")
    return int(text)


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Processes use the cores; threads wait on Thulium (up to THULIUM_TIMEOUT per request).
workers = _whole_number("GUNICORN_WORKERS", 2)
threads = _whole_number("GUNICORN_THREADS", 4)
# Longer than a request may wait for Thulium (read plus connect timeout), so a slow
# Thulium gets an error page instead of a killed worker.
timeout = _whole_number("GUNICORN_TIMEOUT", 60)
# A stop (SIGTERM: docker compose stop, up -d) lets requests in flight end for as long:
# gunicorn's 30 s cut off a change Thulium applied, its audit entry left pending.
graceful_timeout = timeout
# Workers' heartbeat files in memory: a container's disk may stall them.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# The portal logs every request itself, with its request id; no second access log.
accesslog = None

# Metrics (docs/operations.md, "Metrics"): each worker counts into its own files in this
# folder and /metrics adds them up. Set here, before any worker imports prometheus_client,
# which picks its mode from the environment as it is imported.
made_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if made_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="portal-metrics-",
                                                              dir=worker_tmp_dir)
metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def on_starting(server):
    """Start counting from zero: an earlier run's files would add its counts to this one's.
    Then refuse a start the settings refuse, in their one line, before any worker boots
    (each worker read them, and gunicorn printed a refusing worker's traceback and ended on
    "Worker failed to boot.")."""
    Path(metrics_dir).mkdir(parents=True, exist_ok=True)
    for stale in Path(metrics_dir).glob("*.db"):
        stale.unlink()
    # Imported only now: gunicorn's -e values are in the environment by then.
    from portal.refusal import settings_read

    try:
        settings_read()
    except SystemExit:
        on_exit(server)
        raise


def pre_request(worker, req):
    """Close the connection after answering a request whose body the portal reads none of:
    one declared too long (portal.middleware.TooLargeBodyMiddleware answers 413 unread) or
    sent in chunks, of no declared length (Django reads none of it). To reach the
    connection's next request gunicorn read the rest of such a body itself, however long."""
    # Imported only now: the worker has loaded the portal, and its settings, by then.
    from portal.middleware import body_refused

    headers = dict(req.headers)
    if "TRANSFER-ENCODING" in headers or body_refused(headers.get("CONTENT-LENGTH")):
        req.force_close()


def child_exit(server, worker):
    """Drop a finished worker's live gauges, as prometheus_client asks; its counts stay."""
    # Imported only now: imported at the top it would miss PROMETHEUS_MULTIPROC_DIR.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the folder made above; one given by the environment is the operator's."""
    if made_metrics_dir:
        shutil.rmtree(metrics_dir, ignore_errors=True)


# gunicorn's own lines (its start, workers booting and exiting) as the portal's, in
# LOG_FORMAT. In gunicorn's format they were in the process's zone, and a worker's last
# ones in TIME_ZONE, which Django had set for the process ("Worker exiting" at -0500 beside
# lines at +0000); the portal writes UTC. A LOG_FORMAT neither names is refused at start.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "portal.logging.RequestIdFilter"}},
    "formatters": {"plain": {"class": "portal.logging.PlainFormatter"},
                   "json": {"()": "portal.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                    "formatter": "json" if os.environ.get("LOG_FORMAT") == "json" else "plain",
                    "filters": ["request_id"]},
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
    "root": {"handlers": ["console"], "level": "INFO"},
}
