"""Every registered kind of audit entry as an auditor reads it: its timeline row, its page,
the filters that find it and its export row, in English and in Polish; the chain that holds
it, and its page once its number is erased. The kinds are read from the registry: a kind an
app registers later is walked too, and fails here until it has a sample below."""

import csv
import io
import json
import re
from functools import partial
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from audit.erasure import forget_number
from audit.kinds import all_kinds, get_kind
from audit.models import Entry, Outcome
from audit.recording import entry_begin, entry_complete
from audit.services import entries_matching, step_choice
from audit.verify import verify_chain
from campaigns.presence import UNATTENDED
from imports.loaders import LOADER_GONE
from tests.audit_fixtures import auditor, tamper  # noqa: F401

pytestmark = pytest.mark.django_db

KINDS = [kind.slug for kind in all_kinds()]
PHONE = "601234567"
CAMPAIGN = "00001"

# An entry of each kind as its app writes it, every value its page and export columns show
# filled: (fields when begun, fields when completed). "related" names the kind of the entry
# it relates to; "actor": None an entry of the portal's own doing.
SAMPLES = {
    "account": ({"details": {"step": "changed", "account": "ewa", "gained": ["Auditors"],
                             "lost": ["Record loaders"],
                             "permissions_gained": ["audit.view_audit_trail"],
                             "permissions_lost": ["records.add_addedrecord"],
                             "flags": {"is_staff": True}}}, {}),
    "campaign-change": ({"sent": {"dialer": "predictive"}, "reason": "sezon",
                         "details": {"settings_before": {"dialer": "progressive"}}},
                        {"http_status": 200, "request_id": "req-change"}),
    "carried-over": ({"details": {"old_head": {"seq": 3, "hash": "ab" * 32},
                                  "entries": {"campaigns_campaignchange": 0}}}, {}),
    "change-found-applied": ({"related": "campaign-change",
                              "details": {"found": {"dialer": "predictive"},
                                          "settings_before": {"dialer": "progressive"},
                                          "version": 2}}, {}),
    # An outdated step says why; the note is a rejection's, shown here too.
    "change-request": ({"sent": {"dialer": "predictive"}, "reason": "sezon",
                        "details": {"step": "stale", "why": "not_sent", "request": 7,
                                    "note": "nie teraz",
                                    "settings_before": {"dialer": "progressive"}}}, {}),
    "donotcall-addition": ({"sent": {"phone_number": PHONE, "campaign": CAMPAIGN,
                                     "reason": "request", "source": "typed", "note": "",
                                     "expires_on": "2027-01-31"}}, {}),
    "donotcall-removal": ({"sent": {"phone_number": PHONE, "campaign": CAMPAIGN,
                                    "reason": "request", "source": "typed",
                                    "expires_on": "2027-01-31"},
                           "reason": "expired; the number was added to the list again"}, {}),
    "donotcall-upload": ({"sent": {"file_name": "lista.csv", "campaign": CAMPAIGN,
                                   "reason": "regulator", "note": "lista UKE",
                                   "source": "upload", "expires_on": "2027-01-31"},
                          "details": {"added": 2, "renewed": 3, "already": 1,
                                      "repeated": 1, "invalid": 1}}, {}),
    "erasure": ({"reason": "RODO/14", "details": {"number_digest": "k1.abcdef"}},
                {"results": {"entries": 2}}),
    "group": ({"details": {"step": "changed", "group": "Auditors", "renamed_from": "Audit",
                           "permissions_gained": ["audit.view_audit_trail"],
                           "permissions_lost": ["records.add_addedrecord"],
                           "members": ["ewa", "jan"]}}, {}),
    "import": ({"sent": {"file_name": "lista.csv", "file_size": 2048,
                         "file_sha256": "cd" * 32, "mapping": {"telefon": "phone_number"},
                         "options": {"file_kind": "csv", "encoding": "utf-8",
                                     "delimiter": ";", "language": "pl"}},
                "details": {"job": 5, "confirmed_at": "2026-12-05T21:30:00+00:00"}},
               {"results": {"result": "done", "rows_total": 13, "added": 1,
                            "added_earlier": 1, "refused": 1, "failed": 1, "unknown": 1,
                            "not_sent": 1, "rows_invalid": 1, "rows_duplicate": 1,
                            "rows_already_added": 1, "rows_suppressed": 1, "rows_hidden": 1,
                            "rows_elsewhere": 1}}),
    "import-cleared": ({"actor": None, "details": {"job": 5, "file_name": "lista.csv",
                                                   "keep_days": 30, "never_sent": False}},
                       {"results": {"rows": 3, "file_dropped": True}}),
    "import-stopped": ({"actor": None, "details": {"job": 5, "file_name": "lista.csv",
                                                   "loader": "jan"}},
                       {"detail": LOADER_GONE}),
    "outside-change": ({"details": {"found": {"dialer": "predictive"},
                                    "settings_before": {"dialer": "progressive"},
                                    "version": 2}}, {}),
    "record-addition": ({"sent": {"phone_number": PHONE, "identifier": "K-7"}},
                        {"outcome": "refused", "http_status": 400, "request_id": "req-add",
                         "messages": ["Record with this phone number already exists"],
                         "results": {"record_id": "991"}}),
    "record-check": ({"related": "record-addition",
                      "sent": {"phone_number": PHONE, "identifier": "K-7", "campaign": CAMPAIGN,
                               "create_date_from": "2026-12-05",
                               "create_date_to": "2026-12-06"}},
                     {"http_status": 200, "request_id": "req-check",
                      "results": {"found": True, "record_id": "991"}}),
    "scheduled-change": ({"actor": None, "related": "campaign-change",
                          "sent": {"dialer": "predictive"},
                          "details": {"step": "cancelled", "scheduled": 4,
                                      "note": "nie w święta",
                                      "apply_at": "2026-12-05T23:00+01:00",
                                      "settings_before": {"dialer": "progressive"}}}, {}),
    "second-factor": ({"details": {"step": "codes-renewed", "account": "ewa"}}, {}),
    "sign-on-roles": ({"sent": {"groups": ["portal-auditors"]},
                       "details": {"account": "ewa", "created": True, "gained": ["Auditors"],
                                   "lost": ["Record loaders"]}}, {}),
    "thulium-presence": ({"actor": None, "actor_username": UNATTENDED,
                          "details": {"in_thulium": False}}, {}),
}


