"""Archive first, then act: take every waiting mail in, exactly once.

For each fetched batch: store every raw mail and attachment (content-addressed, fsynced),
parse each mail once, then record the mails and everything they cause (requests, replies in
the outbox, audit events) in transactions of several mails, each mail under its own
savepoint, and only after the commit move them out of the inbox. Positions ((UIDVALIDITY,
UID)) and content (Message-ID + body hash, raw hash) are both remembered, so a crash between
commit and move, a rerun, or a second copy of the same mail changes nothing. One bad message
is rolled back to its savepoint and quarantined; the others go on.

Why groups and threads (issue 7, bench/): a commit and its bookkeeping cost about as much as
recording a mail, and each archived blob waits ~2 ms for fsync; so the fsyncs of a batch run
side by side in threads while the mails are parsed, and one commit covers the mails recorded
in ~0.3 s. The group is bounded in time so the mailbox lease (renewed after each commit)
and other writers waiting for SQLite's lock are never held up long.

Why some mails wait (issue 20): a mail whose .doc/.xls need LibreOffice is archived and then
left in the inbox, unrecorded, while it is read in the background (conversions.py); the pass
goes on with the others, and a later pass (the first after the reading ended) records it
like any other mail. Until then nothing about it is in the database, so a crash simply
reads it again.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailflow.clock import Clock
from mailflow.mail.classify import Classification, MailKind, classify
from mailflow.mail.htmlbody import strip_tags
from mailflow.mail.parse import ParsedMail
from mailflow.mail.sources import FetchedMail, MailSource
from mailflow.readahead import ReadAhead, Reading
from mailflow.store import audit, outbox
from mailflow.store.archive import Archive, sha256_hex
from mailflow.store.db import DB_UNAVAILABLE, transaction
from mailflow.store.models import Attachment, InboundMail, SourcePosition, db_time
from mailflow.store.rows import insert_row

log = structlog.get_logger(__name__)

#: told (phase, done, total or None) as long work goes on: the CLI's progress display
Progress = Callable[[str, int, int | None], None]

# The step after recording: decides and writes requests and replies in the same transaction.
Responder = Callable[[Session, InboundMail, ParsedMail, Classification, datetime], str]

#: most mails one transaction records, and how long it may stay open before it commits
GROUP_SIZE = 50
GROUP_SECONDS = 0.3
#: archive writes in flight at once (each mostly waits for fsync, outside the GIL)
ARCHIVE_THREADS = 16

_MAILS = InboundMail.__table__
assert isinstance(_MAILS, Table)
#: built once (building a statement costs as much as running it)
_SET_STATUS = (update(_MAILS).where(_MAILS.c.id == bindparam("mail_pk"))
               .values(status=bindparam("new_status")))


@dataclass
class IntakeReport:
    taken_in: int = 0
    duplicates: int = 0
    quarantined: int = 0
    already_done: int = 0
    converting: int = 0  # left in the inbox while LibreOffice reads them (a later pass)
    outcomes: list[tuple[str, str, str]] = field(default_factory=list)  # (uid, status, detail)


def header_block(raw: bytes) -> bytes:
    """The header block of a raw mail (up to and including the blank line), capped at 1 MB."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        index = raw.find(sep, 0, 1 << 20)
        if index >= 0:
            return raw[:index + len(sep)]
    return raw[: 1 << 20] + b"\r\n\r\n"


#: characters of a mail's text kept for archive search (a pasted log need not be whole)
MAX_BODY_TEXT = 20_000


def searchable_text(parsed: ParsedMail) -> str:
    """The mail's readable text, kept on its row for archive search (records/): extracted
    here, once, from the parse the intake does anyway."""
    text = parsed.text or (strip_tags(parsed.html, raw=True) if parsed.html else "")
    return text.replace("\x00", "")[:MAX_BODY_TEXT]


