import re

from django.core.management.base import BaseCommand, CommandError

from audit.verify import chain_check_keep, last_link_key_missing, verify_chain


class Command(BaseCommand):
    help = ("Walk the audit trail's hash chain; name the first entry that was altered, removed "
            "or inserted out of order, and exit non-zero if there is one.")

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=None,
                            help="processes walking the chain at once (default: one per CPU "
                                 "for a long chain)")
        parser.add_argument("--kept", action="append", default=[], metavar="#SEQ:HASH",
                            help="a head an earlier run printed, kept outside the database "
                                 "(e.g. \"#1234:1a2b3c4d.9f86d0...\"): the chain must still "
                                 "hold it; may be given several times")

    def handle(self, *args, workers=None, kept=(), **options):
        if workers is not None and workers < 1:
            raise CommandError("--workers must be at least 1")
        if key_id := last_link_key_missing():
            # Its walk would find every link made since the rotation unverifiable: no
            # verdict is kept, and no one is told of a break (a missing key is no tampering).
            raise CommandError(
                "This process is not given the audit key the chain's last link was made "
                f"under (key id {key_id}): restart it with the current AUDIT_PII_KEY "
                "(docs/operations.md, \"The audit key\"). Nothing was verified."
            )
        verdict = verify_chain(workers=workers, kept=tuple(_kept_link(text) for text in kept))
        # Kept broken or not: the metrics must show a break as much as a pass.
        chain_check_keep(verdict)
        if verdict.key_missing:
            # A key left out after a rotation, most likely: said so, where it was called
            # tampering (and it still fails: the trail is not verified).
            raise CommandError(
                f"The audit trail cannot be verified: {verdict.problem}. If a key was "
                "rotated, list the old one in AUDIT_PII_RETIRED_KEYS (docs/operations.md, "
                "\"The audit key\"); if no key ever had that id, the entry was altered. "
                f"({verdict.links} links before it were intact.)"
            )
        if verdict.problem:
            raise CommandError(
                f"The audit trail was tampered with: {verdict.problem}. "
                f"({verdict.links} links before it were intact.)"
            )
        # The head's hash, kept somewhere else, lets a later run prove nothing was rewritten
        # (--kept); it is printed as that option takes it.
        self.stdout.write(self.style.SUCCESS(
            f"The audit trail is intact: {verdict.entries} entries, {verdict.links} links; "
            f"head #{verdict.head_seq}:{verdict.head_hash}"
        ))


def _kept_link(text: str) -> tuple[int, str]:
    """(link number, hash) of a --kept value; raises CommandError for anything else."""
    seq, _colon, kept_hash = text.strip().lstrip("#").partition(":")
    if not (seq.isdigit() and re.fullmatch(r"([0-9a-f]{8}\.)?[0-9a-f]{64}", kept_hash)):
        raise CommandError(f"--kept takes #SEQ:HASH as a run printed it (\"#1234:<key id>."
                           f"<64 hex digits>\"), not {text!r}")
    return int(seq), kept_hash
