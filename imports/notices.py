"""The e-mail notice to the loader when their import ends, with its counts.
Registered in apps.py; templates in templates/notices/import-finished/."""

from django.utils.translation import gettext_lazy as _

from notices.kinds import Kind
from notices.services import notices_queue

from .access import ADD_RECORDS
from .models import ImportJob

IMPORT_FINISHED = Kind("import-finished", _("My import has ended"),
                       admin_label=_("Import finished"),
                       gets=lambda user: user.has_perm(ADD_RECORDS))


def import_finished_notify(job: ImportJob, results: dict) -> None:
    """Queue the notice to the import's loader; `results` are its receipt's: the mail
    shows its final state and counts (not Thulium's refusal of the batch call)."""
    counts = {name: value for name, value in results.items() if name != "sent_one_by_one"}
    notices_queue(kind=IMPORT_FINISHED, users=[job.actor] if job.actor else [],
                  path=job.get_absolute_url(), context={
                      "import": job.pk, "campaign": job.campaign.name,
                      "campaign_id": job.campaign.thulium_id, "reason": job.stop_reason,
                      **counts,
                  })
