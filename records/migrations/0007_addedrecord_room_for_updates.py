"""Room on each page of the added records for the update that completes a send.

A number is written when its send begins and updated, its status and Thulium's record id,
when the send ends. Neither is indexed, so PostgreSQL can update the row in place on its
page (a HOT update) and leave the table's five indexes alone, but only if the page has
room: at the default fill factor of 100 it never has. SQLite has no such setting.
"""

from django.db import migrations

FILL_FACTOR = 75


def leave_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE records_addedrecord SET (fillfactor = {FILL_FACTOR})")


def fill_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE records_addedrecord RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("records", "0006_remove_recordaddition")]

    operations = [migrations.RunPython(leave_room, fill_pages)]
