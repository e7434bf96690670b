"""Audit test helpers: users with and without the audit permission, entries made to order.

Import the fixtures into a test module like `tests.browser.browser_page`.
"""

from contextlib import contextmanager

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from campaigns.models import CampaignChange
from records.models import RecordAddition
from records.phones import phone_key
from tests.conftest import PASSWORD


@pytest.fixture
def auditor(django_user_model):
    user = django_user_model.objects.create_user("auditor", password=PASSWORD)
    user.user_permissions.add(Permission.objects.get(codename="view_audit_trail"))
    return user


@pytest.fixture
def colleague(django_user_model):
    return django_user_model.objects.create_user("colleague", password=PASSWORD)


def change(*, actor, campaign, sent, outcome="succeeded", when=None, before=None, reason="",
           **completion) -> CampaignChange:
    """A campaign change as the service records it, completed unless `outcome` is pending."""
    timing = {"created_at": when} if when else {}
    entry = CampaignChange.begin(
        actor=actor, campaign=campaign, sent=sent, reason=reason,
        settings_before=campaign.settings if before is None else before, **timing,
    )
    if outcome != "pending":
        entry.complete(outcome=outcome, **completion)
    return entry


def addition(*, actor, campaign, phone, outcome="succeeded", when=None, identifier="",
             **completion) -> RecordAddition:
    """A record addition as the service records it, completed unless `outcome` is pending."""
    timing = {"created_at": when} if when else {}
    sent = {"phone_number": phone, **({"identifier": identifier} if identifier else {})}
    entry = RecordAddition.begin(
        actor=actor, campaign=campaign, sent=sent, phone_number=phone,
        phone_key=phone_key(phone), identifier=identifier, **timing,
    )
    if outcome != "pending":
        entry.complete(outcome=outcome, **completion)
    return entry


AUDIT_TABLES = ("campaigns_campaignchange", "records_recordaddition", "imports_importreceipt",
                "audit_chainhead")


@contextmanager
def triggers_off():
    """Act with the table owner's rights, past the PostgreSQL triggers (as an attacker could)."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            # ALTER TABLE waits for no deferred foreign key check: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for table in AUDIT_TABLES if postgres else ():
            cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
        yield
        for table in AUDIT_TABLES if postgres else ():
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
        if postgres:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def tamper(sql: str, params=()):
    """Rewrite history with raw SQL, past every guard but the hash chain."""
    with triggers_off(), connection.cursor() as cursor:
        cursor.execute(sql, params)
