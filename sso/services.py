"""A sign-on's effect on the portal: the user found by their identity (or created), and
their portal groups set from the provider's groups claim, with an audit entry for it."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction

from audit.models import Outcome
from audit.recording import entry_begin, entry_complete

from .entries import SIGN_ON
from .failures import Failure, SignInFailed
from .models import Identity

logger = logging.getLogger(__name__)


def claimed_groups(claims: dict) -> list[str]:
    """The provider's group names (OIDC_GROUPS_CLAIM); none when the claim is absent.

    Raises SignInFailed for anything but a list of strings: a single string or a number
    is not guessed at (a comma in it could be a separator or part of a name).
    """
    value = claims.get(settings.OIDC_GROUPS_CLAIM)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise SignInFailed(Failure.GROUPS, f"the {settings.OIDC_GROUPS_CLAIM!r} claim is a "
                                           f"{type(value).__name__}, not a list of names")
    return value


def user_sign_on(*, issuer: str, claims: dict, groups: list[str]):
    """The user the provider signed on, created at their first sign-on; an active user's
    groups named in OIDC_GROUP_MAP are set from `groups` (the others are left alone)."""
    try:
        return _user_sign_on(issuer=issuer, claims=claims, groups=groups)
    except IntegrityError:
        # Another sign-on created this identity (a first sign-in in two tabs at once) after
        # this one looked: no row was there to lock. The database refused this one's only
        # once the other had committed, so a second look finds the other's.
        return _user_sign_on(issuer=issuer, claims=claims, groups=groups)


def _user_sign_on(*, issuer: str, claims: dict, groups: list[str]):
    with transaction.atomic():
        identity = (Identity.objects.select_for_update().select_related("user")
                    .filter(issuer=issuer, subject=claims["sub"]).first())
        created = identity is None
        if created:
            user = _user_create(claims)
            Identity.objects.create(user=user, issuer=issuer, subject=claims["sub"])
        else:
            user = identity.user
            if not user.is_active:
                return user
            email = _email(claims)
            if email and email != user.email:
                user.email = email
                user.save(update_fields=["email"])
        gained, lost = _portal_groups_set(user, groups)
        if created or gained or lost:
            known = [name for name in groups if name in settings.OIDC_GROUP_MAP]
            entry = entry_begin(kind=SIGN_ON.slug, actor=user, sent={"groups": known}, details={
                "account": user.get_username(), "created": created,
                "gained": sorted(gained), "lost": sorted(lost)})
            entry_complete(entry, outcome=Outcome.SUCCEEDED)
    return user


def _user_create(claims: dict):
    """A new account under the first free name. Sign-ons at once may find the same name
    free (new users the provider names alike): the database lets one take it, and the
    others, refused once it committed, each take the next one free."""
    model, email = get_user_model(), _email(claims)
    while True:
        name = _free_username(claims)
        try:
            with transaction.atomic():
                return model.objects.create_user(name, email=email)
        except IntegrityError:
            if not model.objects.filter(**{model.USERNAME_FIELD: name}).exists():
                raise  # not the name: nothing another sign-on did


def _portal_groups_set(user, claimed: list[str]) -> tuple[set[str], set[str]]:
    mapping = settings.OIDC_GROUP_MAP
    managed = {group.name: group for group in Group.objects.filter(name__in=mapping.values())}
    if len(managed) < len(set(mapping.values())):
        logger.warning("OIDC_GROUP_MAP names groups the portal does not have: %s",
                       ", ".join(sorted(set(mapping.values()) - set(managed))))
    wanted = {mapping[name] for name in claimed if name in mapping} & set(managed)
    current = set(user.groups.filter(name__in=managed).values_list("name", flat=True))
    gained, lost = wanted - current, current - wanted
    user.groups.add(*(managed[name] for name in gained))
    user.groups.remove(*(managed[name] for name in lost))
    return gained, lost


def storable(value: str) -> bool:
    """False for text holding a NUL or a lone surrogate, which JSON may spell (\\u0000,
    \\ud800) and the database cannot store."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def _claim(claims: dict, name: str) -> str:
    """The claim's text, or "" when it is none, or none the database can store (logged
    without the value)."""
    value = claims.get(name)
    if not isinstance(value, str):
        return ""
    if not storable(value):
        logger.warning("the %r claim holds a character the portal cannot store: left out", name)
        return ""
    return value.strip()


def _email(claims: dict) -> str:
    """The e-mail claim, or "" when an account's address cannot hold it (logged without it):
    the account keeps the address it has."""
    email = _claim(claims, "email")
    model = get_user_model()
    limit = model._meta.get_field(model.get_email_field_name()).max_length
    if len(email) > limit:
        logger.warning("the 'email' claim is %d characters long, over the %d an account's "
                       "address holds: left out", len(email), limit)
        return ""
    return email


def _free_username(claims: dict) -> str:
    """The provider's preferred_username (else e-mail, else subject), made unique: a local
    account of the same name stays its owner's."""
    model = get_user_model()
    limit = model._meta.get_field(model.USERNAME_FIELD).max_length
    base = (_claim(claims, "preferred_username") or _claim(claims, "email")
            or claims["sub"])[:limit]
    name, number = base, 1
    while model.objects.filter(**{model.USERNAME_FIELD: name}).exists():
        number += 1
        suffix = f"-{number}"
        name = base[: limit - len(suffix)] + suffix
    return name
