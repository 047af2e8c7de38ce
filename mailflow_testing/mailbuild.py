"""Realistic raw mails (CRLF bytes) for tests, the demo and the benchmark.

The point is to look like what real clients send, not like what Python would write: Foxmail
and Outlook (zh-CN) put GBK/GB2312 in RFC 2047 B-words and in the body, older clients name
attachments ``name="=?GBK?B?...?="`` (RFC 2047 inside a quoted parameter, against the RFC
but everywhere), newer ones ``filename*=utf-8''...`` (RFC 2231). The modern ``email`` policy
would re-encode every header as UTF-8, so non-ASCII headers are encoded here and stored raw,
and the policy (``email.policy.SMTP``, CRLF) is told not to refold them.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Literal

# refold_source="none": raw header values (our encoded words) are written as given
POLICY = policy.SMTP.clone(refold_source="none")
CST = timezone(timedelta(hours=8))
BodyEncoding = Literal["base64", "quoted-printable", "8bit"]
FilenameStyle = Literal["rfc2231", "rfc2047"]
Attachment = tuple[str, bytes, str]  # (filename, data, "maintype/subtype")

# how each client spells the charset in headers (Foxmail "GBK", Outlook "gb2312", QQ "gb18030")
_LABELS = {"gbk": "GBK", "gb18030": "gb18030", "gb2312": "gb2312", "utf-8": "UTF-8"}
_EOL = re.compile(rb"\r\n|\r|\n")


def to_crlf(raw: bytes) -> bytes:
    """Every line ending as CRLF, as on the wire and as Dovecot returns it (pitfall 11)."""
    return _EOL.sub(b"\r\n", raw)


def human_mail(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str,
    charset: str = "utf-8",
    attachments: Sequence[Attachment] = (),
    html: str | None = None,
    message_id: str | None = None,
    date: datetime | None = None,
    extra_headers: Mapping[str, str] | None = None,
    filename_style: FilenameStyle = "rfc2231",
    cc: str | None = None,
    body_encoding: BodyEncoding | None = None,
) -> bytes:
    """A mail a person wrote: text (plus optional HTML alternative) and attachments.

    *sender*, *to* and *cc* may carry display names (``"张伟 <zhang.wei@example.test>"``,
    several separated by commas). ``charset="gbk"`` (or gb18030/gb2312) gives a Foxmail /
    Outlook-zh mail: B-encoded words and a body in that charset (base64 unless
    *body_encoding* says otherwise). Attachment names follow *filename_style*.
    """
    root = _root(sender, to, subject, charset, message_id, date, extra_headers, cc)
    cte = body_encoding or ("base64" if _label(charset) != "UTF-8" else None)
    if not attachments and html is None:
        root.set_content(body, charset=_label(charset), cte=cte)
        return root.as_bytes(policy=POLICY)
    content: MIMEPart = _text_part(body, "plain", charset, cte)
    if html is not None:
        alternative = MIMEPart(policy=POLICY)
        alternative["Content-Type"] = "multipart/alternative"
        alternative.attach(content)
        alternative.attach(_text_part(html, "html", charset, cte))
        content = alternative
    if not attachments:
        return _graft(root, content)
    mixed = MIMEPart(policy=POLICY)
    mixed["Content-Type"] = "multipart/mixed"
    mixed.attach(content)
    for filename, data, mime in attachments:
        mixed.attach(_attachment(filename, data, mime, charset, filename_style))
    return _graft(root, mixed)


def html_only_mail(
    *,
    sender: str,
    to: str,
    subject: str,
    html: str,
    charset: str = "utf-8",
    message_id: str | None = None,
    date: datetime | None = None,
    extra_headers: Mapping[str, str] | None = None,
    body_encoding: BodyEncoding | None = None,
) -> bytes:
    """A single text/html part and no text alternative, as webmail (QQ, 163) often sends."""
    root = _root(sender, to, subject, charset, message_id, date, extra_headers, None)
    cte = body_encoding or ("base64" if _label(charset) != "UTF-8" else None)
    root.set_content(html, subtype="html", charset=_label(charset), cte=cte)
    return root.as_bytes(policy=POLICY)


_AUTO_REPLY: dict[str, tuple[str, str, dict[str, str]]] = {
    # style: (subject prefix, charset, the header that marks it)
    "rfc3834": ("自动回复: ", "utf-8", {"Auto-Submitted": "auto-replied"}),
    "outlook": ("自动答复: ", "gb2312", {"X-Auto-Response-Suppress": "All"}),
    "qq": ("自动回复: ", "gb18030", {"X-Autoreply": "yes"}),
}


def auto_reply_mail(
    *,
    sender: str,
    to: str,
    subject: str | None = None,
    body: str = "您好，我正在休假，11月30日返回，急事请联系王经理。",
    style: Literal["rfc3834", "outlook", "qq"] = "rfc3834",
    in_reply_to: str | None = None,
    message_id: str | None = None,
    date: datetime | None = None,
) -> bytes:
    """An out-of-office answer; each style carries only its own marker header.

    rfc3834: ``Auto-Submitted: auto-replied``; outlook: ``X-Auto-Response-Suppress: All``
    (GB2312, "自动答复"); qq: ``X-Autoreply: yes`` (GB18030). A classifier must know each.
    """
    prefix, charset, marker = _AUTO_REPLY[style]
    headers = dict(marker)
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
        headers["References"] = in_reply_to
    return human_mail(
        sender=sender,
        to=to,
        subject=subject if subject is not None else f"{prefix}关于本周例会",
        body=body,
        charset=charset,
        message_id=message_id,
        date=date,
        extra_headers=headers,
    )


def bounce_mail(
    *,
    to: str,
    original: bytes | None = None,
    recipient: str = "nobody@example.test",
    status: str = "5.1.1",
    diagnostic: str | None = None,
    reporting_mta: str = "mx.example.test",
    message_id: str | None = None,
    date: datetime | None = None,
) -> bytes:
    """A Postfix-style DSN: multipart/report, ``Return-Path: <>``, From MAILER-DAEMON.

    *original* (the mail that bounced) is attached as message/rfc822 when given.
    """
    diagnostic = diagnostic or f"smtp; 550 {status} <{recipient}>: Recipient address rejected"
    root = _root(
        f"Mail Delivery System <MAILER-DAEMON@{reporting_mta}>",
        to,
        "Undelivered Mail Returned to Sender",
        "utf-8",
        message_id or make_msgid(domain=reporting_mta),
        date,
        {"Auto-Submitted": "auto-replied"},
        None,
        return_path="<>",
    )
    notice = _text_part(
        "This is the mail system at host "
        f"{reporting_mta}.\n\nI'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n\n"
        f"<{recipient}>: host {reporting_mta} said: {diagnostic}\n",
        "plain",
        "us-ascii",
        "7bit",
    )
    notice["Content-Description"] = "Notification"
    dsn = (
        "Content-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {reporting_mta}\r\n"
        f"Arrival-Date: {format_datetime(date or datetime.now(CST))}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        "Action: failed\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: {diagnostic}\r\n"
    ).encode("ascii")
    parts = [notice.as_bytes(policy=POLICY), dsn]
    if original is not None:
        parts.append(_message_part(original, "Undelivered Message"))
    return _assemble(root, "report", "report-type=delivery-status", parts)


def forwarded_mail(
    *,
    sender: str,
    to: str,
    subject: str,
    inner: bytes,
    body: str = "请看下面转发的邮件。",
    charset: str = "utf-8",
    message_id: str | None = None,
    date: datetime | None = None,
) -> bytes:
    """A mail forwarded as an attachment: text, then *inner* byte-for-byte as message/rfc822."""
    root = _root(sender, to, subject, charset, message_id, date, None, None)
    cte = "base64" if _label(charset) != "UTF-8" else None
    text = _text_part(body, "plain", charset, cte).as_bytes(policy=POLICY)
    return _assemble(root, "mixed", "", [text, _message_part(inner, None)])


# -- internals ---------------------------------------------------------------------------


def _label(charset: str) -> str:
    return _LABELS.get(charset.lower().replace("_", "-"), charset)


def _b_word(text: str, charset: str) -> str:
    encoded = base64.b64encode(text.encode(charset)).decode("ascii")
    return f"=?{_label(charset)}?B?{encoded}?="


def _encoded_words(text: str, charset: str) -> list[str]:
    """RFC 2047 B-words of at most 75 characters, never splitting a character."""
    words: list[str] = []
    chunk = ""
    for char in text:
        if chunk and len(_b_word(chunk + char, charset)) > 75:
            words.append(_b_word(chunk, charset))
            chunk = char
        else:
            chunk += char
    words.append(_b_word(chunk, charset))
    return words


def _unstructured(text: str, charset: str) -> str:
    return text if text.isascii() else "\r\n ".join(_encoded_words(text, charset))


def _addresses(value: str, charset: str) -> str:
    out = []
    for name, addr in getaddresses([value]):
        if not name:
            out.append(addr)
        elif name.isascii():
            quoted = name.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'"{quoted}" <{addr}>')
        else:
            out.append(f"{' '.join(_encoded_words(name, charset))} <{addr}>")
    return ",\r\n ".join(out)


def _root(
    sender: str,
    to: str,
    subject: str,
    charset: str,
    message_id: str | None,
    date: datetime | None,
    extra_headers: Mapping[str, str] | None,
    cc: str | None,
    *,
    return_path: str | None = None,
) -> EmailMessage:
    """The top-level headers, every one stored raw (already encoded in *charset*)."""
    root = EmailMessage(policy=POLICY)
    _, sender_addr = getaddresses([sender])[0]
    domain = sender_addr.rpartition("@")[2] or "example.test"
    # set_raw is the parser's way in; it is how a header avoids re-encoding as UTF-8
    if return_path is not None:
        root.set_raw("Return-Path", return_path)
    root.set_raw("From", _addresses(sender, charset))
    root.set_raw("To", _addresses(to, charset))
    if cc:
        root.set_raw("Cc", _addresses(cc, charset))
    root.set_raw("Subject", _unstructured(subject, charset))
    root.set_raw("Date", format_datetime(date or datetime.now(CST).replace(microsecond=0)))
    root.set_raw("Message-ID", message_id or make_msgid(domain=domain))
    for name, value in (extra_headers or {}).items():
        root.set_raw(name, _unstructured(value, charset))
    root.set_raw("MIME-Version", "1.0")
    return root


def _text_part(text: str, subtype: str, charset: str, cte: str | None) -> MIMEPart:
    part = MIMEPart(policy=POLICY)
    part.set_content(text, subtype=subtype, charset=_label(charset), cte=cte)
    return part


def _attachment(
    filename: str, data: bytes, mime: str, charset: str, style: FilenameStyle
) -> MIMEPart:
    maintype, _, subtype = mime.partition("/")
    part = MIMEPart(policy=POLICY)
    if style == "rfc2231" or filename.isascii():
        part.set_content(
            data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            disposition="attachment",
            filename=filename,
        )
        part.set_param("name", filename)  # Content-Type too, as mail clients write it
        return part
    part.set_content(data, maintype=maintype, subtype=subtype or "octet-stream")
    del part["Content-Type"]
    words = " ".join(_encoded_words(filename, "utf-8" if _label(charset) == "UTF-8" else charset))
    # Outlook / Foxmail: RFC 2047 words inside quotes, header folded before the parameter
    part.set_raw("Content-Type", f'{maintype}/{subtype or "octet-stream"};\r\n\tname="{words}"')
    part.set_raw("Content-Disposition", f'attachment;\r\n\tfilename="{words}"')
    return part


def _graft(root: EmailMessage, content: MIMEPart) -> bytes:
    """*content*'s MIME headers and body under *root*'s envelope headers."""
    for name, value in content.raw_items():
        root.set_raw(name, value)
    root.set_payload(content.get_payload())
    return root.as_bytes(policy=POLICY)


def _message_part(inner: bytes, description: str | None) -> bytes:
    inner = to_crlf(inner)
    head = f"Content-Description: {description}\r\n" if description else ""
    head += "Content-Type: message/rfc822\r\n"
    if not inner.isascii():
        head += "Content-Transfer-Encoding: 8bit\r\n"
    if description is None:
        head += "Content-Disposition: attachment\r\n"
    return head.encode("ascii") + b"\r\n" + inner


def _assemble(root: EmailMessage, subtype: str, params: str, parts: Sequence[bytes]) -> bytes:
    """A multipart from ready bytes, so an attached original stays byte-identical."""
    boundary = f"----=_Part_{uuid.uuid4().hex}"
    extra = f" {params};" if params else ""
    root.set_raw("Content-Type", f'multipart/{subtype};{extra}\r\n\tboundary="{boundary}"')
    head = b"".join(POLICY.fold_binary(name, value) for name, value in root.raw_items())
    out = [head, b"\r\nThis is a multi-part message in MIME format.\r\n"]
    for part in parts:
        out += [b"\r\n--", boundary.encode("ascii"), b"\r\n", part]
    out += [b"\r\n--", boundary.encode("ascii"), b"--\r\n"]
    return b"".join(out)
