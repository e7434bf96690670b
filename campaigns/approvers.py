"""Who may approve a four-eyes request: an editor with the approval role other than its
requester, and not one whose account and the requester's were made or changed by the other
in the admin (roles.services.accounts_linked_to).

One rule for the request's page and its approval (four_eyes), the approvers' count in the
navigation (context_processors) and the "waits for your approval" mail (notices): the mail
went to editors the portal then refused to let approve.
"""

from django.contrib.auth import get_user_model
from django.utils import timezone

from roles.services import accounts_linked_to

from .models import ChangeRequest, campaign_changers

APPROVE = "campaigns.approve_changerequest"


def approvers_of(change_request: ChangeRequest):
    """The users who may approve or reject the request, as a query."""
    requester = change_request.requester
    return (get_user_model().objects.with_perm(APPROVE, backend="roles.backends.RoleBackend")
            .exclude(pk=change_request.requester_id)
            .exclude(pk__in=accounts_linked_to(requester) if requester else ()))


def requests_to_approve(user):
    """The requests `user` may approve now, as a query. Not those whose time passed: the
    worker marks them outdated within a poll. Nor those of someone who may no longer change
    campaigns: they cannot be approved."""
    return (ChangeRequest.objects.filter(state=ChangeRequest.State.REQUESTED,
                                         requester__in=campaign_changers())
            .exclude(requester=user)
            .exclude(requester__in=accounts_linked_to(user))
            .exclude(apply_at__lte=timezone.now()))


def accounts_linked(change_request: ChangeRequest, user) -> bool:
    """True when the requester created or changed `user`'s account in the admin (its
    password, roles, second factor), or `user` theirs: one administrator could otherwise
    make an approver to let their own change through, or an editor to ask for it."""
    return change_request.requester_id in accounts_linked_to(user)