# The times the samples hold, as stored (UTC, Warsaw): shown so, they were not converted.
STORED_TIMES = {"21:30", "22:30", "23:00", "22:00"}


def sample(slug: str, *, actor, campaign, pending: bool = False, step: str = "",
           **completed_too) -> Entry:
    """An entry of the kind, from its sample (another `step` of a kind that records steps,
    other values when completed: `outcome="failed"`); pytest fails for a kind without one."""
    if slug not in SAMPLES:
        pytest.fail(f"the audit kind {slug!r} has no sample in tests/test_audit_kinds.py: "
                    "add one, filled as its app writes it")
    begun, completed = (dict(fields) for fields in SAMPLES[slug])
    if step:
        begun["details"] = {**begun["details"], "step": step}
    completed.update(completed_too)
    if "related" in begun:
        begun["related"] = sample(begun["related"], actor=actor, campaign=campaign)
    begun = {"actor": actor, "actor_username": "run_worker", **begun}
    kind = get_kind(slug)
    entry = entry_begin(kind=slug, campaign=campaign if kind.of_campaign else None, **begun)
    if pending:
        return entry
    return entry_complete(entry, outcome=completed.pop("outcome", "succeeded"), **completed)


def visible_text(html: str) -> str:
    """The words a reader sees (no tags, no attributes)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def main(response) -> str:
    """The page's own part, without what it shows exactly as stored (what it sent)."""
    html = re.search(r"<main\b.*?</main>", response.content.decode(), re.S).group(0)
    return re.sub(r'<pre [^>]*data-testid="sent">.*?</pre>', "", html, flags=re.S)


