"""What logins leave behind is kept for a while, then the worker clears it."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessLog
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from portal.login_records import login_log_clear, sessions_clear
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_records_older_than_the_days_kept_are_cleared(client, user, settings):
    client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    recent = AccessLog.objects.get(username=user.username)  # each login is recorded
    old = AccessLog.objects.create(username=user.username, ip_address="10.0.0.7",
                                   user_agent="Firefox")
    AccessLog.objects.filter(pk=old.pk).update(attempt_time=timezone.now() - timedelta(days=181))
    AccessLog.objects.filter(pk=recent.pk).update(
        attempt_time=timezone.now() - timedelta(days=179))
    settings.LOGIN_LOG_KEEP_DAYS = 0  # kept for ever
    assert login_log_clear() == 0

    settings.LOGIN_LOG_KEEP_DAYS = 180
    assert login_log_clear() == 1
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [recent.pk]


def test_expired_sessions_are_cleared(client, user):
    client.force_login(user)
    live = Session.objects.get()
    Session.objects.create(session_key="x" * 32, session_data="",
                           expire_date=timezone.now() - timedelta(seconds=1))
    sessions_clear()
    assert list(Session.objects.all()) == [live]


def test_a_failed_login_keeps_no_search_the_page_it_came_from_held(client, user):
    """A login after a session ran out, from a search for a number: the failed attempt kept
    "next=/do-not-call/?number=601234567", where no erasure reaches."""
    login = client.get("/do-not-call/?number=601234567")["Location"]
    client.post(login, {"username": user.username, "password": "wrong",
                        "next": "/do-not-call/?number=601234567"})
    attempt = AccessAttempt.objects.get()
    assert "601234567" not in attempt.get_data + attempt.post_data


def test_the_admin_offers_no_page_of_a_log_never_written(admin_client):
    """django-axes' failure log, always empty here, was listed in English in the Polish
    admin."""
    index = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert reverse("admin:axes_accessattempt_changelist") in index
    assert "accessfailurelog" not in index
