"""Proof that nothing was altered or lost: every stored file against its hash, and the audit
chain (chain.py) from its first event to its head. Each problem names what it is about.

Files a retention deletion removed (retention.py) are expected to be missing: the sealed
``record_deleted`` event lists their hashes, and they are reported as deleted, not lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailflow.store.archive import Archive
from mailflow.store.models import (
    Attachment,
    AuditChainHead,
    AuditEvent,
    InboundMail,
    OutboxMessage,
    Request,
)

from .chain import GENESIS, HEAD_ID, event_hash

Progress = Callable[[str, int, int | None], None]
#: sealed events read per round trip
CHUNK = 5000


@dataclass(frozen=True)
class Problem:
    """``kind``: file_missing, file_altered, event_altered, event_missing, chain_broken,
    head_mismatch; ``subject``: the file's hash or the event's seq; ``detail``: what
    refers to it, in words."""

    kind: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject} ({self.detail})"


@dataclass(frozen=True)
class VerifyReport:
    files_checked: int
    events_checked: int
    unsealed: int
    problems: tuple[Problem, ...]
    deleted_files: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stored_files(session: Session) -> dict[str, str]:
    """Every archived hash the database refers to, and what refers to it (first seen)."""
    refs: dict[str, str] = {}
    for mail_id, digest in session.execute(select(InboundMail.id, InboundMail.sha256)):
        refs.setdefault(digest, f"raw mail {mail_id}")
    for att_id, mail_id, name, digest in session.execute(
            select(Attachment.id, Attachment.mail_id, Attachment.filename, Attachment.sha256)):
        refs.setdefault(digest, f"attachment {att_id} {name!r} of mail {mail_id}")
    for outbox_id, digest in session.execute(
            select(OutboxMessage.id, OutboxMessage.archive_sha256)
            .where(OutboxMessage.archive_sha256 != "")):
        refs.setdefault(digest, f"sent mail {outbox_id}")
    return refs


def deleted_files(session: Session) -> set[str]:
    """Hashes of files removed by confirmed retention deletions."""
    out: set[str] = set()
    for (detail,) in session.execute(select(AuditEvent.detail)
                                     .where(AuditEvent.action == "record_deleted")):
        out.update(str(d) for d in (detail or {}).get("deleted_files", {}))
    return out


def check_files(session: Session, archive: Archive, progress: Progress | None = None
                ) -> tuple[int, int, list[Problem]]:
    refs = stored_files(session)
    gone = deleted_files(session)
    problems: list[Problem] = []
    deleted = 0
    for number, (digest, what) in enumerate(sorted(refs.items()), start=1):
        path = archive.path_for(digest)
        if not path.exists():
            if digest in gone:
                deleted += 1
            else:
                problems.append(Problem("file_missing", digest, f"{what}; expected at {path}"))
        elif _file_hash(path) != digest:
            problems.append(Problem("file_altered", digest, f"{what}; {path} no longer "
                                    "hashes to its name"))
        if progress is not None and (number % 200 == 0 or number == len(refs)):
            progress("checking files", number, len(refs))
    return len(refs), deleted, problems


def _sealed(session: Session) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.execute(select(AuditEvent).where(AuditEvent.seq > last)
                               .order_by(AuditEvent.seq).limit(CHUNK)).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq or last
        session.expunge_all()


def check_chain(session: Session, progress: Progress | None = None
                ) -> tuple[int, int, list[Problem]]:
    head = session.get(AuditChainHead, HEAD_ID)
    head_seq = head.seq if head else 0
    problems: list[Problem] = []
    expected_seq, prev = 1, GENESIS
    checked = 0
    for event in _sealed(session):
        seq = event.seq or 0
        what = f"event id {event.id} {event.action!r} at {event.at.isoformat()}"
        if seq > expected_seq:
            missing = (f"seq {expected_seq}" if seq == expected_seq + 1
                       else f"seq {expected_seq}-{seq - 1}")
            problems.append(Problem("event_missing", missing,
                                    f"deleted from the audit trail (before {what})"))
            prev = event.prev_hash or prev  # go on from what this event says came before
        elif event.prev_hash != prev:
            problems.append(Problem("chain_broken", f"seq {seq}",
                                    f"{what} does not follow the event sealed before it "
                                    "(reordered, or the one before was altered)"))
        values = {"id": event.id, "seq": seq, "at": event.at, "actor": event.actor,
                  "action": event.action, "request_id": event.request_id,
                  "mail_id": event.mail_id, "outbox_id": event.outbox_id,
                  "detail": event.detail}
        if event_hash(event.prev_hash or "", values) != event.hash:
            problems.append(Problem("event_altered", f"seq {seq}",
                                    f"{what}: its content no longer matches its hash"))
        prev = event.hash or ""
        expected_seq = seq + 1
        checked += 1
        if progress is not None and checked % 1000 == 0:
            progress("checking the audit chain", checked, head_seq)
    last_seq = expected_seq - 1
    if last_seq < head_seq:
        problems.append(Problem("event_missing", f"seq {last_seq + 1}-{head_seq}"
                                if head_seq > last_seq + 1 else f"seq {head_seq}",
                                "the newest sealed events were deleted (the chain head "
                                f"says {head_seq})"))
    elif head is not None and last_seq == head_seq and head.hash != prev:
        problems.append(Problem("head_mismatch", f"seq {head_seq}",
                                "the newest sealed event differs from the chain head"))
    unsealed = int(session.execute(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.seq.is_(None))).scalar_one())
    if progress is not None:
        progress("checking the audit chain", checked, head_seq)
    return checked, unsealed, problems


def verify(session: Session, archive: Archive, progress: Progress | None = None
           ) -> VerifyReport:
    files, deleted, file_problems = check_files(session, archive, progress)
    events, unsealed, chain_problems = check_chain(session, progress)
    return VerifyReport(files, events, unsealed, tuple(file_problems + chain_problems),
                        deleted)


def deleted_references(session: Session) -> set[str]:
    """References of requests deleted by retention (they are listed, not checked)."""
    return set(session.execute(select(Request.reference)
                               .where(Request.status == "deleted")).scalars())

