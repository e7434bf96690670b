"""Opting out from where the number is seen: a record addition's entry page."""

import pytest
from django.urls import reverse

from audit.models import Entry
from donotcall.entries import DONOTCALL_ADDITION
from donotcall.models import Suppression
from records.services import record_add
from tests.conftest import AUDITORS, make_user

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
