"""gunicorn's settings, read from the environment (see .env.example)."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Processes use the cores; threads wait on Thulium (up to THULIUM_TIMEOUT per request).
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Longer than a request may wait for Thulium (read plus connect timeout), so a slow
# Thulium gets an error page instead of a killed worker.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Workers' heartbeat files in memory: a container's disk may stall them.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# The portal logs every request itself, with its request id; no second access log.
accesslog = None

if os.environ.get("LOG_FORMAT") == "json":
    # gunicorn's own lines (start, worker restarts) in the same JSON as the portal's.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "portal.logging.JsonFormatter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json",
                        "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
        "root": {"handlers": ["console"], "level": "INFO"},
    }
