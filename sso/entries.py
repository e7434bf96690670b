"""The kind of audit entry that says a sign-on through the identity provider created an
account, or gave or took portal groups (roles) as the provider's groups claim said.

`sent` holds the claim's values that OIDC_GROUP_MAP knows (the others may be many, and
are none of the portal's business)."""

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.kinds import EntryKind
from roles.entries import groups_words


def _summary(entry) -> str:
    details = entry.details
    parts = [gettext("first sign-on of %(account)s") % {"account": details.get("account", "")}
             if details.get("created") else
             gettext("sign-on of %(account)s") % {"account": details.get("account", "")}]
    return "; ".join([*parts, *groups_words(details)])


# Nothing goes to Thulium: the entry is begun and completed at once.
SIGN_ON = EntryKind(
    slug="sign-on-roles",
    label=_("roles from single sign-on"),
    summary=_summary,
    template="audit/kinds/sign-on-roles.html",
    search=("details.account",),
    export_columns=(("account", "details.account"), ("first_sign_on", "details.created"),
                    ("groups_gained", "details.gained"), ("groups_lost", "details.lost")),
    calls_thulium=False,
)
