"""Accessibility (WCAG 2.1 AA) that the pages' HTML alone shows; axe-core runs in test_browser_a11y."""

import re
from html.parser import HTMLParser
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
VOID = {"area", "br", "col", "hr", "img", "input", "link", "meta", "source", "wbr"}


class _AlertLinks(HTMLParser):
    """Links inside a Bootstrap alert without `alert-link`, by line."""

    def __init__(self):
        super().__init__()
        self.open: list[tuple[str, list[str]]] = []
        self.plain_links: list[int] = []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if (tag == "a" and "alert-link" not in classes and "btn" not in classes
                and any("alert" in outer for _, outer in self.open)):
            self.plain_links.append(self.getpos()[0])
        if tag not in VOID:
            self.open.append((tag, classes))

    def handle_endtag(self, tag):
        names = [name for name, _ in self.open]
        if tag in names:
            del self.open[len(names) - 1 - names[::-1].index(tag):]


def _markup(template: Path) -> str:
    """The template's HTML with its tags and variables blanked, lines kept."""
    text = template.read_text()
    text = re.sub(r"\{#.*?#\}", "", text)
    text = re.sub(r"\{%.*?%\}", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
    return re.sub(r"\{\{.*?\}\}", "x", text, flags=re.S)


def test_every_link_inside_an_alert_has_the_alert_s_link_colour():
    # Bootstrap's plain link blue on an alert's tint is 3.4 to 4.1:1, under WCAG's 4.5:1.
    plain = {}
    for template in sorted(TEMPLATES.rglob("*.html")):
        parser = _AlertLinks()
        parser.feed(_markup(template))
        if parser.plain_links:
            plain[str(template.relative_to(TEMPLATES))] = parser.plain_links
    assert plain == {}
