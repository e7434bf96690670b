from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from audit.kinds import register

        from .entries import CAMPAIGN_CHANGE, CHANGE_REQUEST, OUTSIDE_CHANGE, SCHEDULED_CHANGE

        register(CAMPAIGN_CHANGE)
        register(CHANGE_REQUEST)
        register(OUTSIDE_CHANGE)
        register(SCHEDULED_CHANGE)
