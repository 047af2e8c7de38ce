"""Drains the outbox: claim due rows, send over one connection, record the outcome per mail.

At-least-once window: a mail accepted by the SMTP server whose "sent" commit is then lost
(crash, database down) is sent again later with the same Message-ID; receivers' clients
collapse such duplicates. Everything else is exactly once. The window is kept to one mail:
each mail's "sent" commit follows its acceptance before the next one is handed over.

The copies of the claimed mails go into the archive (R-GEN-3) before they are sent, all at
once in threads (each write waits ~2 ms for fsync), and the next batch is claimed and its
copies written while the current batch is being sent: archiving costs no wait of its own,
and it is never inside the window between acceptance and the "sent" commit. A mail that is
then refused keeps its copy in the archive, referenced by its outbox row (``archive_sha256``) and
named in the failure's audit event; every event about a sent mail names its request.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.orm import Session, sessionmaker

from mailflow.clock import Clock
from mailflow.config import SmtpSettings
from mailflow.errors import SendError
from mailflow.intake import Progress
from mailflow.mail.transport import Transport
from mailflow.store import audit, outbox
from mailflow.store.archive import Archive
from mailflow.store.db import transaction

log = structlog.get_logger(__name__)
# A claim outlives the slowest batch (CLAIM_BATCH x the SMTP timeout) so no other process
# takes a row that is still being sent; a dead holder on this host is released at once.
CLAIM_BATCH = 10
CLAIM_LEASE = timedelta(minutes=15)
ARCHIVE_THREADS = 16


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

    async def drain(self, batch: int = CLAIM_BATCH, progress: Progress | None = None
                    ) -> DeliveryReport:
        """Send everything due now; stop early when the server is unreachable.

        The next batch is claimed and its copies archived while the current one is sent:
        the archive's fsyncs then overlap with the SMTP round trips (bench/, issue 7)."""
        report = DeliveryReport()
        total = self._due_count() if progress is not None else None
        items = self._claim(batch)
        copies = self._start_copies(items)
        while items:
            try:
                digests = await copies
            except Exception:
                self._release(items)  # let another pass take them
                raise
            following: list[outbox.OutboxItem] = []
            if len(items) == batch:
                following = self._claim(batch)
            next_copies = self._start_copies(following)
            try:
                reachable = await self._send_batch(items, digests, report)
            except BaseException:
                await self._settle(next_copies)
                self._release(following)
                raise
            if progress is not None:
                progress("sending", report.sent + report.deferred + report.failed, total)
            if not reachable:
                await self._settle(next_copies)
                self._release(following)
                return report
            items, copies = following, next_copies
        await self._settle(copies)
        return report

    def _due_count(self) -> int:
        with self._factory() as session:
            return outbox.due_count(session, now=self._clock.now())

    def _claim(self, batch: int) -> list[outbox.OutboxItem]:
        with transaction(self._factory) as session:
            return outbox.claim_due(session, now=self._clock.now(), worker=self.worker,
                                    limit=batch, lease=CLAIM_LEASE)

    def _release(self, items: Sequence[outbox.OutboxItem]) -> None:
        if items:
            with transaction(self._factory) as session:
                outbox.release(session, [i.id for i in items])

    def _start_copies(self, items: Sequence[outbox.OutboxItem]) -> asyncio.Future[list[str]]:
        return asyncio.ensure_future(asyncio.to_thread(self._archive_copies, items))

    @staticmethod
    async def _settle(copies: asyncio.Future[list[str]]) -> None:
        """Wait for copies nobody will use now (their rows were given back)."""
        with contextlib.suppress(Exception):
            await copies

    async def _send_batch(self, items: Sequence[outbox.OutboxItem], digests: Sequence[str],
                          report: DeliveryReport) -> bool:
        """Send *items* one by one; False (rest given back) when the server is unreachable."""
        for index, item in enumerate(items):
            try:
                await self._transport.send(
                    self._settings.from_address, item.recipients, item.raw
                )
            except SendError as exc:
                if exc.auth:
                    # the server refused our credentials: no mail is at fault, none is
                    # counted or failed; all wait until the password is fixed
                    self._release(items[index:])
                    report.deferred += len(items) - index
                    log.error("SMTP login refused; mail waits in the outbox", error=str(exc),
                              waiting=len(items) - index)
                    return False
                self._record_failure(item, exc, report, digests[index])
                if not exc.permanent and exc.code is None:
                    # server unreachable: give the rest back and try again later
                    self._release(items[index + 1:])
                    return False
                continue
            with transaction(self._factory) as session:
                outbox.mark_sent(session, item.id, now=self._clock.now(),
                                 archive_sha256=digests[index])
                audit.record(session, self._clock.now(), "mail_sent", outbox_id=item.id,
                             request_id=item.request_id, message_id=item.message_id,
                             purpose=item.purpose, recipients=list(item.recipients),
                             sha256=digests[index])
            report.sent += 1
            log.info("mail sent", outbox_id=item.id, message_id=item.message_id,
                     purpose=item.purpose, recipients=list(item.recipients),
                     reference=item.reference)
        return True

    def _archive_copies(self, items: Sequence[outbox.OutboxItem]) -> list[str]:
        """R-GEN-3: every notice sent is archived; all of a batch written side by side."""
        if not items:
            return []
        if len(items) == 1:
            return [self._archive.put(items[0].raw)]
        with ThreadPoolExecutor(min(ARCHIVE_THREADS, len(items)),
                                thread_name_prefix="archive") as writers:
            return list(writers.map(self._archive.put, [item.raw for item in items]))

    def _record_failure(self, item: outbox.OutboxItem, exc: SendError,
                        report: DeliveryReport, digest: str) -> None:
        now = self._clock.now()
        attempts = item.attempts + 1
        with transaction(self._factory) as session:
            if exc.permanent or attempts >= self._settings.max_attempts:
                outbox.mark_failed(session, item.id, error=str(exc), archive_sha256=digest)
                audit.record(session, now, "mail_send_failed", outbox_id=item.id,
                             request_id=item.request_id, message_id=item.message_id,
                             error=str(exc), attempts=attempts, sha256=digest)
                report.failed += 1
                log.error("mail not sent, giving up", outbox_id=item.id,
                          message_id=item.message_id, recipients=list(item.recipients),
                          reference=item.reference, error=str(exc), attempts=attempts)
            else:
                outbox.mark_retry(session, item.id, next_at=now + self._backoff(attempts),
                                  error=str(exc), archive_sha256=digest)
                report.deferred += 1
                log.warning("mail deferred", outbox_id=item.id, message_id=item.message_id,
                            recipients=list(item.recipients), reference=item.reference,
                            error=str(exc), attempts=attempts)
