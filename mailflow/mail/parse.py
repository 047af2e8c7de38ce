"""Raw mail bytes -> ParsedMail: one pass of the stdlib parser, then our own decoding.

Why not just the stdlib's decoded views: they decode ``gb2312`` strictly (Chinese clients
send GBK under that label), give up on raw 8-bit headers, and trust addresses that
CVE-2023-27043 shows can be forged.  So the stdlib splits the MIME tree and we read the raw
header text and payloads ourselves (charsets.py, filenames.py).  ``parse_mail`` never
raises: whatever it could not read is listed in ``defects``.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import MissingHeaderBodySeparatorDefect
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from io import BytesIO

from mailflow.mail.addresses import Address, parse_addresses
from mailflow.mail.addresses import one_line as _one_line
from mailflow.mail.charsets import (
    codecs_for,
    decode_body,
    decode_header_bytes,
    decode_header_value,
    is_multibyte,
    sniff_html_charset,
    to_bytes,
)
from mailflow.mail.feeding import MAX_DEPTH, MAX_PARTS, POLICY, cap_header_block, feed
from mailflow.mail.feeding import repair_header_block as _repair_header_block
from mailflow.mail.filenames import param_value, safe_filename, split_header
from mailflow.mail.htmlbody import html_text, sanitise

__all__ = [
    "MAX_DEFECTS",
    "MAX_DEPTH",
    "MAX_ENCLOSED",
    "MAX_PARTS",
    "Address",
    "MailAttachment",
    "ParsedMail",
    "parse_mail",
]

MAX_DEFECTS = 50
MAX_ENCLOSED = 20  # Message-IDs of enclosed mails kept per mail
MAX_HEADER_BLOCK = 64 * 1024  # of a text/rfc822-headers part, looked at for its Message-ID

_SERIALISE_POLICY = POLICY.clone(refold_source="none", linesep="\n")
_EMBEDDED = frozenset({"message/rfc822", "message/global", "message/news"})
_BODY_TYPES = frozenset({"text/plain", "text/html"})
_PLAIN_CTE = frozenset({"", "7bit", "8bit", "binary", "7-bit", "8-bit"})
_UU_CTE = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})
_TYPE_RE = re.compile(r"^[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+$")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_MSGID = re.compile(r"<([^<>]*)>")
#: every byte that is not base64 (deleted in one C pass: a regex builds a list per match)
_B64_NOISE = bytes(sorted(set(range(256)) - set(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")))
_B64_TAIL = re.compile(rb"[=\s]*")
#: a base64 body with more padding runs than this is read as one run (issue 20)
MAX_B64_RUNS = 64


@dataclass(frozen=True)
class MailAttachment:
    """A non-body MIME part with its payload decoded and a file name safe to store."""

    filename: str
    original_filename: str
    content_type: str
    data: bytes = field(repr=False)
    sha256: str
    forwarded: bool


@dataclass(frozen=True)
class ParsedMail:
    """Everything later steps need from one mail; built once, never mutated."""

    message_id: str | None
    subject: str
    sender: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None
    in_reply_to: str | None
    references: tuple[str, ...]
    return_path: str | None
    content_type: str
    headers: tuple[tuple[str, str], ...]
    text: str
    html: str | None
    attachments: tuple[MailAttachment, ...]
    defects: tuple[str, ...]
    # Content types of the mail's own parts (not of attached mails), in order; classify
    # uses them to spot delivery reports nested below the top level.
    part_types: tuple[str, ...] = ()
    # Message-IDs of the mails it encloses (message/rfc822, text/rfc822-headers): what a
    # bounce says came back, what a forward carries.
    enclosed_ids: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive), decoded; None if absent."""
        key = name.lower()
        for hname, value in self.headers:
            if hname == key:
                return value
        return None

    def header_all(self, name: str) -> tuple[str, ...]:
        """Every value of a header, in order."""
        key = name.lower()
        return tuple(value for hname, value in self.headers if hname == key)


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse one mail.  Never raises for any bytes input: best effort plus ``defects``."""
    try:
        fed = feed(raw)
        notes: list[str] = []
        if any(isinstance(d, MissingHeaderBodySeparatorDefect) for d in fed.message.defects):
            repaired = _repair_header_block(raw)
            if repaired is not None:
                fed = feed(repaired)
                notes.append("header block had unindented or junk lines; read leniently")
        return _Reader(defects=[*notes, *fed.notes]).read(fed.message)
    except Exception as exc:  # the contract is "never raises"
        failure = f"parser failed ({type(exc).__name__}); headers only"
    try:
        head = cap_header_block(raw) or raw
        msg = BytesParser(policy=POLICY).parsebytes(head, headersonly=True)
        return _Reader(defects=[failure]).read(msg, walk=False)
    except Exception as exc:
        return _empty(f"{failure}; header parse failed too ({type(exc).__name__})")


def _empty(defect: str) -> ParsedMail:
    return ParsedMail(
        message_id=None,
        subject="",
        sender=None,
        reply_to=(),
        to=(),
        cc=(),
        date=None,
        in_reply_to=None,
        references=(),
        return_path=None,
        content_type="text/plain",
        headers=(),
        text="",
        html=None,
        attachments=(),
        defects=(defect,),
    )


def _unfold(value: str) -> str:
    return _FOLD.sub("", value).replace("\r", " ").replace("\n", " ").strip()


def _raw_header(part: Message, name: str) -> str | None:
    for key, value in part.raw_items():
        if key.strip().lower() == name:
            return _unfold(value)
    return None


def _content_type(part: Message) -> tuple[str, dict[str, str]]:
    raw = _raw_header(part, "content-type")
    if raw is None:
        return part.get_default_type(), {}
    ctype, params = split_header(raw)
    if not _TYPE_RE.match(ctype):
        return part.get_default_type(), params
    return ctype, params


@dataclass
class _Leaf:
    part: Message
    ctype: str
    params: dict[str, str]
    forwarded: bool
    path: str


@dataclass
class _Reader:
    """One mail's reading state; used once per mail."""

    defects: list[str] = field(default_factory=list)
    hint: tuple[str, ...] = ()
    enclosed: list[str] = field(default_factory=list)  # Message-IDs of enclosed mails
    guessed: str = ""  # the CJK codec an undeclared or mislabelled body was read in

    def note(self, defect: str) -> None:
        if len(self.defects) < MAX_DEFECTS and defect not in self.defects:
            self.defects.append(defect)

    def enclose(self, message_id: str | None) -> None:
        """Remember the Message-ID of an enclosed mail (at most MAX_ENCLOSED)."""
        if (message_id and len(message_id) <= 998 and message_id not in self.enclosed
                and len(self.enclosed) < MAX_ENCLOSED):
            self.enclosed.append(message_id)

    def read(self, msg: Message, *, walk: bool = True) -> ParsedMail:
        top_type, _ = _content_type(msg)
        leaves, part_types = self._walk(msg) if walk else ([], [top_type])
        raw_headers = [(k.strip().lower(), _unfold(v)) for k, v in msg.raw_items()]
        # the mail's verdicts inform each other: a charset its parts or its encoded words
        # declare is the first guess for undeclared text elsewhere, and what an undeclared
        # body turned out to be is the first guess for raw 8-bit headers
        self.hint = _first_charset(leaves) or _header_charset(raw_headers)
        text, html, attachments = self._bodies(leaves)
        if not self.hint and self.guessed:
            self.hint = (self.guessed,)
        headers = tuple((k, decode_header_value(v, hint=self.hint)) for k, v in raw_headers)
        first = dict(reversed(raw_headers))
        decoded_first = dict(reversed(headers))
        return ParsedMail(
            message_id=_msgid(first.get("message-id")),
            subject=_one_line(decoded_first.get("subject", "")),
            sender=self._sender(first.get("from")),
            reply_to=self._addresses(first.get("reply-to"), "Reply-To"),
            to=self._addresses(first.get("to"), "To"),
            cc=self._addresses(first.get("cc"), "Cc"),
            date=self._date(decoded_first.get("date")),
            in_reply_to=_msgid(first.get("in-reply-to")),
            references=_msgids(first.get("references")),
            return_path=_return_path(first.get("return-path")),
            content_type=top_type,
            headers=headers,
            text=text,
            html=html,
            attachments=tuple(attachments),
            defects=tuple(self.defects),
            part_types=tuple(part_types),
            enclosed_ids=tuple(self.enclosed),
        )

    # --- structure --------------------------------------------------------------------

    def _walk(self, msg: Message) -> tuple[list[_Leaf], list[str]]:
        leaves: list[_Leaf] = []
        part_types: list[str] = []
        stack: list[tuple[Message, int, bool, str]] = [(msg, 0, False, "")]
        seen = 0
        while stack:
            part, depth, forwarded, path = stack.pop()
            seen += 1
            if seen > MAX_PARTS:
                self.note(f"more than {MAX_PARTS} MIME parts; the rest is ignored")
                break
            for defect in part.defects:
                detail = str(defect)
                where = f"part {path}" if path else "message"
                self.note(f"{where}: {type(defect).__name__}" + (f" ({detail})" if detail else ""))
            ctype, params = _content_type(part)
            if not forwarded:
                part_types.append(ctype)
            children = part.get_payload() if part.is_multipart() else None
            if not isinstance(children, list) or not (
                ctype.startswith("multipart/") or ctype in _EMBEDDED
            ):
                leaves.append(_Leaf(part, ctype, params, forwarded, path or "1"))
                continue
            if ctype in _EMBEDDED and children and isinstance(children[0], Message):
                self.enclose(_msgid(_raw_header(children[0], "message-id")))
            if depth >= MAX_DEPTH:
                self.note(f"part {path or 1}: nested deeper than {MAX_DEPTH} levels; skipped")
                continue
            inner = forwarded or ctype in _EMBEDDED
            prefix = f"{path}." if path else ""
            stack.extend(
                (child, depth + 1, inner, f"{prefix}{i}")
                for i, child in reversed(list(enumerate(children, 1)))
                if isinstance(child, Message)
            )
        return leaves, part_types

    def _bodies(self, leaves: list[_Leaf]) -> tuple[str, str | None, list[MailAttachment]]:
        plain: str | None = None
        html: str | None = None
        attachments: list[MailAttachment] = []
        for leaf in leaves:
            filename, disposition = self._filename(leaf)
            data = self._payload(leaf)
            if leaf.ctype == "text/rfc822-headers":  # the headers of a mail that bounced
                self.enclose(_header_block_id(data))
            is_body = (
                not leaf.forwarded
                and leaf.ctype in _BODY_TYPES
                and disposition != "attachment"
                and not filename
            )
            if is_body and leaf.ctype == "text/plain" and plain is None:
                plain = self._text(data, leaf)
            elif is_body and leaf.ctype == "text/html" and html is None:
                html = self._text(data, leaf)
            else:  # R-GEN-3: every non-body part is kept, so the archive has it all
                original = filename or ""
                attachments.append(
                    MailAttachment(
                        filename=safe_filename(original, len(attachments) + 1, leaf.ctype),
                        original_filename=original,
                        content_type=leaf.ctype,
                        data=data,
                        sha256=hashlib.sha256(data).hexdigest(),
                        forwarded=leaf.forwarded,
                    )
                )
        if html is None:
            return plain or "", None, attachments
        body = sanitise(html)
        if body.note:
            self.note(body.note)
        if (plain is None or not plain.strip()) and body.html:
            if body.text is not None:
                plain = body.text
            else:
                plain, note = html_text(body.html)
                if note:
                    self.note(note)
        return plain or "", body.html, attachments

    def _filename(self, leaf: _Leaf) -> tuple[str | None, str]:
        """The part's decoded file name (Content-Disposition, else Content-Type) and its
        disposition."""
        disposition, params = split_header(self._unraw(leaf.part, "content-disposition"))
        filename = param_value(params, "filename", hint=self.hint)
        if filename is None:
            ct_params = leaf.params
            if not all(v.isascii() for v in ct_params.values()):
                _, ct_params = split_header(self._unraw(leaf.part, "content-type"))
            filename = param_value(ct_params, "name", hint=self.hint)
        return filename, disposition

    def _unraw(self, part: Message, name: str) -> str:
        """A header's text with raw 8-bit bytes decoded before any syntax is read: Big5
        and GBK trail bytes include '\\' and '"', which would break quoted values."""
        value = _raw_header(part, name) or ""
        if value.isascii():
            return value
        return decode_header_bytes(to_bytes(value), hint=self.hint).text

    def _text(self, data: bytes, leaf: _Leaf) -> str:
        label = leaf.params.get("charset")
        if not label and leaf.ctype == "text/html":
            label = sniff_html_charset(data)
        decoded = decode_body(data, label, hint=self.hint)
        if decoded.note:
            self.note(f"part {leaf.path}: {decoded.note}")
            if not self.guessed and is_multibyte(decoded.codec):
                self.guessed = decoded.codec
        return decoded.text.replace("\r\n", "\n")

    # --- payloads ---------------------------------------------------------------------

    def _payload(self, leaf: _Leaf) -> bytes:
        part = leaf.part
        payload = part.get_payload() if part.is_multipart() else getattr(part, "_payload", "")
        if isinstance(payload, list):
            return self._serialise(payload, leaf.path)
        if isinstance(payload, bytes):
            data = payload
        elif isinstance(payload, str):
            # The parser keeps 8-bit bytes as surrogate escapes; this undoes it without
            # the stdlib's lossy charset round trip.
            data = payload.encode("utf-8", "surrogateescape")
        else:
            return b""
        cte = (_raw_header(part, "content-transfer-encoding") or "").split(";")[0]
        cte = cte.strip().strip("\"'").lower()
        if cte in _PLAIN_CTE:
            return data
        if cte == "base64":
            return self._base64(data, leaf.path)
        if cte == "quoted-printable":
            return binascii.a2b_qp(data)
        if cte in _UU_CTE:
            decoded = part.get_payload(decode=True)
            return decoded if isinstance(decoded, bytes) else data
        self.note(f"part {leaf.path}: unknown Content-Transfer-Encoding {cte!r}; read as 8bit")
        return data

    def _base64(self, data: bytes, path: str) -> bytes:
        """Decode a base64 body in time and memory linear in its size (issue 20): cleaned
        once, decoded once. Runs glued together with their padding ("QUI=QUJD") decode run
        by run, but only a few: a body that is mostly "=" (``Q=Q=Q=…``) is read as one run,
        as thousands of tiny runs cost 50× its size in memory."""
        first = data.find(b"=")
        if first < 0 or _B64_TAIL.fullmatch(data, first):
            try:  # well-formed (padding only at the end): decoded as is, no copy made
                return binascii.a2b_base64(data)
            except binascii.Error:
                pass
        cleaned = data.translate(None, _B64_NOISE)
        body = cleaned.rstrip(b"=")
        if b"=" not in body:
            return self._b64_run(cleaned, path)
        self.note(f"part {path}: base64 padding inside the data")
        if body.count(b"=") >= MAX_B64_RUNS:
            return self._b64_run(body.replace(b"=", b""), path)
        return b"".join(self._b64_run(run, path) for run in body.split(b"=") if run)

    def _b64_run(self, run: bytes, path: str) -> bytes:
        """One run of base64 letters (and maybe its padding): a lone letter at the end, which
        cannot carry a byte, is dropped; the missing padding is supplied. The bulk is
        decoded through a view, not copied."""
        size = len(run.rstrip(b"="))
        whole = size - size % 4
        tail = bytes(run[whole:size])
        if len(tail) == 1:
            self.note(f"part {path}: invalid base64; trailing bytes dropped")
            tail = b""
        try:
            decoded = binascii.a2b_base64(memoryview(run)[:whole])
            if tail:
                decoded += binascii.a2b_base64(tail + b"=" * (4 - len(tail)))
            return decoded
        except binascii.Error:  # not expected after cleaning; never raise out of the parser
            self.note(f"part {path}: invalid base64")
            return b""

    def _serialise(self, blocks: Sequence[object], path: str) -> bytes:
        """Bytes of a message/* part the parser split into header blocks (delivery-status)."""
        out = BytesIO()
        try:
            generator = BytesGenerator(out, mangle_from_=False, policy=_SERIALISE_POLICY)
            for block in blocks:
                if isinstance(block, EmailMessage):
                    generator.flatten(block)
        except Exception as exc:
            self.note(f"part {path}: could not re-serialise ({type(exc).__name__})")
        return out.getvalue()

    # --- headers ----------------------------------------------------------------------

    def _addresses(self, raw: str | None, label: str) -> tuple[Address, ...]:
        if raw is None:
            return ()
        found = self._read_addresses(raw, label)
        if found is None:
            self.note(f"{label} header is ambiguous (CVE-2023-27043 pattern); ignored")
            return ()
        return found

    def _sender(self, raw: str | None) -> Address | None:
        if raw is None:
            return None
        found = self._read_addresses(raw, "From")
        if found is None:
            self.note("From header is ambiguous (CVE-2023-27043 pattern); sender ignored")
            return None
        return found[0] if found else None

    def _read_addresses(self, raw: str, label: str) -> tuple[Address, ...] | None:
        addresses, cut = parse_addresses(raw, self.hint)
        if cut:
            self.note(f"{label} header too long; only the addresses at its start were read")
        return addresses

    def _date(self, value: str | None) -> datetime | None:
        if not value:
            return None
        try:
            parsed = parsedate_to_datetime(value)
            if parsed.tzinfo is None:  # "-0000": UTC, origin's zone unknown (RFC 5322)
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        except (TypeError, ValueError, IndexError, OverflowError):
            self.note(f"Date header unreadable: {value[:60]!r}")
            return None


