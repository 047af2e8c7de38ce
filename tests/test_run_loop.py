"""`mailflow run` staying up: IDLE pickup, reconnect after a Dovecot restart, clean SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mailflow_testing import mailbuild
from mailflow_testing.config_file import write_config
from tests.stack import SERVICE, stack_settings

REPO = Path(__file__).resolve().parents[1]


def start(config: Path, cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "mailflow", "--config", str(config), "run"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def stop(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"did not stop on SIGTERM:\n{out.decode()[-3000:]}") from None
    return proc.returncode, out.decode("utf-8", "replace")


def test_run_picks_up_new_mail_reconnects_and_stops_on_sigterm(
    mailstack: Any, sqlite_url: str, tmp_path: Path
) -> None:
    dovecot, smtp = mailstack.dovecot, mailstack.smtp
    for who in ("first", "second"):
        dovecot.add_user(f"{who}@example.test", "pw")
    settings = stack_settings(dovecot, smtp, sqlite_url, tmp_path, poll_interval=30.0)
    proc = start(write_config(settings, tmp_path / "config.toml"), tmp_path)
    try:
        time.sleep(1.5)  # let it open the mailbox and start IDLE
        dovecot.append(SERVICE, mailbuild.human_mail(sender="first@example.test", to=SERVICE,
                                                     subject="第一封", body="…"))
        # poll interval is 30 s: arriving well before that means IDLE woke the service
        (first,) = smtp.wait_for(1, timeout=15)
        assert first.rcpt_tos == ("first@example.test",)

        dovecot.restart()  # the server drops every connection
        dovecot.append(SERVICE, mailbuild.human_mail(sender="second@example.test", to=SERVICE,
                                                     subject="第二封", body="…"))
        received = smtp.wait_for(2, timeout=30)
        assert received[1].rcpt_tos == ("second@example.test",)
    finally:
        code, output = stop(proc)
    assert code == 0, output[-3000:]
    assert "reconnecting" in output
    assert "stopped" in output
    assert dovecot.count(SERVICE, "INBOX") == 0
