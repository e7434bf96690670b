"""Name the sheet of each workbook uploaded before ImportJob.sheet (0013) left it "".

"" now reads the first visible sheet, but the portal read the sheet the workbook was
saved on, and took the import's header and mapping from it: left "", such an import's
preview and rows to fix would read another sheet's rows. The rule is copied here, as it
was, since a migration must not change with the app's code.
"""

import io

import openpyxl
import psycopg
from django.db import migrations


def _content(connection, upload_model, job_id) -> bytes:
    """The upload's bytes, as imports.storing.upload_content reads them: PostgreSQL is
    asked for them in binary, not as the hex text twice their size."""
    if connection.vendor != "postgresql":
        return bytes(upload_model.objects.using(connection.alias)
                     .values_list("content", flat=True).get(job_id=job_id))
    table = connection.ops.quote_name(upload_model._meta.db_table)
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(f"SELECT content FROM {table} WHERE job_id = %s", [job_id],
                       binary=True)
        return cursor.fetchone()[0]


def _sheet_saved_on(content: bytes) -> str:
    """The title of the sheet the portal read before 0013: the one the workbook was saved
    on if it is a visible worksheet (not a chart's), else its first visible one."""
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        if book.active in book.worksheets and book.active.sheet_state == "visible":
            return book.active.title
        return next((sheet for sheet in book.worksheets if sheet.sheet_state == "visible"),
                    book.worksheets[0]).title
    finally:
        book.close()


def sheets_name(apps, schema_editor):
    ImportJob = apps.get_model("imports", "ImportJob")
    ImportUpload = apps.get_model("imports", "ImportUpload")
    connection = schema_editor.connection
    jobs = (ImportJob.objects.using(connection.alias)
            .filter(file_kind="xlsx", sheet="", upload__isnull=False)
            .values_list("pk", flat=True))
    for job_id in list(jobs):
        try:
            sheet = _sheet_saved_on(_content(connection, ImportUpload, job_id))
        except Exception:
            # Its rows cannot be read whichever sheet it names: the import shows why.
            continue
        ImportJob.objects.using(connection.alias).filter(pk=job_id).update(sheet=sheet)


class Migration(migrations.Migration):

    dependencies = [
        ('imports', '0013_sheet'),
    ]

    operations = [
        migrations.RunPython(sheets_name, migrations.RunPython.noop),
    ]
