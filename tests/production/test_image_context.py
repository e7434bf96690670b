"""What `docker compose build` sends into the image from the compose folder, where operators
keep backups and copies of .env: what the image runs, and nothing else (.dockerignore)."""

import re

import pytest
from django.conf import settings

from tests.test_settings import project_files

from .processes import REPO

DOCKER_WILDCARDS = {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}


def dockerignore_rules() -> list[tuple[bool, re.Pattern]]:
    """Each pattern as Docker reads it, with whether it lets its paths back in (`!`):
    `*` and `?` stop at a slash, `**` crosses folders."""
    rules = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            pattern = line.removeprefix("!").strip("/")
            parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
            regex = "".join(DOCKER_WILDCARDS.get(part, re.escape(part)) for part in parts)
            rules.append((line.startswith("!"), re.compile(regex)))
    return rules


def sent_to_the_build(path: str) -> bool:
    """Whether Docker sends `path` to the build: the last pattern matching it, or a folder
    above it, decides."""
    parts = path.split("/")
    folders_and_path = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    sent = True
    for lets_in, pattern in dockerignore_rules():
        if any(pattern.fullmatch(name) for name in folders_and_path):
            sent = lets_in
    return sent


@pytest.mark.parametrize("path", [
    "portal-2026-01-31.dump", "backups/portal.dump", ".env", ".env.bak", ".env.production",
    "db.sqlite3", "db.sqlite3-wal", "tests/conftest.py", ".git/HEAD",
    "portal/__pycache__/settings.cpython-311.pyc",
])
def test_backups_copies_of_env_and_development_files_stay_out_of_the_image(path):
    """docs/operations.md wrote backups into the compose folder, which the upgrade then
    builds: a whole database dump, .env copies and a development database's -wal file went
    into /app."""
    assert not sent_to_the_build(path)


def test_everything_the_image_runs_is_sent_to_its_build():
    """The files the Dockerfile names, and every file of the portal's apps, templates,
    static files and translations."""
    dockerfile = (REPO / "Dockerfile").read_text()
    named = {name for name in re.findall(r"[\w.-]+\.(?:py|toml)\b", dockerfile)
             if (REPO / name).is_file()}
    assert named == {"pyproject.toml", "manage.py", "gunicorn.conf.py"}
    folders = {app.split(".")[0] for app in settings.INSTALLED_APPS
               if (REPO / app.split(".")[0]).is_dir()}
    folders |= {path.relative_to(REPO).as_posix() for path in [
        *settings.TEMPLATES[0]["DIRS"], *settings.STATICFILES_DIRS, *settings.LOCALE_PATHS]}
    assert {"portal", "audit", "templates", "static", "locale"} <= folders
    needed = named | {name for name in project_files() if name.split("/")[0] in folders}
    assert [name for name in sorted(needed) if not sent_to_the_build(name)] == []
