"""An HTML reply without its quote containers, as text.

Why a structural pass first: in HTML the quote is an element, not a prefix, so bottom- and
inline-posted HTML replies (and Gmail/Apple/Thunderbird/163 top-posts) are read exactly by
dropping ``blockquote`` and the clients' quote ``div``s (gmail_quote, moz-cite-prefix,
yahoo_quote, 163 isReplyContent, Outlook divRplyFwdMsg, …), and by stopping at Outlook's
"everything below is the original" markers (``appendonsend``, ``stopSpelling``).  What is
left becomes text with inscriptis (mail/htmlbody.py, bounded) and then goes through the text
rules, which catch the clients whose quote is only a header block in a plain ``div`` (QQ,
Foxmail, 企业微信, 钉钉, Outlook desktop).

The pass is the stdlib HTMLParser (linear); input is capped at MAX_HTML characters.
"""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser

from mailflow.mail.htmlbody import html_text, sanitise

MAX_HTML = 256 * 1024

_QUOTE_MARK = re.compile(
    r"quote|isreplycontent|isforwardcontent|divrplyfwdmsg|moz-cite-prefix|gmail_attr|"
    r"reference-message|replyfwd|origbody|mail-editor-reference|ntes-mailmaster-quote|"
    r"original-?content|original_?mail|cite",
    re.IGNORECASE,
)
# Gmail's wrapper holds the attribution and the blockquotes, and an inline answer between them
_WRAPPER_ONLY = re.compile(r"^\s*gmail_quote(?:[\s_-]+container)?\s*$", re.IGNORECASE)
_STOP_MARK = re.compile(r"^(?:appendonsend|stopspelling|divrplyfwdmsg)$", re.IGNORECASE)
_SKIP_CONTENT = frozenset({"script", "style", "head", "title", "template", "noscript"})
_VOID = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
})  # fmt: skip


class _QuoteDropper(HTMLParser):
    """Re-emits the HTML without quote containers and everything after a stop marker."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.found_quote = False
        self._skip_tag: str | None = None
        self._skip_depth = 0
        self._stopped = False

    def _is_quote(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if tag == "blockquote":
            return True
        for name, value in attrs:
            if name in ("class", "id", "type", "name") and value and _QUOTE_MARK.search(value):
                return _WRAPPER_ONLY.match(value) is None
        return False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._stopped:
            return
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        ident = next((v for n, v in attrs if n == "id" and v), "")
        if _STOP_MARK.match(ident):
            self._stopped = self.found_quote = True
            return
        if tag in _SKIP_CONTENT or (tag not in _VOID and self._is_quote(tag, attrs)):
            self.found_quote = self.found_quote or tag not in _SKIP_CONTENT
            self._skip_tag, self._skip_depth = tag, 1
            return
        self.out.append(f"<{tag}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._stopped and self._skip_tag is None:
            ident = next((v for n, v in attrs if n == "id" and v), "")
            if _STOP_MARK.match(ident):
                self._stopped = self.found_quote = True
                return
            self.out.append(f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if self._stopped:
            return
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self._stopped and self._skip_tag is None:
            self.out.append(htmllib.escape(data, quote=False))


def without_quotes(html: str) -> tuple[str, bool]:
    """*html* with quote containers dropped (attributes dropped too: only the text and its
    layout matter here), and whether any quote container was found."""
    parser = _QuoteDropper()
    try:
        parser.feed(html[:MAX_HTML])
        parser.close()
    except Exception:  # HTMLParser is forgiving; a failure must not lose the reply
        return htmllib.escape(_TAGS.sub(" ", html[:MAX_HTML])), False
    return "".join(parser.out), parser.found_quote


_TAGS = re.compile(r"<[^>]*>")


def html_authored_source(html: str) -> tuple[str, bool]:
    """The text of an HTML reply with its quote containers dropped, and whether it had any."""
    stripped, found = without_quotes(html)
    body = sanitise(stripped)
    text = body.text if body.text is not None else html_text(body.html)[0]
    # layout indents nested blocks; the words are what was written
    return "\n".join(line.strip() for line in text.split("\n")), found
