"""The weekly meeting's notice (R-MT-6, R-MT-1): computed with CronTrigger, stored as due work,
sent once `notice_hours_before` the meeting, skipping a Thursday that is a holiday (R-GEN-2),
driven by `run --once --now T`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from mailflow.clock import FixedClock
from mailflow.config import Settings
from mailflow.service import Service
from mailflow.store.models import DueWork, OutboxMessage

SH = ZoneInfo("Asia/Shanghai")
A, B = "wang.jun@example.com", "lin.fang@example.com"


def settings(database_url: str, tmp_path: Path) -> Settings:
    (tmp_path / "maildir" / "new").mkdir(parents=True, exist_ok=True)
    for sub in ("cur", "tmp"):
        (tmp_path / "maildir" / sub).mkdir(exist_ok=True)
    return Settings.model_validate({
        "mailbox": {"source": "maildir", "maildir_path": str(tmp_path / "maildir")},
        "storage": {"database_url": database_url, "data_dir": str(tmp_path / "data")},
        "people": [{"email": A, "name": "王军"}, {"email": B, "name": "林芳"}],
        "weekly_meeting": {"enabled": True, "host": A, "attendees": [A, B],
                           "place": "三楼会议室", "agenda": "本周变更回顾"},
    })


def run_at(config: Settings, when: str) -> list[OutboxMessage]:
    service = Service(config, FixedClock(datetime.fromisoformat(when).replace(tzinfo=SH)))
    try:
        service.run_once()
        with service.factory() as session:
            return list(session.execute(
                select(OutboxMessage).where(OutboxMessage.purpose == "attendees_meeting_notice")
                .order_by(OutboxMessage.id)).scalars())
    finally:
        service.close()


def pending_meeting(config: Settings) -> str:
    service = Service(config, FixedClock(datetime(2025, 9, 29, tzinfo=SH)))
    try:
        with service.factory() as session:
            (row,) = session.execute(select(DueWork).where(
                DueWork.kind == "notice.weekly_meeting", DueWork.status == "pending")).scalars()
            return str(row.payload["meeting"])
    finally:
        service.close()


def test_r_mt_6_weekly_meeting_notice_once_skipping_the_national_day_thursday(
    database_url: str, tmp_path: Path
) -> None:
    config = settings(database_url, tmp_path)
    assert run_at(config, "2025-09-29T10:00") == []
    # Thursday 2025-10-02 is National Day: the next meeting is 2025-10-09 16:00
    assert pending_meeting(config) == "2025-10-09T16:00:00+08:00"
    assert run_at(config, "2025-10-08T15:59") == []
    sent = run_at(config, "2025-10-08T16:00")
    assert len(sent) == 1
    assert sent[0].recipients == [A, B] and sent[0].status == "sent"
    assert "周例会" in sent[0].subject and "2025-10-09 16:00" in sent[0].subject
    assert len(run_at(config, "2025-10-08T16:30")) == 1  # once, not per pass
    assert pending_meeting(config) == "2025-10-16T16:00:00+08:00"
    assert len(run_at(config, "2025-10-15T16:00")) == 2


def test_run_once_now_on_the_command_line_does_the_due_work(tmp_path: Path) -> None:
    """`mailflow run --once --now T`: the weekly notice due at T is written (local outbox
    folder, no SMTP) and reported."""
    import subprocess
    import sys

    (tmp_path / "maildir" / "new").mkdir(parents=True)
    config = tmp_path / "config.toml"
    config.write_text(f"""
[mailbox]
source = "maildir"
maildir_path = "{tmp_path / 'maildir'}"
[storage]
data_dir = "data"
[weekly_meeting]
enabled = true
attendees = ["{A}", "{B}"]
[[people]]
email = "{A}"
name = "王军"
[[people]]
email = "{B}"
name = "林芳"
""", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(config), "run", "--once",
         "--now", "2025-10-08T16:00+08:00"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "due work done 1" in said and "sent 1" in said
    (written,) = (tmp_path / "data" / "outbox").glob("*.eml")
    assert b"Subject:" in written.read_bytes()
