"""classify(): who sent the mail -- a person we answer, or a robot we must not answer."""

from __future__ import annotations

import base64

import pytest

from mailflow.mail.classify import Classification, MailKind, classify
from mailflow.mail.parse import parse_mail

OWN = ("it-requests@corp.example.cn",)


def b64(text: str, charset: str = "gbk") -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode('ascii')}?="


def raw_mail(
    *,
    subject: str = b64("账号申请：张三"),
    from_: str = "张三 <zhang.san@corp.example.cn>",
    extra: str = "",
    content_type: str = "text/plain; charset=gbk",
    body: bytes = "请开通OA账号，谢谢。".encode("gbk"),
) -> bytes:
    head = (
        f"From: {from_}\nTo: {OWN[0]}\nSubject: {subject}\n"
        "Message-ID: <m1@corp.example.cn>\nDate: Tue, 25 Nov 2026 10:00:00 +0800\n"
        f"{extra}Content-Type: {content_type}\n\n"
    )
    return head.replace("\n", "\r\n").encode("utf-8") + body


def kind_of(raw: bytes, own: tuple[str, ...] = OWN) -> Classification:
    return classify(parse_mail(raw), own)


REPORT_BODY = (
    b"--R\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
    b"--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
    b"Final-Recipient: rfc822; x@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"--R--\r\n"
)
MDN_BODY = (
    b"--R\r\nContent-Type: text/plain\r\n\r\nRead.\r\n"
    b"--R\r\nContent-Type: message/disposition-notification\r\n\r\n"
    b"Final-Recipient: rfc822; a@example.com\r\nDisposition: manual-action/MDN-sent-manually;"
    b" displayed\r\n--R--\r\n"
)


