from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self):
        from audit.kinds import register
        from notices.kinds import register as register_notice

        from .entries import (
            CAMPAIGN_CHANGE,
            CHANGE_REQUEST,
            FOUND_APPLIED,
            OUTSIDE_CHANGE,
            SCHEDULED_CHANGE,
            THULIUM_PRESENCE,
        )
        from .notices import REQUEST_DECIDED, REQUEST_WAITING, SCHEDULED_NOT_APPLIED

        register(CAMPAIGN_CHANGE)
        register(CHANGE_REQUEST)
        register(OUTSIDE_CHANGE)
        register(FOUND_APPLIED)
        register(SCHEDULED_CHANGE)
        register(THULIUM_PRESENCE)
        register_notice(REQUEST_WAITING)
        register_notice(REQUEST_DECIDED)
        register_notice(SCHEDULED_NOT_APPLIED)
