"""What tests check of an HTML page nasforge writes: no request leaves the page."""

from __future__ import annotations

import re
from html.parser import HTMLParser

URL_ATTRIBUTES = {"src", "href", "action", "data", "poster", "srcset", "xlink:href", "formaction"}
EXTERNAL = re.compile(r"^\s*(https?:|//|ftp:|ws:|wss:)", re.IGNORECASE)
CSS_URL = re.compile(r"url\(\s*['\"]?\s*(https?:|//)|@import", re.IGNORECASE)
SCRIPT_URL = re.compile(r"""(fetch|open|import)\s*\(\s*['"](https?:|//)""", re.IGNORECASE)


class _Requests(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []
        self.section_ids: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in URL_ATTRIBUTES and EXTERNAL.search(value):
                self.external.append(f"<{tag} {name}={value!r}>")
            if name == "style" and CSS_URL.search(value):
                self.external.append(f"<{tag} style={value!r}>")
        if tag == "section":
            self.section_ids.append(dict(attrs).get("id") or "")
        if tag in ("style", "script"):
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style" and CSS_URL.search(data):
            self.external.append("a <style> that loads a URL")
        if self._in == "script" and SCRIPT_URL.search(data):
            self.external.append("a <script> that requests an absolute URL")


def external_requests(html: str) -> list[str]:
    """Everything in `html` that would make the browser reach another host."""
    parser = _Requests()
    parser.feed(html)
    return parser.external


def section_ids(html: str) -> list[str]:
    parser = _Requests()
    parser.feed(html)
    return parser.section_ids