CASES: list[tuple[str, bytes, MailKind]] = [
    ("chinese human request", raw_mail(), MailKind.HUMAN),
    ("human reply 回复", raw_mail(subject=b64("回复：账号申请 同意")), MailKind.HUMAN),
    # OWN
    ("from own address", raw_mail(from_="IT <IT-Requests@Corp.Example.CN>"), MailKind.OWN),
    ("own ref header", raw_mail(extra="X-Mailflow-Ref: R-2026-0001\n"), MailKind.OWN),
    (
        "own beats bounce",
        raw_mail(from_="it-requests@corp.example.cn", extra="Return-Path: <>\n"),
        MailKind.OWN,
    ),
    # BOUNCE
    (
        "multipart/report delivery-status",
        raw_mail(
            from_="Mail Delivery System <MAILER-DAEMON@mx.example>",
            subject="Undelivered Mail Returned to Sender",
            content_type='multipart/report; report-type=delivery-status; boundary="R"',
            body=REPORT_BODY,
        ),
        MailKind.BOUNCE,
    ),
    (
        "delivery-status nested in multipart/mixed",
        raw_mail(
            from_="gateway@mx.example",
            subject="notice",
            content_type='multipart/mixed; boundary="R"',
            body=REPORT_BODY,
        ),
        MailKind.BOUNCE,
    ),
    ("null return path", raw_mail(extra="Return-Path: <>\n", subject="hello"), MailKind.BOUNCE),
    ("mailer-daemon", raw_mail(from_="MAILER-DAEMON@mx.example", subject="x"), MailKind.BOUNCE),
    ("postmaster", raw_mail(from_="Postmaster <postmaster@163.com>", subject="x"), MailKind.BOUNCE),
    (
        "mailer-daemon without domain",
        raw_mail(from_="MAILER-DAEMON (Mail Delivery System)", subject="x"),
        MailKind.BOUNCE,
    ),
    ("163 系统退信", raw_mail(subject=b64("系统退信")), MailKind.BOUNCE),
    ("qq 退信", raw_mail(subject=b64("退信：账号申请")), MailKind.BOUNCE),
    ("未能送达", raw_mail(subject=b64("未能送达: 账号申请", "utf-8")), MailKind.BOUNCE),
    ("exchange zh 无法送达", raw_mail(subject=b64("无法送达: 账号申请", "utf-8")), MailKind.BOUNCE),
    ("postfix subject", raw_mail(subject="Undelivered Mail Returned to Sender"), MailKind.BOUNCE),
    (
        "gmail subject",
        raw_mail(subject="Delivery Status Notification (Failure)"),
        MailKind.BOUNCE,
    ),
    (
        "exim subject",
        raw_mail(subject="Mail delivery failed: returning message to sender"),
        MailKind.BOUNCE,
    ),
    ("exchange subject", raw_mail(subject="Undeliverable: request"), MailKind.BOUNCE),
    # a person forwarding a bounce to IT for help is a person
    ("forwarded bounce", raw_mail(subject=b64("转发：系统退信")), MailKind.HUMAN),
    ("fw bounce", raw_mail(subject="FW: Undelivered Mail Returned to Sender"), MailKind.HUMAN),
    ("退信 as a topic", raw_mail(subject=b64("退信问题请帮忙看看")), MailKind.HUMAN),
    # AUTO_REPLY
    ("auto-submitted", raw_mail(extra="Auto-Submitted: auto-replied\n"), MailKind.AUTO_REPLY),
    (
        "auto-generated",
        raw_mail(extra="Auto-Submitted: auto-generated; type=x\n"),
        MailKind.AUTO_REPLY,
    ),
    ("auto-submitted no", raw_mail(extra="Auto-Submitted: no\n"), MailKind.HUMAN),
    ("x-autoreply", raw_mail(extra="X-Autoreply: yes\n"), MailKind.AUTO_REPLY),
    ("x-autorespond", raw_mail(extra="X-Autorespond: vacation\n"), MailKind.AUTO_REPLY),
    ("precedence auto_reply", raw_mail(extra="Precedence: auto_reply\n"), MailKind.AUTO_REPLY),
    ("foxmail 自动回复", raw_mail(subject=b64("自动回复: 账号申请")), MailKind.AUTO_REPLY),
    ("outlook 自动答复", raw_mail(subject=b64("自动答复: 账号申请", "utf-8")), MailKind.AUTO_REPLY),
    ("automatic reply", raw_mail(subject="Automatic reply: request"), MailKind.AUTO_REPLY),
    ("auto reply", raw_mail(subject="Auto Reply: request"), MailKind.AUTO_REPLY),
    ("out of office", raw_mail(subject="Out of Office: request"), MailKind.AUTO_REPLY),
    ("休假", raw_mail(subject=b64("休假：12月1日返回")), MailKind.AUTO_REPLY),
    ("不在办公室", raw_mail(subject=b64("不在办公室")), MailKind.AUTO_REPLY),
    (
        "read receipt",
        raw_mail(
            subject=b64("已读: 账号申请", "utf-8"),
            content_type='multipart/report; report-type=disposition-notification; boundary="R"',
            body=MDN_BODY,
        ),
        MailKind.AUTO_REPLY,
    ),
    (
        "outlook oof suppress header plus auto words",
        raw_mail(subject=b64("答复(自动回复)：账号申请"), extra="X-Auto-Response-Suppress: All\n"),
        MailKind.AUTO_REPLY,
    ),
    (
        "suppress header alone (meeting request) is human",
        raw_mail(subject=b64("会议邀请：周四例会"), extra="X-Auto-Response-Suppress: RN, NRN\n"),
        MailKind.HUMAN,
    ),
    ("no-reply sender", raw_mail(from_="noreply@oa.example.cn", subject="x"), MailKind.AUTO_REPLY),
    (
        "reply to an auto reply is human",
        raw_mail(subject=b64("回复：自动回复: 账号申请")),
        MailKind.HUMAN,
    ),
    (
        "rfc 3834 reply from <> is an auto reply, not a bounce",
        raw_mail(extra="Return-Path: <>\nAuto-Submitted: auto-replied\n"),
        MailKind.AUTO_REPLY,
    ),
    # BULK
    ("precedence bulk", raw_mail(extra="Precedence: bulk\n"), MailKind.BULK),
    ("precedence junk", raw_mail(extra="Precedence: junk\n"), MailKind.BULK),
    ("precedence list", raw_mail(extra="Precedence: list\n"), MailKind.BULK),
    ("list-id", raw_mail(extra="List-Id: <all.corp.example.cn>\n"), MailKind.BULK),
    (
        "list-unsubscribe",
        raw_mail(extra="List-Unsubscribe: <mailto:u@example.cn>\n"),
        MailKind.BULK,
    ),
    ("x-campaign", raw_mail(extra="X-Campaign: 2026-11\n"), MailKind.BULK),
    (
        "auto reply beats bulk",
        raw_mail(extra="Precedence: bulk\nAuto-Submitted: auto-replied\n"),
        MailKind.AUTO_REPLY,
    ),
    (
        "bounce beats auto reply",
        raw_mail(from_="MAILER-DAEMON@mx.example", extra="Auto-Submitted: auto-replied\n"),
        MailKind.BOUNCE,
    ),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classify(raw: bytes, expected: MailKind) -> None:
    result = kind_of(raw)
    assert result.kind is expected, result.reason
    assert result.reason
    assert result.answerable is (expected is MailKind.HUMAN)


def test_reason_names_the_evidence() -> None:
    result = kind_of(raw_mail(extra="Auto-Submitted: auto-replied\n"))
    assert result.reason == "Auto-Submitted: auto-replied"


def test_own_addresses_default_empty() -> None:
    parsed = parse_mail(raw_mail(from_="it-requests@corp.example.cn"))
    assert classify(parsed).kind is MailKind.HUMAN


def test_sender_rejected_as_ambiguous_is_not_own() -> None:
    # CVE-2023-27043 shape: must not be taken for our own address
    raw = raw_mail(from_="it-requests@corp.example.cn)<attacker@evil.example>")
    assert kind_of(raw).kind is MailKind.HUMAN


def test_kind_values_are_stable_strings() -> None:
    assert [k.value for k in MailKind] == ["human", "auto_reply", "bounce", "bulk", "own"]