def body_hash(raw: bytes) -> str:
    """Hash of everything after the header block: equal for two deliveries of one mail."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        index = raw.find(sep)
        if index >= 0:
            # a view, not a slice: a 25 MB mail is not copied to be hashed
            return hashlib.sha256(memoryview(raw)[index + len(sep):]).hexdigest()
    return sha256_hex(b"")


@dataclass(frozen=True)
class _Prepared:
    """One mail, archived and parsed, ready to be recorded."""

    fetched: FetchedMail
    digest: str
    body_sha256: str
    parsed: ParsedMail
    classification: Classification
    archive_error: Exception | None  # an attachment could not be archived: quarantine


@dataclass
class _Waiting:
    """A mail of the batch on its way: raw bytes being archived, being read (maybe ahead)."""

    fetched: FetchedMail
    raw_put: Future[str]
    reading: Reading
    attachment_puts: list[Future[str]] | None = None
    prepared: _Prepared | None = None
    converting: str = ""  # read in the background (its raw SHA-256): for a later pass

    def archive_attachments(self, archive: Archive, writers: ThreadPoolExecutor) -> None:
        if self.prepared is None and self.attachment_puts is None:
            self.attachment_puts = [writers.submit(archive.put, att.data, att.sha256)
                                    for att in self.reading.parsed().attachments]

    def ready(self) -> bool:
        """Read, and every byte of it archived: recording it now waits for nothing."""
        if self.prepared is not None:
            return True
        return (self.reading.done() and self.raw_put.done()
                and self.attachment_puts is not None
                and all(put.done() for put in self.attachment_puts))


@dataclass
class _Taken:
    """A mail recorded in the open transaction; reported once that commits."""

    uid: str
    status: str
    kind: str
    mail_id: int
    message_id: str | None
    digest: str
    duplicate: bool
    references: tuple[str, ...] = ()


class _Seen:
    """The dedupe keys (raw hash; Message-ID + body hash) known inside one transaction:
    those already in the database for the group's mails, and those recorded since."""

    def __init__(self, session: Session, group: Sequence[_Prepared]) -> None:
        self.by_digest: dict[str, int] = {}
        self.by_message: dict[tuple[str, str], int] = {}
        digests = [p.digest for p in group]
        message_ids = sorted({p.parsed.message_id for p in group if p.parsed.message_id})
        conditions = [InboundMail.sha256.in_(digests)]
        if message_ids:
            conditions.append(InboundMail.message_id.in_(message_ids))
        rows = session.execute(
            select(InboundMail.id, InboundMail.sha256, InboundMail.message_id,
                   InboundMail.body_sha256).where(or_(*conditions)).order_by(InboundMail.id)
        ).all()
        for mail_id, digest, message_id, body in rows:
            self.add(mail_id, digest, message_id, body)

    def add(self, mail_id: int, digest: str, message_id: str | None, body: str) -> None:
        self.by_digest.setdefault(digest, mail_id)
        if message_id:
            self.by_message.setdefault((message_id, body), mail_id)

    def find(self, p: _Prepared) -> int | None:
        found = self.by_digest.get(p.digest)
        if found is None and p.parsed.message_id:
            found = self.by_message.get((p.parsed.message_id, p.body_sha256))
        return found


