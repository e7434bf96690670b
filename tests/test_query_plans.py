"""The queries a contact center's volume makes slow use their indexes (PostgreSQL's plans).

Judged by EXPLAIN, never by time: the plan names the index meant for the query.
"""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import Entry, Outcome
from audit.services import TimelineFilters, timeline_page
from campaigns.entries import CAMPAIGN_CHANGE, CHANGE_REQUEST, Step
from campaigns.models import Campaign
from imports.access import readable_imports
from imports.models import ImportJob
from imports.views import IMPORTS_PER_PAGE
from records.entries import RECORD_ADDITION
from tests.conftest import AUDITORS, make_user, skip_unless_postgresql

ENTRIES = 20_000


def indexes_used(queryset) -> set[str]:
    """The indexes the plan of the queryset reads ("seq scan" for a whole table read)."""
    return indexes_read(*queryset.query.sql_with_params())


def indexes_read(sql, params=None) -> set[str]:
    """The indexes the plan of the statement reads ("seq scan" for a whole table read)."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        (plan,) = cursor.fetchone()
    plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]

    def walk(node):
        yield node.get("Index Name") or ("seq scan" if node["Node Type"] == "Seq Scan" else None)
        for child in node.get("Plans", []):
            yield from walk(child)
    return set(walk(plan)) - {None}


def test_a_change_request_s_steps_are_found_by_its_index(db):
    """outdated_why and request_step_record look a request's steps up by its id."""
    skip_unless_postgresql(connection)
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO audit_entry (kind, actor_username, created_at, outcome, request_id,
                messages, detail, portal_request_id, reason, sent, details, results, pii_key,
                begin_seq, begin_hash, complete_seq, complete_hash)
            SELECT 'change-request', 'x', now() - n * interval '1 minute', 'succeeded', '',
                   '[]', '', '', '', '{}',
                   jsonb_build_object('request', n / 3, 'step', 'requested'), '{}', '', n, '',
                   n + %(n)s, ''
            FROM generate_series(1, %(n)s) n""", {"n": ENTRIES})
        cursor.execute("ANALYZE audit_entry")
    steps = Entry.objects.filter(kind=CHANGE_REQUEST.slug, details__request=ENTRIES // 6,
                                 details__step=Step.OUTDATED)
    assert indexes_used(steps.order_by("-created_at", "-pk")[:1]) == {
        "entry_change_request_step"}


def test_the_imports_list_reads_its_page_by_the_imports_date_index(db):
    """The list joined every import's receipt, then sorted them all for a page."""
    skip_unless_postgresql(connection)
    auditor = make_user("auditor", AUDITORS)
    campaign = Campaign.objects.create(thulium_id="P2", name="Imports")
    ImportJob.objects.bulk_create(
        ImportJob(campaign=campaign, actor=auditor, actor_username="a", file_name="f.csv",
                  file_size=1, file_sha256="0", file_kind="csv") for _ in range(ENTRIES))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE imports_importjob")
    jobs = readable_imports(auditor, ImportJob.objects.select_related("campaign", "receipt"))
    assert "import_when" in indexes_used(jobs[:IMPORTS_PER_PAGE])


@pytest.mark.parametrize(("pair", "index"), [
    ({"actor_id": 1, "kind": CAMPAIGN_CHANGE.slug}, "entry_actor_kind_when"),
    ({"campaign_id": 1, "kind": CAMPAIGN_CHANGE.slug}, "entry_campaign_kind_when"),
    ({"kind": CAMPAIGN_CHANGE.slug, "outcome": Outcome.REFUSED}, "entry_kind_outcome_when"),
    # "failed" leaves out the additions that read "not sent" (audit.services.outcome_shown).
    ({"kind": CAMPAIGN_CHANGE.slug, "outcome": Outcome.FAILED}, "entry_kind_outcome_when"),
], ids=["user-action", "campaign-action", "action-outcome", "action-failed"])
def test_a_timeline_filter_pair_that_matches_nothing_reads_the_pair_s_index(db, pair, index):
    """Two filters matching nothing together had PostgreSQL walk every entry of the action
    newest first, looking for a page that never came."""
    skip_unless_postgresql(connection)
    auditor = make_user("auditor", AUDITORS)
    # Four operators' additions, each to their campaign, a ninth refused; a tenth of the
    # entries a manager's changes to another campaign.
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO audit_entry (kind, actor_id, actor_username, created_at, campaign_id,
                outcome, request_id, messages, detail, portal_request_id, reason, sent, details,
                results, pii_key, begin_seq, begin_hash, complete_seq, complete_hash)
            SELECT CASE WHEN n %% 10 = 0 THEN %(change)s ELSE %(addition)s END,
                   CASE WHEN n %% 10 = 0 THEN 5 ELSE n %% 4 + 1 END, 'x',
                   now() - n * interval '1 minute',
                   CASE WHEN n %% 10 = 0 THEN 5 ELSE n %% 4 + 1 END,
                   CASE WHEN n %% 10 = 1 THEN 'refused' ELSE 'succeeded' END, '', '[]', '',
                   '', '', '{}', '{}', '{}', '', n, '', n + %(n)s, ''
            FROM generate_series(1, %(n)s) n""",
                       {"n": ENTRIES, "change": CAMPAIGN_CHANGE.slug,
                        "addition": RECORD_ADDITION.slug})
        cursor.execute("ANALYZE audit_entry")
    with CaptureQueriesContext(connection) as queries:
        page = timeline_page(viewer=auditor, filters=TimelineFilters(**pair))
    assert page.rows == []
    (read,) = [query["sql"] for query in queries.captured_queries
               if 'FROM "audit_entry"' in query["sql"]]
    assert index in indexes_read(read)
