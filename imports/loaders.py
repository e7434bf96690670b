"""An import is sent under its loader's name, so only while they may add records.

A team lead who turns a loader's account off, deletes it, or takes their Record loaders
role away stops their confirmed imports too: the worker stops each, as a cancel does, at
its next claim (imports.pushing), as it cancels a scheduled change whose author may no
longer make it (campaigns.due).
"""

from django.db import transaction
from django.utils.translation import gettext, gettext_noop, override

from audit.models import Outcome
from audit.recording import WORKER, entry_begin, entry_complete

from .access import record_loaders
from .entries import IMPORT_STOPPED
from .models import ImportJob

# Stored in English in the stop's entry, shown in the reader's language (audit's
# `detail_words`); in the import's language as its stop reason.
LOADER_GONE = gettext_noop("The rest was not sent: the account of the one who loaded the "
                           "import was deactivated or deleted, or may no longer add records.")


def loader_may_add(job: ImportJob) -> bool:
    """Whether the import's loader may still add records (one query)."""
    return job.actor_id is not None and record_loaders().filter(pk=job.actor_id).exists()


def import_stop_for_loader(job: ImportJob) -> bool:
    """Give the running import its stop reason and the worker's audit entry saying why, in
    one transaction; False if it had a stop reason already (another worker's, Thulium's)."""
    with override(job.language or None):
        reason = gettext(LOADER_GONE)
    with transaction.atomic():
        if not ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.RUNNING,
                                        stop_reason="").update(stop_reason=reason):
            return False
        entry_complete(entry_begin(
            kind=IMPORT_STOPPED.slug, actor=None, actor_username=WORKER, campaign=job.campaign,
            details={"job": job.pk, "file_name": job.file_name, "loader": job.actor_username},
        ), outcome=Outcome.SUCCEEDED, detail=LOADER_GONE)
    return True
