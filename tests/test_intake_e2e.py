"""Issue 2 end to end: real Dovecot, real SMTP, SQLite and PostgreSQL.

30 mails (GBK/GB18030 subjects, RFC 2231 Chinese attachment names, HTML-only, auto-replies,
bounces, list mail, our own mail) → one pass → every raw mail archived byte-for-byte, every
person acknowledged exactly once, robots never, INBOX empty; reruns and crashes change nothing.
"""

from __future__ import annotations

import email
import subprocess
import sys
from collections import Counter
from email import policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mailflow.clock import SystemClock
from mailflow.config import Settings
from mailflow.service import Service
from mailflow.store.archive import Archive, sha256_hex
from mailflow.store.db import make_engine, session_factory
from mailflow.store.models import AuditEvent, InboundMail, OutboxMessage, Request
from mailflow_testing import mailbuild
from mailflow_testing.config_file import write_config
from tests.stack import SERVICE, stack_settings

REPO = Path(__file__).resolve().parents[1]


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def thirty_mails(dovecot: Any) -> tuple[list[bytes], list[str], list[str]]:
    """Return (raw mails, human senders, robot senders); humans are Dovecot users."""
    humans: list[str] = []
    mails: list[bytes] = []
    pdf = b"%PDF-1.4\n% scanned attachment\n"  # not a form: archived, acknowledged
    for i in range(20):
        addr = f"staff{i:02d}@example.test"
        dovecot.add_user(addr, "pw")
        humans.append(addr)
        style = i % 5
        if style == 0:
            raw = mailbuild.human_mail(sender=addr, to=SERVICE, charset="gbk",
                                       subject=f"申请开通报表系统帐号（第{i}号）",
                                       body="您好，请帮忙开通帐号，谢谢。")
        elif style == 1:
            raw = mailbuild.human_mail(sender=addr, to=SERVICE, charset="gb18030",
                                       subject=f"数据提取申请 𠮷{i} 〇", body="详见附件。",
                                       attachments=[(f"业务数据提取说明-{i}.pdf", pdf,
                                                     "application/pdf")])
        elif style == 2:
            raw = mailbuild.human_mail(sender=addr, to=SERVICE, subject=f"系统变更申请 {i}",
                                       body="附件为变更申请表。", filename_style="rfc2231",
                                       attachments=[(f"系统变更方案（{i}）最终版.pdf", pdf,
                                                     "application/pdf")])
        elif style == 3:
            raw = mailbuild.html_only_mail(sender=addr, to=SERVICE, subject=f"会议纪要 {i}",
                                           html=f"<p>本周例会纪要<b>{i}</b></p>")
        else:
            raw = mailbuild.human_mail(sender=addr, to=SERVICE, subject=f"咨询 {i}",
                                       body="请问打印机驱动在哪里下载？", charset="gb2312",
                                       filename_style="rfc2047",
                                       attachments=[(f"截图{i}.png", b"\x89PNG\r\n\x1a\n",
                                                     "image/png")])
        mails.append(raw)
    robots = [f"robot{i}@example.test" for i in range(10)]
    mails += [
        mailbuild.auto_reply_mail(sender=robots[0], to=SERVICE, style="rfc3834"),
        mailbuild.auto_reply_mail(sender=robots[1], to=SERVICE, style="outlook"),
        mailbuild.auto_reply_mail(sender=robots[2], to=SERVICE, style="qq"),
        mailbuild.bounce_mail(to=SERVICE),
        mailbuild.bounce_mail(to=SERVICE, original=mails[0]),
        mailbuild.human_mail(sender=robots[5], to=SERVICE, subject="IT周刊 第12期", body="…",
                             extra_headers={"List-Id": "<it-weekly.example.test>",
                                            "Precedence": "list"}),
        mailbuild.human_mail(sender=robots[6], to=SERVICE, subject="系统通知", body="…",
                             extra_headers={"Auto-Submitted": "auto-generated"}),
        mailbuild.human_mail(sender=SERVICE, to=SERVICE, subject="[REQ-2026-000001] 已受理",
                             body="…", extra_headers={"X-Mailflow-Ref": "REQ-2026-000001"}),
        mailbuild.human_mail(sender=robots[8], to=SERVICE, subject="Out of Office: 会议",
                             body="I am away", extra_headers={"X-Autoreply": "yes"}),
        mailbuild.human_mail(sender=robots[9], to=SERVICE, subject="促销", body="…",
                             extra_headers={"Precedence": "bulk"}),
    ]
    assert len(mails) == 30
    return mails, humans, robots


