"""Background tasks of imports, run by a worker of the configured task backend."""

from django_tasks import task

from .previewing import import_check
from .pushing import import_push


@task()
def push_import(job_id: int) -> None:
    """Send a confirmed import's rows to Thulium; safe to run twice at once or again."""
    import_push(job_id)


@task()
def check_import(job_id: int) -> None:
    """Check the rows of a file too large to check while its uploader waits; safe to run
    again."""
    import_check(job_id)
