"""`manage.py sync_campaigns`: register and refresh the campaigns Thulium lists, e.g. from cron."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from campaigns.reading import campaigns_sync
from portal.thulium import ThuliumError


class Command(BaseCommand):
    help = "Create or refresh the portal's campaigns from Thulium's GET outbounds."

    def handle(self, *args, **options):
        try:
            summary = campaigns_sync()
        except ThuliumError as error:
            # CommandError makes manage.py exit non-zero, so cron and scripts notice.
            raise CommandError(
                _("Could not read the campaigns from Thulium: %(reason)s")
                % {"reason": error.user_text()}
            ) from None
        self.stdout.write(
            _("Campaigns refreshed from Thulium: %(created)d new, %(updated)d updated, "
              "%(skipped)d skipped, %(not_in_thulium)d no longer in Thulium; "
              "%(changed_outside)d changed outside the portal.")
            % vars(summary)
        )
        if not summary.complete:
            self.stderr.write(_(
                "Thulium's list of campaigns ended before the count it gave, so no campaign "
                "was marked as no longer in Thulium."))
