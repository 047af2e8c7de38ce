"""The mail-stack fixtures do what other tests rely on, against real Dovecot and SMTP."""

from __future__ import annotations

import email.policy
import smtplib
import socket
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Literal

import pytest

from mailflow_testing import Dovecot, DovecotError, MailStack, SmtpServer
from mailflow_testing.mailbuild import (
    auto_reply_mail,
    bounce_mail,
    forwarded_mail,
    html_only_mail,
    human_mail,
    to_crlf,
)

SERVICE = "service@example.test"
APPROVER = "approver@example.test"
REQUESTER = "requester@example.test"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _foxmail_request() -> bytes:
    return human_mail(
        sender=f"张伟 <{REQUESTER}>",
        to=f"IT管理部流程 <{SERVICE}>",
        subject="OA系统登录后页面空白，请协助处理（附申请表）",
        body="IT管理部同事：\n\n今天早上开始登录OA系统后页面一片空白。\n\n张伟\n市场部",
        charset="gbk",
        body_encoding="8bit",
        attachments=[("IT服务申请表-张伟.docx", b"PK\x03\x04" + bytes(range(256)), DOCX)],
        filename_style="rfc2047",
        extra_headers={"X-Mailer": "Foxmail 7.2.25.375[cn]"},
    )


def _send(stack_or_server: MailStack | SmtpServer, rcpts: list[str], raw: bytes) -> None:
    server = stack_or_server.smtp if isinstance(stack_or_server, MailStack) else stack_or_server
    with smtplib.SMTP(server.host, server.port, timeout=10) as client:
        client.sendmail(REQUESTER, rcpts, raw)


def test_gbk_mail_appended_comes_back_byte_identical(mailstack: MailStack) -> None:
    raw = _foxmail_request()
    assert b"=?GBK?B?" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    lf_only = raw.replace(b"\r\n", b"\n")

    uid = mailstack.dovecot.append(SERVICE, lf_only)

    assert uid >= 1
    assert mailstack.dovecot.fetch_all(SERVICE) == [raw]  # CRLF-normalised before APPEND
    parsed = _parse(mailstack.dovecot.fetch_all(SERVICE)[0])
    assert parsed["Subject"] == "OA系统登录后页面空白，请协助处理（附申请表）"
    assert [p.get_filename() for p in parsed.iter_attachments()] == ["IT服务申请表-张伟.docx"]


def test_append_many_returns_uids_in_order_and_creates_folders(mailstack: MailStack) -> None:
    dv = mailstack.dovecot
    raws = [
        human_mail(sender=REQUESTER, to=SERVICE, subject=f"第{i}封", body="…") for i in range(3)
    ]

    uids = dv.append_many(SERVICE, raws, folder="待审批/v1.2")

    assert len(uids) == 3 and uids == sorted(uids)
    assert dv.fetch_all(SERVICE, "待审批/v1.2") == raws
    assert dv.count(SERVICE, "待审批/v1.2") == 3
    assert "待审批/v1.2" in dv.folders(SERVICE)


def test_idle_sees_a_mail_appended_by_another_client(mailstack: MailStack) -> None:
    dv = mailstack.dovecot
    with dv.imap(SERVICE) as watcher:
        watcher.select_folder("INBOX")
        watcher.idle()
        try:
            dv.append(SERVICE, _foxmail_request())
            events: list[object] = []
            for _ in range(5):  # Dovecot notifies 500 ms late (pitfall 9): wait >= 2 s a time
                events += watcher.idle_check(timeout=2)
                if any(isinstance(e, tuple) and b"EXISTS" in e for e in events):
                    break
        finally:
            watcher.idle_done()
    assert (1, b"EXISTS") in events


def test_smtp_delivers_through_lmtp_into_the_recipients_inbox(mailstack: MailStack) -> None:
    raw = _foxmail_request()

    _send(mailstack, [APPROVER], raw)

    (mail,) = mailstack.smtp.wait_for(1)
    assert (mail.mail_from, mail.rcpt_tos, mail.data) == (REQUESTER, (APPROVER,), raw)
    (delivered,) = mailstack.dovecot.fetch_all(APPROVER)
    assert delivered.endswith(raw)  # Dovecot prepends Return-Path, Delivered-To, Received
    assert _parse(delivered)["Delivered-To"] == APPROVER
    assert mailstack.dovecot.count(SERVICE) == 0


def test_unknown_recipient_is_refused_550_at_rcpt(mailstack: MailStack) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        _send(mailstack, ["nobody@example.test"], _foxmail_request())

    code, _text = refused.value.recipients["nobody@example.test"]
    assert code == 550
    assert mailstack.smtp.messages == [] and mailstack.smtp.attempts == 0


def test_users_added_at_runtime_receive_and_removed_ones_are_refused(mailstack: MailStack) -> None:
    dv = mailstack.dovecot
    dv.add_user("newcomer@example.test", "newcomer-pw")

    _send(mailstack, ["newcomer@example.test"], _foxmail_request())
    assert dv.count("newcomer@example.test") == 1

    dv.remove_user("newcomer@example.test")
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        _send(mailstack, ["newcomer@example.test"], _foxmail_request())


def test_fail_with_451_until_succeed(smtp_server: SmtpServer) -> None:
    raw = _foxmail_request()
    smtp_server.fail_with(451)

    for _ in range(2):
        with pytest.raises(smtplib.SMTPDataError) as refused:
            _send(smtp_server, [APPROVER], raw)
        assert refused.value.smtp_code == 451
    smtp_server.succeed()
    _send(smtp_server, [APPROVER], raw)

    assert smtp_server.attempts == 3
    assert [m.data for m in smtp_server.wait_for(1)] == [raw]


