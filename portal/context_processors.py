"""Template context shared by every page."""

from django.conf import settings

from .way_back import way_back


def thulium_mode(request):
    """Tell templates whether the portal talks to the sandbox, so pages can say so."""
    return {"thulium_sandbox": settings.THULIUM_SANDBOX}


def page_to_come_back_to(request):
    """Where the language switch leads back to (portal.way_back)."""
    return {"way_back": way_back(request)}
