"""A refused SMTP password is about the credentials, not the mail: no reply is given up as
failed or has an attempt counted; they wait in the outbox, and the log line says what to fix
(no ``b'…'`` server repr)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select

from mailflow.clock import SystemClock
from mailflow.config import MailboxSettings, Settings, SmtpSettings, StorageSettings
from mailflow.service import Service
from mailflow.store.models import OutboxMessage
from mailflow_testing.dovecot import free_port


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return "250 OK"


def _refuse(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    return AuthResult(success=False, handled=False)


@pytest.fixture
def strict_smtp() -> Iterator[int]:
    port = free_port()
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port, authenticator=_refuse,
                            auth_require_tls=False)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_refused_smtp_login_keeps_replies_waiting(strict_smtp: int, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    box = tmp_path / "box"
    (box / "new").mkdir(parents=True)
    (box / "new" / "1.mail").write_bytes(
        b"From: a@example.com\r\nTo: it-flow@example.com\r\nSubject: x\r\n"
        b"Message-ID: <s1@x>\r\n\r\nhello\r\n")
    settings = Settings(
        mailbox=MailboxSettings(source="maildir", maildir_path=box),
        smtp=SmtpSettings(host="127.0.0.1", port=strict_smtp, security="none",
                          username="svc", password="wrong", timeout_seconds=5),
        storage=StorageSettings(data_dir=tmp_path / "data"),
    )
    service = Service(settings, SystemClock())
    try:
        first = service.run_once()
        again = service.send_due()
        with service.factory() as session:
            rows = session.execute(select(OutboxMessage)).scalars().all()
    finally:
        service.close()
    assert (first.delivery.sent, first.delivery.failed, first.delivery.deferred) == (0, 0, 1)
    assert again.failed == 0
    (row,) = rows
    assert (row.status, row.attempts) == ("pending", 0)
    err = capsys.readouterr()
    logged = err.out + err.err
    assert "SMTP login refused; mail waits in the outbox" in logged
    assert "refused the login of svc" in logged and "MAILFLOW_SMTP_PASSWORD" in logged
    assert "b'" not in logged
