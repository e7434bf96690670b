"""Link the entries recorded before the chain existed, in the order things happened."""

import hashlib
import json
from datetime import UTC

from django.db import migrations

# The chain as it was then (the one log of audit 0005 chains differently).
BEGUN, COMPLETED = "begun", "completed"
LINK_FIELDS = frozenset({"begin_seq", "begin_hash", "complete_seq", "complete_hash"})
GENESIS_HASH = "0" * 64
_canonical = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    default=lambda value: value.astimezone(UTC).isoformat(),
).encode


def payload(values: dict) -> str:
    return _canonical({name: value for name, value in values.items() if value is not None})


def link_hash(previous: str, seq: int, label: str, stage: str, text: str) -> str:
    return hashlib.sha256(f"{previous}\n{seq}\n{label}\n{stage}\n{text}".encode()).hexdigest()

# The kinds as they were when the chain began, with the fields completion fills in.
KINDS = {
    ("campaigns", "CampaignChange"): (
        "outcome", "completed_at", "http_status", "request_id", "messages", "detail",
    ),
    ("records", "RecordAddition"): (
        "outcome", "completed_at", "http_status", "request_id", "messages", "detail",
        "record_id",
    ),
}


def chain_existing_entries(apps, schema_editor):
    events = []
    for (app_label, name), completion in KINDS.items():
        model = apps.get_model(app_label, name)
        begun = [
            field.attname for field in model._meta.concrete_fields
            if not field.primary_key and field.attname not in LINK_FIELDS
            and field.name not in completion
        ]
        for entry in model.objects.order_by("pk"):
            spec = (model, begun, completion)
            events.append((entry.created_at, 0, model._meta.label_lower, entry.pk, BEGUN, entry,
                           spec))
            if entry.outcome != "pending":
                # A completion is never linked before its own beginning, whatever the clocks said.
                when = max(entry.completed_at or entry.created_at, entry.created_at)
                events.append((when, 1, model._meta.label_lower, entry.pk, COMPLETED, entry,
                               spec))
    events.sort(key=lambda event: event[:4])
    previous = GENESIS_HASH
    for seq, (_when, _order, label, pk, stage, entry, spec) in enumerate(events, start=1):
        model, begun, completion = spec
        if stage == BEGUN:
            values = {name: getattr(entry, name) for name in begun}
            previous = entry.begin_hash = link_hash(previous, seq, label, stage, payload(values))
            model.objects.filter(pk=pk).update(begin_seq=seq, begin_hash=previous)
        else:
            values = {"begin_hash": entry.begin_hash,
                      **{name: getattr(entry, name) for name in completion}}
            previous = link_hash(previous, seq, label, stage, payload(values))
            model.objects.filter(pk=pk).update(complete_seq=seq, complete_hash=previous)
    apps.get_model("audit", "ChainHead").objects.update_or_create(
        pk=1, defaults={"seq": len(events), "last_hash": previous}
    )


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0001_initial"),
        ("campaigns", "0004_audit_chain_and_timeline_indexes"),
        ("records", "0003_audit_chain_and_timeline_indexes"),
    ]

    operations = [
        migrations.RunPython(chain_existing_entries, migrations.RunPython.noop),
    ]
