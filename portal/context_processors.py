"""Template context shared by every page."""

from django.conf import settings


def thulium_mode(request):
    """Tell templates whether the portal talks to the sandbox, so pages can say so."""
    return {"thulium_sandbox": settings.THULIUM_SANDBOX}
