"""Settings pointing mailflow at the benchmark's Dovecot and SMTP server, with SQLite (or the
PostgreSQL database ``--postgres`` made for the run)."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
from pathlib import Path
from typing import TextIO

from mailflow.config import Settings
from mailflow.logs import configure
from mailflow_testing import DEFAULT_USERS, SERVICE_ADDRESS, Dovecot


def bench_settings(
    dovecot: Dovecot,
    smtp: tuple[str, int],
    data_dir: Path,
    *,
    poll_interval: float = 30.0,
    database_url: str = "",
) -> Settings:
    """Production defaults except the servers, a SQLite database under *data_dir* (or
    *database_url*), and a poll interval long enough that only IMAP IDLE can explain a quick
    pickup."""
    host, port = smtp
    return Settings.model_validate({
        "mailbox": {
            "source": "imap", "host": dovecot.host, "port": dovecot.imap_port,
            "security": "none", "username": SERVICE_ADDRESS,
            "password": DEFAULT_USERS[SERVICE_ADDRESS],
            "poll_interval_seconds": poll_interval, "timeout_seconds": 30,
        },
        "smtp": {
            "host": host, "port": port, "security": "none", "from_address": SERVICE_ADDRESS,
            "timeout_seconds": 30,
        },
        "storage": {"data_dir": str(data_dir), "database_url": database_url},
    })


def write_config(settings: Settings, path: Path) -> Path:
    """The settings as the TOML file ``mailflow --config`` reads."""
    data = json.loads(settings.model_dump_json(exclude_none=True))
    lines: list[str] = []
    for section in ("mailbox", "smtp", "storage", "forms"):
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in data[section].items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def log_to(stream: TextIO) -> None:
    """Log as ``mailflow run`` does (info, console renderer), but into *stream*: the cost of
    logging is part of the measurement, the lines are not part of the table."""
    configure("info", "console")
    for handler in logging.getLogger().handlers:  # mailflow logs through the stdlib root
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command lines


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a `mailflow run` the way systemd does (SIGTERM), killing it if it hangs."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
