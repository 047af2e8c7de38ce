"""compose() writes the MIME bytes itself (for speed): every reply must still read back exactly
as meant — with the stdlib parser and with mailflow's own — and nothing from a sender's name
or subject may become a header."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from mailflow.mail.classify import MailKind, classify
from mailflow.mail.compose import (
    Envelope,
    OutgoingAttachment,
    compose,
    named_message_id,
    new_message_id,
    own_message_ids,
)
from mailflow.mail.parse import parse_mail
from mailflow.templates import RenderedMessage

WHEN = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _compose(envelope: Envelope, content: RenderedMessage, message_id: str = "<m1@it.example.cn>"
             ) -> tuple[bytes, EmailMessage]:
    raw = compose(envelope, content, message_id=message_id, date=WHEN)
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return raw, msg


def _envelope(**changes: object) -> Envelope:
    values: dict[str, object] = {
        "from_address": "it@it.example.cn", "from_name": "信息部 流程服务",
        "to": [("张三", "zhangsan@example.cn")], "in_reply_to": "<orig@client.example.cn>",
        "references": ["<first@client.example.cn>"], "reference": "REQ-2026-000123",
    }
    values.update(changes)
    return Envelope(**values)  # type: ignore[arg-type]


def test_reply_reads_back_exactly_with_stdlib_and_mailflow_parser() -> None:
    blank = b"PK\x03\x04" + bytes(range(256)) * 40
    content = RenderedMessage(
        subject="回复：【REQ-2026-000123】已收到您的《系统变更申请表》" + "，很长的标题" * 12,
        text="张三，您好：\n\n已收到您的申请。\n参考编号 REQ-2026-000123\n",
        html="<p>张三，您好：</p><p>已收到您的申请。</p>",
    )
    envelope = _envelope(
        to=[("张三", "zhangsan@example.cn"), ("Li, Si", "lisi@example.cn")],
        cc=[("", "it-manager@example.cn")],
        attachments=[OutgoingAttachment("系统变更申请表.docx", blank, DOCX),
                     OutgoingAttachment('plain "name".xlsx', b"xlsx-bytes")],
    )
    raw, msg = _compose(envelope, content)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    assert msg["Subject"] == content.subject
    assert [(a.display_name, a.addr_spec) for a in msg["To"].addresses] == [
        ("张三", "zhangsan@example.cn"), ("Li, Si", "lisi@example.cn")]
    assert msg["Cc"] == "it-manager@example.cn"
    assert msg["From"].addresses[0].display_name == "信息部 流程服务"
    assert msg["Message-ID"] == "<m1@it.example.cn>"
    assert msg["In-Reply-To"] == "<orig@client.example.cn>"
    assert msg["References"].split() == ["<first@client.example.cn>", "<orig@client.example.cn>"]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Mailflow-Ref"] == "REQ-2026-000123"
    assert msg["Date"].datetime == WHEN
    body = msg.get_body(("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n") == content.text
    html = msg.get_body(("html",))
    assert html is not None and html.get_content().strip() == content.html
    attachments = [(a.get_filename(), a.get_content_type(), a.get_content())
                   for a in msg.iter_attachments()]
    assert attachments == [("系统变更申请表.docx", DOCX, blank),
                           ('plain "name".xlsx', "application/octet-stream", b"xlsx-bytes")]
    assert not any(part.defects for part in msg.walk())

    parsed = parse_mail(raw)
    assert parsed.subject == content.subject
    assert [a.original_filename for a in parsed.attachments] == [
        "系统变更申请表.docx", 'plain "name".xlsx']
    assert parsed.attachments[0].data == blank
    # mailflow never answers its own mails (no loops)
    assert classify(parsed, {"it@it.example.cn"}).kind is not MailKind.HUMAN
    assert classify(parsed).kind is not MailKind.HUMAN


@pytest.mark.parametrize("evil", [
    "hi\r\nBcc: victim@example.com", "hi\nBcc: victim@example.com", "张三\r\nBcc: v@example.com",
    "x\x00\x0bBcc: v@example.com",
])
def test_sender_text_never_becomes_a_header(evil: str) -> None:
    content = RenderedMessage(subject=f"回复：{evil}", text="t", html="<p>t</p>")
    raw, msg = _compose(_envelope(to=[(evil, "zhangsan@example.cn")], in_reply_to=evil,
                                  references=[evil]), content)
    assert msg["Bcc"] is None
    assert not any(line.lower().startswith(b"bcc:") for line in raw.split(b"\r\n"))
    assert "Bcc: victim" in msg["Subject"] or "Bcc: v@" in msg["Subject"]
    assert msg["In-Reply-To"] is None  # not a message id: no threading headers at all
    assert msg["To"].addresses[0].addr_spec == "zhangsan@example.cn"


def test_long_lines_and_ascii_subjects_stay_within_limits() -> None:
    text = "数据" * 2000 + "\n第二行\n"
    subject = "Re: " + " ".join(["request"] * 60)
    raw, msg = _compose(_envelope(), RenderedMessage(subject=subject, text=text, html="<p/>"))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n") if not line.startswith(b"Content"))
    assert msg["Subject"] == subject
    body = msg.get_body(("plain",))
    assert body is not None and body["Content-Transfer-Encoding"] == "base64"
    assert body.get_content().replace("\r\n", "\n") == text


def test_auto_generated_notices_say_bulk() -> None:
    _, msg = _compose(_envelope(auto_submitted="auto-generated", in_reply_to=None,
                                references=[], reference=""),
                      RenderedMessage(subject="通知", text="t", html="<p>t</p>"))
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Precedence"] == "bulk"
    assert msg["In-Reply-To"] is None and msg["References"] is None
    assert msg["X-Mailflow-Ref"] is None


def test_our_message_ids_are_recognised_as_ours_and_others_are_not() -> None:
    """What bounce reading (mail/bounces.py) relies on: every id mailflow writes matches
    own_message_ids, an address or another domain's id does not."""
    ours = own_message_ids("it-flow@example.com")
    for message_id in (new_message_id("it-flow@example.com"),
                       named_message_id("admin-alert-42", "it-flow@example.com")):
        assert ours.fullmatch(message_id), message_id
    for other in ("<it-flow@example.com>", new_message_id("x@other.example"),
                  "<1.2.3.mailflow@example.com.evil>"):
        assert not ours.fullmatch(other), other
