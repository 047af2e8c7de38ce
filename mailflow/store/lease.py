"""A named lease in the database: with several mailflow processes, one reads the mailbox.

The holder renews it on every loop; when it dies the lease runs out and another process takes
over within ``ttl``. Row locks make take-over race-free on PostgreSQL; on SQLite the write lock
serialises it (SQLite itself is single-host, see docs/deployment.md).

A holder is named ``host:pid:where`` (see ``worker_identity``). When ``where`` (kernel boot +
PID namespace) is ours, the pid can be asked directly: a holder killed with ``kill -9`` on
this machine is known dead at once, so a restarted process takes its lease (and its outbox
claims) without waiting for the ttl. A holder elsewhere is only ever trusted to the ttl.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import socket
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailflow.store import audit
from mailflow.store.models import Lease, db_time, utc

_instances = itertools.count(1)


@cache
def _where() -> str:
    """Names this kernel boot and PID namespace: where a pid means the same process.

    Containers on one host share the boot id but not the PID namespace; two machines (or
    one machine after a reboot) differ in the boot id. Empty where neither can be read:
    then no holder is ever judged by its pid.
    """
    parts = []
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    with contextlib.suppress(OSError):
        parts.append(str(Path("/proc/self/ns/pid").readlink()))
    if len(parts) < 2:
        return ""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


def worker_identity() -> str:
    """``host:pid:where-n``: unique per Service instance; readable in the lease table."""
    host = socket.gethostname().replace(":", "_")[:120]
    return f"{host}:{os.getpid()}:{_where() or 'x'}-{next(_instances)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    with contextlib.suppress(OSError, IndexError):
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        return state != "Z"  # killed, not yet reaped by its parent: dead
    return True


def holder_is_dead(holder: str) -> bool:
    """True only when *holder* ran in our boot and PID namespace and its pid is gone.

    Anything else (another host, an old name format, a pid that exists, this very
    process) is "maybe alive": the caller waits for the ttl. A reused pid only delays.
    """
    parts = holder.split(":")
    if len(parts) != 3 or not _where():
        return False
    _host, pid_text, tail = parts
    if tail.split("-", 1)[0] != _where() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    return pid != os.getpid() and not _pid_alive(pid)


def try_acquire(
    factory: sessionmaker[Session], name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew *name* for *holder*; False while someone else holds a live lease."""
    try:
        with factory() as session, session.begin():
            row = session.execute(
                select(Lease).where(Lease.name == name).with_for_update()
            ).scalar_one_or_none()
            if row is None:
                session.add(Lease(name=name, holder=holder, expires_at=db_time(now + ttl)))
                _taken(session, name, holder, now, previous="", expired=True, dead=False)
                return True
            if row.holder != holder:
                expired = utc(row.expires_at) <= now
                dead = not expired and holder_is_dead(row.holder)
                if not expired and not dead:
                    return False
                _taken(session, name, holder, now, previous=row.holder, expired=expired,
                       dead=dead)
            row.holder = holder
            row.expires_at = db_time(now + ttl)
            return True
    except IntegrityError:
        return False  # another process inserted it at the same moment


def _taken(session: Session, name: str, holder: str, now: datetime, *, previous: str,
           expired: bool, dead: bool) -> None:
    """The lease's history in the audit trail (issue 19): who took it from whom and why that
    was allowed (free, run out, or its holder dead), so "one reader at a time" can be
    checked from the database, not from log lines. Renewals are not recorded."""
    session.flush()
    audit.record(session, now, "lease_taken", actor=holder, lease=name, previous=previous,
                 previous_expired=expired, previous_dead=dead)


def release(factory: sessionmaker[Session], name: str, holder: str) -> None:
    with factory() as session, session.begin():
        result = session.execute(
            delete(Lease).where(Lease.name == name, Lease.holder == holder))
        if getattr(result, "rowcount", 0):
            audit.record(session, datetime.now(UTC), "lease_released", actor=holder,
                         lease=name)


def holder_of(factory: sessionmaker[Session], name: str, now: datetime) -> str | None:
    with factory() as session:
        row = session.get(Lease, name)
        return row.holder if row is not None and utc(row.expires_at) > now else None
