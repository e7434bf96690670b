"""Opting out from where the number is seen: a record addition's entry page."""

import threading

import pytest
from django.db import connection
from django.urls import reverse

from audit.erasure import forget_number
from audit.models import Entry
from donotcall import services, views
from donotcall.entries import DONOTCALL_ADDITION, DONOTCALL_REMOVAL, DONOTCALL_UPLOAD
from donotcall.models import Suppression
from donotcall.reading import NumbersRead
from donotcall.services import (
    AlreadySuppressed,
    suppression_add,
    suppression_opt_out,
    suppression_remove,
    suppressions_upload,
)
from records.services import record_add
from tests.conftest import AUDITORS, COMPLIANCE, make_user, skip_unless_postgresql
from tests.db_threads import closing, connected_pid, until_waiting_for_a_lock_or_done
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


# Writers of the number 601 234 567 (an upload with another number, and one with a number
# whose expired entry it replaces): each returns what it says.
def _typed(officer, _addition, _user):
    return suppression_add(key="48601234567", campaign=None, reason="request",
                           source="typed", actor=officer)


def _upload(officer, _addition, _user, other="48601000001"):
    return suppressions_upload(read=NumbersRead(keys=["48601234567", other]), campaign=None,
                               reason="request", actor=officer, file_name="lista.csv")


def _renewing_upload(officer, addition, user):
    return _upload(officer, addition, user, other="48601000002")


def _opt_out(_officer, addition, user):
    return suppression_opt_out(entry=addition, number="+48601234567", campaign=None,
                               actor=user)


def listed_by_the_trail() -> int:
    """How many numbers the audit trail says are listed: each addition is an entry of its
    own, or counted in its upload's entry, and each removal an entry."""
    uploaded = sum(entry.details["added"]
                   for entry in Entry.objects.filter(kind=DONOTCALL_UPLOAD.slug))
    return (Entry.objects.filter(kind=DONOTCALL_ADDITION.slug).count() + uploaded
            - Entry.objects.filter(kind=DONOTCALL_REMOVAL.slug).count())


WRITERS = {"typed": _typed, "upload": _upload, "renewing upload": _renewing_upload,
           "opt-out": _opt_out}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pair", [("typed", "opt-out"), ("upload", "opt-out"),
                                  ("typed", "renewing upload")], ids="-vs-".join)
@pytest.mark.parametrize("one_first", [True, False], ids=["first", "second"])
def test_writers_of_the_same_number_at_once_wait_for_each_other(
        campaigns, user, monkeypatch, pair, one_first):
    """Whichever wrote its rows first, the other waits for it, then finds the number listed
    (an upload writes its other number). The opt-out took the chain's head before its row,
    and an upload renewing an expired entry before its new rows, the others their rows
    before the head, and PostgreSQL failed one of them ("deadlock detected"): a server
    error, or an upload that lost all its numbers."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite runs one writer at a time")
    officer = make_user("officer", COMPLIANCE)
    addition = record_add(campaign=campaigns["00001"], payload={"phone_number": "601234567"},
                          actor=user)
    expired = suppression_add(key="48601000002", campaign=None, reason="request",
                              source="typed", actor=officer)
    Suppression.objects.filter(pk=expired.pk).update(expires_on="2020-01-01")
    first, second = pair if one_first else pair[::-1]
    written, go_on = threading.Event(), threading.Event()
    record = services._record  # the audit entries, after the rows

    def paused_before_its_entries(*args, **kwargs):
        if threading.current_thread().name == first:
            written.set()
            go_on.wait(30)
        return record(*args, **kwargs)

    monkeypatch.setattr(services, "_record", paused_before_its_entries)
    results, failures, second_pid = {}, [], []

    def writing(name):
        def run():
            if name == second:
                second_pid.append(connected_pid())
            try:
                results[name] = WRITERS[name](officer, addition, user)
            except AlreadySuppressed:
                results[name] = "already"
        return threading.Thread(target=closing(run, failures), name=name)

    threads = {name: writing(name) for name in pair}
    threads[first].start()
    assert written.wait(30)
    threads[second].start()
    until_waiting_for_a_lock_or_done(threads[second], second_pid)
    go_on.set()
    for thread in threads.values():
        thread.join(60)

    assert failures == []
    # An upload's other number written (or its expired entry renewed), on a second try; the
    # others told it is listed.
    assert results[second] == {"upload": (1, 0, 1), "renewing upload": (0, 1, 1)}.get(
        second, "already")
    listed = Suppression.objects.count()
    assert listed == (3 if "upload" in pair else 2)  # with the other numbers
    assert Suppression.objects.filter(expires_on__isnull=False).count() == (
        0 if "renewing upload" in pair else 1)
    assert listed_by_the_trail() == listed


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("adding", ["typed", "upload"])
def test_a_number_added_while_a_colleague_takes_it_off_ends_on_the_list(
        campaigns, user, monkeypatch, adding):
    """The addition waits for the removal, then lists the number anew. It read the entry
    without its lock: the officer was told the number was on the list already, and the
    removal then took it off (the customer's request lost)."""
    skip_unless_postgresql(connection)
    officer, colleague = make_user("officer", COMPLIANCE), make_user("colleague", COMPLIANCE)
    listed = _typed(officer, None, user)
    taking_off, go_on = threading.Event(), threading.Event()
    record = services._record  # the removal's audit entry, with the entry locked

    def paused_before_its_entry(*args, **kwargs):
        if threading.current_thread().name == "removal":
            taking_off.set()
            go_on.wait(30)
        return record(*args, **kwargs)

    monkeypatch.setattr(services, "_record", paused_before_its_entry)
    failures, results, adding_pid = [], [], []

    def add():
        adding_pid.append(connected_pid())
        try:
            results.append(WRITERS[adding](officer, None, user))
        except AlreadySuppressed:
            results.append("already")

    removal = threading.Thread(target=closing(lambda: suppression_remove(
        suppression=listed, reason="typed by mistake", actor=colleague), failures),
        name="removal")
    removal.start()
    assert taking_off.wait(30)
    addition = threading.Thread(target=closing(add, failures))
    addition.start()
    until_waiting_for_a_lock_or_done(addition, adding_pid)
    go_on.set()
    removal.join(60)
    addition.join(60)

    assert failures == []
    assert results != ["already"]
    assert Suppression.objects.filter(phone_key="48601234567").exists()
    assert listed_by_the_trail() == Suppression.objects.count()
