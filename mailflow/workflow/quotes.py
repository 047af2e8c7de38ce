"""What the sender wrote in this mail: quoted originals, quote headers, signatures and
disclaimers removed, for the reply readers (issue 15, part 5).

Why line by line and not "cut at the first header": a quote is not always below the answer.
Top-posting (Outlook, QQ/Foxmail, 163, 企业微信, 钉钉) puts the answer above a quote header;
bottom- and inline-posting (Thunderbird, mutt, Apple Mail, Gmail in plain text) put it below
or between ``>`` lines.  So every line is classed first:

- ``>``-quoted lines are dropped wherever they are, with the attribution line above them
  ("On … wrote:", "在 … 写道：", "张三 <…> 于 … 写道：");
- a *quote start* (an attribution not followed by ``>`` lines, an "Original Message" or
  "原始邮件" separator, an Outlook/Foxmail/钉钉 header block 发件人：/发送时间：/From:/Sent:,
  a ``____`` line above such a block) drops everything after it: an unprefixed quote has no
  end a reader could find;
- in what is left, a signature or disclaimer start ("-- ", "发自我的iPhone", "Sent from my…",
  网易邮箱大师 footers, 此致/Best regards, 免责声明/CONFIDENTIALITY…) drops the rest of that
  stretch of authored lines, up to the next quoted block;
- a trailing block of name, title, department and contact lines is dropped too.

mail-parser-reply (the maintained reply parser) supplies the headers of the languages we do
not list ourselves (its header expression for en/zh/de/fr/…; its zh rules only know
``…写道：`` and ASCII colons, hence our own Chinese patterns).  Input is bounded: the first
MAX_CHARS characters and MAX_LINES lines, lines cut at MAX_LINE for the library's pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum, auto
from functools import lru_cache

from mailparser_reply.parser import EmailMessage  # type: ignore[import-untyped]

from mailflow.workflow import signature_lines
from mailflow.workflow.reply_tokens import fold

MAX_CHARS = 20_000
MAX_LINES = 400
MAX_LINE = 200  # characters of a line the library's header expressions see
# the languages our approvers' clients write headers in (its "it" and "es" header words
# "A:", "Data:", "Para:" would take an answer's own lines for a header)
_LIBRARY_LANGUAGES = ["en", "zh", "de", "fr", "ja"]

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


class Line(Enum):
    TEXT = auto()
    BLANK = auto()
    QUOTED = auto()  # "> …"
    ATTRIBUTION = auto()  # "On … wrote:" kept apart: it may head > lines or an unprefixed quote
    QUOTE_START = auto()  # everything from here on is the original
    SIGNATURE = auto()  # the rest of this authored stretch is signature or disclaimer


_QUOTED = re.compile(r"^[ \t]*[>＞]")
# "-----Original Message-----", "------------------ 原始邮件 ------------------",
# "-------- 转发的邮件 --------", "----- Reply message -----": words between rules of dashes
_RULE = r"[-_=—–─━~*]"
_SEPARATOR = re.compile(rf"^\s*{_RULE}{{2,}}\s*[^\W\d_][^\n]{{0,40}}?\s*{_RULE}{{2,}}\s*$")
_SEPARATOR_WORDS = re.compile(
    r"original|message|forward|reply|原始|原邮件|原文|转发|邮件|信件|信息|消息|回复|引用"
)
_SEPARATOR_LINE = re.compile(
    r"^\s*(?:begin forwarded message|forwarded message|开始转发的邮件|转发的邮件|以下是引用|"
    r"原始邮件|original message)\s*[:]?\s*$"
)
# "On … wrote:", "在 …，"张三" <…> 写道：", "张三 <…> 于2026年11月25日周三 10:00写道：", "… 寫道："
_WROTE = re.compile(
    r"(?:写道|写到|wrote|schrieb|a écrit|escribió|ha scritto|schreef|написал\(?а?\)?)\s*:?\s*$"
)
_WROTE_OPENING = re.compile(r"^\s*(?:on|在|于|20\d\d|19\d\d|\d{1,2}[/.-])")
_DATE = re.compile(r"\d{4}\s*[年/.-]\s*\d{1,2}")
_RULE_ONLY = re.compile(rf"^\s*{_RULE}{{2,}}\s*$")
_UNDERSCORES = re.compile(r"^\s*_{8,}\s*$")

# Outlook / Foxmail / QQ / 钉钉 header fields (folded, spaces removed): a sender field and
# another field within HEADER_WINDOW lines make a header block.
_SENDER_FIELDS = frozenset({"from", "发件人", "寄件者", "寄件人", "发信人", "von", "de", "van"})
_OTHER_FIELDS = frozenset({
    "sent", "date", "to", "cc", "bcc", "subject", "reply-to", "发送时间", "发送日期", "时间",
    "日期", "收件人", "收件者", "抄送", "副本", "密送", "主题", "主旨", "标题", "收信人",
    "发送", "发件时间", "发信时间", "寄件时间", "寄件日期",
    "gesendet", "an", "betreff", "envoyé", "à", "objet", "datum", "onderwerp", "aan",
})  # fmt: skip
_FIELD = re.compile(r"^\s*[*\[]*\s*([^\s:*][^:]{0,14}?)\s*[*\]]*\s*:")
HEADER_WINDOW = 6


def _field_name(folded_line: str) -> str | None:
    match = _FIELD.match(folded_line)
    if match is None:
        return None
    return re.sub(r"\s+", "", match.group(1))


def bounded(text: str) -> str:
    """The part of *text* the readers look at: normalised line ends, invisible characters
    out, at most MAX_CHARS characters and MAX_LINES lines."""
    text = text[: MAX_CHARS * 2].replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)[:MAX_CHARS]
    return "\n".join(text.split("\n")[:MAX_LINES])


@lru_cache(maxsize=1)
def _library_header_regex() -> re.Pattern[str]:
    regex: re.Pattern[str] = EmailMessage(text="", languages=list(_LIBRARY_LANGUAGES)).HEADER_REGEX
    return regex


def _library_headers(lines: Sequence[str]) -> set[int]:
    """Lines where mail-parser-reply sees a reply header (any of its languages).  Its
    expressions expect stripped lines; ours are stripped and cut here, one for one, so that
    offsets map back to our lines (the library's own reading drops separator lines)."""
    cut = [line.strip()[:MAX_LINE] for line in lines]
    text = "\n".join(cut)
    offsets: list[int] = []
    pos = 0
    for line in cut:
        offsets.append(pos)
        pos += len(line) + 1
    starts: set[int] = set()
    for match in _library_header_regex().finditer(text):
        begin = match.start()
        while begin < len(text) and text[begin] == "\n":
            begin += 1
        index = _line_at(offsets, begin)
        if index < len(lines) and not _QUOTED.match(lines[index]):
            starts.add(index)
    return starts


def _line_at(offsets: Sequence[int], pos: int) -> int:
    low, high = 0, len(offsets) - 1
    while low < high:
        mid = (low + high + 1) // 2
        if offsets[mid] <= pos:
            low = mid
        else:
            high = mid - 1
    return low


def _header_block_at(folded: Sequence[str], index: int) -> bool:
    """A sender field here and another header field within the next lines."""
    if _field_name(folded[index]) not in _SENDER_FIELDS:
        return False
    for other in folded[index + 1 : index + HEADER_WINDOW]:
        if _field_name(other) in _OTHER_FIELDS:
            return True
    # 钉钉/Alimail and some Outlook versions start with the date or the recipients
    return False


def _other_first_block_at(folded: Sequence[str], index: int) -> bool:
    """A header block whose first field is not the sender ("发送时间：… 发件人：…")."""
    if _field_name(folded[index]) not in _OTHER_FIELDS - {"to", "an", "à", "aan"}:
        return False
    window = folded[index + 1 : index + HEADER_WINDOW]
    return any(_field_name(other) in _SENDER_FIELDS for other in window)


def _starts_quote(folded: Sequence[str], index: int) -> bool:
    """A separator ("原始邮件", "Original Message"), or a header block, or Outlook's ____
    line right above one."""
    low = folded[index]
    if (_SEPARATOR.match(low) and _SEPARATOR_WORDS.search(low)) or _SEPARATOR_LINE.match(low):
        return True
    if _header_block_at(folded, index) or _other_first_block_at(folded, index):
        return True
    return _UNDERSCORES.match(low) is not None and any(
        _field_name(f) in _SENDER_FIELDS for f in folded[index + 1 : index + 4]
    )


def _next_content(kinds: Sequence[Line], index: int) -> Line | None:
    for kind in kinds[index + 1 :]:
        if kind is not Line.BLANK:
            return kind
    return None


def classify(lines: Sequence[str]) -> list[Line]:
    """The class of each line (see the module docstring)."""
    folded = [fold(line) for line in lines]
    library = _library_headers(lines)
    kinds: list[Line] = []
    for index, (line, low) in enumerate(zip(lines, folded, strict=True)):
        stripped = low.strip()
        if not stripped:
            kinds.append(Line.BLANK)
        elif _QUOTED.match(line):
            kinds.append(Line.QUOTED)
        elif _starts_quote(folded, index):
            kinds.append(Line.QUOTE_START)
        elif len(stripped) <= 300 and _WROTE.search(stripped):
            kinds.append(Line.ATTRIBUTION)
        elif (
            index + 1 < len(lines)
            and (_WROTE_OPENING.match(stripped) or "@" in stripped or _DATE.search(stripped))
            and len(folded[index + 1].strip()) <= 80
            and _WROTE.search(folded[index + 1].strip())
            and not _QUOTED.match(lines[index + 1])
        ):
            kinds.append(Line.ATTRIBUTION)  # "On …, 张三 <" / "zs@x.com> wrote:"
        elif index in library:
            kinds.append(Line.QUOTE_START)
        elif _RULE_ONLY.match(low) or signature_lines.starts_signature(low):
            kinds.append(Line.SIGNATURE)
        else:
            kinds.append(Line.TEXT)
    # a line between two quoted lines is a quoted line its client wrapped without a prefix
    for index in range(1, len(kinds) - 1):
        if kinds[index] is Line.TEXT and kinds[index - 1] is kinds[index + 1] is Line.QUOTED:
            kinds[index] = Line.QUOTED
    # an attribution heads > lines (drop it alone) or an unprefixed quote (drop the rest)
    for index, kind in enumerate(kinds):
        if kind is Line.ATTRIBUTION:
            following = _next_content(kinds, index)
            if following is Line.ATTRIBUTION:
                continue  # the first half of a two-line attribution
            if following is not Line.QUOTED:
                start = index - 1 if index and kinds[index - 1] is Line.ATTRIBUTION else index
                kinds[start] = Line.QUOTE_START
    return kinds


def authored_lines(text: str, keep: signature_lines.Keep | None = None) -> list[str]:
    """The lines the sender wrote, in order; stretches between quotes joined by one blank."""
    lines = bounded(text).split("\n")
    kinds = classify(lines)
    kept: list[str] = []
    in_signature = False
    for line, kind in zip(lines, kinds, strict=True):
        if kind is Line.QUOTE_START:
            break
        if kind in (Line.QUOTED, Line.ATTRIBUTION):
            in_signature = False
            if kept and kept[-1] != "":
                kept.append("")
            continue
        if kind is Line.SIGNATURE and any(k.strip() for k in kept):
            in_signature = True
        if in_signature:
            continue
        if kind is Line.SIGNATURE:
            continue  # a rule or footer before any text: not authored either
        kept.append(line.rstrip() if kind is Line.TEXT else "")
    return signature_lines.drop_trailing_signature(_trim(kept), keep)


def _trim(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if not line.strip() and (not out or not out[-1].strip()):
            continue
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return out


def authored_plain(text: str, keep: signature_lines.Keep | None = None) -> str:
    """The authored part of a plain-text body (*keep*: see drop_trailing_signature)."""
    return "\n".join(authored_lines(text, keep)).strip()
