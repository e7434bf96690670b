"""What the database holds, read at each scrape: imports' rows, the audit chain, scheduled
changes.

The same on every machine (they share the database), so aggregate them over instances
with max(), not sum(). Read on a connection of their own within READ_SECONDS
(portal.db_deadline): on the thread's kept one, a database that stopped answering held the
scrape past Prometheus' timeout, which then dropped the counters too. Seven queries: two
one-row reads, counts of the imports being sent and of those stalled, the count of the
scheduled changes waiting and the earliest one's time (by an index), the count of those
being applied and left unanswered (a few rows, each asked of its calls), and a count of
import rows by state, which reads every row (on PostgreSQL about 0.3 s a million
rows), the one to watch as imports pile up.
"""

import logging

from django.db import DatabaseError
from django.db.models import Count, Min
from prometheus_client.core import GaugeMetricFamily

from audit.models import ChainCheck, ChainHead
from campaigns.left_unanswered import left_unanswered
from campaigns.models import ScheduledChange
from imports.models import ImportJob, ImportRow, RowState
from imports.resuming import stalled
from portal.db_deadline import read_within

log = logging.getLogger(__name__)
# Prometheus gives a scrape 10 s by default: the database's figures come within half of it,
# or are left out.
READ_SECONDS = 5.0


class PortalState:
    """A collector (prometheus_client's protocol): `collect()` yields metric families.

    A database that does not answer, or not within READ_SECONDS, leaves its figures out and
    says so (`portal_state_readable` 0), where the whole scrape answered 500 and lost this
    process's counters, at the very time they tell most."""

    def collect(self):
        try:
            families = read_within(database_metrics, seconds=READ_SECONDS)
        except (DatabaseError, TimeoutError) as error:
            log.warning("metrics: the database does not answer: %s", type(error).__name__)
            families = []
        yield from families
        yield GaugeMetricFamily("portal_state_readable",
                                "1 if the database's figures were read at this scrape, else 0 "
                                "(they are then left out).", value=int(bool(families)))


def database_metrics() -> list[GaugeMetricFamily]:
    """Every family the database gives, or an error: one query failing leaves them all out."""
    return [*import_metrics(), *audit_metrics(), *schedule_metrics()]


def import_metrics():
    rows = GaugeMetricFamily("portal_import_rows", "Rows of all imports by state.",
                             labels=["state"])
    counts = dict(ImportRow.objects.order_by().values_list("state").annotate(Count("pk")))
    for state in RowState.values:
        rows.add_metric([state], counts.get(state, 0))
    yield rows
    jobs = dict(ImportJob.objects.order_by()
                .filter(state__in=(ImportJob.State.QUEUED, ImportJob.State.RUNNING,
                                   ImportJob.State.CHECKING))
                .values_list("state").annotate(Count("pk")))
    yield GaugeMetricFamily("portal_imports_running", "Imports being sent now.",
                            value=jobs.get(ImportJob.State.RUNNING, 0))
    yield GaugeMetricFamily("portal_imports_queued", "Imports waiting for a worker.",
                            value=jobs.get(ImportJob.State.QUEUED, 0))
    yield GaugeMetricFamily("portal_imports_checking",
                            "Large files whose rows a worker is to check, or checks.",
                            value=jobs.get(ImportJob.State.CHECKING, 0))
    # In the database's time, as heartbeats are written: a web machine's clock is not theirs.
    yield GaugeMetricFamily("portal_imports_stalled",
                            "Imports queued, being sent or checked that no worker renewed "
                            "within IMPORT_LEASE_SECONDS.",
                            value=ImportJob.objects.filter(stalled()).count())


def audit_metrics():
    head = ChainHead.objects.filter(pk=ChainHead.ONLY).values_list("seq", flat=True).first()
    yield GaugeMetricFamily("portal_audit_chain_links",
                            "Links in the audit chain: one as an entry begins, one as it ends.",
                            value=head or 0)
    check = ChainCheck.objects.filter(pk=ChainCheck.ONLY).first()
    if check is None or not check.sealed:
        # Never checked, or a row no check sealed (written by hand, or before checks sealed
        # their verdicts): no series, which an alert on absent() catches.
        return
    yield GaugeMetricFamily("portal_audit_last_verify_timestamp_seconds",
                            "When the last verify_audit finished (Unix time).",
                            value=check.checked_at.timestamp())
    yield GaugeMetricFamily("portal_audit_last_verify_intact",
                            "1 if the last verify_audit found the chain intact, else 0.",
                            value=int(check.intact))


def schedule_metrics():
    # By the (state, apply_at) index; a change being applied is not waiting any more.
    waiting = ScheduledChange.objects.filter(state=ScheduledChange.State.WAITING).aggregate(
        count=Count("pk"), earliest=Min("apply_at"))
    yield GaugeMetricFamily(
        "portal_scheduled_changes_waiting",
        "Scheduled campaign changes not sent yet, due or not.", value=waiting["count"],
    )
    yield GaugeMetricFamily(
        "portal_scheduled_changes_unanswered",
        "Scheduled campaign changes being applied whose call began longer than a claim's "
        "lease ago, Thulium not having answered whether it made them (asked again at the "
        "polls, up to a day).",
        value=left_unanswered().count(),
    )
    if waiting["earliest"] is None:
        return
    # A time, not a count of changes overdue: an alert picks how late is too late, by
    # Prometheus' clock.
    yield GaugeMetricFamily(
        "portal_scheduled_changes_earliest_due_timestamp_seconds",
        "When the earliest scheduled change not sent yet is due (Unix time); absent when "
        "none waits.", value=waiting["earliest"].timestamp(),
    )
