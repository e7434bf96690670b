"""Entries typed with the trunk 0 Poland no longer dials ("0601 234 567") were keyed with it
("480601234567"), apart from the number's own key ("48601234567"). The portal now reads
such numbers without the 0 (portal.phones), so they are keyed anew here: kept as they
were, they would block none of the numbers checked against them. An entry whose number
was erased keeps its digest (only that is left of it); one whose number is on the list
already for the same campaigns stays as it was beside it."""

from django.db import migrations

# Rows read, looked up and written at a time (records 0010 says why).
BATCH = 2000


def rekey(apps, schema_editor):
    from audit.personal import digest
    from portal.phones import key_without_trunk_zero

    suppression = apps.get_model("donotcall", "Suppression")
    rows = (suppression.objects.exclude(phone_key="").order_by("pk")
            .values_list("pk", "campaign_id", "phone_key").iterator(chunk_size=BATCH))
    changes = []
    for pk, campaign_id, old_key in rows:
        if (key := key_without_trunk_zero(old_key)) != old_key:
            changes.append((pk, campaign_id, key, digest(key)))
    taken = set()  # (digest, campaign) on the list already, or given here to an earlier entry
    for start in range(0, len(changes), BATCH):
        batch = changes[start:start + BATCH]
        taken |= set(suppression.objects.filter(
            digest__in={new_digest for *_rest, new_digest in batch}).values_list(
            "digest", "campaign_id"))
        moved = []
        for pk, campaign_id, key, new_digest in batch:
            if (new_digest, campaign_id) not in taken:
                taken.add((new_digest, campaign_id))
                moved.append(suppression(pk=pk, phone_key=key, digest=new_digest))
        suppression.objects.bulk_update(moved, ["phone_key", "digest"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [("donotcall", "0002_compliance_officers")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
