"""Wires the edges (mail source, SMTP, database, archive, clock) to the core, and runs the loop.

``run_once`` takes in everything waiting and sends what is due (cron, tests, the demo).
``run_forever`` stays up: IMAP IDLE for near-instant pickup with polling as the fallback,
reconnects with backoff when the server drops, and stops cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import FrameType

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from mailflow.clock import Clock
from mailflow.config import Settings
from mailflow.delivery import DeliveryReport, OutboxDelivery
from mailflow.documents.outcome import FormsOutcome
from mailflow.errors import SourceError
from mailflow.intake import Intake, IntakeReport
from mailflow.mail.compose import OutgoingAttachment
from mailflow.mail.parse import ParsedMail
from mailflow.mail.sources import MailSource, make_source
from mailflow.mail.transport import Transport, make_transport
from mailflow.reception import Reception
from mailflow.store import lease
from mailflow.store.archive import Archive
from mailflow.store.db import make_engine, session_factory, upgrade
from mailflow.store.models import OutboxMessage, utc
from mailflow.templates import Templates

log = structlog.get_logger(__name__)


MAILBOX_LEASE = "mailbox"


class StopRequested(Exception):
    """Raised out of a blocking wait when SIGTERM/SIGINT arrives."""


@dataclass
class RunReport:
    intake: IntakeReport = field(default_factory=IntakeReport)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)


class Service:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        *,
        source: MailSource | None = None,
        transport: Transport | None = None,
        worker: str | None = None,
        after_commit: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.engine = make_engine(settings.storage.resolved_database_url())
        upgrade(self.engine)
        self.factory = session_factory(self.engine)
        self.archive = Archive(settings.storage.resolved_archive_dir())
        self.templates = Templates(settings.service.templates_dir, settings.service.language)
        self._source = source
        examine, blanks, titles = _forms_wiring(settings)
        self.reception = Reception(settings, self.templates, examine, blanks, titles)
        self.intake = Intake(self.factory, self.archive, clock, self.reception,
                             settings.own_addresses, after_commit=after_commit)
        self.transport = transport or make_transport(
            settings.smtp, settings.storage.resolved_outbox_dir()
        )
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.delivery = OutboxDelivery(self.factory, self.transport, self.archive, clock,
                                       settings.smtp, self.worker)
        self._lease_ttl = timedelta(seconds=settings.service.lease_seconds)
        self._loop = asyncio.new_event_loop()
        self._stop = threading.Event()
        self._waiting = False

    # -- one pass -------------------------------------------------------------------------
    def new_source(self) -> MailSource:
        return self._source or make_source(self.settings.mailbox)

    def take_in(self, source: MailSource) -> IntakeReport:
        return self.intake.run(source, self.settings.mailbox.fetch_batch)

    def send_due(self) -> DeliveryReport:
        return self._loop.run_until_complete(self.delivery.drain())

    def run_once(self) -> RunReport:
        source = self.new_source()
        source.open()
        try:
            intake = self.take_in(source)
        finally:
            source.close()
        return RunReport(intake=intake, delivery=self.send_due())

    # -- staying up -----------------------------------------------------------------------
    def request_stop(self, *_: object) -> None:
        self._stop.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("stop requested", signal=signal.Signals(signum).name)
        self._stop.set()
        if self._waiting:
            raise StopRequested

    def run_forever(self, install_signals: bool = True) -> None:
        if install_signals:
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        backoff = 1.0
        try:
            while not self._stop.is_set():
                if not self._hold_lease():
                    # standby: another process reads the mailbox; help with the outbox
                    self._guarded(self.send_due)
                    if self._sleep(min(2.0, self._lease_ttl.total_seconds() / 3)):
                        break
                    continue
                source = self.new_source()
                try:
                    source.open()
                    log.info("mailbox open", source=source.source_key, worker=self.worker)
                    backoff = 1.0
                    self._serve(source)
                except StopRequested:
                    break
                except (SourceError, OperationalError) as exc:
                    log.warning("connection lost; reconnecting", error=str(exc),
                                retry_in=backoff)
                    if self._sleep(backoff):
                        break
                    backoff = min(backoff * 2, 60.0)
                finally:
                    with contextlib.suppress(Exception):
                        source.close()
        finally:
            with contextlib.suppress(Exception):
                lease.release(self.factory, MAILBOX_LEASE, self.worker)
            self.close()
        log.info("stopped", worker=self.worker)

    def _hold_lease(self) -> bool:
        try:
            return lease.try_acquire(self.factory, MAILBOX_LEASE, self.worker,
                                     self.clock.now(), self._lease_ttl)
        except OperationalError as exc:
            log.warning("database unavailable; retrying", error=str(exc))
            return False

    def _guarded(self, step: Callable[[], object]) -> None:
        try:
            step()
        except OperationalError as exc:
            log.warning("database unavailable; retrying", error=str(exc))

    def _serve(self, source: MailSource) -> None:
        while not self._stop.is_set():
            if not self._hold_lease():
                log.info("mailbox lease lost; standing by", worker=self.worker)
                return
            self.take_in(source)
            self.send_due()
            timeout = min(self._wait_timeout(), self._lease_ttl.total_seconds() / 3)
            self._waiting = True
            try:
                if self._stop.is_set():
                    return
                source.wait(timeout)
            finally:
                self._waiting = False

    def _wait_timeout(self) -> float:
        """Sleep until the next poll, or sooner when an outbox retry falls due."""
        timeout = self.settings.mailbox.poll_interval_seconds
        with self.factory() as session:
            due = session.execute(
                select(func.min(OutboxMessage.next_attempt_at)).where(
                    OutboxMessage.status == "pending"
                )
            ).scalar_one_or_none()
        if due is not None:
            timeout = min(timeout, max((utc(due) - self.clock.now()).total_seconds(), 0.05))
        return min(timeout, 25 * 60.0)  # RFC 2177: re-IDLE before 29 minutes

    def _sleep(self, seconds: float) -> bool:
        self._waiting = True
        try:
            return self._stop.wait(seconds)
        except StopRequested:
            return True
        finally:
            self._waiting = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.run_until_complete(self.transport.close())
        self._loop.close()
        self.engine.dispose()


def _forms_wiring(
    settings: Settings,
) -> tuple[
    Callable[[ParsedMail], FormsOutcome] | None,
    Callable[[Sequence[str]], list[OutgoingAttachment]] | None,
    dict[str, str],
]:
    """Form reading is optional until the definitions exist (see mailflow.documents)."""
    try:
        from mailflow.documents.examine import FormDesk
    except ImportError:
        return None, None, {}
    desk = FormDesk.from_settings(settings)
    return desk.examine, desk.blank_forms, desk.titles(settings.service.language)

