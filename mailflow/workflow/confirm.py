"""Whether a reply says "确认": the requester accepting the reading we proposed.

The "please correct" reply asks, for a field whose label we did not recognise, "表中「…」是否
即此项？如是，回复“确认”即可". This reads the reply's own words (above the quoted mail) and
says yes only to a plain confirmation, never to a sentence that also says no. A small local
reader until the shared reply reader (workflow/reply_reader.py) lands.
"""

from __future__ import annotations

import re

from mailflow.documents.text import fold

_QUOTE_START = re.compile(
    r"^\s*(?:>|-{2,}\s*(?:原始邮件|original message)|_{5,}|发件人\s*[:：]|from\s*:"
    r"|on .{0,200} wrote:|在 .{0,100}写道)",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]{0,2000}>")
_YES = re.compile(r"^(?:确认|确定|是的|正确|就是|对的|confirm(?:ed)?|yes)(?![a-z])")
_NO = re.compile(r"不|否|没有|错|no(?![a-z])|not")
_LEAD = re.compile(r"^(?:[\s,，.。!！:：~～、\-—]|(?:您好|你好|hi|hello|dear))+")
MAX_WORDS = 40  # a confirmation is short; a long text is a message for a person


def own_words(text: str, html: str | None = None) -> str:
    """The reply's text above the quoted mail (the HTML's text when there is no plain part)."""
    body = text if text.strip() else _TAG.sub(" ", html or "")
    lines: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if _QUOTE_START.match(line):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def is_confirmation(text: str, html: str | None = None) -> bool:
    """Whether the reply's own words confirm ("确认", "确认，是的", "Yes, confirmed")."""
    words = fold(own_words(text, html))
    words = _LEAD.sub("", words)
    if not words or len(words) > MAX_WORDS:
        return False
    return _YES.match(words) is not None and _NO.search(words) is None
