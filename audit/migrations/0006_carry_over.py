"""Move every entry of the four old audit tables into the one log, in the order they were begun.

The new chain's first entry (kind "carried-over") records the old chain's head (its last
link and hash) and how many entries each old table held; `verify_audit` checks that the
log still holds that many carried-over entries. Run `verify_audit` before upgrading: the
old chain is not walked again here. The domain state the old tables doubled as is written
too: the records the portal added, a request's sent change, an import's receipt and sends.
"""

import heapq
from operator import itemgetter

from django.core.management.color import no_style
from django.db import migrations
from django.utils import timezone

BATCH = 2000
# Old table -> the kind its entries become.
OLD_TABLES = {
    "campaigns.campaignchange": "campaign-change",
    "campaigns.changerequestevent": "change-request",
    "records.recordaddition": "record-addition",
    "imports.importreceipt": "import",
}
RECEIPT_COUNTS = ("rows_total", "rows_invalid", "rows_duplicate", "rows_already_added", "added",
                  "added_earlier", "refused", "failed", "unknown", "not_sent")
# An old addition's outcome -> what the portal knows of the number (others leave no trace).
KNOWN = {"succeeded": "added", "pending": "sending", "unknown": "unknown"}


def carry_over(apps, schema_editor):
    from audit.chain import BEGUN, BEGUN_FIELDS, COMPLETED, COMPLETED_FIELDS, begun_text
    from audit.chain import UNKEYED, completed_text, link_hash
    from audit.kinds import get_kind
    from audit.personal import current_key_id
    from audit.recording import search_terms

    old = {label: apps.get_model(*label.split(".")) for label in OLD_TABLES}
    counts = {label: model.objects.count() for label, model in old.items()}
    if not any(counts.values()):
        return
    Entry = apps.get_model("audit", "Entry")
    SearchTerm = apps.get_model("audit", "SearchTerm")
    Head = apps.get_model("audit", "ChainHead")
    head = Head.objects.filter(pk=1).first()
    chain = {"seq": 0, "hash": "0" * 64, "pk": 0}

    def link(entry):
        chain["pk"] += 1
        entry.pk = chain["pk"]
        chain["seq"] += 1
        entry.begin_seq = chain["seq"]
        # Links as they were made then: plain SHA-256 (the columns still hold 64 characters),
        # the begun one without its entry's id; later links are keyed (audit.chain).
        entry.begin_hash = chain["hash"] = link_hash(chain["hash"], chain["seq"], BEGUN, begun_text(
            {name: getattr(entry, name) for name in BEGUN_FIELDS}), key_id=UNKEYED)
        if entry.outcome != "pending":
            chain["seq"] += 1
            entry.complete_seq = chain["seq"]
            entry.complete_hash = chain["hash"] = link_hash(
                chain["hash"], chain["seq"], COMPLETED, completed_text(
                    {name: getattr(entry, name) for name in COMPLETED_FIELDS},
                    kind=entry.kind, pii_key=entry.pii_key, begin_hash=entry.begin_hash),
                key_id=UNKEYED)
        return entry

    now = timezone.now()
    first = Entry(
        kind="carried-over", actor_username="manage.py migrate", created_at=now,
        completed_at=now, outcome="succeeded", portal_request_id="", pii_key="",
        details={"old_head": {"seq": head.seq if head else 0,
                              "hash": head.last_hash if head else "0" * 64},
                 "entries": counts},
    )
    Entry.objects.bulk_create([link(first)])

    approvals, news = {}, {}  # request id -> approval entry id; (label, old pk) -> new entry
    batch = []
    streams = [_old_rows(label, model) for label, model in old.items()]
    for label, row, _seq in heapq.merge(*streams, key=itemgetter(2)):
        entry = Entry(**_values(label, row, approvals), portal_request_id=row.portal_request_id)
        entry.pii_key = current_key_id() if get_kind(entry.kind).personal else ""
        link(entry)
        news[label, row.pk] = entry
        if entry.kind == "change-request" and row.action == "approved":
            approvals[row.change_request_id] = entry.pk
        batch.append(entry)
        if len(batch) >= BATCH:
            _write(batch, Entry, SearchTerm, search_terms)
            batch = []
    _write(batch, Entry, SearchTerm, search_terms)
    with schema_editor.connection.cursor() as cursor:
        for sql in schema_editor.connection.ops.sequence_reset_sql(no_style(), [Entry]):
            cursor.execute(sql)
    _domain_state(apps, old, news)

    if schema_editor.connection.vendor == "postgresql":
        # The head only moves forward; the new chain starts again from its first link.
        schema_editor.execute('ALTER TABLE "audit_chainhead" DISABLE TRIGGER audit_forward_only')
    Head.objects.update_or_create(pk=1, defaults={"seq": chain["seq"], "last_hash": chain["hash"]})
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('ALTER TABLE "audit_chainhead" ENABLE TRIGGER audit_forward_only')


