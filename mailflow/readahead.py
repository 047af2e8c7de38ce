"""Parse mails and read their forms in a worker process, ahead of the recording transaction.

Why: parsing a mail and reading its forms are pure functions of the raw bytes and take about
a third of the time a mail costs; the rest (recording, the reply, the database) must happen in
order in this process. With two cores a worker does the pure part for the next mails while
this process records the current ones (issue 7, bench/). A batch of a mail or two (what an
IDLE wake-up brings) is read here: the hop to the worker costs more than it saves then.

Nothing here changes what happens to a mail: the worker runs the same ``parse_mail`` and the
same examiner; whatever does not come back from it (the worker died, a result could not be
sent) is simply done again here, where an error surfaces exactly as without read-ahead.

A mail whose forms need LibreOffice is not read here nor in the worker: it goes to the
background (conversions.py), and ``examine_ahead`` says the mail must wait for a later pass.

The worker is forked at the start of an intake pass that needs it and shut down at its end,
so an idle service holds no extra process; it exits on its own if this process dies.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from types import MappingProxyType

import structlog

from mailflow.conversions import Conversions
from mailflow.documents.outcome import FormsOutcome
from mailflow.documents.reading import FormReading
from mailflow.mail.parse import ParsedMail, parse_mail

log = structlog.get_logger(__name__)

Examiner = Callable[[ParsedMail], FormsOutcome]

#: batches smaller than this are read in this process
MIN_BATCH = 8

_worker_examine: Examiner | None = None  # in the worker: inherited through fork
_worker_defers: Callable[[ParsedMail], bool] | None = None  # read in the background instead


def _start_worker(examine: Examiner | None, parent: int,
                  defers: Callable[[ParsedMail], bool] | None = None) -> None:
    global _worker_examine, _worker_defers
    _worker_examine = examine
    _worker_defers = defers
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the service to handle

    def orphaned() -> None:  # kill -9 of the service must not leave the worker behind
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=orphaned, name="orphan-watch", daemon=True).start()


def _read(raw: bytes) -> tuple[ParsedMail, FormsOutcome | None]:
    """In the worker: parse, and examine the forms (None: do that in the service)."""
    parsed = parse_mail(raw)
    if _worker_examine is None or (_worker_defers is not None and _worker_defers(parsed)):
        return parsed, None
    try:
        return parsed, _portable(_worker_examine(parsed))
    except Exception:  # the service examines it again and handles the error as always
        return parsed, None


def _portable(outcome: FormsOutcome) -> FormsOutcome:
    """Form readings hold read-only mappings (values, labels, proposals), which pickle
    refuses: plain dicts for the trip, in accepted forms and in problems alike."""
    return _each_reading(outcome, _plain)


def _restored(outcome: FormsOutcome) -> FormsOutcome:
    return _each_reading(outcome, _proxied)


def _plain(reading: FormReading) -> FormReading:
    return replace(reading, values=dict(reading.values), labels=dict(reading.labels),
                   proposals=dict(reading.proposals))


def _proxied(reading: FormReading) -> FormReading:
    return replace(reading, values=MappingProxyType(dict(reading.values)),
                   labels=MappingProxyType(dict(reading.labels)),
                   proposals=MappingProxyType(dict(reading.proposals)))


def _each_reading(outcome: FormsOutcome,
                  change: Callable[[FormReading], FormReading]) -> FormsOutcome:
    return replace(
        outcome,
        accepted=tuple(replace(a, reading=change(a.reading)) for a in outcome.accepted),
        problems=tuple(replace(p, reading=change(p.reading)) if p.reading is not None else p
                       for p in outcome.problems),
    )


class ReadAhead:
    """The intake's reader. ``examine`` is what the responder calls: the worker's result for
    that very ParsedMail when there is one, else the examiner run here."""

    def __init__(self, examine: Examiner | None = None, *, workers: int = 1,
                 background: Conversions | None = None) -> None:
        self._examine = examine
        self._workers = workers
        self._background = background if examine is not None else None
        self._pool: ProcessPoolExecutor | None = None
        self._active = False
        self._outcomes: dict[int, tuple[ParsedMail, FormsOutcome]] = {}
        #: readings from the background that raised: raised again by ``examine``
        self._errors: dict[int, tuple[ParsedMail, Exception]] = {}

    @property
    def background(self) -> Conversions | None:
        return self._background

    @property
    def examines(self) -> bool:
        return self._examine is not None

    def usable_for(self, count: int) -> bool:
        return self._active and count >= MIN_BATCH and (os.cpu_count() or 1) >= 2

    @contextlib.contextmanager
    def pass_(self) -> Iterator[None]:
        """One intake pass: the worker (if one is needed) lives until the pass ends."""
        self._active = True
        try:
            yield
        finally:
            self._active = False
            self.forget()
            pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def read(self, raws: Sequence[bytes]) -> list[Reading]:
        """Start reading *raws*; one Reading per mail, in order."""
        pool = self._pool_or_none() if self.usable_for(len(raws)) else None
        if pool is not None:
            try:
                return [Reading(raw, pool.submit(_read, raw), self._outcomes) for raw in raws]
            except Exception as exc:  # a broken pool refuses work: read here from now on
                log.warning("read-ahead worker unusable; reading in the service",
                            error=repr(exc))
                self._pool = None
                pool.shutdown(wait=False, cancel_futures=True)
        return [Reading(raw, None, self._outcomes) for raw in raws]

    def examine(self, parsed: ParsedMail) -> FormsOutcome:
        found = self._outcomes.get(id(parsed))
        if found is not None and found[0] is parsed:
            return found[1]
        failed = self._errors.get(id(parsed))
        if failed is not None and failed[0] is parsed:
            raise failed[1]
        assert self._examine is not None, "examine() without an examiner"
        return self._examine(parsed)

    def examine_ahead(self, parsed: ParsedMail, key: str = "") -> bool:
        """Read *parsed*'s forms now, before the recording transaction opens (issue 20): a
        LibreOffice conversion takes seconds, and inside the transaction it would hold
        SQLite's write lock all that time. Kept until ``forget``; an error is left for
        ``examine`` to raise where it is handled as always (quarantine).

        A mail that needs LibreOffice (and has a *key*, its raw SHA-256) is read in the
        background instead: False while that reading is in flight, and the mail must wait
        for a later pass; True once its reading is here."""
        if self._examine is None:
            return True
        found = self._outcomes.get(id(parsed))
        if found is not None and found[0] is parsed:
            return True
        if self._background is not None and key and self._background.needs(parsed):
            read = self._background.take(key, parsed)
            if read is None:
                return False
            if isinstance(read, Exception):
                self._errors[id(parsed)] = (parsed, read)
            else:
                self._outcomes[id(parsed)] = (parsed, read)
            return True
        try:
            outcome = self._examine(parsed)
        except Exception:
            return True
        self._outcomes[id(parsed)] = (parsed, outcome)
        return True

    def forget(self) -> None:
        """Drop results nobody asked for (robots are never examined)."""
        self._outcomes.clear()
        self._errors.clear()

    def _pool_or_none(self) -> ProcessPoolExecutor | None:
        if self._pool is None:
            try:
                self._pool = ProcessPoolExecutor(
                    self._workers, mp_context=multiprocessing.get_context("fork"),
                    initializer=_start_worker, initargs=(self._examine, os.getpid(),
                              self._background.needs if self._background else None),
                )
            except (OSError, ValueError) as exc:
                log.warning("no read-ahead worker; reading in the service", error=str(exc))
                return None
        return self._pool


class Reading:
    """One mail being read: by the worker (*future*) or, without one, here and now."""

    def __init__(
        self,
        raw: bytes,
        future: Future[tuple[ParsedMail, FormsOutcome | None]] | None,
        outcomes: dict[int, tuple[ParsedMail, FormsOutcome]],
    ) -> None:
        self._raw = raw
        self._future = future
        self._outcomes = outcomes
        self._parsed = parse_mail(raw) if future is None else None

    def done(self) -> bool:
        return self._parsed is not None or (self._future is not None and self._future.done())

    def parsed(self) -> ParsedMail:
        """The parsed mail (waits for the worker); read here if the worker did not deliver."""
        if self._parsed is None:
            assert self._future is not None
            try:
                parsed, outcome = self._future.result()
            except Exception as exc:  # worker gone, result not sendable: read it here
                log.warning("read-ahead failed; reading in the service", error=repr(exc))
                parsed, outcome = parse_mail(self._raw), None
            if outcome is not None:
                self._outcomes[id(parsed)] = (parsed, _restored(outcome))
            self._parsed, self._future = parsed, None
        return self._parsed
