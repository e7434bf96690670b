"""Files to import, made the way spreadsheets write them, and the upload steps."""

import io

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from imports.models import ImportJob

HEADER = ["Telefon", "Imię", "Nazwisko", "Miasto"]


def csv_bytes(rows, *, header=HEADER, delimiter=";", encoding="utf-8", bom=False) -> bytes:
    """CSV text as Excel saves it: CRLF line ends, the given separator and code page."""
    lines = [delimiter.join(header), *(delimiter.join(row) for row in rows)]
    text = "\r\n".join(lines) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding)


def xlsx_bytes(rows, *, header=HEADER) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [header, *rows]:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def people(count, *, first=601000000):
    """`count` rows of distinct 9-digit numbers with Polish names."""
    return [[str(first + n), "Zofia", f"Kowalska-{n}", "Łódź"] for n in range(count)]


def upload(client, campaign, content, name="leady.csv"):
    """POST the file to the upload page; returns the response."""
    return client.post(
        reverse("imports:upload", args=[campaign.thulium_id]),
        {"file": SimpleUploadedFile(name, content)},
    )


def mapping_post(job, **overrides):
    """The mapping form's POST data: the proposal, with some columns changed."""
    data = {f"column_{index}": target for index, target in enumerate(job.mapping)}
    data.update(overrides)
    return data


def previewed(client, campaign, content, name="leady.csv", **overrides) -> ImportJob:
    """Upload and preview with the proposed mapping; returns the job."""
    response = upload(client, campaign, content, name)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = ImportJob.objects.latest("pk")
    response = client.post(reverse("imports:mapping", args=[job.pk]),
                           mapping_post(job, **overrides))
    assert response.status_code == 302, response.content.decode()[:2000]
    job.refresh_from_db()
    return job