def counts(settings: Settings) -> dict[str, int]:
    engine = make_engine(settings.storage.resolved_database_url())
    factory = session_factory(engine)
    with factory() as session:
        result = {
            name: session.execute(select(func.count()).select_from(model)).scalar_one()
            for name, model in (("mails", InboundMail), ("requests", Request),
                                ("outbox", OutboxMessage))
        }
        result["sent"] = session.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
        ).scalar_one()
    engine.dispose()
    return result


def test_thirty_mails_archived_acknowledged_once_robots_never(
    mailstack: Any, database_url: str, tmp_path: Path
) -> None:
    dovecot, smtp = mailstack.dovecot, mailstack.smtp
    mails, humans, robots = thirty_mails(dovecot)
    dovecot.append_many(SERVICE, mails)
    settings = stack_settings(dovecot, smtp, database_url, tmp_path)

    service = Service(settings, SystemClock())
    report = service.run_once()
    service.close()

    assert report.intake.taken_in == 30
    assert report.intake.quarantined == 0
    # every raw message in the archive, byte for byte
    archive = Archive(settings.storage.resolved_archive_dir())
    for raw in mails:
        assert archive.get(sha256_hex(crlf(raw))) == crlf(raw)
    # every person acknowledged exactly once, through the real SMTP server
    received = smtp.wait_for(len(humans))
    rcpts = Counter(r for m in received for r in m.rcpt_tos)
    assert rcpts == Counter(humans)
    for message in received:
        parsed = email.message_from_bytes(message.data, policy=policy.default)
        assert parsed["Auto-Submitted"] == "auto-replied"
        assert parsed["Message-ID"]
        assert "REQ-" in str(parsed["Subject"])
        assert "已受理" in str(parsed["Subject"])
    assert not set(robots) & set(rcpts)
    # INBOX empty, everything in Processed
    assert dovecot.count(SERVICE, "INBOX") == 0
    assert dovecot.count(SERVICE, "Processed") == 30
    # the acks also landed in the senders' mailboxes via LMTP
    assert dovecot.count(humans[0], "INBOX") == 1
    c = counts(settings)
    assert c == {"mails": 30, "requests": 20, "outbox": 20, "sent": 20}

    # a second run sends nothing and records nothing new
    service = Service(settings, SystemClock())
    again = service.run_once()
    service.close()
    assert again.intake.taken_in == 0 and again.delivery.sent == 0
    assert len(smtp.messages) == 20
    assert counts(settings) == c


def test_gbk_subjects_and_chinese_attachment_names_are_recorded_decoded(
    mailstack: Any, sqlite_url: str, tmp_path: Path
) -> None:
    dovecot, smtp = mailstack.dovecot, mailstack.smtp
    dovecot.add_user("li.na@example.test", "pw")
    raw = mailbuild.human_mail(
        sender="li.na@example.test", to=SERVICE, charset="gbk",
        subject="关于开通财务报表系统帐号的申请", body="见附件",
        attachments=[("系统帐号申请表（李娜）.xlsx", b"x" * 100, "application/octet-stream")],
        filename_style="rfc2231",
    )
    dovecot.append(SERVICE, raw)
    settings = stack_settings(dovecot, smtp, sqlite_url, tmp_path)
    service = Service(settings, SystemClock())
    service.run_once()
    with service.factory() as session:
        mail = session.execute(select(InboundMail)).scalar_one()
        assert mail.subject == "关于开通财务报表系统帐号的申请"
        assert mail.from_addr == "li.na@example.test"
        assert [a.filename for a in mail.attachments] == ["系统帐号申请表（李娜）.xlsx"]
        assert mail.attachments[0].sha256 == sha256_hex(b"x" * 100)
        actions = [e.action for e in session.execute(select(AuditEvent)).scalars()]
    service.close()
    assert {"mail_received", "request_created", "reply_queued", "mail_sent"} <= set(actions)


