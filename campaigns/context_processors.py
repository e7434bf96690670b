"""Template context for the four-eyes rule, shown in every page's navigation."""

from django.conf import settings

from .approvers import APPROVE, requests_to_approve


def four_eyes(request):
    """Whether risky changes wait for approval, and how many this user could approve now."""
    context = {"four_eyes": settings.FOUR_EYES, "requests_to_approve": 0}
    user = getattr(request, "user", None)
    if settings.FOUR_EYES and user and user.has_perm(APPROVE):
        context["requests_to_approve"] = requests_to_approve(user).count()
    return context
