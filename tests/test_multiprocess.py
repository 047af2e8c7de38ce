"""Issue 7: several mailflow processes on one PostgreSQL database and one mailbox.

Three `mailflow run` processes share the mailbox and the database. The ``mailbox`` lease
(store/lease.py) lets exactly one of them read mail; all of them drain the outbox, whose rows
are claimed with ``FOR UPDATE SKIP LOCKED`` plus a ``claimed_until`` lease (store/outbox.py).
While 60 mails stream in, the reading process is killed with SIGKILL twice (and restarted,
as systemd would): another takes over, nothing is lost, nothing is answered twice (apart from
the documented at-least-once window, at most one reply per kill, with the same Message-ID).

The database-level tests below check the pieces that make this true, with real concurrent
transactions: outbox claims never overlap, reference numbers stay unique and gap-free, and a
lease is taken over at once from a dead holder on this machine, only after expiry otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from mailflow.clock import SystemClock
from mailflow.mail.sources import FetchedMail, Target, make_source
from mailflow.service import MAILBOX_LEASE, Service
from mailflow.store import lease, outbox
from mailflow.store.db import (
    current_revision,
    make_engine,
    session_factory,
    transaction,
    upgrade,
)
from mailflow.store.models import AuditEvent, Lease, OutboxMessage, ReferenceCounter
from mailflow.store.references import next_reference
from mailflow_testing import SmtpServer, mailbuild
from tests.stack import SERVICE, stack_settings
from tests.test_crash import make_mails, tuned, verify_exactly_once
from tests.test_outage import MailflowRun, wait_until, write_config

REPO = Path(__file__).resolve().parents[1]

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def holder_pid(url: str) -> int | None:
    """The pid in the mailbox lease's holder ("host:pid:where-n"), if anyone holds it."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            row = session.get(Lease, MAILBOX_LEASE)
    except DBAPIError:  # no tables yet: the processes are still starting
        return None
    finally:
        engine.dispose()
    return int(row.holder.split(":")[1]) if row is not None else None


def readers_in_turn(url: str, killed_pids: set[int]) -> list[int]:
    """"One reader at a time", from the database (issue 19): the mailbox lease's history in
    the audit trail, and who took each mail in. Every mail was taken in by the process that
    held the lease then, once; the lease only changed hands when it was free, had run out,
    or its holder had been killed. Returns the pids of the readers in turn."""
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            events = session.execute(
                select(AuditEvent).where(AuditEvent.action.in_(
                    ("lease_taken", "lease_released", "mail_received")))
                .order_by(AuditEvent.id)).scalars().all()
    finally:
        engine.dispose()
    holder: str | None = None
    readers: list[int] = []
    taken: Counter[int | None] = Counter()
    for event in events:
        detail = event.detail or {}
        if event.action == "mail_received":
            assert detail.get("by") == holder, \
                f"mail {event.mail_id} taken in by {detail.get('by')} while {holder} held the lease"
            taken[event.mail_id] += 1
            pid = int(str(holder).split(":")[1])
            if not readers or readers[-1] != pid:
                readers.append(pid)
        elif detail.get("lease") != MAILBOX_LEASE:
            continue
        elif event.action == "lease_taken":
            previous = str(detail.get("previous") or "")
            if previous:
                allowed = detail.get("previous_expired") or (
                    detail.get("previous_dead") and int(previous.split(":")[1]) in killed_pids)
                assert allowed, f"{event.actor} took the mailbox from live {previous}"
            assert previous == (holder or ""), f"lease history broken at {event.id}"
            holder = event.actor
        elif event.actor == holder:  # released
            holder = None
    assert taken and max(taken.values()) == 1, "a mail taken in twice"
    return readers


class SlowRelay(SmtpServer):
    """A relay that takes a while per mail when asked (*delay*), as real ones do: a backlog
    then takes seconds to send, so every process polling the outbox meets it."""

    delay = 0.0

    def _record(self, mail: Any) -> None:
        time.sleep(self.delay)
        super()._record(mail)


BURST = 60


def burst(url: str, count: int) -> None:
    """*count* notices due now in the outbox, as the due work of a morning would queue."""
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            now = datetime.now(UTC)
            for i in range(count):
                raw = (f"From: {SERVICE}\r\nTo: staff{i}@example.test\r\nSubject: reminder\r\n"
                       f"Message-ID: <burst{i}@example.test>\r\n\r\nreminder {i}\r\n").encode()
                outbox.enqueue(session, now=now, message_id=f"<burst{i}@example.test>",
                               purpose="burst", recipients=[f"staff{i}@example.test"],
                               subject="reminder", raw=raw)
    finally:
        engine.dispose()


