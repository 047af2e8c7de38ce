"""Build the outbound MIME message: headers that stop mail loops, text + HTML, attachments.

Why the bytes are written here rather than by ``EmailMessage(policy=SMTP).as_bytes()``: that
generator re-parses and re-folds every header through the header registry, about 8 ms per
reply — a quarter of what taking in one mail costs (bench/, issue 7). The layout written here
is fixed (multipart/mixed > alternative text/html — the HTML in a multipart/related with its
inline images, when it has any — then attachments), so the stdlib encoders
(``email.header``, ``formataddr``, base64) are enough, at a twentieth of the cost. Every
header value is cleaned of CR/LF first: nothing a sender put into a name or subject can
inject a header (tests/test_mail_compose.py).
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, make_msgid
from functools import lru_cache
from urllib.parse import quote

from mailflow.templates import RenderedMessage

CRLF = "\r\n"
#: 8bit text parts stay well below RFC 5322's 998-octet line limit; longer lines go base64
MAX_8BIT_LINE = 900


@dataclass(frozen=True)
class OutgoingAttachment:
    filename: str
    data: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML shows in place (``<img src="cid:CID">``): sent in a
    multipart/related beside the HTML, never as an attachment (the monthly report's charts)."""

    cid: str
    filename: str
    data: bytes
    mime_type: str = "image/png"


@dataclass(frozen=True)
class Envelope:
    from_address: str
    from_name: str
    to: Sequence[tuple[str, str]]  # (name, address)
    cc: Sequence[tuple[str, str]] = ()
    in_reply_to: str | None = None
    references: Sequence[str] = ()
    reference: str = ""  # mailflow's request reference, also in X-Mailflow-Ref
    auto_submitted: str = "auto-replied"
    attachments: Sequence[OutgoingAttachment] = field(default_factory=tuple)
    inline: Sequence[InlineImage] = field(default_factory=tuple)


def new_message_id(from_address: str) -> str:
    """A fresh Message-ID for a mail we send: ``<time.pid.random.mailflow@our-domain>``."""
    return make_msgid(idstring="mailflow", domain=message_id_domain(from_address))


def named_message_id(name: str, from_address: str) -> str:
    """A Message-ID fixed by *name* (the administrator's digest: several processes queue
    it once): ``<name@our-domain>``."""
    return f"<{name}@{message_id_domain(from_address)}>"


def message_id_domain(from_address: str) -> str:
    return from_address.rsplit("@", 1)[-1] or "mailflow.invalid"


@lru_cache(maxsize=8)
def own_message_ids(from_address: str) -> re.Pattern[str]:
    """Message-IDs as the two functions above write them for *from_address* (fresh ones,
    and the administrator's digest ``admin-alert-N``, alerts.py), and those of approval
    mails carrying their token (``approval-STEP-TOKEN-PURPOSE``, workflow/tokens.py): what a
    bounce report may quote back, not any ``<someone@our-domain>`` it quotes."""
    local = (r"(?:[0-9]{1,30}\.[0-9]{1,20}\.[0-9]{1,30}\.mailflow|admin-alert-[0-9]{1,20}"
             r"|approval-[0-9]{1,20}-[A-Z2-7]{16}-[a-z]{1,12}[0-9]{0,6})")
    return re.compile(rf"<{local}@{re.escape(message_id_domain(from_address))}>",
                      re.IGNORECASE)


def compose(
    envelope: Envelope, content: RenderedMessage, *, message_id: str, date: datetime
) -> bytes:
    """Return the message as CRLF bytes, ready for SMTP and for the archive."""
    outer, inner = _boundary(), _boundary()
    headers = [
        ("From", _address(envelope.from_name, envelope.from_address)),
        ("To", _addresses(envelope.to)),
    ]
    if envelope.cc:
        headers.append(("Cc", _addresses(envelope.cc)))
    headers += [
        ("Subject", _text(content.subject)),
        ("Date", format_datetime(date)),
        ("Message-ID", _ids([message_id]) or message_id),
    ]
    parent = _ids([envelope.in_reply_to or ""])
    if parent:
        headers.append(("In-Reply-To", parent))
        headers.append(("References", _ids([*envelope.references, parent])))
    # RFC 3834: mark as automatic so well-behaved responders never answer us, and ask
    # Exchange/Outlook not to send out-of-office or read receipts back (no mail loops).
    headers += [
        ("Auto-Submitted", _clean(envelope.auto_submitted)),
        ("X-Auto-Response-Suppress", "All"),
        ("Precedence", "auto_reply" if envelope.auto_submitted == "auto-replied" else "bulk"),
    ]
    if envelope.reference:
        headers.append(("X-Mailflow-Ref", _clean(envelope.reference)))
    headers += [
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/mixed; boundary="{outer}"'),
    ]
    html = _text_part(content.html, "html")
    if envelope.inline:  # multipart/related: the HTML and the images it shows by cid
        related = _boundary()
        html = (f"Content-Type: multipart/related; boundary=\"{related}\"; "
                f"type=\"text/html\"{CRLF}{CRLF}").encode() + _multipart(
            related, [html, *(_inline_part(image) for image in envelope.inline)])
    parts = [
        f"Content-Type: multipart/alternative; boundary=\"{inner}\"{CRLF}{CRLF}".encode()
        + _multipart(inner, [_text_part(content.text, "plain"), html]),
        *(_attachment_part(att) for att in envelope.attachments),
    ]
    head = "".join(f"{name}: {value}{CRLF}" for name, value in headers) + CRLF
    return head.encode("ascii") + _multipart(outer, parts)


