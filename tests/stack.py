"""Settings that point mailflow at the test mail stack and a test database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailflow.clock import SystemClock
from mailflow.config import MailboxSettings, Settings, SmtpSettings, StorageSettings
from mailflow.service import Service
from mailflow_testing.dovecot import Dovecot
from mailflow_testing.smtp import SmtpServer

SERVICE = "service@example.test"
SERVICE_PW = "service-pw"


def stack_settings(
    dovecot: Dovecot,
    smtp: SmtpServer,
    database_url: str,
    data_dir: Path,
    *,
    poll_interval: float = 5.0,
    replies_per_hour: int = 10,
    admin: str = "",
) -> Settings:
    return Settings.model_validate({
        "service": {"replies_per_sender_per_hour": replies_per_hour},
        "people": [{"email": admin, "name": "管理员"}] if admin else [],
        "roles": {"admin": admin},
        "mailbox": MailboxSettings(
            source="imap", host=dovecot.host, port=dovecot.imap_port, security="none",
            username=SERVICE, password=SERVICE_PW, poll_interval_seconds=poll_interval,
            timeout_seconds=10,
        ),
        "smtp": SmtpSettings(
            host=smtp.host, port=smtp.port, security="none", from_address=SERVICE,
            retry_base_seconds=0.5, retry_max_seconds=2, timeout_seconds=5,
        ),
        "storage": StorageSettings(database_url=database_url, data_dir=data_dir),
    })


def run_once(settings: Settings) -> None:
    """One `mailflow run --once` pass in this process: take in, answer, send."""
    service = Service(settings, SystemClock())
    try:
        service.run_once()
    finally:
        service.close()


def query(settings: Settings, stmt: Any) -> list[Any]:
    """The rows (first column) of *stmt* in the database *settings* point at."""
    service = Service(settings, SystemClock())
    try:
        with service.factory() as session:
            return list(session.execute(stmt).scalars().all())
    finally:
        service.close()
