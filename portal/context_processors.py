"""Template context shared by every page."""

from functools import partial

from django.conf import settings

from .kept_input import kept_input_take
from .way_back import way_back


def thulium_mode(request):
    """Tell templates whether the portal talks to the sandbox, so pages can say so."""
    return {"thulium_sandbox": settings.THULIUM_SANDBOX}


def page_to_come_back_to(request):
    """Where the language switch leads back to (portal.way_back)."""
    return {"way_back": way_back(request)}


def kept_input(request):
    """What a form posted after the session had ended held, for its page (portal.kept_input):
    taken when a page shows it (base.html), not by every template rendered with a request."""
    return {"kept_input": partial(kept_input_take, request)}