def _old_rows(label, model):
    for row in model.objects.order_by("begin_seq", "pk").iterator(chunk_size=BATCH):
        yield label, row, row.begin_seq or 0


def _values(label, row, approvals) -> dict:
    kind = OLD_TABLES[label]
    details, results, related, reason = {"carried_from": f"{label} #{row.pk}"}, {}, None, ""
    if kind == "campaign-change":
        details["settings_before"] = row.settings_before
        reason, related = row.reason, approvals.get(row.change_request_id)
    elif kind == "change-request":
        details.update(request=row.change_request_id, step=row.action,
                       settings_before=row.settings_before)
        if row.note:
            details["note"] = row.note
        reason = row.reason
    elif kind == "record-addition":
        if row.record_id:
            results["record_id"] = row.record_id
    else:
        details.update(job=row.job_id, confirmed_at=row.confirmed_at.isoformat()
                       if row.confirmed_at else None)
        if row.outcome != "pending":
            results = {"result": row.result,
                       **{name: getattr(row, name) for name in RECEIPT_COUNTS}}
    return {
        "kind": kind, "actor_id": row.actor_id, "actor_username": row.actor_username,
        "created_at": row.created_at, "completed_at": row.completed_at,
        "campaign_id": row.campaign_id, "outcome": row.outcome, "http_status": row.http_status,
        "request_id": row.request_id, "messages": row.messages, "detail": row.detail,
        "reason": reason, "sent": row.sent, "details": details, "results": results,
        "related_id": related,
    }


def _write(batch, Entry, SearchTerm, search_terms):
    Entry.objects.bulk_create(batch)
    SearchTerm.objects.bulk_create(
        SearchTerm(entry_id=entry.pk, term=term) for entry in batch
        for term in search_terms(entry, "begun") | search_terms(entry, "completed")
    )


def _domain_state(apps, old, news):
    """What the old tables doubled as: the records added, sent changes, receipts, sends."""
    AddedRecord = apps.get_model("records", "AddedRecord")
    additions = (old["records.recordaddition"].objects.filter(outcome__in=KNOWN)
                 .order_by("created_at", "pk"))
    latest = {}
    for row in additions.iterator(chunk_size=BATCH):  # the latest send of a number wins
        latest[row.campaign_id, row.phone_key] = row
    AddedRecord.objects.bulk_create(
        (AddedRecord(campaign_id=row.campaign_id, phone_key=row.phone_key,
                     identifier=row.identifier, record_id=row.record_id,
                     status=KNOWN[row.outcome], created_at=row.created_at,
                     entry_id=news["records.recordaddition", row.pk].pk)
         for row in latest.values()), batch_size=BATCH)
    ChangeRequest = apps.get_model("campaigns", "ChangeRequest")
    for row in old["campaigns.campaignchange"].objects.exclude(change_request=None):
        ChangeRequest.objects.filter(pk=row.change_request_id).update(
            sent_entry_id=news["campaigns.campaignchange", row.pk].pk)
    ImportJob = apps.get_model("imports", "ImportJob")
    for row in old["imports.importreceipt"].objects.all():
        ImportJob.objects.filter(pk=row.job_id).update(
            receipt_entry_id=news["imports.importreceipt", row.pk].pk)
    ImportAttempt = apps.get_model("imports", "ImportAttempt")
    for attempt in ImportAttempt.objects.iterator(chunk_size=BATCH):
        ImportAttempt.objects.filter(pk=attempt.pk).update(
            entry_id=news["records.recordaddition", attempt.addition_id].pk)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0005_entry"),
        ("campaigns", "0006_change_request_sent_entry"),
        ("imports", "0002_entries"),
        ("records", "0005_addedrecord"),
    ]

    operations = [
        migrations.RunPython(carry_over, migrations.RunPython.noop),
    ]
