"""Imports uploaded before ImportJob.sheet keep reading the sheet their header came from."""

import importlib
import io
from types import SimpleNamespace

import openpyxl
from django.apps import apps
from django.db import connection
from openpyxl.chart import BarChart, Reference

from imports.models import ImportJob
from imports.storing import upload_insert

migration = importlib.import_module("imports.migrations.0014_sheet_of_earlier_imports")


def workbook(*, active: int, chart: bool = False) -> bytes:
    """Sheets "Już dzwonieni", "Nowi" and "Stare", saved on the `active` one; with a
    chart's sheet (the fourth) and the first sheet hidden, for `chart`."""
    book = openpyxl.Workbook()
    book.active.title = "Już dzwonieni"
    book.active.append(["Telefon", "Imię"])
    book.create_sheet("Nowi").append(["Telefon", "Imię"])
    book.create_sheet("Stare").append(["Telefon", "Imię"])
    if chart:
        book["Już dzwonieni"].sheet_state = "hidden"
        bars = BarChart()
        bars.add_data(Reference(book["Nowi"], min_col=1, min_row=1, max_row=1))
        book.create_chartsheet("Wykres").add_chart(bars)
    book.active = active
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def job_before_0013(campaign, content: bytes, kind: str = "xlsx", sheet: str = "") -> ImportJob:
    job = ImportJob.objects.create(
        campaign=campaign, actor_username="manager", file_name=f"leady.{kind}",
        file_size=len(content), file_sha256="a" * 64, file_kind=kind, sheet=sheet)
    upload_insert(job, content)
    return job


def test_a_workbook_uploaded_before_the_sheet_was_kept_names_the_sheet_it_was_saved_on(
    campaigns
):
    """The old portal read the sheet a workbook was saved on and mapped its header: left
    "", the import would now read the first visible sheet's rows instead."""
    sales = campaigns["00001"]
    saved_on_second = job_before_0013(sales, workbook(active=1))
    saved_on_chart = job_before_0013(sales, workbook(active=3, chart=True))
    damaged = job_before_0013(sales, b"PK\x03\x04 not a workbook")
    named = job_before_0013(sales, workbook(active=1), sheet="Stare")
    csv = job_before_0013(sales, b"Telefon\n601234567\n", kind="csv")
    gone = job_before_0013(sales, workbook(active=1))
    gone.upload.delete()
    migration.sheets_name(apps, SimpleNamespace(connection=connection))
    sheets = dict(ImportJob.objects.values_list("pk", "sheet"))
    assert sheets == {saved_on_second.pk: "Nowi", saved_on_chart.pk: "Nowi",
                      damaged.pk: "", named.pk: "Stare", csv.pk: "", gone.pk: ""}
