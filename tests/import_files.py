"""Files to import, made the way spreadsheets write them, and the upload steps."""

import io
import zipfile
from xml.sax.saxutils import escape

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


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def excel_xlsx_bytes(rows, *, header=HEADER, stated_size: str = "") -> bytes:
    """A workbook of text cells as Excel saves one (openpyxl writes its text inline): the
    sheet's range first (`stated_size`, as a faulty program may state it, instead of the
    cells' own), each text once in the shared-string table, in order of use."""
    strings: dict[str, int] = {}
    lines = []
    for number, cells in enumerate([header, *rows], 1):
        cells_xml = "".join(
            f'<c r="{chr(65 + column)}{number}" t="s"><v>{strings.setdefault(text, len(strings))}'
            f"</v></c>" for column, text in enumerate(cells))
        lines.append(f'<row r="{number}">{cells_xml}</row>')
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package'
            '.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_TYPE}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_TYPE}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_TYPE}.sharedStrings+xml"/>'
            "</Types>"),
        "_rels/.rels": (
            f'<Relationships xmlns="{_PACKAGE}"><Relationship Id="rId1" '
            f'Type="{_RELATIONS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONS}"><sheets>'
            '<sheet name="Arkusz1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{_PACKAGE}"><Relationship Id="rId1" Type="{_RELATIONS}'
            '/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
            f'Type="{_RELATIONS}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": (
            f'<worksheet xmlns="{_MAIN}"><dimension ref="'
            f'{stated_size or f"A1:{chr(64 + len(header))}{len(rows) + 1}"}"/>'
            f'<sheetData>{"".join(lines)}</sheetData></worksheet>'),
        "xl/sharedStrings.xml": (
            f'<sst xmlns="{_MAIN}">'
            + "".join(f"<si><t>{escape(text)}</t></si>" for text in strings) + "</sst>"),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        for name, xml in parts.items():
            book.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + xml)
    return buffer.getvalue()


def sheet_patched(content: bytes, old: str, new: str) -> bytes:
    """The workbook with `old` replaced by `new` in its first sheet's XML: a cell written
    as Excel writes it and openpyxl does not."""
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        for name in source.namelist():
            xml = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                assert old.encode() in xml
                xml = xml.replace(old.encode(), new.encode())
            book.writestr(name, xml)
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


def streamed_xlsx(pieces, *, first: bool = False, after_data: bytes = b"",
                  spaces_first: int = 0) -> bytes:
    """A workbook as `excel_xlsx_bytes` writes one (its header Telefon and one person),
    whose sheet's rows are followed (or, `first`, preceded) by `pieces` (bytes of XML),
    written one by one: a crafted sheet of hundreds of MB, which compresses a
    thousandfold, is never held whole. `after_data` goes after the sheet's rows; with
    `spaces_first`, the sheet begins with that many spaces, and no XML declaration."""
    template = zipfile.ZipFile(io.BytesIO(excel_xlsx_bytes([["601000001"]], header=["Telefon"])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        for name in template.namelist():
            xml = template.read(name)
            if name != "xl/worksheets/sheet1.xml":
                book.writestr(name, xml)
                continue
            start, rows = xml.split(b"<sheetData>")
            if spaces_first:
                start = b" " * spaces_first + start.split(b"?>", 1)[1].lstrip()
            rows, end = rows.split(b"</sheetData>")
            with book.open(name, "w") as sheet:
                sheet.write(start + b"<sheetData>" + (b"" if first else rows))
                for piece in pieces:
                    sheet.write(piece)
                sheet.write((rows if first else b"") + b"</sheetData>" + after_data + end)
    return buffer.getvalue()


def size_stated(content: bytes, part: str, size: int) -> bytes:
    """The workbook with its archive stating `size` as what `part` unpacks to (in its
    local header and its central directory), whatever its data holds."""
    name = part.encode()
    content = bytearray(content)
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        header = content.find(signature)
        while content[header + name_at:header + name_at + len(name)] != name:
            header = content.find(signature, header + 1)
        content[header + size_at:header + size_at + 4] = size.to_bytes(4, "little")
    return bytes(content)


def long_first_cell_xlsx(megabytes: int, *, spaces_first: int = 0) -> bytes:
    """A workbook of some 100 KB per 100 MB whose first cell holds `megabytes` MB of text
    (see streamed_xlsx for `spaces_first`)."""
    return streamed_xlsx([b'<row><c t="inlineStr"><is><t>', *[b"A" * 1024 * 1024] * megabytes,
                          b"</t></is></c></row>"], first=True, spaces_first=spaces_first)
