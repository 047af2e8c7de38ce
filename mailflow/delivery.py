"""Drains the outbox: claim due rows, send over one connection, record the outcome per mail.

At-least-once window: a mail accepted by the SMTP server whose "sent" commit is then lost
(crash, database down) is sent again later with the same Message-ID; receivers' clients
collapse such duplicates. Everything else is exactly once.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.orm import Session, sessionmaker

from mailflow.clock import Clock
from mailflow.config import SmtpSettings
from mailflow.errors import SendError
from mailflow.mail.transport import Transport
from mailflow.store import audit, outbox
from mailflow.store.archive import Archive
from mailflow.store.db import transaction

log = structlog.get_logger(__name__)
CLAIM_LEASE = timedelta(minutes=5)


@dataclass
class DeliveryReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0


class OutboxDelivery:
    def __init__(
        self,
        factory: sessionmaker[Session],
        transport: Transport,
        archive: Archive,
        clock: Clock,
        settings: SmtpSettings,
        worker: str | None = None,
    ) -> None:
        self._factory = factory
        self._transport = transport
        self._archive = archive
        self._clock = clock
        self._settings = settings
        self.worker = worker or f"{socket.gethostname()}:{id(self):x}"

    def _backoff(self, attempts: int) -> timedelta:
        seconds = self._settings.retry_base_seconds * (2 ** max(attempts - 1, 0))
        return timedelta(seconds=min(seconds, self._settings.retry_max_seconds))

    async def drain(self, batch: int = 50) -> DeliveryReport:
        """Send everything due now; stop early when the server is unreachable."""
        report = DeliveryReport()
        while True:
            with transaction(self._factory) as session:
                items = outbox.claim_due(
                    session, now=self._clock.now(), worker=self.worker, limit=batch,
                    lease=CLAIM_LEASE,
                )
            if not items:
                return report
            for index, item in enumerate(items):
                try:
                    await self._transport.send(
                        self._settings.from_address, item.recipients, item.raw
                    )
                except SendError as exc:
                    self._record_failure(item, exc, report)
                    if not exc.permanent and exc.code is None:
                        # server unreachable: give the rest back and try again later
                        with transaction(self._factory) as session:
                            outbox.release(session, [i.id for i in items[index + 1:]])
                        return report
                    continue
                digest = self._archive.put(item.raw)  # R-GEN-3: archive every notice sent
                with transaction(self._factory) as session:
                    outbox.mark_sent(session, item.id, now=self._clock.now(),
                                     archive_sha256=digest)
                    audit.record(session, self._clock.now(), "mail_sent", outbox_id=item.id,
                                 message_id=item.message_id, purpose=item.purpose,
                                 recipients=list(item.recipients))
                report.sent += 1
                log.info("mail sent", outbox_id=item.id, message_id=item.message_id,
                         purpose=item.purpose)
            if len(items) < batch:
                return report

    def _record_failure(self, item: outbox.OutboxItem, exc: SendError,
                        report: DeliveryReport) -> None:
        now = self._clock.now()
        attempts = item.attempts + 1
        with transaction(self._factory) as session:
            if exc.permanent or attempts >= self._settings.max_attempts:
                outbox.mark_failed(session, item.id, error=str(exc))
                audit.record(session, now, "mail_send_failed", outbox_id=item.id,
                             message_id=item.message_id, error=str(exc), attempts=attempts)
                report.failed += 1
                log.error("mail not sent, giving up", outbox_id=item.id,
                          message_id=item.message_id, error=str(exc), attempts=attempts)
            else:
                outbox.mark_retry(session, item.id, next_at=now + self._backoff(attempts),
                                  error=str(exc))
                report.deferred += 1
                log.warning("mail deferred", outbox_id=item.id, message_id=item.message_id,
                            error=str(exc), attempts=attempts)
