"""An HTML body, sanitised for keeping and turned into text, in bounded time and memory.

Why the bounds: nh3 (html5ever) and inscriptis do the real work for ordinary HTML, but
neither is linear for every input.  html5ever's cost is estimated first (htmlcost.py); HTML
it would choke on is not parsed into a tree at all: its tags are stripped by regular
expressions (linear), the text is kept and the "HTML" becomes that text, escaped
(fuzz/README.md F5).  inscriptis lays out tables and lists nicely but needs ~3 us and
~110 bytes per character for table-heavy HTML (a 2 MB table: 5 s, +220 MB), so it only gets
cleaned HTML up to MAX_HTML_LAYOUT characters; longer HTML is turned into text without
layout (F6).
"""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass

import inscriptis
import nh3

from mailflow.mail.htmlcost import ATTRIBUTES, too_costly

MAX_HTML_LAYOUT = 128 * 1024  # characters of cleaned HTML that inscriptis lays out

_CLEANER = nh3.Cleaner(
    url_schemes={"http", "https", "mailto", "cid"},
    attribute_filter=lambda _tag, attr, value: (
        None
        if attr in ("src", "srcset", "background", "poster", "lowsrc", "dynsrc")
        and not value.strip().lower().startswith("cid:")
        else value
    ),
)


@dataclass(frozen=True)
class HtmlBody:
    """``html``: safe to keep and show.  ``text``: set when it came with the HTML (the tree
    was not built); otherwise ask :func:`html_text`.  ``note``: a defect, if any."""

    html: str
    text: str | None = None
    note: str | None = None


def sanitise(html: str) -> HtmlBody:
    """The body's HTML made safe: nh3, or escaped text if nh3 would cost too much."""
    reason = too_costly(html)
    if reason is None:
        return HtmlBody(_CLEANER.clean(html))
    text = strip_tags(html, raw=True)
    return HtmlBody(htmllib.escape(text), text, f"HTML body {reason}; kept as text only")


def html_text(clean_html: str) -> tuple[str, str | None]:
    """Text of sanitised HTML, and a defect note if any."""
    if len(clean_html) > MAX_HTML_LAYOUT:
        note = f"HTML over {MAX_HTML_LAYOUT} characters; text taken without layout"
        return strip_tags(clean_html), note
    try:
        return str(inscriptis.get_text(clean_html)).strip("\n"), None
    except Exception as exc:  # a bad HTML body must not lose the mail
        return "", f"HTML to text failed ({type(exc).__name__})"


_TAG_NAME_END = r"(?![^\t\n\f\r />])"
# Comments, doctype and the like, and elements whose content is not text to read.
_NOT_TEXT = re.compile(
    r"<!--(?:-?>|.*?(?:--!?>|\Z))|<[!?][^>]*+(?:>|\Z)|</(?![A-Za-z])[^>]*+(?:>|\Z)"
    rf"|<(script|style|title|template|noscript|textarea){_TAG_NAME_END}.*?(?:</\1\s*>|\Z)",
    re.DOTALL | re.IGNORECASE,
)
_LINE_BREAK = re.compile(
    r"<(?:br|hr|/?(?:p|div|li|tr|h[1-6]|table|thead|tbody|tfoot|ul|ol|dl|dt|dd|blockquote|pre"
    rf"|section|article|header|footer|address|center|form|fieldset)){_TAG_NAME_END}{ATTRIBUTES}",
    re.IGNORECASE,
)
_CELL_END = re.compile(rf"</t[dh]{_TAG_NAME_END}{ATTRIBUTES}", re.IGNORECASE)
_ANY_TAG = re.compile(rf"</?[A-Za-z][^\t\n\f\r />]*+{ATTRIBUTES}")
_SPACES = re.compile(r"[ \t\f\r\v\xa0]+")
_EDGE_SPACES = re.compile(r" ?\n ?")
_BLANK_LINES = re.compile(r"\n{3,}")


def strip_tags(html: str, *, raw: bool = False) -> str:
    """Text of HTML without building a tree: linear in the input, no layout.  Block tags
    become line breaks, cells end with a space.  *raw*: the HTML has not been through nh3,
    so comments, scripts and styles are dropped first."""
    if raw:
        html = _NOT_TEXT.sub("", html)
    html = _LINE_BREAK.sub("\n", html)
    html = _CELL_END.sub(" ", html)
    text = htmllib.unescape(_ANY_TAG.sub("", html))
    text = _EDGE_SPACES.sub("\n", _SPACES.sub(" ", text))
    return _BLANK_LINES.sub("\n\n", text).strip()
