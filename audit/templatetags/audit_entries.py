"""Filters for audit entries' pages: `{% if user|may_see_entry:entry %}` links an entry only
for those its page lets in; `{{ entry|kind_label }}` says what an entry is;
`{{ name|erased_place }}` names a place an erasure counts; `{{ entry|sent_words:"reason" }}`
says a value sent in the user's words,
`{{ entry|recorded_step }}` the step an entry records in place of its outcome, and
`{{ entry|reason_words }}` the entry's reason as given, `{{ entry.detail|detail_words }}`
its detail in the reader's language, `{{ check.problem|check_words }}` a check's words with
its times in the portal's zone, `{{ check.finding|finding_words:check.problem }}` its finding
in the reader's language, or "" for a check that kept none."""

from django import template
from django.utils.translation import gettext

from audit import erasure, services
from audit.kinds import kind_of
from audit.models import Outcome
from audit.shown_checks import check_words, finding_words

register = template.Library()
register.filter("check_words", check_words)
register.filter("finding_words", finding_words)


@register.filter
def may_see_entry(user, entry) -> bool:
    return services.may_see_entry(user, entry)


@register.filter
def kind_label(entry) -> str:
    """What the entry is, in the reader's words ("settings changed"): a related entry's
    number alone did not say. "" for none (one removed from the log, which verify_audit
    names)."""
    return kind_of(entry).label if entry is not None else ""


@register.filter
def erased_place(name: str) -> str:
    return erasure.place_label(name)


@register.filter
def sent_words(entry, name: str):
    """A value the entry sent, in the user's words where its kind has them."""
    value = entry.sent.get(name)
    return kind_of(entry).value_label(name, value) or value


@register.filter
def reason_words(entry) -> str:
    """The entry's reason as the user typed it (a reason that happens to be a word of the
    portal's, "Cancel", is not translated), or in the reader's language when the portal
    gave it itself."""
    kind = kind_of(entry)
    return gettext(entry.reason) if kind and entry.reason in kind.own_reasons else entry.reason


@register.filter
def recorded_step(entry) -> str:
    """The step a completed entry of a kind that calls nothing records ("rejected"), or
    "not sent" for a call not made, shown in place of its outcome; "" for any other entry,
    whose outcome is shown."""
    if services.not_sent(entry):
        return gettext("not sent")
    kind = kind_of(entry)
    if not kind.steps or entry.outcome != Outcome.SUCCEEDED:
        return ""
    step = entry.details.get("step")
    return str(dict(kind.steps).get(step, step))


@register.filter
def detail_words(detail: str) -> str:
    """An entry's detail with its first line in the reader's language: the portal's own
    words are stored in English (gettext_noop), and what Thulium sent after them, on the
    lines below, is shown as it came. Translated whole, a detail with Thulium's body after
    the words was never found in the catalogue."""
    first, newline, rest = detail.partition("\n")
    return gettext(first) + newline + rest if first else detail
