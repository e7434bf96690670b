"""A break verify_audit finds, kept as data: which kind of break, and its values.

The check keeps its words (ChainCheck.problem) in English, the words its seal covers, and
beside them the finding (ChainCheck.finding): the same sentence as a message of the
catalogue and the values put in it. A reader is shown the finding in their language, with
its times in the portal's zone (audit.shown_checks), as long as it says what the sealed
words say; a check kept before findings were, or one whose finding does not, is shown in
its words.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_noop, pgettext_lazy

from .chain import BEGUN, COMPLETED

# Each kind of break and its sentence. The values are those of one break: link numbers,
# entry ids, a link's stage ("begun" or "completed"), `erased_at` a moment in ISO 8601 (UTC)
# and `minute` an erasure marker's minute ("2026-07-01 22:15 UTC").
BREAKS = {
    "link-missing": gettext_noop("link #%(link)s is missing: an entry was removed"),
    "newest-missing": gettext_noop(
        "links #%(first)s to #%(last)s are missing: the newest entries were removed"),
    "link-missing-before": gettext_noop(
        "link #%(missing)s is missing: an entry was removed (the next link is entry "
        "#%(entry)s (%(stage)s, link #%(link)s))"),
    "link-taken": gettext_noop(
        "entry #%(entry)s (%(stage)s, link #%(link)s) claims a link already taken: it was "
        "inserted out of order"),
    "link-altered": gettext_noop(
        "entry #%(entry)s (%(stage)s, link #%(link)s) does not match its hash: it was altered "
        "or moved in the chain"),
    "key-unknown": gettext_noop(
        "entry #%(entry)s (%(stage)s, link #%(link)s) cannot be checked: audit personal-data "
        "key %(key)s is neither AUDIT_PII_KEY nor in AUDIT_PII_RETIRED_KEYS"),
    "link-unkeyed": gettext_noop(
        "entry #%(entry)s (%(stage)s, link #%(link)s) is made without the chain's key, after "
        "links made with it: it was written by someone who had the database but not the "
        "portal's key"),
    "link-old-key": gettext_noop(
        "entry #%(entry)s (%(stage)s, link #%(link)s) is made under key %(key)s, which the "
        "chain had moved on from: it was written by someone who had the database and an old "
        "key, not the current one"),
    "head-unlike": gettext_noop(
        "the chain's head does not hold the hash of its last link #%(link)s: the head was "
        "altered, or the log was rewritten and its hashes made anew"),
    "kept-gone": gettext_noop(
        "link #%(link)s, kept as the head of an earlier check, is gone: the log was cut back"),
    "kept-unlike": gettext_noop(
        "link #%(link)s is not the one an earlier check kept (%(hash)s...): the log was "
        "rewritten from there on, its hashes made anew"),
    "move-missing": gettext_noop(
        "entries say they were carried over, but no entry records the move: it was removed"),
    "move-unlike": gettext_noop(
        "%(count)s entries of %(table)s were carried over, but %(found)s are in the log: "
        "some were lost or added"),
    "entry-unlinked": gettext_noop(
        "entry #%(entry)s is not in the chain: it was inserted behind the portal's back"),
    "link-below-first": gettext_noop(
        "entry #%(entry)s has a link numbered below the chain's first: it was slipped in "
        "outside the chain"),
    "outcome-unlinked": gettext_noop(
        "entry #%(entry)s has an outcome but no completed link: it was altered"),
    "pending-completed": gettext_noop(
        "entry #%(entry)s is pending yet carries a completion: it was altered"),
    "head-missing": gettext_noop(
        "the chain's head row is missing although entries are linked: it was deleted"),
    "link-beyond-head": gettext_noop(
        "entry #%(entry)s has a link beyond the chain's head: it was inserted out of order"),
    "erased-by-another": gettext_noop(
        "entry #%(entry)s says it was erased at %(erased_at)s, by an erasure that did not "
        "erase it: it was altered"),
    "erased-unrecorded": gettext_noop(
        "entry #%(entry)s says it was erased at %(erased_at)s, when no erasure recorded in "
        "the log was: it was altered"),
    "erased-before-written": gettext_noop(
        "entry #%(entry)s says it was erased at %(erased_at)s, by an erasure made before it "
        "was written: it was altered"),
    "value-put-back": gettext_noop(
        "entry #%(entry)s says it was erased, yet holds a personal value that no erasure's "
        "marker stands for: a value was put back: it was altered"),
    "marker-unrecorded": gettext_noop(
        "entry #%(entry)s has a value erased on %(minute)s under “%(reference)s”, not by the "
        "erasure it names, nor one the log records: it was altered"),
}


# A link's stage, as a reader is shown it.
STAGES = {BEGUN: pgettext_lazy("a link of the audit chain", "begun"),
          COMPLETED: pgettext_lazy("a link of the audit chain", "completed")}


@dataclass(frozen=True)
class Finding:
    """One break: `code` names its kind (a key of BREAKS), `values` are put in its words."""

    code: str
    values: dict

    def __str__(self):
        """The break in English, as the check keeps its words."""
        return BREAKS[self.code] % self.values

    @classmethod
    def kept(cls, data: dict) -> "Finding":
        """The finding ChainCheck.finding keeps; KeyError, TypeError or ValueError if
        `data` is not one."""
        return cls(data["code"], dict(data["values"]))

    def as_kept(self) -> dict:
        """The finding as ChainCheck.finding keeps it (JSON)."""
        return {"code": self.code, "values": self.values}


def where(pk: int, stage: str, seq: int) -> dict:
    """The values naming a link in a break's words: its entry, stage and number."""
    return {"entry": pk, "stage": stage, "link": seq}
