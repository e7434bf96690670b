"""Template context for the four-eyes rule, shown in every page's navigation."""

from django.conf import settings
from django.utils import timezone

from .models import ChangeRequest


def four_eyes(request):
    """Whether risky changes wait for approval, and how many this user could approve now."""
    context = {"four_eyes": settings.FOUR_EYES, "requests_to_approve": 0}
    user = getattr(request, "user", None)
    if settings.FOUR_EYES and user and user.has_perm("campaigns.approve_changerequest"):
        # Not those whose time passed: the worker marks them outdated within a poll.
        context["requests_to_approve"] = (
            ChangeRequest.objects.filter(state=ChangeRequest.State.REQUESTED)
            .exclude(requester=user)
            .exclude(apply_at__lte=timezone.now())
            .count()
        )
    return context
