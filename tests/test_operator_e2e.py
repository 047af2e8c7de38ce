"""The operator's commands end to end through Dovecot and SMTP (issue 18): a reply refused
with 5xx is sent after the fix with ``outbox retry``; a quarantined mail is released and
processed; ``status`` calls a stopped SMTP server unhealthy; a refused mailbox password
stops ``mailflow run`` after a few attempts and tells the administrator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.clock import SystemClock
from mailflow.config import Settings
from mailflow.intake import Intake
from mailflow.mail.classify import Classification
from mailflow.mail.parse import ParsedMail
from mailflow.service import Service
from mailflow.store.models import AuditEvent, InboundMail, OutboxMessage
from mailflow_testing import mailbuild
from mailflow_testing.config_file import write_config
from tests.stack import SERVICE, query, stack_settings

REPO = Path(__file__).resolve().parents[1]
ADMIN = "it-admin@example.test"


def cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFLOW_")}
    return subprocess.run([sys.executable, "-m", "mailflow", "--config", str(config), *args],
                          cwd=config.parent, capture_output=True, text=True, timeout=timeout,
                          check=False, env={**env, "PYTHONPATH": str(REPO)})


def config_file(settings: Settings, path: Path, admin: str = "") -> Path:
    write_config(settings, path)
    if admin:
        with path.open("a", encoding="utf-8") as out:
            out.write(f'[roles]\nadmin = "{admin}"\n\n[[people]]\nemail = "{admin}"\n'
                      'name = "管理员"\n')
    return path


def test_5xx_reply_is_sent_after_the_fix_with_outbox_retry(
    mailstack: Any, database_url: str, tmp_path: Path
) -> None:
    dovecot, smtp = mailstack.dovecot, mailstack.smtp
    dovecot.add_user("retry.me@example.test", "pw")
    dovecot.append(SERVICE, mailbuild.human_mail(sender="retry.me@example.test", to=SERVICE,
                                                 subject="申请开通帐号", body="请开通"))
    settings = stack_settings(dovecot, smtp, database_url, tmp_path / "data")
    config = config_file(settings, tmp_path / "config.toml")
    smtp.fail_with(550, "5.1.1 mailbox unavailable (test)")
    first = cli(config, "run", "--once")
    assert first.returncode == 0, first.stderr
    assert "failed 1" in first.stdout
    smtp.succeed()

    listed = cli(config, "outbox", "list", "--status", "failed")
    assert listed.returncode == 0, listed.stderr
    (line,) = listed.stdout.splitlines()
    outbox_id, status = line.split("\t")[:2]
    assert status == "failed" and "retry.me@example.test" in line and "550" in line

    again = cli(config, "run", "--once")  # a failed reply is never retried by itself
    assert "sent 0" in again.stdout
    retried = cli(config, "outbox", "retry", outbox_id)
    assert retried.returncode == 0, retried.stderr
    assert f"requeued 1: {outbox_id}" in retried.stdout
    sent = cli(config, "run", "--once")
    assert "sent 1" in sent.stdout, sent.stdout
    (reply,) = smtp.wait_for(1)
    assert reply.rcpt_tos == ("retry.me@example.test",)
    events = query(settings, select(AuditEvent).where(
        AuditEvent.action == "mail_retry_requested"))
    assert len(events) == 1 and events[0].actor.startswith("operator")
    assert events[0].detail["previous_status"] == "failed"
    assert cli(config, "outbox", "list", "--status", "failed").stdout.strip() == (
        "outbox: nothing failed")


def test_quarantined_mail_is_released_and_processed(
    mailstack: Any, sqlite_url: str, tmp_path: Path
) -> None:
    dovecot, smtp = mailstack.dovecot, mailstack.smtp
    dovecot.add_user("held@example.test", "pw")
    raw = mailbuild.human_mail(sender="held@example.test", to=SERVICE, subject="[[people]] 修改",
                               body="请处理")
    dovecot.append(SERVICE, raw)
    settings = stack_settings(dovecot, smtp, sqlite_url, tmp_path / "data")
    config = config_file(settings, tmp_path / "config.toml")
    service = Service(settings, SystemClock())

    def broken(session: Session, mail: InboundMail, parsed: ParsedMail, c: Classification,
               now: datetime) -> str:
        raise RuntimeError("simulated defect, fixed later")

    intake = Intake(service.factory, service.archive, service.clock, broken,
                    settings.own_addresses)
    source = service.new_source()
    source.open()
    assert intake.run(source).quarantined == 1
    source.close()
    service.close()
    assert dovecot.count(SERVICE, "Quarantine") == 1

    listed = cli(config, "quarantine", "list")
    (line,) = listed.stdout.splitlines()
    mail_id = line.split("\t")[0]
    assert "held@example.test" in line and "simulated defect" in line
    shown = cli(config, "quarantine", "show", mail_id)
    assert shown.returncode == 0, shown.stderr
    original = re.search(r"^original: (.+)$", shown.stdout, re.MULTILINE)
    assert original is not None and Path(original.group(1)).is_file()
    assert "subject: [[people]] 修改" in shown.stdout  # printed literally
    assert "reason: RuntimeError: simulated defect" in shown.stdout

    # put back in the inbox as the admin would: still the same mail, still a duplicate
    released = cli(config, "quarantine", "release", mail_id)
    assert released.returncode == 0, released.stderr
    assert re.search(rf"mail {mail_id} released: taken in again as mail \d+, registered "
                     r"\(REQ-\d{4}-\d{6}\); replies sent 1", released.stdout), released.stdout
    (reply,) = smtp.wait_for(1)
    assert reply.rcpt_tos == ("held@example.test",)
    assert cli(config, "quarantine", "list").stdout.strip() == "quarantine: empty"
    # the released record keeps the original's place in the archive; a second release fails
    assert "status: released" in cli(config, "quarantine", "show", mail_id).stdout
    second = cli(config, "quarantine", "release", mail_id)
    assert second.returncode == 2 and "is released, not quarantined" in second.stderr
    events = query(settings, select(AuditEvent.action).where(
        AuditEvent.action.in_(["mail_released", "mail_release_processed"])))
    assert sorted(events) == ["mail_release_processed", "mail_released"]
    # the mail put back in the INBOX is recognised as the one now processed
    dovecot.append(SERVICE, raw)
    rerun = cli(config, "run", "--once")
    assert "duplicates 1" in rerun.stdout and "sent 0" in rerun.stdout


def test_status_reports_a_stopped_smtp_server_as_unhealthy(
    mailstack: Any, sqlite_url: str, tmp_path: Path
) -> None:
    settings = stack_settings(mailstack.dovecot, mailstack.smtp, sqlite_url, tmp_path / "d")
    config = config_file(settings, tmp_path / "config.toml")
    healthy = cli(config, "status")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "healthy" in healthy.stdout.splitlines()[0]
    assert "smtp: ok" in healthy.stdout and "mailbox: ok" in healthy.stdout
    mailstack.smtp.stop()
    sick = cli(config, "status")
    assert sick.returncode == 1
    assert "UNHEALTHY" in sick.stdout
    assert re.search(rf"smtp: FAILED - {re.escape(settings.smtp.host)}:{settings.smtp.port}",
                     sick.stdout)
    assert "Traceback" not in sick.stdout + sick.stderr
    metrics = cli(config, "metrics")
    assert 'mailflow_outbox_messages{status="pending"} 0.0' in metrics.stdout


def test_refused_mailbox_password_stops_run_and_alerts_the_administrator(
    mailstack: Any, sqlite_url: str, tmp_path: Path
) -> None:
    mailstack.dovecot.add_user(ADMIN, "pw")
    settings = stack_settings(mailstack.dovecot, mailstack.smtp, sqlite_url, tmp_path / "d")
    wrong = settings.model_copy(update={"mailbox": settings.mailbox.model_copy(
        update={"password": "not-the-password"})})
    config = config_file(wrong, tmp_path / "config.toml", admin=ADMIN)
    result = cli(config, "run", timeout=120)
    assert result.returncode == 78, result.stderr
    lines = result.stderr.splitlines()
    refused = [line for line in lines if "mailbox login refused" in line]
    assert len(refused) == 3  # a few attempts, then no more (the account is not locked)
    assert lines[-1].startswith("error: IMAP ") and "refused the login of" in lines[-1]
    assert "b'" not in result.stderr and "Traceback" not in result.stderr
    assert "AUTHENTICATIONFAILED" in lines[-1] or "Authentication failed" in lines[-1]
    (alert,) = mailstack.smtp.wait_for(1)
    assert alert.rcpt_tos == (ADMIN,)
    text = alert.parsed().get_body(preferencelist=("plain",)).get_content()
    assert "拒绝了服务帐号的登录" in text and SERVICE in text
    sick = cli(config, "status")
    assert sick.returncode == 1 and "refused the login" in sick.stdout
    assert query(wrong, select(OutboxMessage.purpose)) == ["admin_alert"]
