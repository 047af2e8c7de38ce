"""A receipt the relay accepted can still bounce later; the delivery report arrives in the
shared mailbox. Through the real Dovecot and SMTP server: it is never answered, it is recorded
on the request whose mail came back, and the administrator hears of it once — without a
loop when what bounced was the administrator's own alert.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailflow.mail.bounces import bounce_reason, bounced_ids
from mailflow.mail.parse import parse_mail
from mailflow.store.models import AuditEvent, InboundMail, OutboxMessage, Request
from mailflow_testing import mailbuild
from mailflow_testing.smtp import ReceivedMail
from tests.stack import SERVICE, query, run_once, stack_settings

REQUESTER = "zhang.wei@example.test"
ADMIN = "it-admin@example.test"


class Desk:
    def __init__(self, mailstack: Any, database_url: str, tmp_path: Path) -> None:
        self.dovecot, self.smtp = mailstack.dovecot, mailstack.smtp
        self.settings = stack_settings(self.dovecot, self.smtp, database_url, tmp_path,
                                       admin=ADMIN)

    def run(self, raw: bytes) -> list[ReceivedMail]:
        """Deliver *raw*, run mailflow once, return what it sent in that run."""
        before = len(self.smtp.messages)
        self.dovecot.append(SERVICE, raw)
        run_once(self.settings)
        sent: list[ReceivedMail] = self.smtp.messages[before:]
        return sent

    def query(self, stmt: Any) -> list[Any]:
        return query(self.settings, stmt)


@pytest.fixture
def desk(mailstack: Any, database_url: str, tmp_path: Path) -> Desk:
    for user in (REQUESTER, ADMIN):
        mailstack.dovecot.add_user(user, "pw")
    return Desk(mailstack, database_url, tmp_path)


def body(mail: ReceivedMail) -> str:
    part = mail.parsed().get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def submit(desk: Desk) -> ReceivedMail:
    (receipt,) = desk.run(mailbuild.human_mail(
        sender=REQUESTER, to=SERVICE, subject="OA系统无法登录", body="请协助"))
    return receipt


def test_receipt_bounced_after_acceptance_is_recorded_on_its_request_and_reported_once(
    desk: Desk
) -> None:
    receipt = submit(desk)
    report = mailbuild.bounce_mail(to=SERVICE, original=receipt.data, recipient=REQUESTER,
                                   diagnostic="smtp; 550 5.1.1 <zhang.wei@example.test>: "
                                              "User unknown")
    sent = desk.run(report)
    (alert,) = sent  # to the administrator; never to MAILER-DAEMON
    assert list(alert.rcpt_tos) == [ADMIN]
    text = body(alert)
    assert "被对方邮件系统退回" in text and REQUESTER in text and "User unknown" in text
    (request,) = desk.query(select(Request))
    (bounced,) = desk.query(select(AuditEvent).where(AuditEvent.action == "mail_bounced"))
    (row,) = desk.query(select(OutboxMessage).where(OutboxMessage.purpose == "requester_ack"))
    assert (bounced.request_id, bounced.outbox_id) == (request.id, row.id)
    assert bounced.detail["to"] == [REQUESTER]
    assert desk.query(select(InboundMail.status).order_by(InboundMail.id)) == [
        "registered", "ignored"]
    # the same report delivered again (another copy): recorded as a duplicate, no new alert
    assert desk.run(b"Received: from relay2 by mx\r\n" + mailbuild.to_crlf(report)) == []


def test_provider_report_quoting_the_receipt_in_its_text_is_understood(desk: Desk) -> None:
    """QQ / NetEase style: no delivery-status part, the original's headers quoted as text."""
    receipt = submit(desk)
    message_id = receipt.parsed()["Message-ID"]
    report = mailbuild.human_mail(
        sender="系统退信 <postmaster@qq.example.test>", to=SERVICE, charset="gbk",
        subject="系统退信", body=(
            "抱歉，您的邮件被退回来了……\n原邮件信息：\n"
            f"  收件人：{REQUESTER}\n  Message-ID: {message_id}\n"
            "退信原因：收件人邮箱不存在（550 Mailbox not found）\n"))
    (alert,) = desk.run(report)
    assert list(alert.rcpt_tos) == [ADMIN]
    (bounced,) = desk.query(select(AuditEvent).where(AuditEvent.action == "mail_bounced"))
    assert bounced.detail["reason"] == "系统退信"


def test_bounce_of_a_mail_that_is_not_ours_changes_nothing(desk: Desk) -> None:
    submit(desk)
    stranger = mailbuild.human_mail(sender="x@elsewhere.test", to="y@elsewhere.test",
                                    subject="hello", body="hi",
                                    message_id="<1.2.3.mailflow@elsewhere.test>")
    assert desk.run(mailbuild.bounce_mail(to=SERVICE, original=stranger)) == []
    assert desk.query(select(AuditEvent).where(AuditEvent.action == "mail_bounced")) == []


def test_bounced_administrator_alert_is_recorded_but_never_alerted_about(desk: Desk) -> None:
    receipt = submit(desk)
    (alert,) = desk.run(mailbuild.bounce_mail(to=SERVICE, original=receipt.data,
                                              recipient=REQUESTER))
    # the administrator's own address bounces the digest: recorded, no second digest (loop)
    assert desk.run(mailbuild.bounce_mail(to=SERVICE, original=alert.data,
                                          recipient=ADMIN)) == []
    (returned,) = desk.query(select(AuditEvent).where(AuditEvent.action == "alert_bounced"))
    assert returned.detail["to"] == [ADMIN]


def test_bounced_ids_and_reason_are_read_from_the_report() -> None:
    original = mailbuild.human_mail(sender=SERVICE, to=REQUESTER, subject="回执", body="x",
                                    message_id="<17.1.2.mailflow@example.test>")
    report = parse_mail(mailbuild.bounce_mail(to=SERVICE, original=original,
                                              diagnostic="smtp; 552 5.2.2 mailbox full"))
    assert bounced_ids(report, SERVICE) == ["<17.1.2.mailflow@example.test>"]
    assert bounce_reason(report) == "smtp; 552 5.2.2 mailbox full"
    # ids quoted in the text count only when they are ours: our domain, our form
    quoted = parse_mail(mailbuild.human_mail(
        sender="postmaster@163.example.test", to=SERVICE, subject="退信",
        body="To: <zhang.wei@example.test>\nMessage-ID: <1.2.3.mailflow@example.test> "
             "<4.5.6.mailflow@other.test> <admin-alert-9@EXAMPLE.TEST>"))
    assert bounced_ids(quoted, SERVICE) == ["<1.2.3.mailflow@example.test>",
                                            "<admin-alert-9@EXAMPLE.TEST>"]