class Intake:
    def __init__(
        self,
        factory: sessionmaker[Session],
        archive: Archive,
        clock: Clock,
        respond: Responder,
        own_addresses: frozenset[str],
        *,
        after_commit: Callable[[str], None] | None = None,
        read_ahead: ReadAhead | None = None,
        max_message_bytes: int | None = None,
        worker: str = "",
        settle_seconds: float = 60.0,
    ) -> None:
        self._factory = factory
        self._worker = worker  # named in each mail_received event: who took the mail in
        self._settle_seconds = settle_seconds  # what one mail's background reading may take
        # mails left in the source while read in the background, by (source, uid): passes
        # meanwhile skip them without parsing them again (a hostile mail may be large)
        self._converting: dict[tuple[str, str], str] = {}
        self._max_bytes = max_message_bytes
        self._archive = archive
        self._clock = clock
        self._respond = respond
        self._own = own_addresses
        self._after_commit = after_commit  # test hook: crash simulation between commit and move
        # parses (and, when the responder examines through it, reads forms) in a worker
        self._reader = read_ahead or ReadAhead()

    def run(self, source: MailSource, batch_size: int = 100,
            progress: Progress | None = None, *, settle: bool = True) -> IntakeReport:
        """Take in everything waiting in *source* now; *progress* hears of each batch done.

        Mails being converted in the background are left in *source*; with *settle*
        (``run --once``, a released mail: not the loop, which goes on serving) this then
        waits for their readings, each bounded by the mail's conversion budget, and takes
        them in too."""
        report = IntakeReport()
        self._pass(source, batch_size, progress, report)
        background = self._reader.background
        while report.converting and settle and background is not None:
            settled = background.wait(self._settle_seconds)
            report.converting = 0
            self._pass(source, batch_size, progress, report)
            if not settled:
                break
        return report

    def _pass(self, source: MailSource, batch_size: int, progress: Progress | None,
              report: IntakeReport) -> None:
        done = 0
        # the read-ahead worker is forked before the archive threads exist (pass_ first)
        with self._reader.pass_(), \
                ThreadPoolExecutor(ARCHIVE_THREADS, thread_name_prefix="archive") as writers:
            for batch in source.batches(batch_size):
                moves = self._take_batch(source.source_key, batch, report, writers)
                source.move(moves["processed"], "processed")
                source.move(moves["quarantine"], "quarantine")
                done += len(batch)
                if progress is not None:
                    progress("taking in", done, getattr(source, "waiting", None))

    def _take_batch(
        self,
        source_key: str,
        batch: Sequence[FetchedMail],
        report: IntakeReport,
        writers: ThreadPoolExecutor,
    ) -> dict[str, list[str]]:
        moves: dict[str, list[str]] = {"processed": [], "quarantine": []}
        known = self._known_positions(source_key, [m.uid for m in batch])
        background = self._reader.background
        todo: list[FetchedMail] = []
        for fetched in batch:
            converting = self._converting.get((source_key, fetched.uid), "")
            if fetched.uid in known:
                # committed before, but the move did not happen (crash): just move it now
                report.already_done += 1
                moves[known[fetched.uid]].append(fetched.uid)
            elif converting and background is not None and background.in_flight(converting):
                report.converting += 1  # still being read: nothing to do with it yet
                report.outcomes.append((fetched.uid, "converting", ""))
            else:
                self._converting.pop((source_key, fetched.uid), None)
                todo.append(fetched)
        readings = self._reader.read([self._parseable(fetched.raw) for fetched in todo])
        # archive first: every raw mail is written (fsynced, side by side) before it is recorded
        waiting = deque(
            _Waiting(fetched, writers.submit(self._archive.put, fetched.raw), reading)
            for fetched, reading in zip(todo, readings, strict=True)
        )
        alone = 0  # after a failed group commit: mails still to record one per transaction
        while waiting:
            # the first mail, and those after it that are read and archived already: the
            # worker reading ahead and the archive threads are never waited for longer than
            # one mail, and the groups grow once they are ahead
            self._archive_attachments(waiting, writers)
            count = 1
            while (count < min(1 if alone else GROUP_SIZE, len(waiting))
                   and waiting[count].ready()):
                count += 1
            front = [waiting[i] for i in range(count)]
            group = self._prepare(front, writers)
            for mail in front:
                if mail.converting:  # archived; recorded by a later pass
                    self._converting[(source_key, mail.fetched.uid)] = mail.converting
                    waiting.remove(mail)
                    report.converting += 1
                    report.outcomes.append((mail.fetched.uid, "converting", ""))
            if not group:
                continue
            try:
                taken, failed = self._record_group(source_key, group)
            except DB_UNAVAILABLE:
                raise  # database unavailable: leave the mails where they are
            except Exception as exc:
                if len(group) > 1:
                    log.exception("group commit failed; recording these mails one by one",
                                  mails=len(group))
                    alone = len(group)
                    continue
                taken, failed = [], [(group[0], exc)]
            for _ in range(len(taken) + len(failed)):
                waiting.popleft()
                alone = max(alone - 1, 0)
            if self._after_commit is not None:
                for item in taken:
                    self._after_commit(item.uid)
            for item in taken:
                self._report_taken(item, report)
                moves["processed"].append(item.uid)
            for prepared, error in failed:
                outcome = self._quarantine(source_key, prepared, error, report)
                if outcome is not None:
                    moves[outcome].append(prepared.fetched.uid)
        self._reader.forget()
        return moves

    def _parseable(self, raw: bytes) -> bytes:
        """An oversize mail is archived whole but only its header block is parsed: the
        reply then says it was too large (reception sees the recorded size)."""
        if self._max_bytes is None or len(raw) <= self._max_bytes:
            return raw
        return header_block(raw)

    def _known_positions(self, source_key: str, uids: list[str]) -> dict[str, str]:
        with self._factory() as session:
            rows = session.execute(
                select(SourcePosition.uid, SourcePosition.outcome)
                .where(SourcePosition.source_key == source_key)
                .where(SourcePosition.uid.in_(uids))
            ).all()
        return {uid: ("quarantine" if outcome == "quarantine" else "processed")
                for uid, outcome in rows}

    # -- archive first, parse once ----------------------------------------------------------
    def _archive_attachments(self, waiting: deque[_Waiting], writers: ThreadPoolExecutor
                             ) -> None:
        """Start writing the attachments of every mail read by now: their fsyncs then
        overlap with recording the mails before them."""
        for item in waiting:
            if not item.reading.done():
                break
            item.archive_attachments(self._archive, writers)

    def _prepare(self, group: Sequence[_Waiting], writers: ThreadPoolExecutor
                 ) -> list[_Prepared]:
        """The group's mails parsed (once) and classified, their raw bytes and attachments on
        disk (fsynced): nothing is recorded before all of a mail's bytes are archived."""
        for item in group:
            item.archive_attachments(self._archive, writers)
        prepared = []
        for item in group:
            if item.prepared is None:
                item.converting = ""
                parsed = item.reading.parsed()
                digest = item.raw_put.result()  # cannot archive the raw mail: stop the pass
                errors = [put.exception() for put in item.attachment_puts or ()]
                error = next((e for e in errors if isinstance(e, Exception)), None)
                classification = classify(parsed, self._own)
                # forms are read (converted) now, outside the transaction: never under the
                # database's write lock; one that needs LibreOffice is read in the
                # background and the mail waits, archived, for a later pass (issue 20)
                if classification.answerable and parsed.sender is not None and (
                        self._max_bytes is None or len(item.fetched.raw) <= self._max_bytes
                ) and not self._reader.examine_ahead(parsed, digest):
                    item.converting = digest
                    item.attachment_puts = None
                    continue
                item.prepared = _Prepared(item.fetched, digest, body_hash(item.fetched.raw),
                                          parsed, classification, error)
                item.attachment_puts = None
            prepared.append(item.prepared)
        return prepared

    # -- record, several mails per transaction ----------------------------------------------
    def _record_group(
        self, source_key: str, group: Sequence[_Prepared]
    ) -> tuple[list[_Taken], list[tuple[_Prepared, Exception]]]:
        """Record mails from the front of *group* in one transaction, each under a savepoint,
        until all are done or GROUP_SECONDS have passed, and commit. Returns the mails recorded
        and those that raised (rolled back to their savepoint, for quarantine); together they
        are a prefix of *group*."""
        taken: list[_Taken] = []
        failed: list[tuple[_Prepared, Exception]] = []
        with transaction(self._factory) as session:
            seen = _Seen(session, group)
            # the hourly reply cap's counts for every sender of the group, in one query
            outbox.prefetch_recent_counts(
                session, [p.parsed.sender.addr for p in group
                          if p.parsed.sender and p.classification.answerable],
                self._clock.now() - outbox.REPLY_CAP_WINDOW)
            started = time.monotonic()
            for prepared in group:
                if (taken or failed) and time.monotonic() - started >= GROUP_SECONDS:
                    break
                try:
                    with session.begin_nested(), audit.batched(session):
                        item = self._take_one(session, source_key, prepared, seen)
                except DB_UNAVAILABLE:
                    raise
                except Exception as exc:  # one bad message never stops the others
                    log.bind(uid=prepared.fetched.uid, sha256=prepared.digest[:12],
                             message_id=prepared.parsed.message_id).exception("mail quarantined")
                    failed.append((prepared, exc))
                    continue
                seen.add(item.mail_id, prepared.digest, prepared.parsed.message_id,
                         prepared.body_sha256)
                taken.append(item)
        return taken, failed

    def _take_one(self, session: Session, source_key: str, p: _Prepared, seen: _Seen
                  ) -> _Taken:
        if p.archive_error is not None:
            raise p.archive_error
        uid, parsed = p.fetched.uid, p.parsed
        now = self._clock.now()
        duplicate = seen.find(p)
        if duplicate is not None:
            self._remember(session, source_key, uid, duplicate, "duplicate", now)
            audit.record(session, now, "mail_duplicate", mail_id=duplicate, uid=uid,
                         source=source_key)
            return _Taken(uid, "duplicate", "", duplicate, parsed.message_id, p.digest, True)
        mail = self._record(session, source_key, p, now)
        noted: list[str] = []
        session.info[audit.REFERENCES_NOTED] = noted
        try:
            status = self._respond(session, mail, parsed, p.classification, now)
        finally:
            session.info.pop(audit.REFERENCES_NOTED, None)
        mail.status = status
        session.connection().execute(_SET_STATUS, {"mail_pk": mail.id, "new_status": status})
        self._remember(session, source_key, uid, mail.id, "processed", now)
        return _Taken(uid, status, p.classification.kind.value, mail.id, parsed.message_id,
                      p.digest, False, tuple(dict.fromkeys(noted)))

    @staticmethod
    def _report_taken(item: _Taken, report: IntakeReport) -> None:
        bound = log.bind(uid=item.uid, message_id=item.message_id, sha256=item.digest[:12])
        if item.duplicate:
            report.duplicates += 1
            report.outcomes.append((item.uid, "duplicate", ""))
            bound.info("duplicate mail ignored", original_mail_id=item.mail_id)
        else:
            report.taken_in += 1
            report.outcomes.append((item.uid, item.status, item.kind))
            bound.info("mail taken in", mail_id=item.mail_id, kind=item.kind,
                       status=item.status, reference=", ".join(item.references))

    def _record(self, session: Session, source_key: str, p: _Prepared, now: datetime
                ) -> InboundMail:
        parsed, raw, classification = p.parsed, p.fetched.raw, p.classification
        mail = InboundMail(
            sha256=p.digest,
            body_sha256=p.body_sha256,
            message_id=parsed.message_id or None,
            size=len(raw),
            subject=parsed.subject,
            from_addr=parsed.sender.addr if parsed.sender else "",
            from_name=parsed.sender.name if parsed.sender else "",
            to_addrs=[[a.name, a.addr] for a in parsed.to],
            cc_addrs=[[a.name, a.addr] for a in parsed.cc],
            sent_at=db_time(parsed.date) if parsed.date else None,
            received_at=db_time(now),
            source=source_key,
            kind=classification.kind.value,
            kind_reason=classification.reason,
            status="received",
            in_reply_to=parsed.in_reply_to or "",
            defects=list(parsed.defects),
            body_text=searchable_text(parsed),
        )
        # plain INSERTs (store/rows.py): the ORM's unit of work cost a quarter of the intake
        insert_row(session, mail)
        for att in parsed.attachments:  # archived in _prepare, before this transaction
            mail.attachments.append(insert_row(session, Attachment(
                mail_id=mail.id,
                filename=att.filename,
                original_filename=att.original_filename,
                content_type=att.content_type,
                size=len(att.data),
                sha256=att.sha256,
                forwarded=att.forwarded,
            )))
        audit.record(session, now, "mail_received", mail_id=mail.id,
                     actor=mail.from_addr or "unknown", kind=classification.kind.value,
                     reason=classification.reason, sha256=p.digest, subject=parsed.subject,
                     by=self._worker)
        if classification.kind is not MailKind.HUMAN:
            audit.record(session, now, "mail_not_answered", mail_id=mail.id,
                         reason=classification.reason)
        return mail

    @staticmethod
    def _remember(
        session: Session, source_key: str, uid: str, mail_id: int, outcome: str, now: datetime
    ) -> None:
        insert_row(session, SourcePosition(source_key=source_key, uid=uid, mail_id=mail_id,
                                           outcome=outcome, recorded_at=db_time(now)),
                   fetch_id=False)

    def _quarantine(
        self, source_key: str, p: _Prepared, error: Exception, report: IntakeReport
    ) -> str | None:
        parsed, classification = p.parsed, p.classification
        now = self._clock.now()
        reason = f"{type(error).__name__}: {error}"[:2000]
        try:
            with transaction(self._factory) as session:
                existing = session.execute(
                    select(InboundMail).where(InboundMail.sha256 == p.digest)
                ).scalar_one_or_none()
                if existing is not None and existing.status != "quarantined":
                    # recorded meanwhile (a second reader, a duplicate delivery): the failure
                    # was the duplicate key; this copy is a no-op, the original stays as it is
                    self._remember(session, source_key, p.fetched.uid, existing.id,
                                   "duplicate", now)
                    audit.record(session, now, "mail_duplicate", mail_id=existing.id,
                                 uid=p.fetched.uid, source=source_key)
                    report.duplicates += 1
                    return "processed"
                mail = existing or InboundMail(
                    sha256=p.digest, body_sha256=p.body_sha256,
                    message_id=None, size=len(p.fetched.raw), subject=parsed.subject,
                    from_addr=parsed.sender.addr if parsed.sender else "",
                    from_name=parsed.sender.name if parsed.sender else "",
                    to_addrs=[], cc_addrs=[], received_at=db_time(now), source=source_key,
                    kind=classification.kind.value, kind_reason=classification.reason,
                    in_reply_to="", defects=list(parsed.defects),
                )
                mail.status = "quarantined"
                mail.status_reason = reason
                session.add(mail)
                session.flush()
                self._remember(session, source_key, p.fetched.uid, mail.id, "quarantine", now)
                audit.record(session, now, "mail_quarantined", mail_id=mail.id, reason=reason)
        except (IntegrityError, *DB_UNAVAILABLE):
            log.exception("could not record quarantine; mail stays in the inbox",
                          uid=p.fetched.uid)
            return None
        report.quarantined += 1
        report.outcomes.append((p.fetched.uid, "quarantined", reason))
        return "quarantine"
