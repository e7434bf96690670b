"""The worker's "stop when you can": set by `manage.py run_worker` on the first SIGTERM
(what `docker compose stop` sends), heard by the pushes it runs (imports.pushing), which
then claim no more rows, let the calls in flight end and hand the rest back."""

import threading

worker_stopping = threading.Event()
