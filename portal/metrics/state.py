"""What the database holds, read at each scrape: imports' rows, the audit chain, scheduled
changes.

The same on every machine (they share the database), so aggregate them over instances
with max(), not sum(). Five queries: two one-row reads, a count of the imports being sent,
a count of the scheduled changes waiting (by an index), and a count of import rows by
state, which reads every row (on PostgreSQL about 0.3 s a million rows), the one to watch
as imports pile up.
"""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from audit.models import ChainCheck, ChainHead
from campaigns.models import ScheduledChange
from imports.models import ImportJob, ImportRow, RowState


class PortalState:
    """A collector (prometheus_client's protocol): `collect()` yields metric families."""

    def collect(self):
        yield from import_metrics()
        yield from audit_metrics()
        yield from schedule_metrics()


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


def audit_metrics():
    head = ChainHead.objects.filter(pk=ChainHead.ONLY).values_list("seq", flat=True).first()
    yield GaugeMetricFamily("portal_audit_chain_links",
                            "Links in the audit chain: one as an entry begins, one as it ends.",
                            value=head or 0)
    check = ChainCheck.objects.filter(pk=ChainCheck.ONLY).first()
    if check is None:
        return  # never checked: no series, which an alert on absent() catches
    yield GaugeMetricFamily("portal_audit_last_verify_timestamp_seconds",
                            "When the last verify_audit finished (Unix time).",
                            value=check.checked_at.timestamp())
    yield GaugeMetricFamily("portal_audit_last_verify_intact",
                            "1 if the last verify_audit found the chain intact, else 0.",
                            value=int(check.intact))


def schedule_metrics():
    # By the (state, apply_at) index; a change being applied is not waiting any more.
    yield GaugeMetricFamily(
        "portal_scheduled_changes_waiting", "Scheduled campaign changes waiting for their time.",
        value=ScheduledChange.objects.filter(state=ScheduledChange.State.WAITING).count(),
    )