def test_fail_with_times_and_at_rcpt(smtp_server: SmtpServer) -> None:
    smtp_server.fail_with(550, "5.7.1 No thanks", times=1, at="RCPT")

    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        _send(smtp_server, [APPROVER], _foxmail_request())
    assert refused.value.recipients[APPROVER] == (550, b"5.7.1 No thanks")
    _send(smtp_server, [APPROVER], _foxmail_request())  # times=1: accepts again on its own

    assert len(smtp_server.messages) == 1


def test_smtp_stop_refuses_connections_and_start_reuses_the_port(smtp_server: SmtpServer) -> None:
    port = smtp_server.port
    smtp_server.stop()

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((smtp_server.host, port), timeout=5).close()

    smtp_server.start()
    assert smtp_server.port == port
    _send(smtp_server, [APPROVER], _foxmail_request())
    assert len(smtp_server.wait_for(1)) == 1


def test_wait_for_reports_what_it_has_on_timeout(smtp_server: SmtpServer) -> None:
    with pytest.raises(AssertionError, match="expected 1 mail"):
        smtp_server.wait_for(1, timeout=0.05)


def test_dovecot_restart_keeps_ports_and_mail(mailstack: MailStack) -> None:
    dv = mailstack.dovecot
    raw = _foxmail_request()
    dv.append(SERVICE, raw)
    ports = (dv.imap_port, dv.lmtp_port)

    dv.restart()

    assert (dv.imap_port, dv.lmtp_port) == ports
    assert dv.fetch_all(SERVICE) == [raw]
    _send(mailstack, [APPROVER], raw)  # the SMTP relay reaches LMTP on the same port
    assert dv.count(APPROVER) == 1


def test_reset_empties_mailboxes_and_drops_folders(mailstack: MailStack) -> None:
    dv = mailstack.dovecot
    dv.append(SERVICE, _foxmail_request())
    dv.append(SERVICE, _foxmail_request(), folder="Processed/2025")
    dv.append(APPROVER, _foxmail_request(), folder="INBOX/sub")

    dv.reset()

    assert [dv.folders(u) for u in (SERVICE, APPROVER)] == [["INBOX"], ["INBOX"]]
    assert dv.count(SERVICE) == 0


def test_start_failure_reports_the_log_tail() -> None:
    with Dovecot({"someone@example.test": "someone-pw"}) as server:
        server.stop()
        with socket.socket() as squatter:  # someone else took the IMAP port meanwhile
            squatter.bind((server.host, server.imap_port))
            squatter.listen()
            with pytest.raises(DovecotError, match="Address already in use"):
                server.start()
        server.start()  # and once the port is free again it comes back


def test_missing_dovecot_fails_with_install_advice() -> None:
    server = Dovecot(binary=Path("/nonexistent/sbin/dovecot"))
    with pytest.raises(DovecotError, match="apt-get install -y dovecot-imapd dovecot-lmtpd"):
        server.start()


# -- mail builders: what they promise to produce -----------------------------------------


def test_builders_write_crlf_only() -> None:
    inner = human_mail(sender=REQUESTER, to=SERVICE, subject="原始", body="正文")
    for raw in (
        human_mail(sender=REQUESTER, to=SERVICE, subject="s", body="a\nb", html="<p>a</p>"),
        html_only_mail(sender=REQUESTER, to=SERVICE, subject="仅HTML", html="<p>你好</p>"),
        auto_reply_mail(sender=APPROVER, to=SERVICE, style="qq"),
        bounce_mail(to=SERVICE, original=inner),
        forwarded_mail(sender=APPROVER, to=SERVICE, subject="转发: 原始", inner=inner),
    ):
        assert b"\n" not in raw.replace(b"\r\n", b""), raw[:200]
        assert to_crlf(raw) == raw


@pytest.mark.parametrize(
    ("style", "marker", "value", "charset"),
    [
        ("rfc3834", "Auto-Submitted", "auto-replied", "utf-8"),
        ("outlook", "X-Auto-Response-Suppress", "All", "gb2312"),
        ("qq", "X-Autoreply", "yes", "gb18030"),
    ],
)
def test_auto_reply_styles_carry_only_their_marker(
    style: Literal["rfc3834", "outlook", "qq"], marker: str, value: str, charset: str
) -> None:
    raw = auto_reply_mail(sender=APPROVER, to=SERVICE, style=style)
    parsed = _parse(raw)
    markers = {"Auto-Submitted", "X-Auto-Response-Suppress", "X-Autoreply"}

    assert parsed[marker] == value
    assert [m for m in markers if m in parsed] == [marker]
    assert parsed.get_content_charset() == charset
    assert str(parsed["Subject"]).startswith(("自动回复", "自动答复"))


def test_bounce_and_forward_keep_the_original_bytes() -> None:
    inner = _foxmail_request()

    bounce = _parse(bounce_mail(to=SERVICE, original=inner))
    forward = _parse(forwarded_mail(sender=APPROVER, to=SERVICE, subject="转发", inner=inner))

    assert bounce.get_content_type() == "multipart/report"
    assert bounce["Return-Path"] == "<>" and "MAILER-DAEMON@" in bounce["From"]
    assert [p.get_content_type() for p in bounce.iter_parts()] == [
        "text/plain",
        "message/delivery-status",
        "message/rfc822",
    ]
    for message in (bounce, forward):
        (attached,) = [p for p in message.iter_parts() if p.get_content_type() == "message/rfc822"]
        assert attached.get_content()["Subject"] == "OA系统登录后页面空白，请协助处理（附申请表）"
    raw_forward = forwarded_mail(sender=APPROVER, to=SERVICE, subject="转发", inner=inner)
    assert inner in raw_forward
