"""Wires the edges (mail source, SMTP, database, archive, clock) to the core, and runs the loop.

``run_once`` takes in everything waiting, does the due work (reminders, notices: see
workflow/due.py) and sends what is due (cron, tests, the demo).
``run_forever`` stays up: IMAP IDLE for near-instant pickup with polling as the fallback,
reconnects with backoff when the server drops, and stops cleanly on SIGTERM/SIGINT.
A mail whose .doc/.xls LibreOffice converts is read in the background (conversions.py):
the loop goes on answering the others and runs a pass as soon as that reading ends;
``run_once`` waits for it at the end (bounded by the mail's conversion budget).

Both read the mailbox only while holding the ``mailbox`` lease (store/lease.py), renewed during
long intake passes, so of several processes exactly one reads at a time; the others send.
Nothing here has to survive a crash: the intake's keys and the outbox make a rerun exact,
and the claims a dead process left on outbox rows are freed by the next one (send_due).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType

import structlog
from sqlalchemy import case, func, select
from sqlalchemy.engine import make_url

from mailflow.alerts import queue_admin_alert
from mailflow.clock import Clock, SystemClock
from mailflow.config import Settings
from mailflow.conversions import Conversions
from mailflow.delivery import DeliveryReport, OutboxDelivery
from mailflow.documents.outcome import FormsOutcome
from mailflow.errors import AuthError, ConfigError, SourceError
from mailflow.intake import Intake, IntakeReport, Progress
from mailflow.mail.compose import OutgoingAttachment
from mailflow.mail.parse import ParsedMail
from mailflow.mail.sources import FetchedMail, MailSource, Target, make_source
from mailflow.mail.transport import Transport, make_transport
from mailflow.notices import weekly
from mailflow.notices.data_delivery import DataDelivery
from mailflow.notices.escalations import Escalations
from mailflow.notices.lifecycle import Lifecycle
from mailflow.notices.service_desk import ServiceDesk
from mailflow.notices.weekly import WeeklyMeeting
from mailflow.private import private_dir, private_file, sqlite_files
from mailflow.readahead import ReadAhead
from mailflow.reception import PlainRecogniser, Reception
from mailflow.reports.stage import ReportsStage, ticket_source
from mailflow.store import lease, outbox
from mailflow.store.archive import Archive
from mailflow.store.db import (
    DB_UNAVAILABLE,
    make_engine,
    normalise_url,
    session_factory,
    transaction,
    upgrade,
)
from mailflow.store.models import OutboxMessage, utc
from mailflow.systemd import Notifier
from mailflow.templates import Templates
from mailflow.tickets.desk import TicketDesk
from mailflow.workflow import decisions as approval_due
from mailflow.workflow import due as due_module
from mailflow.workflow.decisions import Approvals
from mailflow.workflow.due import DueHandler, DueRunner
from mailflow.workflow.plain_requests import PlainRequest
from mailflow.workflow.states import LISTENERS

log = structlog.get_logger(__name__)


MAILBOX_LEASE = "mailbox"
#: while a mail is read in the background, the loop looks this often whether it has ended.
#: Not shorter: Dovecot (and real servers, more) tell an IDLE client of new mail only some
#: time after it came (500 ms), and a slice ending in that time delays the news to the next
#: one; at 2 s that costs ordinary mail little latency (bench --stall)
CONVERSION_POLL_SECONDS = 2.0
#: refused logins in a row before ``run`` stops trying: AD-backed mail servers lock an
#: account after a few wrong passwords, and retrying the same one can never succeed
AUTH_ATTEMPTS = 3


class StopRequested(Exception):
    """Raised out of a blocking wait when SIGTERM/SIGINT arrives."""


@dataclass
class RunReport:
    intake: IntakeReport = field(default_factory=IntakeReport)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    due_done: int = 0


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
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.notifier = notifier or Notifier(None)
        self.clock = clock
        for risk in settings.plaintext_password_hosts():
            log.warning("password sent in clear", detail=risk)
        _make_private(settings)
        self.engine = make_engine(settings.storage.resolved_database_url())
        upgrade(self.engine)
        _make_private(settings)  # the database file, now that it exists
        self.factory = session_factory(self.engine)
        self.archive = Archive(settings.storage.resolved_archive_dir())
        self.templates = settings.templates()
        check_templates(self.templates)
        self._source = source
        examine, converts, blanks, titles = _forms_wiring(settings)
        # mails LibreOffice must convert are read in background threads, off the intake
        # pass: a slow or hostile one never holds up the others (issue 20)
        workers = settings.forms.conversion_workers
        self.conversions = (Conversions(examine, converts, workers)
                            if examine is not None and converts is not None and workers
                            else None)
        # the read-ahead worker parses mails and reads their forms on the second core, ahead
        # of the recording transaction (conversions never run under the database lock)
        self.read_ahead = ReadAhead(examine, background=self.conversions)
        self.approvals = Approvals(settings, self.templates, self.archive, titles)
        # notices follow a change or minutes through their transitions (notices/lifecycle.py)
        self.lifecycle = Lifecycle(settings, self.templates)
        # escalations on the clock and closing by reply, as kinds declare them (faults)
        self.escalations = Escalations(self.lifecycle, self.approvals)
        # monthly reports, the project calendar, the fault "three times" rule (R-FN-7)
        self.reports = ReportsStage(settings, self.escalations, ticket_source(settings))
        self.factory.configure(info={LISTENERS: [self.lifecycle.on_transition,
                                                 self.escalations.on_transition,
                                                 self.reports.faults.on_transition]})
        # service-desk times of plain requests (R-SD-1, R-SD-2)
        self.service_desk = ServiceDesk(settings, self.lifecycle)
        # customer maintenance tickets (R-PM-1…5, R-PM-10, R-PM-14)
        self.tickets = TicketDesk(settings, self.lifecycle)
        self.reception = Reception(settings, self.templates,
                                   self.read_ahead.examine if examine else None, blanks, titles,
                                   self.approvals, [self.service_desk.handle_reply,
                                                    self.escalations.handle_reply,
                                                    self.lifecycle.handle_reply,
                                                    DataDelivery(self.lifecycle).handle_reply],
                                   _plain_requests(settings),
                                   [self.service_desk.on_registered],
                                   self.tickets if self.tickets.enabled else None)
        self._after_commit_hook = after_commit
        self.worker = worker or lease.worker_identity()
        self.intake = Intake(self.factory, self.archive, clock, self.reception,
                             settings.own_addresses, after_commit=self._after_commit,
                             max_message_bytes=settings.mailbox.max_message_bytes,
                             read_ahead=self.read_ahead, worker=self.worker,
                             settle_seconds=settings.forms.conversion_budget_seconds)
        self.transport = transport or make_transport(
            settings.smtp, settings.storage.resolved_outbox_dir()
        )
        self.delivery = OutboxDelivery(self.factory, self.transport, self.archive, clock,
                                       settings.smtp, self.worker)
        self.due_handlers: dict[str, DueHandler] = dict(due_handlers(settings, self.templates))
        self.due = DueRunner(self.due_handlers, self.worker)
        # reminders and escalations of approvals nobody answered (workflow/decisions.py)
        self.register_due_handler(approval_due.REMINDER, self.approvals.remind)
        self.register_due_handler(approval_due.ESCALATION, self.approvals.escalate)
        # notices and deadlines of changes and minutes (R-CH-4/5/6, R-MT-3/5)
        for kind, handler in self.lifecycle.handlers().items():
            self.register_due_handler(kind, handler)
        for kind, handler in (*self.escalations.handlers().items(),
                              *self.service_desk.handlers().items(),
                              *self.tickets.handlers().items()):
            self.register_due_handler(kind, handler)
        # the weekly meeting's notice (R-MT-6): its next time is due work, kept scheduled
        self.weekly_meeting = WeeklyMeeting(self.lifecycle.sender)
        self.register_due_handler(weekly.KIND, self.weekly_meeting.send)
        for kind, handler in self.reports.handlers().items():
            self.register_due_handler(kind, handler)
        with transaction(self.factory) as session:
            self.weekly_meeting.ensure_scheduled(session, clock.now())
            self.reports.ensure_scheduled(session, clock.now())
        self._lease_ttl = timedelta(seconds=settings.service.lease_seconds)
        # leases measure real time between processes, whatever --now pretends
        self._lease_clock: Clock = SystemClock()
        self._holding = False  # True while an intake pass runs under the mailbox lease
        self._lease_lost = False
        self._renewed_at = float("-inf")
        self._loop = asyncio.new_event_loop()
        self._stop = threading.Event()
        self._waiting = False

    # -- one pass -------------------------------------------------------------------------
    def new_source(self) -> MailSource:
        return self._source or make_source(self.settings.mailbox)

    def take_in(self, source: MailSource, progress: Progress | None = None, *,
                settle: bool = True) -> IntakeReport:
        """One intake pass; with *settle*, mails converted in the background are waited
        for and taken in too (``run --once``); the loop does not wait (``settle=False``)."""
        if self._holding:
            source = _LeaseGuardedSource(source, self._keep_lease)
        return self.intake.run(source, self.settings.mailbox.fetch_batch, progress,
                               settle=settle)

    def register_due_handler(self, kind: str, handler: DueHandler) -> None:
        """Add (or replace) the handler of one kind of due work in this process."""
        self.due_handlers[kind] = handler

    def run_due_work(self) -> int:
        """Do the work due at ``clock.now()`` (``--now T``: what is due at T); rows of other
        processes' claims are skipped. After intake, before the outbox is sent, so a notice
        a handler queues leaves in the same pass."""
        return self.due.run_due(self.factory, self.clock.now())

    def send_due(self, progress: Progress | None = None) -> DeliveryReport:
        self._release_stale_claims()
        report = self._loop.run_until_complete(self.delivery.drain(progress=progress))
        if queue_admin_alert(self.factory, self.settings, self.templates, self.clock.now()):
            extra = self._loop.run_until_complete(self.delivery.drain())
            report.sent += extra.sent
            report.deferred += extra.deferred
            report.failed += extra.failed
        return report

    def run_once(self, progress: Progress | None = None) -> RunReport:
        """Take in what waits (unless another process holds the mailbox), then send;
        *progress* hears how far each phase is (the CLI shows it)."""
        intake = IntakeReport()
        if self._acquire_lease():
            try:
                source = self.new_source()
                source.open()
                try:
                    intake = self._take_in_holding(source, progress)
                finally:
                    source.close()
            finally:
                with contextlib.suppress(*DB_UNAVAILABLE):
                    lease.release(self.factory, MAILBOX_LEASE, self.worker)
        else:
            log.info("another process reads the mailbox; only sending",
                     holder=lease.holder_of(self.factory, MAILBOX_LEASE, self._lease_clock.now()))
        done = self.run_due_work()
        delivery = self.send_due(progress)
        self.seal()
        return RunReport(intake=intake, delivery=delivery, due_done=done)

    def seal(self) -> None:
        """Seal the audit events committed so far into the hash chain and index the records
        they name (records/chain.py: the head row is locked, so any process may)."""
        from mailflow.records.chain import seal
        from mailflow.records.index import reindex

        try:
            seal(self.factory, self.clock.now(), reindex)
        except DB_UNAVAILABLE:
            raise
        except Exception:  # sealing waits for the next pass; mail handling goes on
            log.exception("sealing the audit trail failed; retrying on the next pass")

    # -- the mailbox lease and outbox claims ----------------------------------------------
    def _acquire_lease(self) -> bool:
        """Take or renew the mailbox lease (database errors propagate)."""
        held = lease.try_acquire(self.factory, MAILBOX_LEASE, self.worker,
                                 self._lease_clock.now(), self._lease_ttl)
        if held:
            self._renewed_at = time.monotonic()
        return held

    def _take_in_holding(self, source: MailSource, progress: Progress | None = None, *,
                         settle: bool = True) -> IntakeReport:
        self._holding, self._lease_lost = True, False
        try:
            return self.take_in(source, progress, settle=settle)
        finally:
            self._holding = False

    def _keep_lease(self) -> bool:
        """During an intake pass: renew the lease every ttl/3 (a backlog of thousands of mails
        takes minutes; without renewal a standby would start reading the same mails).
        False once it is lost: the pass stops before the next batch."""
        if self._holding and not self._lease_lost and (
            time.monotonic() - self._renewed_at >= self._lease_ttl.total_seconds() / 3
        ) and not self._acquire_lease():
            self._lease_lost = True
            log.warning("mailbox lease lost during intake; stopping the pass",
                        worker=self.worker)
        return not self._lease_lost

    def _renew_while_sending(self, _phase: str, _done: int, _total: int | None) -> None:
        """The reader draining a long backlog (a slow relay) keeps the mailbox lease: without
        this, a drain longer than lease_seconds handed the mailbox to a standby for nothing.
        A lease lost meanwhile is noticed by the loop before the next pass."""
        if time.monotonic() - self._renewed_at >= self._lease_ttl.total_seconds() / 3:
            with contextlib.suppress(*DB_UNAVAILABLE):
                self._acquire_lease()

    def _after_commit(self, uid: str) -> None:
        if self._after_commit_hook is not None:
            self._after_commit_hook(uid)
        self._keep_lease()  # one mail may take long (legacy .doc conversion): renew per mail
        self.notifier.alive()  # and a backlog of thousands takes minutes: the watchdog hears

    def _release_stale_claims(self) -> None:
        """Free outbox claims nobody is working on: our own (between two drains this worker
        sends nothing; left by a drain the database cut short) and those of processes on
        this machine that died. Otherwise their rows wait out the claim lease (minutes).
        A claim of a live process, or of one on another host, is left to run out."""
        now = self.clock.now()
        with self.factory() as session:
            stale = [w for w in outbox.claimants(session, now=now)
                     if w == self.worker or lease.holder_is_dead(w)]
        if stale:
            with transaction(self.factory) as session:
                freed = outbox.release_claims_of(session, stale)
            log.info("freed outbox claims of stopped workers", workers=stale, rows=freed)

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
        refused = 0
        if self.settings.service.metrics_port:
            self._serve_metrics()
        self.notifier.ready(f"mailflow running as {self.worker}")
        try:
            while not self._stop.is_set():
                self.notifier.alive()
                if not self._hold_lease():
                    # standby: another process reads the mailbox; help with due work and
                    # the outbox
                    self._guarded(self.run_due_work)
                    self._guarded(self.send_due)
                    if self._sleep(min(2.0, self._lease_ttl.total_seconds() / 3)):
                        break
                    continue
                source = self.new_source()
                try:
                    source.open()
                    log.info("mailbox open", source=source.source_key, worker=self.worker)
                    backoff, refused = 1.0, 0
                    self.notifier.status("reading the mailbox")
                    self._serve(source)
                except StopRequested:
                    break
                except AuthError as exc:
                    refused += 1
                    self._login_refused(exc, refused)
                    if refused >= AUTH_ATTEMPTS:
                        raise
                    if self._sleep(backoff):
                        break
                    backoff = min(backoff * 4, 60.0)
                except (SourceError, *DB_UNAVAILABLE) as exc:
                    log.warning("connection lost; reconnecting", error=str(exc),
                                retry_in=backoff)
                    if self._sleep(backoff):
                        break
                    backoff = min(backoff * 2, 60.0)
                finally:
                    with contextlib.suppress(Exception):
                        source.close()
        finally:
            self.notifier.stopping()
            with contextlib.suppress(Exception):
                lease.release(self.factory, MAILBOX_LEASE, self.worker)
            self.close()
        log.info("stopped", worker=self.worker)

    def _serve_metrics(self) -> None:
        from mailflow import installed_version
        from mailflow.operator.metrics import StatusCollector, serve

        port = self.settings.service.metrics_port
        collector = StatusCollector(self.settings, self.factory, self.clock.now,
                                    installed_version())
        serve(collector, port)
        log.info("metrics served", url=f"http://127.0.0.1:{port}/metrics")

    def _login_refused(self, exc: AuthError, count: int) -> None:
        """Log it (one line), record it, and after the last attempt tell the administrator
        through the outbox (sent now if SMTP works, else when it does)."""
        from mailflow.store import audit
        from mailflow.store.db import transaction

        last = count >= AUTH_ATTEMPTS
        log.error("mailbox login refused" + ("; giving up until restarted" if last else
                                             "; trying again"),
                  error=str(exc), attempt=count, of=AUTH_ATTEMPTS)
        if not last:
            return
        self.notifier.status(f"stopped: {exc}")
        with contextlib.suppress(*DB_UNAVAILABLE), transaction(self.factory) as session:
            audit.record(session, self.clock.now(), "mailbox_login_refused",
                         host=self.settings.mailbox.host,
                         username=self.settings.mailbox.username, reason=str(exc))
        with contextlib.suppress(Exception):
            self.send_due()

    def _hold_lease(self) -> bool:
        try:
            return self._acquire_lease()
        except DB_UNAVAILABLE as exc:
            log.warning("database unavailable; retrying", error=str(exc))
            return False

    def _guarded(self, step: Callable[[], object]) -> None:
        try:
            step()
        except DB_UNAVAILABLE as exc:
            log.warning("database unavailable; retrying", error=str(exc))

    def _serve(self, source: MailSource) -> None:
        while not self._stop.is_set():
            self.notifier.alive()
            if not self._hold_lease():
                log.info("mailbox lease lost; standing by", worker=self.worker)
                return
            if self.conversions is not None:
                self.conversions.settled()  # this pass takes in what finished so far
            self._take_in_holding(source, settle=False)
            if self._lease_lost:
                log.info("mailbox lease lost; standing by", worker=self.worker)
                return
            self.run_due_work()
            self.send_due(self._renew_while_sending)
            self.seal()  # under the mailbox lease: one sealer at a time in normal running
            timeout = self.notifier.max_wait(
                min(self._wait_timeout(), self._lease_ttl.total_seconds() / 3))
            self._waiting = True
            try:
                if self._stop.is_set():
                    return
                self._wait_for_news(source, timeout)
            finally:
                self._waiting = False

    def _wait_for_news(self, source: MailSource, timeout: float) -> None:
        """Wait for new mail (IDLE) or *timeout*; while a mail is read in the background,
        in short slices, so that the pass taking it in runs as soon as its reading ends."""
        conversions = self.conversions
        if conversions is None:
            source.wait(timeout)
            return
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            busy = conversions.busy()  # first: one ending after this is ``settled`` below
            if conversions.settled():  # ended since the pass began: take that mail in now
                return
            if not busy:
                source.wait(left)
                return
            if source.wait(min(left, CONVERSION_POLL_SECONDS)):
                return

    def _wait_timeout(self) -> float:
        """Sleep until the next poll, or sooner when an outbox retry falls due.

        A row another process has claimed is due only when its claim runs out: counting it
        as due now would spin this loop (a claim of a process that died on another host
        lasts minutes)."""
        timeout = self.settings.mailbox.poll_interval_seconds
        due_at = case(
            (OutboxMessage.claimed_until > OutboxMessage.next_attempt_at,
             OutboxMessage.claimed_until),
            else_=OutboxMessage.next_attempt_at,
        )
        with self.factory() as session:
            due = session.execute(
                select(func.min(due_at)).where(OutboxMessage.status == "pending")
            ).scalar_one_or_none()
            work = due_module.next_due(session, self.due_handlers)
        for at in (due, work):
            if at is not None:
                timeout = min(timeout, max((utc(at) - self.clock.now()).total_seconds(), 0.05))
        return min(timeout, 25 * 60.0)  # RFC 2177: re-IDLE before 29 minutes

    def _sleep(self, seconds: float) -> bool:
        self._waiting = True
        try:
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                if self._stop.wait(self.notifier.max_wait(left)):
                    return True
                self.notifier.alive()
            return self._stop.is_set()
        except StopRequested:
            return True
        finally:
            self._waiting = False

    def close(self) -> None:
        if self.conversions is not None:
            self.conversions.close()
        with contextlib.suppress(Exception):
            self._loop.run_until_complete(self.transport.close())
        self._loop.close()
        self.engine.dispose()


def wait_for_database(url: str, *, attempts: int | None, notifier: Notifier | None = None,
                      sleep: Callable[[float], None] = time.sleep) -> None:
    """Connect before starting: an unreachable database at start is retried with backoff
    (1, 2, 4 … 60 s), one log line each time; *attempts* None means until it answers (the
    service under systemd), else the last failure propagates (the CLI prints one line)."""
    from sqlalchemy import text

    from mailflow.errors import explain

    backoff, tried = 1.0, 0
    while True:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        except DB_UNAVAILABLE as exc:
            tried += 1
            if attempts is not None and tried >= attempts:
                raise
            log.warning("database unreachable at start; retrying", error=explain(exc),
                        attempt=tried, retry_in=backoff)
            if notifier is not None:
                notifier.status(f"waiting for the database (attempt {tried})")
                notifier.alive()
        finally:
            engine.dispose()
        sleep(backoff)
        backoff = min(backoff * 2, 60.0)


class _LeaseGuardedSource:
    """The mailbox as the intake sees it under the lease: before each batch the lease is
    renewed, and once it is lost no further batch is handed out (moves still happen)."""

    def __init__(self, inner: MailSource, keep: Callable[[], bool]) -> None:
        self._inner = inner
        self._keep = keep

    @property
    def source_key(self) -> str:
        """Always the inner source's key of now (it names the folder's UIDVALIDITY)."""
        return self._inner.source_key

    @source_key.setter
    def source_key(self, value: str) -> None:
        self._inner.source_key = value

    @property
    def waiting(self) -> int | None:
        waiting: int | None = getattr(self._inner, "waiting", None)
        return waiting

    def open(self) -> None:
        self._inner.open()

    def batches(self, size: int) -> Iterator[list[FetchedMail]]:
        for batch in self._inner.batches(size):
            if not self._keep():
                return
            yield batch

    def move(self, uids: Sequence[str], target: Target) -> None:
        self._inner.move(uids, target)

    def wait(self, timeout: float) -> bool:
        return self._inner.wait(timeout)

    def close(self) -> None:
        self._inner.close()


def check_templates(templates: Templates) -> None:
    """Every template compiles and renders with its sample data, or the service does not
    start: a broken override must not wait until its first notice is due."""
    problems = templates.check()
    for problem in problems:
        if not problem.fatal:
            log.warning("mail template not rendered at start", problem=str(problem))
    broken = [p for p in problems if p.fatal]
    if broken:
        raise ConfigError("mail templates are broken:\n" + "\n".join(
            f"  {p}" for p in broken))


def due_handlers(settings: Settings, templates: Templates) -> Mapping[str, DueHandler]:
    """The registration point of due work: each stage that schedules work of a kind (the
    approvals' reminders and escalations, the notices' deadlines) adds its handler here, by
    kind. A process runs only the kinds it has a handler for."""
    handlers: dict[str, DueHandler] = {}
    return handlers
def _make_private(settings: Settings) -> None:
    """The data directories 0700 and a SQLite database 0600, even when made before by a
    looser umask (issue 20): none of it is for other accounts on the host."""
    storage = settings.storage
    for directory in (storage.data_dir, storage.resolved_archive_dir(),
                      storage.resolved_outbox_dir()):
        private_dir(directory)
    url = make_url(normalise_url(storage.resolved_database_url()))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        for path in sqlite_files(Path(url.database)):
            private_file(path)


def _plain_requests(settings: Settings) -> PlainRecogniser | None:
    """Kinds that may come as a plain mail ([plain_mail] in their definition, R-DP-2); None
    without definitions or without a directory to tell a supervisor by."""
    from mailflow.documents.definitions import CatalogError, load_catalog
    from mailflow.workflow.directory import Directory
    from mailflow.workflow.plain_requests import recognise

    try:
        forms = [f for f in load_catalog(settings.forms.definitions_dir).forms.values()
                 if f.plain_mail is not None]
    except CatalogError:
        return None
    if not forms or not settings.departments:
        return None
    directory = Directory(settings)

    def recognise_mail(sender: str, subject: str, text: str, name: str
                       ) -> PlainRequest | None:
        return recognise(forms, directory, sender, subject, text, name)

    return recognise_mail


def _forms_wiring(
    settings: Settings,
) -> tuple[
    Callable[[ParsedMail], FormsOutcome] | None,
    Callable[[ParsedMail], bool] | None,
    Callable[[Sequence[str]], list[OutgoingAttachment]] | None,
    dict[str, str],
]:
    """Form reading is optional until the definitions exist (see mailflow.documents):
    the examiner, whether it would convert a mail, the blank forms, the kinds' titles."""
    try:
        from mailflow.documents.examine import FormDesk
    except ImportError:
        return None, None, None, {}
    desk = FormDesk.from_settings(settings)
    return desk.examine, desk.converts, desk.blank_forms, desk.titles(settings.service.language)

