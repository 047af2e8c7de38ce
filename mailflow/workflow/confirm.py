"""Whether a reply says "确认": the requester accepting the reading we proposed.

The "please correct" reply asks, for a field whose label we did not recognise, "表中「…」是否
即此项？如是，回复“确认”即可". This reads the reply's own words (above the quoted mail) and
says yes only to a plain confirmation, never to a sentence that also says no. The shared
reply reader (``workflow/reply_reader.read_command``, another branch) decides once it is
installed; until then a small local reader does.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from functools import lru_cache

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


@lru_cache(maxsize=1)
def _shared_reader() -> Callable[[str, str | None], bool] | None:
    """``reply_reader.read_command(text, html) == Command.CONFIRM`` when that module exists."""
    try:
        module = importlib.import_module("mailflow.workflow.reply_reader")
    except ImportError:
        return None
    read, command = getattr(module, "read_command", None), getattr(module, "Command", None)
    confirm = getattr(command, "CONFIRM", None)
    if read is None or confirm is None:
        return None
    return lambda text, html: bool(read(text, html) == confirm)


def is_confirmation(text: str, html: str | None = None) -> bool:
    """Whether the reply's own words confirm ("确认", "确认，是的", "Yes, confirmed")."""
    shared = _shared_reader()
    if shared is not None:
        return shared(text, html)
    return local_confirmation(text, html)


def local_confirmation(text: str, html: str | None = None) -> bool:
    """The local reader: a short text opening with a yes-word and holding no no-word."""
    words = fold(own_words(text, html))
    words = _LEAD.sub("", words)
    if not words or len(words) > MAX_WORDS:
        return False
    return _YES.match(words) is not None and _NO.search(words) is None
