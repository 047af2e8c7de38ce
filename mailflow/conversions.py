"""Legacy conversions off the intake path (issue 20): a mail whose .doc/.xls need LibreOffice
is read in the background while the intake goes on with the other mails.

Why: a conversion takes seconds, and a hostile one (a linked picture whose URL never
answers, a document built to be slow) takes its whole budget (``[forms]
conversion_budget_seconds``, 60 s). Run in the pass, it held up every mail behind it. Now
the intake archives such a mail as always, hands its reading (``FormDesk.examine``: the
guard, the conversions, the form reader) to this pool and leaves the mail in the inbox,
unrecorded; the pass goes on. The first pass after the reading finished takes the mail in
with it, through the very same recording path as every other mail: the archive-first and
exactly-once guarantees do not change, because nothing about the mail is recorded or moved
until then. A crash while a conversion runs loses nothing: the mail was never recorded, so
it is still in the inbox and is read (converted) again after the restart.

Why threads, not a process pool: the work is LibreOffice in its own (boxed) subprocess; the
Python side waits for it (``waitid`` polling releases the GIL) and then reads one .docx in
milliseconds. Threads share the loaded FormDesk and hand back the FormsOutcome as it is; a
process pool would either fork the service while its archive threads run, or spawn and load
the catalog again, and pickle every reading back. The threads are daemons (hence not
concurrent.futures' ThreadPoolExecutor, whose workers the interpreter joins at exit):
stopping the service (SIGTERM, kill -9) never waits for a hostile conversion, and the LibreOffice a
thread started dies at its own timeout (legacy.py runs it under ``timeout``), so nothing runs
on for longer than one conversion.

Each mail is read once however many passes see it (keyed by the raw mail's SHA-256, so a
second copy of the mail waits for the same reading), and a reading is handed over once.
"""

from __future__ import annotations

import functools
import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import structlog

from mailflow.documents.outcome import FormsOutcome
from mailflow.mail.parse import ParsedMail

log = structlog.get_logger(__name__)

Examiner = Callable[[ParsedMail], FormsOutcome]
#: what a finished reading is: the forms outcome, or the error the examiner raised (raised
#: again when the mail is recorded, where it quarantines the mail as always)
Read = FormsOutcome | Exception

#: a finished reading nobody came for (the mail was deleted from the inbox meanwhile) is
#: dropped after this long
KEEP_SECONDS = 3600.0


@dataclass
class _Job:
    future: Future[Read]
    finished_at: float | None = field(default=None)


class Conversions:
    """Mails being read in the background, by the raw mail's SHA-256."""

    def __init__(self, examine: Examiner, needs: Callable[[ParsedMail], bool],
                 workers: int) -> None:
        self._examine = examine
        self._needs = needs
        self._workers = max(workers, 1)
        self._queue: queue.SimpleQueue[tuple[Future[Read], ParsedMail] | None] = \
            queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._jobs: dict[str, _Job] = {}
        # reentrant: a reading that ends at once runs its done callback inside ``take``
        self._lock = threading.RLock()
        self._finished = threading.Event()  # set when a reading ends; cleared by ``settled``
        self._idle = threading.Condition(self._lock)

    def needs(self, parsed: ParsedMail) -> bool:
        """Would reading this mail start LibreOffice? Then it is read here, not in the pass."""
        return self._needs(parsed)

    def take(self, key: str, parsed: ParsedMail) -> Read | None:
        """The reading of the mail *key* once it has finished (handed over once, then
        forgotten); None while it is in flight, started now if nobody had started it."""
        with self._lock:
            self._drop_unclaimed()
            job = self._jobs.get(key)
            if job is None:
                log.info("mail read in the background (legacy conversion)",
                         sha256=key[:12], message_id=parsed.message_id)
                job = _Job(Future())
                self._jobs[key] = job
                job.future.add_done_callback(functools.partial(self._done, job))
                self._start_thread()
                self._queue.put((job.future, parsed))
                return None
            if job.finished_at is None:
                return None
            del self._jobs[key]
        return job.future.result()

    def in_flight(self, key: str) -> bool:
        """Is the reading of the mail *key* still going on?"""
        with self._lock:
            job = self._jobs.get(key)
            return job is not None and job.finished_at is None

    def busy(self) -> bool:
        """Is any reading still in flight?"""
        with self._lock:
            return any(job.finished_at is None for job in self._jobs.values())

    def settled(self) -> bool:
        """Has a reading finished since the last call? (the loop then runs a pass)"""
        finished = self._finished.is_set()
        self._finished.clear()
        return finished

    def wait(self, per_mail_seconds: float) -> bool:
        """Wait until no reading is in flight, at most as long as the readings in flight
        may take (each is bounded by *per_mail_seconds*, the mail's conversion budget, and
        they run ``workers`` at a time); True if none is left."""
        with self._lock:
            flying = sum(job.finished_at is None for job in self._jobs.values())
        rounds = math.ceil(flying / self._workers)
        deadline = time.monotonic() + rounds * per_mail_seconds + 10.0
        with self._idle:
            while any(job.finished_at is None for job in self._jobs.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self) -> None:
        """Stop: readings not begun are dropped; those in flight end within their budget,
        unwaited for. Their mails are still in the inbox for the next start."""
        with self._lock:
            for job in self._jobs.values():
                job.future.cancel()
            for _ in self._threads:
                self._queue.put(None)
            self._threads = []

    def _start_thread(self) -> None:
        if len(self._threads) < self._workers:
            thread = threading.Thread(target=self._work, daemon=True,
                                      name=f"convert-{len(self._threads) + 1}")
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, parsed = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                read: Read = self._examine(parsed)
            except Exception as exc:  # raised again where the mail is recorded: quarantine
                read = exc
            future.set_result(read)

    def _done(self, job: _Job, _future: Future[Read]) -> None:
        with self._idle:  # both at once: whoever sees it finished also sees ``settled``
            job.finished_at = time.monotonic()
            self._finished.set()
            self._idle.notify_all()

    def _drop_unclaimed(self) -> None:
        now = time.monotonic()
        for key in [k for k, job in self._jobs.items()
                    if job.finished_at is not None and now - job.finished_at > KEEP_SECONDS]:
            del self._jobs[key]
