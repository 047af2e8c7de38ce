"""A mail that cannot be handled is quarantined, archived, its reason recorded; the rest go on."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.clock import SystemClock
from mailflow.intake import Intake
from mailflow.mail.classify import Classification
from mailflow.mail.parse import ParsedMail
from mailflow.service import Service
from mailflow.store.archive import sha256_hex
from mailflow.store.models import AuditEvent, InboundMail
from mailflow_testing import mailbuild
from tests.stack import SERVICE, stack_settings


def test_one_bad_message_is_quarantined_and_never_stops_the_others(
    mailstack: Any, database_url: str, tmp_path: Path
) -> None:
    dovecot, smtp = mailstack.dovecot, mailstack.smtp
    senders = [f"q{i}@example.test" for i in range(3)]
    for s in senders:
        dovecot.add_user(s, "pw")
    raws = [mailbuild.human_mail(sender=s, to=SERVICE, subject=subject, body="…")
            for s, subject in zip(senders, ["正常一", "会出错的邮件", "正常二"], strict=True)]
    dovecot.append_many(SERVICE, raws)
    service = Service(stack_settings(dovecot, smtp, database_url, tmp_path), SystemClock())

    def responder(session: Session, mail: InboundMail, parsed: ParsedMail, c: Classification,
                  now: datetime) -> str:
        if "出错" in parsed.subject:
            raise RuntimeError("simulated defect while handling this mail")
        return service.reception(session, mail, parsed, c, now)

    intake = Intake(service.factory, service.archive, service.clock, responder,
                    service.settings.own_addresses)
    source = service.new_source()
    source.open()
    report = intake.run(source)
    source.close()
    service.send_due()
    assert (report.taken_in, report.quarantined) == (2, 1)
    assert dovecot.count(SERVICE, "Quarantine") == 1
    assert dovecot.count(SERVICE, "Processed") == 2
    assert dovecot.count(SERVICE, "INBOX") == 0
    with service.factory() as session:
        bad = session.execute(
            select(InboundMail).where(InboundMail.status == "quarantined")
        ).scalar_one()
        events = session.execute(
            select(AuditEvent).where(AuditEvent.action == "mail_quarantined")
        ).scalars().all()
    assert bad.from_addr == "q1@example.test"
    assert "simulated defect" in bad.status_reason
    assert len(events) == 1
    raw = raws[1].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert service.archive.get(sha256_hex(raw)) == raw  # archived all the same
    # the others were answered; nothing was sent for the quarantined mail
    received = smtp.wait_for(2)
    assert sorted(r for m in received for r in m.rcpt_tos) == ["q0@example.test",
                                                                "q2@example.test"]
    # a rerun changes nothing
    again = service.run_once()
    service.close()
    assert (again.intake.taken_in, again.intake.quarantined) == (0, 0)