_WORD_LABEL = re.compile(r"=\?([A-Za-z0-9_.:-]{1,40})[*?]")


def _header_charset(raw_headers: list[tuple[str, str]]) -> tuple[str, ...]:
    """The first CJK charset the mail's encoded words declare (Subject, From…)."""
    for _, value in raw_headers[:200]:
        if "=?" not in value:
            continue
        for label in _WORD_LABEL.findall(value[:4096]):
            chain = codecs_for(label)
            if chain and is_multibyte(chain[0]):
                return chain
    return ()


def _first_charset(leaves: list[_Leaf]) -> tuple[str, ...]:
    """Codecs for unlabelled 8-bit text, from the charsets the mail declares elsewhere:
    the first multibyte (CJK) one, then the first single-byte one."""
    multibyte: tuple[str, ...] = ()
    single: tuple[str, ...] = ()
    for leaf in leaves:
        if leaf.ctype.startswith("text/"):
            chain = codecs_for(leaf.params.get("charset"))
            if not chain or chain in (("ascii",), ("utf-8",)):
                continue
            if chain[0].startswith("iso2022_jp"):
                chain = ("cp932",)  # 8-bit text in a mail that declares ISO-2022-JP
            if is_multibyte(chain[0]):
                multibyte = multibyte or chain
            else:
                single = single or chain
    return multibyte + single