def timeline_rows(client, language="en", **filters) -> list[str]:
    response = client.get(reverse("audit:timeline"), filters, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    body = re.search(r"<tbody>(.*?)</tbody>", response.content.decode(), re.S).group(1)
    return [visible_text(row) for row in re.findall(r"<tr\b.*?</tr>", body, re.S)]


def shows_slug(text: str, slug: str) -> bool:
    """Whether the text shows the kind's slug where words belong: a slug of one word
    ("import") is a word of the text too, and is told only by the label missing."""
    return "-" in slug and re.search(rf"(?<![\w.-]){slug}(?![\w-])", text) is not None


def dt_labels(html: str) -> list[str]:
    return [visible_text(label) for label in re.findall(r"<dt\b[^>]*>(.*?)</dt>", html, re.S)]


def raw_values(text: str) -> list[str]:
    """What reads as a value shown as stored: a word None, null, True or False, a dict or
    a list as Python or JSON writes it."""
    return re.findall(r"\b(?:None|null|True|False)\b|[{\[]\s*(?:&#x27;|'|&quot;|\")", text)


@pytest.fixture
def reader(client, auditor, settings):  # noqa: F811
    """An auditor, in a zone hours off UTC and off Thulium's Warsaw: a time shown unconverted
    reads hours off."""
    settings.TIME_ZONE = "America/New_York"
    client.force_login(auditor)
    return client


@pytest.mark.parametrize("slug", KINDS)
def test_every_kind_s_page_reads_in_the_reader_s_words_in_english_and_polish(
        reader, auditor, campaigns, slug):  # noqa: F811
    entry = sample(slug, actor=auditor, campaign=campaigns[CAMPAIGN])
    kind = get_kind(slug)
    pages, labels = {}, {}
    for language in ("en", "pl"):
        response = reader.get(entry.get_absolute_url(), HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        pages[language] = main(response)
        with translation.override(language):
            labels[language] = str(kind.label)
        text = visible_text(pages[language])
        assert labels[language][:1].upper() + labels[language][1:] in text
        assert not shows_slug(text, slug)
        assert raw_values(text) == []
        # The entry's times in the portal's zone, not in UTC.
        when = entry.created_at.astimezone(ZoneInfo(settings.TIME_ZONE))
        assert when.strftime("%H:%M:%S") in text
        assert not set(re.findall(r"\b\d\d:\d\d\b", text)) & STORED_TIMES
    assert labels["pl"] != labels["en"]
    # The kind's own lines are named in Polish on the Polish page ("Import" is both).
    english = set(dt_labels(pages["en"])) - {"Import", ""}
    assert english.isdisjoint(dt_labels(pages["pl"]))


@pytest.mark.parametrize("slug", KINDS)
def test_every_kind_s_timeline_row_reads_in_the_reader_s_words(
        reader, auditor, campaigns, slug):  # noqa: F811
    entry = sample(slug, actor=auditor, campaign=campaigns[CAMPAIGN])
    rows = {}
    for language in ("en", "pl"):
        (row,) = timeline_rows(reader, language, kind=slug)
        rows[language] = row
        assert raw_values(row) == []
        assert not shows_slug(row, slug)
        when = entry.created_at.astimezone(ZoneInfo(settings.TIME_ZONE))
        assert row.startswith(when.strftime("%Y-%m-%d %H:%M:%S"))
    assert rows["pl"] != rows["en"]


@pytest.mark.parametrize("slug", KINDS)
def test_every_kind_is_found_by_each_filter_that_applies_to_it(
        reader, auditor, campaigns, slug):  # noqa: F811
    entry = sample(slug, actor=auditor, campaign=campaigns[CAMPAIGN])
    kind = get_kind(slug)
    # The outcome as it reads: a step a kind records is its own choice, not "succeeded".
    outcome = (step_choice(kind, entry.details["step"])
               if kind.steps and entry.outcome == Outcome.SUCCEEDED else entry.outcome)
    found = {"kind": slug, "outcome": outcome, "user": entry.actor_id or "portal"}
    if entry.campaign_id:
        found["campaign"] = CAMPAIGN
    for name, value in found.items():
        response = reader.get(reverse("audit:timeline"), {name: value})
        assert entry in [row.entry for row in response.context["page"].rows], name
    others = reader.get(reverse("audit:timeline"), {"kind": KINDS[KINDS.index(slug) - 1]})
    assert entry not in [row.entry for row in others.context["page"].rows]


def every_outcome_shown(*, actor, campaign) -> list[Entry]:
    """Entries of every kind with every outcome (pending, then each one stored), each step
    a kind records, and each call not made that a kind reads as "not sent"."""
    entries = []
    for kind in all_kinds():
        made = partial(sample, kind.slug, actor=actor, campaign=campaign)
        entries.append(made(pending=True))
        entries += [made(outcome=outcome) for outcome in Outcome.values
                    if outcome != Outcome.PENDING]
        entries += [made(step=step) for step, _label in kind.steps]
        entries += [made(outcome=Outcome.FAILED, detail=detail)
                    for detail in kind.not_sent_details]
    return entries


def outcomes_shown(client, slug: str) -> dict[int, str]:
    """The outcome column of the kind's timeline rows, by entry id."""
    response = client.get(reverse("audit:timeline"), {"kind": slug})
    body = re.search(r"<tbody>(.*?)</tbody>", response.content.decode(), re.S).group(1)
    return {int(pk): visible_text(outcome) for pk, outcome in re.findall(
        r'<tr>\s*<td[^>]*><a href="/audit/(\d+)/">.*?<td data-label="Outcome">(.*?)</td>',
        body, re.S)}


def test_the_outcome_filter_finds_each_entry_by_the_outcome_its_row_shows_and_by_no_other(
        reader, auditor, campaigns):  # noqa: F811
    """A record addition never sent (its import cancelled, its number put on the do-not-call
    list) reads "not sent", and the filter found it as "failed" and had no "not sent"."""
    entries = every_outcome_shown(actor=auditor, campaign=campaigns[CAMPAIGN])
    shown = {}
    for slug in KINDS:
        shown.update(outcomes_shown(reader, slug))
    form = reader.get(reverse("audit:timeline")).context["form"]
    choices = [(value, str(label)) for value, label in form.fields["outcome"].choices[1:]
               for value, label in (label if isinstance(label, list) else [(value, label)])]
    found = {}
    for value, _label in choices:
        response = reader.get(reverse("audit:timeline"), {"outcome": value})
        filtered = response.context["form"]
        assert filtered.is_valid(), value
        found[value] = set(entries_matching(filtered.filters()).values_list("pk", flat=True))

    assert set(shown) == {entry.pk for entry in Entry.objects.all()}
    assert {entry.pk for entry in entries} <= set(shown)
    for pk, outcome in shown.items():
        by = [label for value, label in choices if pk in found[value]]
        assert by == [outcome], f"{Entry.objects.get(pk=pk)} reads {outcome!r}, found by {by}"
    # Each choice is what some row shows.
    assert all(found.values())


@pytest.mark.parametrize("slug", KINDS)
def test_every_kind_s_export_rows_fill_its_own_columns(reader, auditor, campaigns, slug):  # noqa: F811
    entry = sample(slug, actor=auditor, campaign=campaigns[CAMPAIGN])
    kind = get_kind(slug)

    response = reader.get(reverse("audit:export_csv"), {"kind": slug})
    text = b"".join(response.streaming_content).decode().lstrip("\ufeff")
    (row,) = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    lines = b"".join(reader.get(reverse("audit:export_jsonl"), {"kind": slug})
                     .streaming_content).decode().splitlines()
    (line,) = [json.loads(line) for line in lines]

    assert row["kind"] == line["kind"] == slug and row["id"] == str(entry.pk)
    assert row["outcome"] == entry.outcome and row["user"] == entry.actor_username
    assert row["campaign"] == (CAMPAIGN if entry.campaign_id else "")
    for column, place in kind.export_columns:
        assert row[column] not in ("", "null"), f"{column} ({place}) is empty"
        assert line[column] is not None, f"{column} ({place}) is null"


@pytest.mark.parametrize("slug", KINDS)
def test_a_pending_entry_of_every_kind_has_a_page_and_a_row(reader, auditor, campaigns, slug):  # noqa: F811
    entry = sample(slug, actor=auditor, campaign=campaigns[CAMPAIGN], pending=True)
    for language in ("en", "pl"):
        response = reader.get(entry.get_absolute_url(), HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        assert raw_values(visible_text(main(response))) == []
        rows = timeline_rows(reader, language, kind=slug)
        assert len(rows) == 1
        assert raw_values(rows[0]) == []


def test_verify_audit_accepts_a_log_holding_every_kind(auditor, campaigns):  # noqa: F811
    for slug in KINDS:
        sample(slug, actor=auditor, campaign=campaigns[CAMPAIGN])
        sample(slug, actor=auditor, campaign=campaigns[CAMPAIGN], pending=True)

    assert {entry.kind for entry in Entry.objects.all()} == set(KINDS)
    assert verify_chain().problem == ""


@pytest.mark.parametrize("slug", KINDS)
def test_verify_audit_names_an_entry_of_every_kind_whose_values_were_edited(
        auditor, campaigns, slug):  # noqa: F811
    entry = sample(slug, actor=auditor, campaign=campaigns[CAMPAIGN])
    sample("campaign-change", actor=auditor, campaign=campaigns[CAMPAIGN])  # a later entry
    column = "details" if entry.details else "sent"
    edited = {**getattr(entry, column), "edited": True}
    tamper(f"UPDATE audit_entry SET {column} = %s WHERE id = %s",  # noqa: S608
           [json.dumps(edited), entry.pk])

    assert f"entry #{entry.pk} (begun, link #{entry.begin_seq}) does not match" in (
        verify_chain().problem)


ERASABLE = [kind.slug for kind in all_kinds() if kind.phone]


@pytest.mark.parametrize("slug", ERASABLE)
def test_an_erased_number_reads_as_erased_on_every_kind_s_page_and_row(
        reader, auditor, campaigns, slug):  # noqa: F811
    entry = sample(slug, actor=auditor, campaign=campaigns[CAMPAIGN])
    forget_number(number=PHONE, reference="RODO/14", actor=auditor)

    for language, erased in (("en", "[erased "), ("pl", "[usunięto ")):
        response = reader.get(entry.get_absolute_url(), HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200
        text = visible_text(response.content.decode())
        assert erased in text and PHONE not in text and "UTC" not in text
        (row,) = [row for row in timeline_rows(reader, language, kind=slug)
                  if erased in row]
        assert PHONE not in row
    assert verify_chain().problem == ""


@pytest.mark.parametrize("slug", [kind.slug for kind in all_kinds() if kind.of_campaign])
def test_every_campaign_kind_is_in_its_campaign_s_history_and_its_filter(
        reader, auditor, campaigns, slug):  # noqa: F811
    entry = sample(slug, actor=auditor, campaign=campaigns[CAMPAIGN])
    page = reverse("campaigns:detail", args=[CAMPAIGN])

    for language in ("en", "pl"):
        response = reader.get(page, {"kind": slug}, HTTP_ACCEPT_LANGUAGE=language)
        history = re.search(r'data-testid="history">.*?</table>', response.content.decode(),
                            re.S).group(0)
        assert f'href="{entry.get_absolute_url()}"' in history
        assert f'<option value="{slug}" selected>' in response.content.decode()
        assert raw_values(visible_text(history)) == []
