"""The groups the portal's data migrations make (its roles), named in the reader's language.

Their names are stored in English and stay so: they are the groups' keys, in the database,
in OIDC_GROUP_MAP and REQUIRE_2FA_FOR, and in the audit entries' details (which the chain
hashes). They are translated only where shown. The migrations keep their own copies of
the names, as a migration must not change with the code; a test holds this set to what
they make.
"""

from django.utils.translation import gettext, gettext_noop

PORTAL_GROUPS = frozenset({
    gettext_noop("Administrators"),
    gettext_noop("Auditors"),
    gettext_noop("Campaign editors"),
    gettext_noop("Compliance officers"),
    gettext_noop("Record loaders"),
})


def group_name_shown(name: str) -> str:
    """A group's stored name in the reader's language; a group the portal did not make (an
    administrator's own) as stored, even where its name is a word the catalogue knows."""
    return gettext(name) if name in PORTAL_GROUPS else name


def group_label(group) -> str:
    """A group as the admin's choices show it."""
    return group_name_shown(group.name)


def portal_groups_shown_with(words: list[str]) -> list[str]:
    """The stored names of the portal's groups whose name in the reader's language holds
    each of `words`, in any case: the names the admin's list shows, which its search finds
    too."""
    return [name for name in PORTAL_GROUPS
            if all(word.casefold() in group_name_shown(name).casefold() for word in words)]
