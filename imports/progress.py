"""Where an import stands: its rows by state, and the progress bar's figures."""

import datetime
from time import perf_counter

from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from portal.caching import cache_answer

from .fallback import refusal_facts, single_posts_note
from .models import SENT_STATES, ImportJob, RowState
from .receipts import receipt_counts

# Rows per second are measured over this much of the recent past.
RATE_WINDOW = datetime.timedelta(seconds=15)
# A running import's counts and pace serve its watchers for this many times what working
# them out took.
COUNTS_REUSED_FOR = 10


def row_counts(job: ImportJob) -> dict[str, int]:
    """Rows by state, every state present (0 when none).

    A final import's rows change no more: its receipt's counts are read, not the rows (a
    second at each view of an import of 1.9 million rows).
    """
    if job.is_final and (counted := receipt_counts(job)) is not None:
        return counted
    counts = dict.fromkeys(RowState.values, 0)
    counts.update(job.rows.order_by().values_list("state").annotate(n=Count("pk")))
    return counts


def preview_counts(job: ImportJob, counts: dict[str, int]) -> dict[str, int]:
    """The rows by state as the preview left them: a row found on the do-not-call list at
    its send was to send then, and counted there (the page counted it in both)."""
    set_apart = sum(counts[state] for state in (RowState.INVALID, RowState.DUPLICATE,
                                                RowState.ALREADY_ADDED, RowState.HIDDEN,
                                                RowState.ELSEWHERE))
    return {**counts, RowState.SUPPRESSED: max(job.rows_total - job.rows_valid - set_apart, 0)}


def watched_figures(job: ImportJob) -> tuple[dict[str, int], float]:
    """Rows by state and rows per second, for the progress bar: a running import's are
    shared a while.

    Counting a 100,000-row import takes a tenth of a second or more, and every page that
    watches it asks every second: without sharing, the watchers would slow the push they
    watch. Both figures are reused for ten times what they took (sub-second reuse only
    where the cache keeps fractions of a second); a final import's counts are its
    receipt's.
    """
    if job.is_final:
        counts = row_counts(job)
        return counts, _rows_per_second(job, counts)
    key = f"imports:progress-figures:{job.pk}"
    figures = cache_answer(cache.get, key)
    if figures is None:
        started = perf_counter()
        counts = row_counts(job)
        figures = (counts, _rows_per_second(job, counts))
        cache_answer(cache.set, key, figures,
                     timeout=COUNTS_REUSED_FOR * (perf_counter() - started))
    return figures


def import_progress(job: ImportJob, counts: dict[str, int] | None = None) -> dict:
    """Where a confirmed import stands, for the progress bar (from `counts`, if the caller
    has just counted the rows)."""
    if counts is None:
        counts, rate = watched_figures(job)
    else:
        rate = _rows_per_second(job, counts)
    # Rows to send that are no longer waiting: sent, not sent, or found on the do-not-call
    # list just before their send.
    done = job.rows_valid - counts[RowState.QUEUED] - counts[RowState.SENDING]
    left = job.rows_valid - done
    seconds_left = round(left / rate) if rate > 0 and not job.is_final else None
    ended = sum(counts[state] for state in (*SENT_STATES, RowState.NOT_SENT))
    return {
        "state": job.state,
        "state_label": str(job.get_state_display()),
        "final": job.is_final,
        "cancelling": bool(job.cancel_requested_at) and not job.is_final,
        "total": job.rows_valid,
        "done": done,
        "percent": round(100 * done / job.rows_valid) if job.rows_valid else 100,
        "added": counts[RowState.ADDED],
        "added_earlier": counts[RowState.ADDED_EARLIER],
        "refused": counts[RowState.REFUSED],
        "failed": counts[RowState.FAILED],
        "unknown": counts[RowState.UNKNOWN],
        "not_sent": counts[RowState.NOT_SENT],
        # The rest of those done: numbers put on the do-not-call list after the preview,
        # found so just before their send (the preview's own are not rows to send).
        "listed_at_send": done - ended,
        "rows_per_second": round(rate, 1),
        # As the reader's language writes it ("16,2" in Polish), for the page and its script.
        # Rounded first: number_format cuts the digits after the first ("0.0" for 0.07).
        "pace": number_format(round(rate, 1), decimal_pos=1, force_grouping=True),
        "seconds_left": seconds_left,
        "time_left": time_left_words(seconds_left),
        "stop_reason": job.stop_reason,
        "single_posts": single_posts_note(refusal_facts(job.single_posts))
        if job.single_posts_id else "",
    }


def time_left_words(seconds: int | None) -> str:
    """How long a push has left, as people say it ("about 13 min"); "—" if unknown."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return str(_("under a minute"))
    hours, minutes = divmod(round(seconds / 60), 60)
    if not hours:
        return str(_("about %(minutes)d min") % {"minutes": minutes})
    return str(_("about %(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes})


def _rows_per_second(job: ImportJob, counts: dict[str, int]) -> float:
    """A running import's pace over the recent past; a final one's over its whole push."""
    if not job.started_at:
        return 0.0
    if job.is_final:
        sent = sum(counts[state] for state in SENT_STATES)
        seconds = ((job.finished_at or job.started_at) - job.started_at).total_seconds()
        return sent / seconds if seconds > 0 else 0.0
    now = timezone.now()
    since = max(now - RATE_WINDOW, job.started_at)
    recent = job.rows.filter(finished_at__gte=since, state__in=SENT_STATES).count()
    seconds = (now - since).total_seconds()
    return recent / seconds if seconds > 0 else 0.0
