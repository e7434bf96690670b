"""Records added with a number typed with the trunk 0 Poland no longer dials ("0601 234
567") were keyed with it ("480601234567"): the same number typed without it, as the portal
now reads both (portal.phones), was not seen as added. They are keyed anew, unless the
number is known to the campaign already under its new key."""

from django.db import migrations

# Rows read, looked up and written at a time: a table of millions is neither held in memory
# nor written a row per statement.
BATCH = 2000


def rekey(apps, schema_editor):
    from portal.phones import key_without_trunk_zero

    added_record = apps.get_model("records", "AddedRecord")
    rows = (added_record.objects.filter(phone_key__regex=r"^[0-9]{1,3}0").order_by("pk")
            .values_list("pk", "campaign_id", "phone_key").iterator(chunk_size=BATCH))
    changes = []
    for pk, campaign_id, old_key in rows:
        if (key := key_without_trunk_zero(old_key)) != old_key:
            changes.append((pk, campaign_id, key))
    taken = set()  # (campaign, key) held already, or given here to an earlier record
    for start in range(0, len(changes), BATCH):
        batch = changes[start:start + BATCH]
        taken |= set(added_record.objects.filter(
            phone_key__in={key for _pk, _campaign, key in batch}).values_list(
            "campaign_id", "phone_key"))
        moved = []
        for pk, campaign_id, key in batch:
            if (campaign_id, key) not in taken:
                taken.add((campaign_id, key))
                moved.append(added_record(pk=pk, phone_key=key))
        added_record.objects.bulk_update(moved, ["phone_key"], batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [("records", "0009_entry_reference_unchecked")]

    operations = [migrations.RunPython(rekey, migrations.RunPython.noop)]