_HEADER_BLOCK_ID = re.compile(rb"^message-id:[ \t]*(.{1,998}?)\r?$", re.IGNORECASE | re.MULTILINE)


def _header_block_id(data: bytes) -> str | None:
    """The Message-ID in a text/rfc822-headers part (the headers of the mail that bounced)."""
    match = _HEADER_BLOCK_ID.search(data[:MAX_HEADER_BLOCK])
    return _msgid(match.group(1).decode("ascii", "replace")) if match else None


def _msgid(raw: str | None) -> str | None:
    if raw is None:
        return None
    match = _MSGID.search(raw)
    value = _id_text("".join((match.group(1) if match else raw).split()))
    return f"<{value}>" if value else None


def _msgids(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    found = ["".join(m.split()) for m in _MSGID.findall(raw)]
    if not found and raw.strip():
        found = raw.split()
    return tuple(f"<{v}>" for v in map(_id_text, found) if v)


_ID_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


def _id_text(value: str) -> str:
    """A Message-ID as text that can be stored and sent: raw 8-bit bytes (some broken
    clients write them) read as UTF-8 (RFC 6532), control characters removed; "" when the
    bytes are not UTF-8 (issue 20: such a mail was quarantined with an internal error)."""
    try:
        value = value.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return ""
    return _ID_CONTROLS.sub("", value)


def _return_path(raw: str | None) -> str | None:
    if raw is None:
        return None
    match = _MSGID.search(raw)
    return ("".join(match.group(1).split()) if match else raw.strip()).strip()
