"""A variable set under a misspelling of the portal's name for it is named by `check`: the
setting it meant keeps its default (FOUR_EYE=true left four-eyes off, and nothing said so)."""

import pytest
from django.core.checks import run_checks


def misspelt_variables() -> dict[str, str]:
    """What `check` finds: each misspelt variable's name, with the message about it."""
    return {warning.msg.split()[0]: warning.msg for warning in run_checks()
            if warning.id == "portal.W005"}


@pytest.mark.parametrize(("name", "value", "meant"), [
    ("FOUR_EYE", "true", "FOUR_EYES"),
    ("FOUR_EYES_ENABLED", "true", "FOUR_EYES"),
    ("REQUIRE_2FA", "staff", "REQUIRE_2FA_FOR"),
    ("four_eyes", "true", "FOUR_EYES"),
    ("THULIUM_PASSWORD", "a-secret", "THULIUM_API_PASSWORD"),
    ("TIMEZONE", "UTC", "TIME_ZONE"),
])
def test_a_misspelt_variable_is_named_with_the_one_it_looks_like(monkeypatch, name, value,
                                                                 meant):
    monkeypatch.setenv(name, value)
    said = misspelt_variables()[name]
    assert said.endswith(f"is it a misspelling of {meant}?")
    assert value not in said


@pytest.mark.parametrize("name", [
    "TEST_DATABASE_URL", "PORTAL_DATABASE_URL", "REDIS_URL", "EMAIL", "SESSION_MANAGER",
    "HTTPS_PROXY", "FOUR_EYES",
])
def test_the_portal_s_own_and_other_programs_variables_are_no_misspelling(monkeypatch, name):
    monkeypatch.setenv(name, "x")
    assert name not in misspelt_variables()
