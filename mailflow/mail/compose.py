"""Build the outbound MIME message: headers that stop mail loops, text + HTML, attachments."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from mailflow.templates import RenderedMessage


@dataclass(frozen=True)
class OutgoingAttachment:
    filename: str
    data: bytes
    mime_type: str = "application/octet-stream"


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


def new_message_id(from_address: str) -> str:
    domain = from_address.rsplit("@", 1)[-1] or "mailflow.invalid"
    return make_msgid(idstring="mailflow", domain=domain)


def compose(
    envelope: Envelope, content: RenderedMessage, *, message_id: str, date: datetime
) -> bytes:
    """Return the message as CRLF bytes, ready for SMTP and for the archive."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = formataddr((envelope.from_name, envelope.from_address))
    msg["To"] = ", ".join(formataddr(pair) for pair in envelope.to)
    if envelope.cc:
        msg["Cc"] = ", ".join(formataddr(pair) for pair in envelope.cc)
    msg["Subject"] = content.subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    if envelope.in_reply_to:
        msg["In-Reply-To"] = envelope.in_reply_to
        refs = [*envelope.references, envelope.in_reply_to]
        msg["References"] = " ".join(dict.fromkeys(refs))
    # RFC 3834: mark as automatic so well-behaved responders never answer us, and ask
    # Exchange/Outlook not to send out-of-office or read receipts back (no mail loops).
    msg["Auto-Submitted"] = envelope.auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Precedence"] = "auto_reply" if envelope.auto_submitted == "auto-replied" else "bulk"
    if envelope.reference:
        msg["X-Mailflow-Ref"] = envelope.reference
    msg.set_content(content.text, charset="utf-8")
    msg.add_alternative(content.html, subtype="html", charset="utf-8")
    for att in envelope.attachments:
        maintype, _, subtype = att.mime_type.partition("/")
        msg.add_attachment(
            att.data, maintype=maintype, subtype=subtype or "octet-stream", filename=att.filename
        )
    return msg.as_bytes(policy=policy.SMTP)