@pytest.fixture
def slow_relay() -> Iterator[SlowRelay]:
    server = SlowRelay()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_three_processes_one_reader_survive_two_kills_of_the_reader(
    mailstack: Any, slow_relay: SlowRelay, postgres_url: str, tmp_path: Path
) -> None:
    dovecot, sink = mailstack.dovecot, slow_relay
    settings = tuned(stack_settings(dovecot, sink, postgres_url, tmp_path, poll_interval=2.0,
                                    replies_per_hour=1000), fetch_batch=5, lease_seconds=6)
    config = write_config(settings, tmp_path / "config.toml")
    runs = {name: MailflowRun(config, tmp_path / f"{name}.log") for name in ("p1", "p2", "p3")}

    def live_pids() -> dict[int, str]:
        return {run.pid: name for name, run in runs.items() if run.alive()}

    mails = make_mails(60, "mp-")
    killed: list[str] = []
    holders: set[str] = set()
    takeover: list[float] = []  # seconds from a kill to the next holder (reported, not judged)
    try:
        wait_until(lambda: holder_pid(postgres_url) in live_pids(), 120,
                   "one of the three processes holding the mailbox")
        for group in range(20):  # 60 mails, 3 every ~0.5 s
            dovecot.append_many(SERVICE, mails[3 * group:3 * group + 3])
            pid = holder_pid(postgres_url)
            if pid in live_pids():
                holders.add(live_pids()[pid])
            if group in (6, 13):
                assert pid is not None
                victim = live_pids()[pid]
                runs[victim].kill()  # kill -9 the reader, mid-stream
                killed.append(victim)
                t_kill = time.monotonic()
                replacement = f"p{len(runs) + 1}"  # systemd would restart it
                runs[replacement] = MailflowRun(config, tmp_path / f"{replacement}.log")
                wait_until(lambda: holder_pid(postgres_url) in live_pids(), 30,
                           f"another process taking over from {victim}")
                takeover.append(round(time.monotonic() - t_kill, 2))
            time.sleep(0.5)
        wait_until(lambda: len({m.parsed()["Message-ID"] for m in sink.messages}) >= 60
                   and dovecot.count(SERVICE, "INBOX") == 0, 120, "all 60 replies")
        # exactly once, from what the SMTP server received (and the database's records)
        tally = verify_exactly_once(settings, mails, sink, dovecot)
        # every process sends: a burst of notices (as the approval reminders of a morning)
        # lands in the shared outbox; each process claims its share at its next round
        before = len(sink.messages)
        slow_relay.delay = 0.12
        burst(postgres_url, BURST)
        wait_until(lambda: len(sink.messages) >= before + BURST, 60, "the burst sent")
    finally:
        codes: dict[str, int | str] = {}
        for name, run in runs.items():
            if name not in killed:
                try:
                    codes[name] = run.stop()
                except AssertionError as exc:  # stop the others all the same
                    codes[name] = str(exc)[:200]
    logs = "\n".join(f"--- {n}\n{r.output()[-2500:]}" for n, r in runs.items())
    assert set(codes.values()) == {0}, f"{codes}\n{logs}"

    # each kill can leave at most the one reply in flight unmarked: sent again, same Message-ID
    assert tally.duplicates <= len(killed), tally
    # one reader at a time, from the lease history and who took each mail in; only a kill
    # handed the mailbox on
    pid_names = {run.pid: name for name, run in runs.items()}
    killed_pids = {runs[name].pid for name in killed}
    readers = [pid_names.get(pid, str(pid)) for pid in readers_in_turn(postgres_url,
                                                                        killed_pids)]
    assert len(readers) == len(set(readers)) <= len(killed) + 1, readers
    assert set(readers) <= holders | set(killed)
    # every process sends: the outbox is shared by all of them, not only the reader's
    engine = make_engine(postgres_url)
    with session_factory(engine)() as session:
        senders = Counter(
            pid_names.get(int(w.split(":")[1]), w) for w in session.execute(
                select(OutboxMessage.claimed_by).where(OutboxMessage.status == "sent")
                .where(OutboxMessage.purpose == "burst"))
            .scalars()
        )
    engine.dispose()
    survivors = [name for name in runs if name not in killed]
    assert all(senders[name] > 0 for name in survivors), (senders, survivors)
    print(f"\nreaders in turn {readers}, killed {killed}, take-over after {takeover} s, {tally},"
          f" replies sent by {dict(senders)}")


# -- the pieces, with concurrent transactions on PostgreSQL ----------------------------------

