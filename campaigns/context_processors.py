"""Template context for the four-eyes rule, shown in every page's navigation."""

from django.conf import settings
from django.utils import timezone

from roles.services import accounts_linked_to

from .models import ChangeRequest, campaign_changers


def four_eyes(request):
    """Whether risky changes wait for approval, and how many this user could approve now."""
    context = {"four_eyes": settings.FOUR_EYES, "requests_to_approve": 0}
    user = getattr(request, "user", None)
    if settings.FOUR_EYES and user and user.has_perm("campaigns.approve_changerequest"):
        # Not those whose time passed: the worker marks them outdated within a poll. Nor
        # those of someone who may no longer change campaigns: they cannot be approved. Nor
        # those of one whose account and this user's were made or changed by the other
        # (four_eyes.accounts_linked).
        context["requests_to_approve"] = (
            ChangeRequest.objects.filter(state=ChangeRequest.State.REQUESTED,
                                         requester__in=campaign_changers())
            .exclude(requester=user)
            .exclude(requester__in=accounts_linked_to(user))
            .exclude(apply_at__lte=timezone.now())
            .count()
        )
    return context
