"""Opting out from where the number is seen: a record addition's entry page."""

import pytest
from django.urls import reverse

from audit.erasure import forget_number
from audit.models import Entry
from donotcall import views
from donotcall.entries import DONOTCALL_ADDITION, DONOTCALL_REMOVAL
from donotcall.models import Suppression
from donotcall.services import suppression_add, suppression_remove
from records.services import record_add
from tests.conftest import AUDITORS, COMPLIANCE, make_user
from tests.test_erasure import every_value_in_the_database

BUTTON = "Do not call this number again"


@pytest.fixture
def addition(campaigns, user):
    return record_add(campaign=campaigns["00001"], payload={"phone_number": "601234567"},
                      actor=user)


@pytest.mark.parametrize(("scope", "campaign"), [("all", None), ("campaign", "00001")])
def test_the_loader_puts_the_number_on_the_list_from_the_entry_page(
        logged_in, addition, scope, campaign):
    page = logged_in.get(addition.get_absolute_url()).content.decode()
    assert BUTTON in page
    response = logged_in.post(reverse("donotcall:opt_out", args=[addition.pk]),
                              {"scope": scope})
    assert response["Location"] == addition.get_absolute_url()
    suppression = Suppression.objects.get()
    assert (suppression.source, suppression.source_entry_id, suppression.phone_key) == (
        "opt-out", addition.pk, "48601234567")
    assert (suppression.campaign.thulium_id if suppression.campaign else None) == campaign
    listed = Entry.objects.get(kind=DONOTCALL_ADDITION.slug)
    assert listed.sent["source_entry"] == addition.pk
    assert addition.get_absolute_url() in logged_in.get(listed.get_absolute_url()).content.decode()


def test_a_second_opt_out_says_it_is_listed_already(logged_in, addition):
    url = reverse("donotcall:opt_out", args=[addition.pk])
    logged_in.post(url, {"scope": "all"})
    response = logged_in.post(url, {"scope": "all"}, follow=True)
    assert "on the do-not-call list already" in response.content.decode()
    assert Suppression.objects.count() == 1


def test_an_auditor_sees_the_entry_but_no_opt_out(client, addition):
    client.force_login(make_user("auditor", AUDITORS))
    page = client.get(addition.get_absolute_url())
    assert page.status_code == 200
    assert BUTTON not in page.content.decode()


def test_an_opt_out_erased_after_its_page_read_the_entry_writes_no_number(
        logged_in, addition, monkeypatch):
    """The number was put on the list, and into its audit entry, from the copy the page
    had read before the erasure."""
    read = views.entry_for

    def read_then_erased(**kwargs):
        entry = read(**kwargs)
        forget_number(number="601234567", reference="R/1")
        return entry

    monkeypatch.setattr(views, "entry_for", read_then_erased)
    response = logged_in.post(reverse("donotcall:opt_out", args=[addition.pk]),
                              {"scope": "all"}, follow=True)
    assert "names no number to put on the list" in response.content.decode()
    assert not Suppression.objects.exists()
    assert "601234567" not in every_value_in_the_database()


def test_a_removal_erased_after_its_page_read_the_entry_writes_no_number(
        client, db, monkeypatch):
    officer = make_user("officer", COMPLIANCE)
    listed = suppression_add(key="48601234567", campaign=None, reason="request",
                             source="typed", actor=officer)
    valid = views.RemovalForm.is_valid

    def erased_then_valid(form):
        forget_number(number="601234567", reference="R/1")
        return valid(form)

    monkeypatch.setattr(views.RemovalForm, "is_valid", erased_then_valid)
    client.force_login(officer)
    client.post(reverse("donotcall:remove", args=[listed.pk]), {"reason": "mistake"})
    assert not Suppression.objects.exists()
    assert "601234567" not in every_value_in_the_database()


def test_a_number_taken_off_from_two_pages_at_once_is_one_removal(db):
    officer = make_user("officer", COMPLIANCE)
    listed = suppression_add(key="48601234567", campaign=None, reason="request",
                             source="typed", actor=officer)
    first, second = (Suppression.objects.get(pk=listed.pk) for _page in range(2))
    assert suppression_remove(suppression=first, reason="a", actor=officer)
    assert not suppression_remove(suppression=second, reason="b", actor=officer)
    assert Entry.objects.filter(kind=DONOTCALL_REMOVAL.slug).count() == 1
