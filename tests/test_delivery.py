"""The outbox against a real SMTP server that refuses or is down: nothing lost, nothing twice."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mailflow.clock import SystemClock
from mailflow.service import Service
from mailflow.store.models import AuditEvent, OutboxMessage
from mailflow_testing import mailbuild
from tests.stack import SERVICE, stack_settings


def queue_mails(mailstack: Any, n: int, prefix: str) -> list[str]:
    senders = [f"{prefix}{i}@example.test" for i in range(n)]
    for s in senders:
        mailstack.dovecot.add_user(s, "pw")
    mailstack.dovecot.append_many(SERVICE, [
        mailbuild.human_mail(sender=s, to=SERVICE, subject=f"投递测试 {i}", body="…")
        for i, s in enumerate(senders)
    ])
    return senders


def drain_until_idle(service: Service, deadline_s: float = 30.0) -> None:
    """Send repeatedly until the outbox has nothing pending (retries need their backoff)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        service.send_due()
        with service.factory() as session:
            pending = session.execute(
                select(OutboxMessage).where(OutboxMessage.status == "pending")
            ).scalars().all()
        if not pending:
            return
        time.sleep(0.2)
    raise AssertionError("outbox still has pending mail")


def statuses(service: Service) -> list[str]:
    with service.factory() as session:
        return [r.status for r in session.execute(select(OutboxMessage)).scalars()]


def test_smtp_down_then_up_loses_nothing(mailstack: Any, database_url: str,
                                         tmp_path: Path) -> None:
    senders = queue_mails(mailstack, 4, "down")
    mailstack.smtp.stop()
    service = Service(stack_settings(mailstack.dovecot, mailstack.smtp, database_url, tmp_path),
                      SystemClock())
    report = service.run_once()
    assert report.intake.taken_in == 4
    assert report.delivery.sent == 0 and report.delivery.deferred >= 1
    assert statuses(service) == ["pending"] * 4
    mailstack.smtp.start()
    drain_until_idle(service)
    service.close()
    received = mailstack.smtp.wait_for(4)
    assert sorted(r for m in received for r in m.rcpt_tos) == sorted(senders)
    assert len(mailstack.smtp.messages) == 4


def test_smtp_4xx_is_retried_then_sent_once(mailstack: Any, sqlite_url: str,
                                            tmp_path: Path) -> None:
    queue_mails(mailstack, 2, "tempfail")
    mailstack.smtp.fail_with(451, "4.3.0 try again later", times=3)
    service = Service(stack_settings(mailstack.dovecot, mailstack.smtp, sqlite_url, tmp_path),
                      SystemClock())
    service.run_once()
    drain_until_idle(service)
    with service.factory() as session:
        rows = session.execute(select(OutboxMessage)).scalars().all()
    service.close()
    assert [r.status for r in rows] == ["sent", "sent"]
    assert sum(r.attempts for r in rows) == 2 + 3
    assert len(mailstack.smtp.messages) == 2


def test_smtp_5xx_is_reported_not_retried_forever(mailstack: Any, database_url: str,
                                                  tmp_path: Path) -> None:
    queue_mails(mailstack, 1, "permfail")
    mailstack.smtp.fail_with(554, "5.7.1 rejected by policy")
    service = Service(stack_settings(mailstack.dovecot, mailstack.smtp, database_url, tmp_path),
                      SystemClock())
    report = service.run_once()
    assert report.delivery.failed == 1
    attempts_before = mailstack.smtp.attempts
    service.send_due()
    service.send_due()
    with service.factory() as session:
        row = session.execute(select(OutboxMessage)).scalar_one()
        failures = session.execute(
            select(AuditEvent).where(AuditEvent.action == "mail_send_failed")
        ).scalars().all()
    service.close()
    assert row.status == "failed" and "554" in row.last_error
    assert mailstack.smtp.attempts == attempts_before  # no further tries
    assert len(failures) == 1


def test_hourly_cap_stops_a_loop_that_slips_through(mailstack: Any, sqlite_url: str,
                                                    tmp_path: Path) -> None:
    mailstack.dovecot.add_user("chatty@example.test", "pw")
    mailstack.dovecot.append_many(SERVICE, [
        mailbuild.human_mail(sender="chatty@example.test", to=SERVICE, subject=f"第{i}封",
                             body=f"内容 {i}")
        for i in range(5)
    ])
    settings = stack_settings(mailstack.dovecot, mailstack.smtp, sqlite_url, tmp_path,
                              replies_per_hour=3)
    service = Service(settings, SystemClock())
    report = service.run_once()
    with service.factory() as session:
        suppressed = session.execute(
            select(AuditEvent).where(AuditEvent.action == "reply_suppressed")
        ).scalars().all()
    service.close()
    assert report.intake.taken_in == 5
    assert len(mailstack.smtp.wait_for(3)) == 3
    assert len(suppressed) == 2


def test_hourly_cap_counts_across_one_group_and_the_next_pass(mailstack: Any, sqlite_url: str,
                                                             tmp_path: Path) -> None:
    """The cap's counts are taken once per transaction and kept up to date as replies are
    queued: twelve mails of one sender answered in groups of up to fifty still get exactly
    the capped number of replies, and a later pass counts what earlier ones queued."""
    mailstack.dovecot.add_user("looping@example.test", "pw")

    def send(count: int, start: int) -> None:
        mailstack.dovecot.append_many(SERVICE, [
            mailbuild.human_mail(sender="looping@example.test", to=SERVICE,
                                 subject=f"自动转发 {i}", body=f"内容 {i}")
            for i in range(start, start + count)
        ])

    send(12, 0)
    settings = stack_settings(mailstack.dovecot, mailstack.smtp, sqlite_url, tmp_path,
                              replies_per_hour=5)
    service = Service(settings, SystemClock())
    first = service.run_once()
    send(2, 12)
    second = service.run_once()
    with service.factory() as session:
        suppressed = session.execute(
            select(AuditEvent).where(AuditEvent.action == "reply_suppressed")
        ).scalars().all()
        queued = session.execute(select(OutboxMessage)).scalars().all()
    service.close()
    assert (first.intake.taken_in, second.intake.taken_in) == (12, 2)
    assert len(queued) == 5 and len(suppressed) == 9
    assert len(mailstack.smtp.wait_for(5)) == 5


def test_permanent_failure_alerts_the_administrator_once_and_never_loops(
    mailstack: Any, sqlite_url: str, tmp_path: Path
) -> None:
    queue_mails(mailstack, 1, "alerted")
    admin = "it-manager@example.test"
    mailstack.smtp.fail_with(554, "5.7.1 rejected by policy", times=1)
    settings = stack_settings(mailstack.dovecot, mailstack.smtp, sqlite_url, tmp_path,
                              admin=admin)
    service = Service(settings, SystemClock())
    service.run_once()
    (alert,) = mailstack.smtp.wait_for(1)
    assert alert.rcpt_tos == (admin,)
    text = alert.parsed().get_body(preferencelist=("plain",)).get_content()
    assert "邮件无法投递" in text and "554" in text and "alerted0@example.test" in text
    service.send_due()
    assert len(mailstack.smtp.messages) == 1  # reported once

    # an alert that itself fails is never alerted about: no mail loop
    queue_mails(mailstack, 1, "again")
    mailstack.smtp.fail_with(554, "5.7.1 rejected by policy")
    service.run_once()
    attempts = mailstack.smtp.attempts
    for _ in range(3):
        service.send_due()
    service.close()
    assert mailstack.smtp.attempts == attempts
    assert len(mailstack.smtp.messages) == 1