def _multipart(boundary: str, parts: Iterable[bytes]) -> bytes:
    delimiter = f"--{boundary}{CRLF}".encode()
    body = b"".join(delimiter + part + CRLF.encode() for part in parts)
    return body + f"--{boundary}--{CRLF}".encode()


def _text_part(text: str, subtype: str) -> bytes:
    data = CRLF.join(text.splitlines()).encode("utf-8") + CRLF.encode()
    if all(len(line) <= MAX_8BIT_LINE for line in data.split(b"\r\n")):
        encoding, body = "8bit", data
    else:
        encoding, body = "base64", _base64(data)
    return (f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
            f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}").encode() + body


def _attachment_part(att: OutgoingAttachment) -> bytes:
    mime_type = _clean(att.mime_type) if "/" in att.mime_type else "application/octet-stream"
    name = _clean(att.filename) or "attachment"
    if name.isascii():
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        type_name = f'"{escaped}"'
        disposition = f"filename={type_name}"
    else:
        # RFC 2231 for standard readers; the RFC 2047 ``name`` too, which older Outlook and
        # Foxmail versions show instead of garbling the Chinese name
        type_name = '"' + Header(name, "utf-8").encode(maxlinelen=10_000) + '"'
        disposition = "filename*=utf-8''" + quote(name, safe="")
    head = (f"Content-Type: {mime_type};{CRLF} name={type_name}{CRLF}"
            f"Content-Transfer-Encoding: base64{CRLF}"
            f"Content-Disposition: attachment;{CRLF} {disposition}{CRLF}{CRLF}")
    return head.encode("ascii") + _base64(att.data)


def _inline_part(image: InlineImage) -> bytes:
    mime_type = _clean(image.mime_type) if "/" in image.mime_type else "image/png"
    cid = "".join(c for c in image.cid if c.isascii() and (c.isalnum() or c in ".-_@"))
    name = "".join(c for c in image.filename if c.isascii() and (c.isalnum() or c in ".-_"))
    head = (f"Content-Type: {mime_type}; name=\"{name or 'image'}\"{CRLF}"
            f"Content-Transfer-Encoding: base64{CRLF}"
            f"Content-ID: <{cid}>{CRLF}"
            f"Content-Disposition: inline; filename=\"{name or 'image'}\"{CRLF}{CRLF}")
    return head.encode("ascii") + _base64(image.data)


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _boundary() -> str:
    # 128 random bits: a template's text or a base64 line cannot contain it by chance
    return "=_mailflow_" + secrets.token_hex(16)


def _clean(value: str) -> str:
    """One line: CR, LF and other controls become spaces (no header injection)."""
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())


def _text(value: str) -> str:
    """An unstructured header value, RFC 2047-encoded when not ASCII, folded at 76."""
    value = _clean(value)
    charset = None if value.isascii() else "utf-8"
    return Header(value, charset, header_name="Subject").encode(linesep=CRLF)


def _address(name: str, addr: str) -> str:
    return formataddr((_clean(name), _clean(addr).replace(" ", "")), charset="utf-8")


def _addresses(pairs: Sequence[tuple[str, str]]) -> str:
    return ("," + CRLF + " ").join(_address(name, addr) for name, addr in pairs)


def _ids(values: Sequence[str]) -> str:
    """Message-IDs for In-Reply-To / References: only well-formed ``<...>`` tokens, folded."""
    seen: dict[str, None] = {}
    for value in values:
        for token in _clean(value).split():
            if (token.startswith("<") and token.endswith(">") and token.isascii()
                    and "<" not in token[1:-1] and ">" not in token[1:-1]):
                seen[token] = None
    return (CRLF + " ").join(seen)
