"""What Thulium holds of a campaign change whose answer was lost: asked (GET outbounds),
never sent again, and learnt when held. Apart from the scheduled changes' module, as the
worker's sweep of changes whose web process died in the call (campaigns.unanswered) asks
the same question, and waits for its answer as long, as a scheduled change's
(campaigns.due)."""

from django.db import transaction
from django.db.models.functions import Now

from audit.models import Entry
from portal.thulium import ThuliumError, ThuliumUnavailable, get_client
from portal.thulium.unreachable import UNREACHABLE_WAIT

from .models import Campaign
from .request_steps import outdated_requests_close
from .services import merged_settings, same_as_sent


class NoAnswerYet(Exception):
    """Thulium gave no answer to the question of what it holds, and the call asked about
    is younger than UNREACHABLE_WAIT: it is to be asked again at a later poll. Unfinished
    does no harm meanwhile: a read of the campaign takes its values found as its own
    (campaigns.reading)."""


def thulium_holds(campaign: Campaign, changes: dict, *, language: str | None,
                  call: Entry) -> bool | None:
    """Whether Thulium holds the values of the call's PUT body now (GET outbounds); None when
    it cannot be told: the list leaves the campaign or a value out, the lookup was refused,
    or Thulium gave no answer UNREACHABLE_WAIT after the call began. Raises NoAnswerYet while
    Thulium gives no answer before that. Asked, never sent again: an answer lost is no
    reason to send twice."""
    try:
        items = get_client(language).list_campaigns(wanted={campaign.thulium_id})
    except ThuliumUnavailable as error:
        if waited_out(call):
            return None
        raise NoAnswerYet(error.detail) from error
    except ThuliumError:
        return None
    item = next((item for item in items if str(item.get("id")) == campaign.thulium_id), None)
    return None if item is None else holds(item, changes)


def waited_out(call: Entry) -> bool:
    """Whether the call began longer than UNREACHABLE_WAIT ago, in the database's time (a
    machine's clock may run ahead): Thulium's next silence of it is its last."""
    return Entry.objects.filter(pk=call.pk, created_at__lt=Now() - UNREACHABLE_WAIT).exists()


def held_learn(campaign: Campaign, changes: dict) -> None:
    """Store in the campaign's row the changes Thulium was found holding, closing the
    requests they outdate."""
    with transaction.atomic():
        # Merged into the row as it is now, locked: the one loaded with the change (when
        # its worker claimed it, or the sweep read its entry) lost what a read or another
        # change saved since.
        campaign.lock()
        campaign.refresh_from_db(fields=["settings", "version", "name"])
        campaign.settings_replace(merged_settings(campaign.settings, changes))
        if "name" in changes:
            campaign.name = changes["name"]
        campaign.save(update_fields=["settings", "version", "name"])
        outdated_requests_close(campaign, settings=campaign.settings)


def holds(item: dict, changes: dict) -> bool | None:
    """Whether a GET outbounds item has the values of a PUT body; None if one is missing."""
    for name, value in changes.items():
        if name == "parameters":
            known = item.get("parameters")
            if not isinstance(known, dict):
                return None
            found = holds(known, value)
            if found is not True:
                return found
        elif name not in item:
            return None
        elif not same_as_sent(item[name], value):
            return False
    return True
