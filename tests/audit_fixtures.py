"""Audit test helpers: users with and without the audit permission, entries made to order.

Import the fixtures into a test module like `tests.browser.browser_page`.
"""

from contextlib import contextmanager

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from audit.models import Entry
from audit.recording import entry_begin, entry_complete, outcome_values
from campaigns.entries import CAMPAIGN_CHANGE
from records.services import record_add_begin_all, record_add_complete_all
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
           **completion) -> Entry:
    """A campaign change as the service records it, completed unless `outcome` is pending."""
    timing = {"created_at": when} if when else {}
    entry = entry_begin(
        kind=CAMPAIGN_CHANGE.slug, actor=actor, campaign=campaign, sent=sent, reason=reason,
        details={"settings_before": campaign.settings if before is None else before}, **timing,
    )
    if outcome != "pending":
        entry_complete(entry, outcome=outcome, **completion)
    return entry


def addition(*, actor, campaign, phone, outcome="succeeded", when=None, identifier="",
             record_id="", **completion) -> Entry:
    """A record addition as the service records it, completed unless `outcome` is pending."""
    sent = {"phone_number": phone, **({"identifier": identifier} if identifier else {})}
    (entry,) = record_add_begin_all(campaign=campaign, payloads=[sent], actor=actor,
                                    **({"created_at": when} if when else {}))
    if outcome != "pending":
        results = {"record_id": record_id} if record_id else {}
        record_add_complete_all([(entry, outcome_values(outcome=outcome, results=results,
                                                        **completion))])
    return entry


AUDIT_TABLES = ("audit_entry", "audit_chainhead", "audit_searchterm")


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
