"""The audit log: one append-only table of entries, the head of its hash chain, search terms.

Read like Django admin's `LogEntry`: who, when, which campaign, what was sent, what came
back. An entry is written *pending* before Thulium is called and completed once after,
so a crash in between leaves evidence of the attempt. Only `audit.recording` writes
entries; it links both events, begun and completed, into the chain (`audit.chain`).
"""

import json
from datetime import UTC

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from portal.request_id import current_request_id
from portal.shown_times import named_minute

from .chain import CHECKS, HASH_LENGTH, keyed_seal, seal_holds
from .kinds import kind_of

# The hash the first link is chained to.
GENESIS_HASH = "0" * 64


class Outcome(models.TextChoices):
    PENDING = "pending", _("pending")
    SUCCEEDED = "succeeded", _("succeeded")
    REFUSED = "refused", _("refused")
    FAILED = "failed", _("failed")
    # Sent, but no answer came (e.g. a timeout): Thulium may or may not have acted.
    UNKNOWN = "unknown", _("unknown")


class AppendOnlyError(Exception):
    """Raised instead of rewriting or deleting audit history."""


class LettersJSONEncoder(json.JSONEncoder):
    """JSON with letters as letters. SQLite keeps the text as written, and exports and
    database tools then show "ś", not "\\u015b" (PostgreSQL's jsonb does so anyway)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "ensure_ascii": False})


class EntryQuerySet(models.QuerySet):
    """Bulk updates and deletes would rewrite history without a trace, so they are refused."""

    def update(self, **kwargs):
        raise AppendOnlyError("audit entries are append-only: they cannot be updated")

    def delete(self):
        raise AppendOnlyError("audit entries are append-only: they cannot be deleted")


class Entry(models.Model):
    """One thing a user (or the portal) did, and what came of it."""

    kind = models.CharField(_("action"), max_length=40)  # an audit.kinds slug
    # Deleting a user must leave their entries exactly as written, so there is no database
    # constraint and nothing is done on delete: the id stays, and the username copy names them.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user's account"), on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False, null=True, related_name="+",
    )
    actor_username = models.CharField(_("user"), max_length=150)
    created_at = models.DateTimeField(_("when"), default=timezone.now, editable=False)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    # The log outlives what it names: no constraint, nothing done on delete.
    campaign = models.ForeignKey(
        "campaigns.Campaign", verbose_name=_("campaign"), on_delete=models.DO_NOTHING,
        db_constraint=False, db_index=False, null=True, blank=True, related_name="+",
    )
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING
    )
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    request_id = models.CharField(_("Thulium request_id"), max_length=64, blank=True)
    messages = models.JSONField(_("Thulium's messages"), default=list, blank=True,
                                encoder=LettersJSONEncoder)
    # What went wrong in words, and Thulium's raw body when it was not the documented JSON.
    detail = models.TextField(_("detail"), blank=True)
    # The id in the portal's log lines of the request that made the entry.
    portal_request_id = models.CharField(
        _("portal request id"), max_length=64, blank=True, editable=False,
        default=current_request_id,
    )
    reason = models.TextField(_("reason"), blank=True)
    sent = models.JSONField(_("sent to Thulium"), default=dict, blank=True,
                            encoder=LettersJSONEncoder)
    # The kind's own values: `details` when begun, `results` when completed.
    details = models.JSONField(_("details"), default=dict, blank=True,
                               encoder=LettersJSONEncoder)
    results = models.JSONField(_("results"), default=dict, blank=True,
                               encoder=LettersJSONEncoder)
    # A four-eyes approval to its request, a retry to the send it repeats, ...
    related = models.ForeignKey(
        "self", verbose_name=_("related entry"), on_delete=models.DO_NOTHING,
        db_constraint=False, db_index=False, null=True, blank=True, related_name="+",
    )
    # The key (audit.personal) that made the digests standing for this entry's personal data.
    pii_key = models.CharField(max_length=16, blank=True, editable=False)
    # Set when an erasure replaced the entry's personal values by markers.
    erased_at = models.DateTimeField(_("personal data erased"), null=True, blank=True,
                                     editable=False)
    # The entry's two links in the hash chain: when it was begun and when it was completed.
    begin_seq = models.BigIntegerField(_("chain link (begun)"), unique=True, null=True,
                                       editable=False)
    begin_hash = models.CharField(max_length=HASH_LENGTH, blank=True, editable=False)
    complete_seq = models.BigIntegerField(_("chain link (completed)"), unique=True, null=True,
                                          editable=False)
    complete_hash = models.CharField(max_length=HASH_LENGTH, blank=True, editable=False)

    objects = EntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        # Related lookups and Django's internals go through the guarded queryset too.
        base_manager_name = "objects"
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        # The timeline pages through a million entries, filtered or not, by these. Every
        # entry is written twice (begun, then completed, which changes indexed columns), so
        # the index of related entries leaves out the many that relate to none. (The request
        # ids' index keeps the empty ones: SQLite uses no partial index for a search whose
        # value is bound, as it cannot tell that the value is not empty.)
        # The indexes of an action with a user, a campaign or an outcome are PostgreSQL's only
        # and leave out record additions (migration 0018).
        indexes = [
            models.Index(fields=["created_at", "id"], name="entry_when"),
            models.Index(fields=["campaign", "created_at", "id"], name="entry_campaign_when"),
            models.Index(fields=["actor", "created_at", "id"], name="entry_actor_when"),
            models.Index(fields=["outcome", "created_at", "id"], name="entry_outcome_when"),
            models.Index(fields=["kind", "created_at", "id"], name="entry_kind_when"),
            models.Index(fields=["request_id"], name="entry_request_id"),
            models.Index(fields=["related"], name="entry_related",
                         condition=models.Q(related__isnull=False)),
        ]
        # The chain's links are numbered from 1 (verify_audit walks 1 to the head).
        constraints = [
            models.CheckConstraint(
                condition=models.Q(begin_seq__gte=1) & models.Q(complete_seq__gte=1),
                name="entry_links_from_one"),
        ]

    def __str__(self):
        return gettext("%(action)s #%(number)s by %(user)s (%(outcome)s)") % {
            "action": kind_of(self).label, "number": self.pk, "user": self.actor_username,
            "outcome": self.get_outcome_display()}

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("audit entries are append-only: completing is the only change")
        if self.begin_seq is None:
            raise AppendOnlyError("audit entries are written by audit.recording, which links "
                                  "them into the chain")
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("audit:entry", args=[self.pk])

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit entries are append-only: they cannot be deleted")

    @property
    def is_final(self) -> bool:
        return self.outcome != Outcome.PENDING


class SearchTerm(models.Model):
    """A value the timeline's search box finds an entry by, exactly.

    Personal values (phone numbers, identifiers) are kept here only as their keyed digest
    (`audit.personal`), so a search still finds an entry whose number was erased.
    """

    # Looked up by entry through the (entry, term) constraint's index: none of its own.
    entry = models.ForeignKey(Entry, on_delete=models.DO_NOTHING, db_constraint=False,
                              related_name="+", db_index=False)
    term = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entry", "term"], name="search_term_once")]
        # Terms are found exactly, never by LIKE: a plain index, not the column's db_index,
        # which on PostgreSQL adds a pattern-ops one written with every term to no use.
        indexes = [models.Index(fields=["term"], name="search_term")]
        verbose_name = _("search term")
        verbose_name_plural = _("search terms")

    def __str__(self):
        return self.term


class ChainHead(models.Model):
    """The last link of the chain: one row, locked while the next link is written.

    It also carries the permission to see everyone's entries.
    """

    ONLY = 1

    seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=HASH_LENGTH, default=GENESIS_HASH)
    # The ids of the personal-data keys entries were made under (Entry.pii_key), kept as
    # they are written: an erasure finds a number only by its digests under the keys the
    # portal is given, and refuses while one of these is not (audit.erasure).
    pii_keys = models.JSONField(default=list)

    class Meta:
        default_permissions = ()
        permissions = [
            ("view_audit_trail", _("Can see everyone's actions in the audit trail")),
            ("erase_personal_data", _("Can erase a person's phone number everywhere")),
        ]
        verbose_name = _("audit chain head")
        verbose_name_plural = _("audit chain heads")

    def __str__(self):
        return f"#{self.seq} {self.last_hash}"


class ChainCheck(models.Model):
    """The verdict of the last `verify_audit`: one row, replaced by each run.

    Kept in the database so that every process (the metrics page of any machine) reads the
    same answer cheaply; a run that crashes writes nothing, so its time goes stale.
    """

    ONLY = 1

    checked_at = models.DateTimeField(_("checked"))
    intact = models.BooleanField(_("intact"))
    links = models.BigIntegerField(_("links checked"))
    problem = models.TextField(_("first break"), blank=True)
    # The same break as data, which a reader is shown in their language (audit.findings);
    # {} in checks kept before findings were. The seal covers the words, and the finding is
    # shown only where it says what they say.
    finding = models.JSONField(default=dict, blank=True, editable=False,
                               encoder=LettersJSONEncoder)
    # The verdict's HMAC under the audit key (audit.chain.keyed_seal): a row written by whoever
    # may write the table but lacks the key (to say "intact", or to keep a coming break's
    # words from being told) is not the last check's.
    seal = models.CharField(max_length=HASH_LENGTH, blank=True, editable=False)

    class Meta:
        default_permissions = ()
        verbose_name = _("audit chain check")
        verbose_name_plural = _("audit chain checks")

    def __str__(self):
        return f"{named_minute(self.checked_at)} {'intact' if self.intact else 'broken'}"

    @property
    def sealed(self) -> bool:
        """Whether the verdict is one a check kept (see `seal`)."""
        return seal_holds(self._verdict(), self.seal, purpose=CHECKS)

    def seal_now(self) -> None:
        self.seal = keyed_seal(self._verdict(), purpose=CHECKS)

    def _verdict(self) -> str:
        return "\n".join((self.checked_at.astimezone(UTC).isoformat(), str(int(self.intact)),
                          str(self.links), self.problem))
