"""The campaign's other imports of an uploaded file: the same file uploaded again would
have its rows sent again (Thulium refuses the numbers it holds), so its loader is shown
those imports before mapping and sending it."""

from .access import readable_imports
from .models import ImportJob

# Imports named, newest first: a file uploaded more often than this is well known.
SHOWN = 5


def same_file_imports(job: ImportJob, user) -> list[ImportJob]:
    """The campaign's other imports of a file of the same SHA-256 (whatever its name) that
    this user may read, newest first."""
    others = ImportJob.objects.filter(campaign_id=job.campaign_id,
                                      file_sha256=job.file_sha256).exclude(pk=job.pk)
    return list(readable_imports(user, others)[:SHOWN])