@pytest.mark.parametrize("crash_after", [1, 3])
def test_kill_after_commit_before_move_duplicates_nothing(
    mailstack: Any, database_url: str, tmp_path: Path, crash_after: int
) -> None:
    dovecot, smtp = mailstack.dovecot, mailstack.smtp
    senders = [f"crash{i}@example.test" for i in range(5)]
    for s in senders:
        dovecot.add_user(s, "pw")
    dovecot.append_many(SERVICE, [
        mailbuild.human_mail(sender=s, to=SERVICE, subject=f"请求 {i}", body="…")
        for i, s in enumerate(senders)
    ])
    settings = stack_settings(dovecot, smtp, database_url, tmp_path)
    payload = settings.model_dump_json()

    killed = subprocess.run([sys.executable, "-m", "tests.crashrun", payload, str(crash_after)],
                            cwd=REPO, capture_output=True, timeout=120, check=False)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    # committed mails are still in INBOX (moves follow the batch) and nothing was sent yet
    assert dovecot.count(SERVICE, "INBOX") == 5
    assert smtp.messages == []

    rerun = subprocess.run([sys.executable, "-m", "tests.crashrun", payload, "-1"],
                           cwd=REPO, capture_output=True, timeout=120, check=False)
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    assert dovecot.count(SERVICE, "INBOX") == 0
    received = smtp.wait_for(5)
    assert Counter(r for m in received for r in m.rcpt_tos) == Counter(senders)
    assert counts(settings) == {"mails": 5, "requests": 5, "outbox": 5, "sent": 5}


def test_second_copy_of_the_same_mail_is_a_no_op(
    mailstack: Any, database_url: str, tmp_path: Path
) -> None:
    dovecot, smtp = mailstack.dovecot, mailstack.smtp
    dovecot.add_user("twice@example.test", "pw")
    raw = mailbuild.human_mail(sender="twice@example.test", to=SERVICE, subject="重复投递",
                               body="同一封邮件", message_id="<same-1@example.test>")
    # second delivery: same mail through another route (an extra trace header)
    second = b"Received: from relay2.example.test by mx\r\n" + crlf(raw)
    dovecot.append_many(SERVICE, [raw, second, raw])
    settings = stack_settings(dovecot, smtp, database_url, tmp_path)
    service = Service(settings, SystemClock())
    report = service.run_once()
    service.close()
    assert report.intake.taken_in == 1
    assert report.intake.duplicates == 2
    assert len(smtp.wait_for(1)) == 1
    assert counts(settings)["mails"] == 1
    assert dovecot.count(SERVICE, "INBOX") == 0


def test_run_once_cli_on_a_config_file(mailstack: Any, sqlite_url: str, tmp_path: Path) -> None:
    dovecot, smtp = mailstack.dovecot, mailstack.smtp
    dovecot.add_user("cli@example.test", "pw")
    dovecot.append(SERVICE, mailbuild.human_mail(sender="cli@example.test", to=SERVICE,
                                                 subject="命令行", body="…"))
    settings = stack_settings(dovecot, smtp, sqlite_url, tmp_path)
    config = tmp_path / "config.toml"
    write_config(settings, config)
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(config), "run", "--once",
         "--now", "2026-11-24T10:00+08:00"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "taken in 1" in result.stdout
    (message,) = smtp.wait_for(1)
    assert b"REQ-2026-000001" in message.data


def test_progress_is_reported_per_batch_and_shown_by_the_cli(
    mailstack: Any, sqlite_url: str, tmp_path: Path
) -> None:
    """Long work shows progress: the service tells (phase, done, total) after each batch
    taken in and each batch sent; `run --once --progress` draws it."""
    dovecot, smtp = mailstack.dovecot, mailstack.smtp
    dovecot.add_user("busy@example.test", "pw")

    def queue(count: int, first: int) -> None:
        dovecot.append_many(SERVICE, [
            mailbuild.human_mail(sender="busy@example.test", to=SERVICE,
                                 subject=f"积压邮件 {i}", body=f"第{i}封")
            for i in range(first, first + count)
        ])

    queue(25, 0)
    base = stack_settings(dovecot, smtp, sqlite_url, tmp_path, replies_per_hour=1000)
    settings = base.model_copy(update={
        "mailbox": base.mailbox.model_copy(update={"fetch_batch": 10})})
    calls: list[tuple[str, int, int | None]] = []
    service = Service(settings, SystemClock())
    try:
        service.run_once(lambda phase, done, total: calls.append((phase, done, total)))
    finally:
        service.close()
    taking = [c for c in calls if c[0] == "taking in"]
    sending = [c for c in calls if c[0] == "sending"]
    assert taking == [("taking in", 10, 25), ("taking in", 20, 25), ("taking in", 25, 25)]
    assert sending[-1] == ("sending", 25, 25)
    assert [done for _, done, _ in sending] == sorted(done for _, done, _ in sending)

    queue(3, 25)
    config = write_config(settings, tmp_path / "config.toml")
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(config), "run", "--once",
         "--progress"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "taking in" in result.stderr and "3/3" in result.stderr
    assert "sending" in result.stderr
    assert "taken in 3" in result.stdout
