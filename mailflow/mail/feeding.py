"""Raw mail bytes -> the stdlib's MIME tree, with the stdlib's work bounded by what we read.

Why not ``BytesParser().parsebytes``: besides copying the whole mail into a str and a
StringIO (three times the memory of a large mail), the stdlib parser does work that the
limits parse.py applies afterwards do not bound.  It checks every body line against every
open multipart boundary, so 300 nested parts around 100,000 short lines cost 3e7 checks
(fuzz/README.md F2); it builds every part, ~50 bytes per input byte for 12,000 tiny parts
although only MAX_PARTS are read (F3); and it keeps every header field, ~30 bytes per header
byte (F7).

So the mail is fed in small slices, and feeding stops as soon as the tree being built goes
past what parse.py reads: nested deeper than MAX_DEPTH + 1, more than MAX_PARTS + 1 parts,
more than MAX_HEADER_FIELDS header fields.  The rest of the mail is not parsed and a note
says so.  The top-level header block is cut to MAX_HEADER_LINES lines before feeding (one
byte scan of the header block).  What we watch is public API only: the parser builds its
messages through our factory, which keeps a list of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.feedparser import BytesFeedParser
from email.message import EmailMessage, Message
from email.policy import EmailPolicy

MAX_DEPTH = 10  # nesting of multiparts and attached mails that parse.py follows
MAX_PARTS = 500  # MIME parts parse.py looks at per mail
MAX_HEADER_LINES = 1000  # lines of the top-level header block that are parsed
MAX_HEADER_FIELDS = 5000  # header fields of all parts together; feeding stops beyond

# Small enough that one slice cannot build much past a limit (8 KB holds ~130 levels of
# minimal nesting, ~800 minimal parts), large enough that the per-slice checks cost nothing.
_SLICE = 8 * 1024


class _RawHeaderPolicy(EmailPolicy):
    """``policy.default`` except that header lookups return the unfolded source text.

    Why: the feed parser asks for Content-Type several times per part, and the default
    policy runs its full header grammar each time -- three quarters of all parse time on
    our corpus.  The parser only needs type, boundary and transfer encoding, which the
    stdlib's simple parameter reader handles (as under compat32); every value we keep is
    read from the raw header text by our own code anyway.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value if hasattr(value, "name") else _LINESEP.sub("", value)


_LINESEP = re.compile(r"\r\n|\r|\n")
POLICY = _RawHeaderPolicy()


@dataclass(frozen=True)
class Fed:
    """The parsed tree, and notes for the mail's defects about input left unparsed."""

    message: Message
    notes: tuple[str, ...]


def feed(raw: bytes) -> Fed:
    """Parse *raw* as far as parse.py will read it."""
    notes: list[str] = []
    capped = cap_header_block(raw)
    if capped is not None:
        raw = capped
        notes.append(
            f"more than {MAX_HEADER_LINES} header lines; the rest of the header block was dropped"
        )
    messages: list[EmailMessage] = []

    def make(policy: _RawHeaderPolicy = POLICY) -> EmailMessage:
        message = EmailMessage(policy=policy)
        messages.append(message)
        return message

    parser = BytesFeedParser(make, policy=POLICY)
    messages.clear()  # the constructor calls the factory once, to probe its signature
    view = memoryview(raw)
    watch = _Watch(messages)
    for start in range(0, len(raw), _SLICE):
        parser.feed(bytes(view[start : start + _SLICE]))
        stop = watch.exceeded()
        if stop is not None and start + _SLICE < len(raw):
            notes.append(f"{stop}; the rest of the mail was not read")
            break
    return Fed(parser.close(), tuple(notes))


class _Watch:
    """Checks, after each slice, the tree the parser has built so far.

    The parser attaches a part to its parent when the part starts, so the part being
    built is the last child at every level; every message but the newest has all its
    header fields (the newest may still be reading them).
    """

    def __init__(self, messages: list[EmailMessage]) -> None:
        self.messages = messages
        self.seen = 0  # messages whose depth and fields are accounted for
        self.fields = 0  # header fields of messages[: self.seen - 1]

    def exceeded(self) -> str | None:
        messages = self.messages
        if len(messages) > MAX_PARTS + 1:
            return f"more than {MAX_PARTS} MIME parts"
        if len(messages) != self.seen:  # depth and settled fields change with new parts only
            self.fields += sum(len(m) for m in messages[max(self.seen - 1, 0) : -1])
            self.seen = len(messages)
            if _depth(messages[0]) > MAX_DEPTH + 1:
                return f"nested deeper than {MAX_DEPTH} levels"
        if messages and self.fields + len(messages[-1]) > MAX_HEADER_FIELDS:
            return f"more than {MAX_HEADER_FIELDS} header fields"
        return None


def _depth(root: Message) -> int:
    depth = 0
    part = root
    while part.is_multipart():
        children = part.get_payload()
        if not isinstance(children, list) or not children:
            break
        last = children[-1]
        if not isinstance(last, Message):
            break
        part = last
        depth += 1
    return depth


# One header line as email.feedparser reads it (its headerRE: "From ", a field name and a
# colon, or a continuation), with its line end.  Atomic, so a failed match never backtracks.
_HEADER_LINE = rb"(?>(?:From |[!-9;-~]*+:|[\t ])[^\r\n]*+(?:\r\n|\r|\n))"
_FIRST_HEADER_LINES = re.compile(_HEADER_LINE + rb"{%d}" % MAX_HEADER_LINES)
_MORE_HEADER_LINES = re.compile(_HEADER_LINE + rb"*+")


def cap_header_block(raw: bytes) -> bytes | None:
    """*raw* with its top-level header block cut to MAX_HEADER_LINES lines, or None if it
    has no more than that.  A normal mail costs one regex scan of its header block."""
    head = _FIRST_HEADER_LINES.match(raw)
    if head is None:
        return None
    rest = _MORE_HEADER_LINES.match(raw, head.end())
    if rest is None or rest.end() == head.end():
        return None
    return raw[: head.end()] + raw[rest.end() :]


_HEADER_START = re.compile(rb"^[!-9;-~]+[ \t]*:")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_REPAIR_SCAN_LIMIT = 256 * 1024


def repair_header_block(raw: bytes) -> bytes | None:
    """Header block with stray lines fixed, or None if there is nothing to fix.

    Some gateways fold long headers without indenting the continuation, or put a banner
    line ("---- Original email message ----") above the headers; the stdlib then stops
    reading headers there and the mail loses its From and Subject.  A stray line that
    has real header lines after it becomes a continuation (or is dropped if no header
    came before it).
    """
    blank = _BLANK_LINE.search(raw, 0, _REPAIR_SCAN_LIMIT)
    if blank is None:
        return None
    lines = raw[: blank.start()].split(b"\n")
    header_at = [i for i, line in enumerate(lines) if _HEADER_START.match(line)]
    if not header_at:
        return None
    out: list[bytes] = []
    changed = False
    for i, line in enumerate(lines):
        stray = not (
            i > header_at[-1]
            or _HEADER_START.match(line)
            or line[:1] in (b" ", b"\t")
            or (i == 0 and line.startswith(b"From "))
        )
        if not stray:
            out.append(line)
            continue
        changed = True
        if i > header_at[0]:
            out.append(b" " + line)
    if not changed:
        return None
    return b"\n".join(out) + raw[blank.start() :]