UPGRADE_AT_THE_SIGNAL = """
import sys, time
from pathlib import Path
from mailflow.store.db import make_engine, upgrade
Path(sys.argv[2] + ".ready" + sys.argv[3]).touch()
while not Path(sys.argv[2]).exists():
    time.sleep(0.005)
upgrade(make_engine(sys.argv[1]))
"""


def test_processes_starting_together_migrate_the_database_once(
    database_url: str, tmp_path: Path
) -> None:
    """Three processes starting at once on a new database (systemd starting three units):
    each runs the migrations on start; all must come up, none fail on a duplicate table."""
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", UPGRADE_AT_THE_SIGNAL, database_url,
                               str(go), str(i)], cwd=REPO, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    try:
        wait_until(lambda: len(list(tmp_path.glob("go.ready*"))) == 3, 60, "three importers")
        go.touch()
        results = [(p.wait(timeout=60), p.stderr.read() if p.stderr else "") for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [code for code, _ in results] == [0, 0, 0], results
    engine = make_engine(database_url)
    assert current_revision(engine) is not None
    engine.dispose()


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def queue(engine: Engine, n: int) -> None:
    with transaction(session_factory(engine)) as session:
        for i in range(n):
            outbox.enqueue(session, now=NOW, message_id=f"<m{i}@example.test>", purpose="test",
                           recipients=[f"r{i}@example.test"], subject=f"s{i}", raw=b"x")


def test_outbox_claims_of_concurrent_drains_never_overlap(pg_engine: Engine) -> None:
    """Two claims at the same moment: SKIP LOCKED gives each its own rows; after the commit
    claimed_until keeps them apart; four workers draining 120 rows send each exactly once."""
    queue(pg_engine, 120)
    factory = session_factory(pg_engine)
    lease_time = timedelta(minutes=5)
    with factory() as first, first.begin():
        mine = outbox.claim_due(first, now=NOW, worker="w1", limit=10, lease=lease_time)
        with factory() as second, second.begin():  # while the first still holds its locks
            # a claim that waited for them would fail in seconds (lock_timeout), not hang
            theirs = outbox.claim_due(second, now=NOW, worker="w2", limit=10, lease=lease_time)
    assert len(mine) == len(theirs) == 10
    assert not {i.id for i in mine} & {i.id for i in theirs}

    sent: list[int] = []
    lock = threading.Lock()

    def drain(worker: str) -> None:
        while True:
            with transaction(factory) as session:
                items = outbox.claim_due(session, now=NOW, worker=worker, limit=3,
                                         lease=lease_time)
            if not items:
                return
            for item in items:
                with transaction(factory) as session:
                    outbox.mark_sent(session, item.id, now=NOW, archive_sha256="0" * 64)
                with lock:
                    sent.append(item.id)

    threads = [threading.Thread(target=drain, args=(f"d{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Counter(sent).most_common(1)[0][1] == 1  # nobody sent a row twice
    assert len(sent) == 100  # 120 minus the 20 still claimed by w1 and w2 above


DRAINER = """
import json, sys, time
from datetime import datetime, timedelta, UTC
from pathlib import Path
from mailflow.store import outbox
from mailflow.store.db import make_engine, session_factory, transaction
factory = session_factory(make_engine(sys.argv[1]))
now = datetime.fromisoformat(sys.argv[2])
Path(sys.argv[3] + ".ready").touch()
while not Path(sys.argv[4]).exists():
    time.sleep(0.005)
sent = []
while True:
    with transaction(factory) as session:
        items = outbox.claim_due(session, now=now, worker=sys.argv[3], limit=3,
                                 lease=timedelta(minutes=5))
    if not items:
        break
    for item in items:
        with transaction(factory) as session:
            outbox.mark_sent(session, item.id, now=now, archive_sha256="0" * 64)
        sent.append(item.id)
Path(sys.argv[3]).write_text(json.dumps(sent))
"""


def test_outbox_claims_raced_by_real_processes_send_each_row_once(
    pg_engine: Engine, postgres_url: str, tmp_path: Path
) -> None:
    """Four processes (not threads) drain one outbox at the same moment: every row is sent
    exactly once, by one of them, and each gets its share (no one waits on another's row
    locks: SKIP LOCKED). A claim that did wait would fail within seconds (lock_timeout)."""
    queue(pg_engine, 200)
    go = tmp_path / "go"
    names = [tmp_path / f"drainer{i}" for i in range(4)]
    procs = [subprocess.Popen([sys.executable, "-c", DRAINER, postgres_url, NOW.isoformat(),
                               str(name), str(go)], cwd=REPO, stderr=subprocess.PIPE,
                              text=True) for name in names]
    try:
        wait_until(lambda: all(Path(f"{n}.ready").exists() for n in names), 60,
                   "four drainers started")
        go.touch()
        results = [(p.wait(timeout=60), p.stderr.read() if p.stderr else "") for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    sent = {n.name: json.loads(n.read_text()) for n in names}
    every = [row for rows in sent.values() for row in rows]
    assert sorted(every) == sorted(set(every)) and len(every) == 200
    assert all(rows for rows in sent.values()), {k: len(v) for k, v in sent.items()}


def test_reference_numbers_unique_and_gap_free_under_concurrency(pg_engine: Engine) -> None:
    factory = session_factory(pg_engine)
    with transaction(factory) as session:
        session.add(ReferenceCounter(year=2026, last=0))
    taken: list[str] = []
    lock = threading.Lock()

    def take(n: int) -> None:
        for _ in range(n):
            with transaction(factory) as session:
                ref = next_reference(session, "REQ", 2026)
                time.sleep(0.001)  # hold the row lock a moment: the others queue behind it
            with lock:
                taken.append(ref)

    threads = [threading.Thread(target=take, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(taken) == [f"REQ-2026-{i:06d}" for i in range(1, 101)]


def _race_first_number_of_a_year(engine: Engine, year: int) -> list[str]:
    """Two transactions take the first number of *year* at once; the second is made to
    reach its INSERT while the first has inserted the counter row but not committed."""
    factory = session_factory(engine)
    inserted = threading.Event()
    results: list[str] = []
    errors: list[BaseException] = []

    def second() -> None:
        inserted.wait(10)
        try:
            with transaction(factory) as session:
                results.append(next_reference(session, "REQ", year))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    with transaction(factory) as session:
        results.append(next_reference(session, "REQ", year))
        inserted.set()
        deadline = time.monotonic() + 10
        with engine.connect() as probe:  # commit only once the second waits on our row
            while time.monotonic() < deadline and not probe.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()")).scalar_one():
                time.sleep(0.01)
                probe.rollback()
    thread.join(timeout=30)
    if errors:
        raise errors[0]
    return sorted(results)


def test_first_reference_number_of_a_year_cannot_race(pg_engine: Engine) -> None:
    assert _race_first_number_of_a_year(pg_engine, 2999) == [
        "REQ-2999-000001", "REQ-2999-000002"]


# -- the mailbox lease: a dead holder here at once, anyone else only after expiry ------------

def test_lease_taken_from_a_dead_holder_at_once_from_others_after_expiry(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    factory = session_factory(engine)
    ttl = timedelta(seconds=15)
    me = lease.worker_identity()
    host, _, tail = me.split(":")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        cases = {
            # another machine (or an old-style name): trusted until its lease runs out
            "other": "elsewhere:4242:0badcafe-1",
            "old": f"{host}:4242",
            # this machine, a live process
            "alive": f"{host}:{sleeper.pid}:{tail}",
        }
        for name, holder in cases.items():
            assert lease.try_acquire(factory, name, holder, NOW, ttl)
            assert not lease.try_acquire(factory, name, me, NOW + ttl / 2, ttl), name
            assert lease.try_acquire(factory, name, me, NOW + ttl * 1.1, ttl), name
        # this machine, killed with SIGKILL: taken over at once, long before expiry
        sleeper.send_signal(signal.SIGKILL)
        sleeper.wait()
        assert lease.try_acquire(factory, "dead", cases["alive"], NOW, ttl) is True
        assert lease.try_acquire(factory, "dead", me, NOW + timedelta(seconds=1), ttl)
        assert lease.holder_of(factory, "dead", NOW + timedelta(seconds=2)) == me
    finally:
        with contextlib.suppress(ProcessLookupError):
            sleeper.kill()
        sleeper.wait()
        engine.dispose()


def test_run_once_leaves_the_mailbox_to_a_live_holder_and_only_sends(
    mailstack: Any, smtp_server: SmtpServer, sqlite_url: str, tmp_path: Path
) -> None:
    dovecot = mailstack.dovecot
    settings = stack_settings(dovecot, smtp_server, sqlite_url, tmp_path)
    dovecot.append(SERVICE, mailbuild.human_mail(sender="a@example.test", to=SERVICE,
                                                 subject="等一等", body="…"))
    holder = Service(settings, SystemClock())
    cron = Service(settings, SystemClock())
    try:
        assert lease.try_acquire(holder.factory, MAILBOX_LEASE, holder.worker,
                                 datetime.now(UTC), timedelta(seconds=60))
        report = cron.run_once()  # `mailflow run --once` from cron beside a running service
        assert report.intake.taken_in == 0
        assert dovecot.count(SERVICE, "INBOX") == 1
        lease.release(holder.factory, MAILBOX_LEASE, holder.worker)
        assert cron.run_once().intake.taken_in == 1
        assert os.getpid() == int(cron.worker.split(":")[1])
    finally:
        holder.close()
        cron.close()
    assert len(smtp_server.wait_for(1)) == 1


def test_a_long_intake_pass_keeps_the_lease_a_standby_waits(
    mailstack: Any, smtp_server: SmtpServer, sqlite_url: str, tmp_path: Path
) -> None:
    """A pass longer than lease_seconds (a backlog, slow conversions) renews the lease as it
    goes: a standby asking all the while gets the mailbox only once the pass is over."""
    dovecot = mailstack.dovecot
    settings = tuned(stack_settings(dovecot, smtp_server, sqlite_url, tmp_path,
                                    replies_per_hour=1000), fetch_batch=2, lease_seconds=3)
    dovecot.append_many(SERVICE, make_mails(10, "slow-"))
    # each mail takes 0.4 s more (like a legacy .doc conversion): the pass lasts > 4 s
    reader = Service(settings, SystemClock(), after_commit=lambda _uid: time.sleep(0.4))
    standby = Service(settings, SystemClock())
    reports: list[Any] = []
    thread = threading.Thread(target=lambda: reports.append(reader.run_once()))
    try:
        thread.start()
        wait_until(lambda: lease.holder_of(standby.factory, MAILBOX_LEASE,
                                           datetime.now(UTC)) == reader.worker,
                   30, "the reader holding the mailbox")
        asking = time.monotonic()
        while not lease.try_acquire(standby.factory, MAILBOX_LEASE, standby.worker,
                                    datetime.now(UTC), timedelta(seconds=3)):
            time.sleep(0.1)
        refused_for = time.monotonic() - asking
        # got it: only because the pass is over (everything moved out of the INBOX)
        assert dovecot.count(SERVICE, "INBOX") == 0
        lease.release(standby.factory, MAILBOX_LEASE, standby.worker)
    finally:
        thread.join(timeout=60)
        reader.close()
        standby.close()
    assert reports[0].intake.taken_in == 10
    # the pass (10 x 0.4 s of sleeps alone) outlasted the 3 s lease; without renewal the
    # standby would have got in after 3 s, with mail still in the INBOX
    assert refused_for > settings.service.lease_seconds


def test_a_reply_claimed_elsewhere_does_not_make_the_reader_spin(
    mailstack: Any, smtp_server: SmtpServer, sqlite_url: str, tmp_path: Path
) -> None:
    """A reply claimed by a process on another machine (alive, or dead and not yet expired)
    is due only when the claim runs out; the reader waits for mail meanwhile instead of
    polling the mailbox and the database as fast as it can."""
    settings = stack_settings(mailstack.dovecot, smtp_server, sqlite_url, tmp_path,
                              poll_interval=30.0)
    passes: list[float] = []

    class CountingSource:
        def __init__(self) -> None:
            self.inner = make_source(settings.mailbox)
            self.source_key = ""

        def open(self) -> None:
            self.inner.open()
            self.source_key = self.inner.source_key

        def batches(self, size: int) -> Iterator[list[FetchedMail]]:
            passes.append(time.monotonic())
            return self.inner.batches(size)

        def move(self, uids: Sequence[str], target: Target) -> None:
            self.inner.move(uids, target)

        def wait(self, timeout: float) -> bool:
            return self.inner.wait(timeout)

        def close(self) -> None:
            self.inner.close()

    service = Service(settings, SystemClock(), source=CountingSource())
    now = datetime.now(UTC)
    with transaction(service.factory) as session:
        outbox.enqueue(session, now=now, message_id="<claimed@example.test>", purpose="test",
                       recipients=["x@example.test"], subject="s", raw=b"x")
        outbox.claim_due(session, now=now, worker="elsewhere:4242:0badcafe-1", limit=1,
                         lease=timedelta(minutes=5))
    runner = threading.Thread(target=service.run_forever, kwargs={"install_signals": False})
    runner.start()
    time.sleep(2.5)
    service.request_stop()
    mailstack.dovecot.append(SERVICE, make_mails(1, "wake-")[0])  # end the IDLE wait now
    runner.join(timeout=30)
    assert not runner.is_alive()
    assert 1 <= len(passes) <= 2, f"{len(passes)} passes in 2.5 s"
