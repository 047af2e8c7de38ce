"""Due work (workflow/due.py): scheduled in the database, done exactly once at clock.now()."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from mailflow.clock import FixedClock, clock_from
from mailflow.config import MailboxSettings, Settings, StorageSettings
from mailflow.mail.compose import new_message_id
from mailflow.service import Service
from mailflow.store import outbox
from mailflow.store.db import make_engine, session_factory, transaction, upgrade
from mailflow.store.models import AuditEvent, DueWork, OutboxMessage, db_time, utc
from mailflow.store.rows import insert_row
from mailflow.workflow.due import DueRunner, backoff, cancel, pending, schedule

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 9, 30, 10, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


def record(action: str) -> object:
    """A handler that records one audit event per row it does."""

    def handler(session: Session, row: DueWork, now: datetime) -> None:
        insert_row(session, AuditEvent(at=db_time(now), actor="test", action=action,
                                       detail={"due_id": row.id, "key": row.key}))

    return handler


def events(factory: sessionmaker[Session], action: str) -> list[AuditEvent]:
    with factory() as session:
        return list(session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars())


def test_schedule_is_idempotent_and_moves_pending_work(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        a = schedule(s, kind="reminder", due_at=T0, key="step-1", payload={"n": 1})
        b = schedule(s, kind="reminder", due_at=T0 + timedelta(hours=2), key="step-1",
                     payload={"n": 2})
        other = schedule(s, kind="reminder", due_at=T0, key="step-2")
        assert a.id == b.id != other.id
    with transaction(factory) as s:
        c = schedule(s, kind="reminder", due_at=T0 + timedelta(hours=3), key="step-1")
        assert c.id == a.id
    with factory() as s:
        rows = pending(s, kind="reminder")
        assert [(r.key, utc(r.due_at), r.payload) for r in rows] == [
            ("step-2", T0, {}),
            ("step-1", T0 + timedelta(hours=3), {"n": 2}),  # payload kept when none given
        ]


def test_unique_key_holds_without_a_request_too(factory: sessionmaker[Session]) -> None:
    """(kind, NULL, key) is one row: the index counts a missing request as 0."""
    from sqlalchemy.exc import IntegrityError

    with transaction(factory) as s:
        schedule(s, kind="weekly_meeting", due_at=T0)
    with pytest.raises(IntegrityError), transaction(factory) as s:
        s.add(DueWork(kind="weekly_meeting", request_id=None, key="", due_at=db_time(T0),
                      payload={}, status="pending", attempts=0, last_error="", claimed_by="",
                      created_at=db_time(T0)))
        s.flush()


def test_cancel_by_kind_request_and_key(factory: sessionmaker[Session]) -> None:
    runner = DueRunner({"notice": record("did_notice")}, "w1")  # type: ignore[dict-item]
    with transaction(factory) as s:
        schedule(s, kind="notice", due_at=T0 + timedelta(days=1), key="change")
        schedule(s, kind="notice", due_at=T0 + timedelta(days=1), key="result")
        schedule(s, kind="notice", due_at=T0 - timedelta(hours=1), key="done-before")
        schedule(s, kind="reminder", due_at=T0 + timedelta(days=1), key="change")
    assert runner.run_due(factory, T0) == 1  # done-before
    with transaction(factory) as s:
        assert cancel(s, kind="notice", key="change") == 1
        assert cancel(s, kind="notice", key="change") == 0
        assert cancel(s, kind="notice") == 1  # "result"; the done row stays done
    with factory() as s:
        statuses = {(r.kind, r.key): r.status for r in s.execute(select(DueWork)).scalars()}
    assert statuses == {("notice", "change"): "cancelled", ("notice", "result"): "cancelled",
                        ("notice", "done-before"): "done", ("reminder", "change"): "pending"}
    # scheduling cancelled work again revives it; done work is never redone
    with transaction(factory) as s:
        assert schedule(s, kind="notice", due_at=T0, key="change").status == "pending"
        assert schedule(s, kind="notice", due_at=T0, key="done-before").status == "done"
    assert runner.run_due(factory, T0 + timedelta(days=2)) == 1
    assert [e.detail["key"] for e in events(factory, "did_notice")] == ["done-before", "change"]


def service_for(database_url: str, tmp_path: Path, now: str) -> Service:
    settings = Settings(
        mailbox=MailboxSettings(source="maildir", maildir_path=tmp_path / "maildir"),
        storage=StorageSettings(database_url=database_url, data_dir=tmp_path / "data"),
    )
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "maildir" / sub).mkdir(parents=True, exist_ok=True)
    return Service(settings, clock_from(now))


def test_run_once_with_now_does_what_is_due_then_sends_what_it_queued(
    database_url: str, tmp_path: Path
) -> None:
    """`run --once --now T`: work due at T is done, later work waits, and a notice a handler
    queues leaves in the same pass (due work runs before the outbox is sent)."""

    def notify(session: Session, row: DueWork, now: datetime) -> None:
        outbox.enqueue(session, now=now, message_id=new_message_id("example.test"),
                       purpose="test_notice", recipients=["a@example.test"],
                       subject=row.key, raw=f"Subject: {row.key}\r\n\r\nhi\r\n".encode())

    first = service_for(database_url, tmp_path, "2025-09-30T10:00+08:00")
    try:
        first.register_due_handler("test_notice", notify)
        with transaction(first.factory) as s:
            schedule(s, kind="test_notice", key="early",
                     due_at=datetime.fromisoformat("2025-09-30T09:59+08:00"))
            schedule(s, kind="test_notice", key="late",
                     due_at=datetime.fromisoformat("2025-10-09T16:00+08:00"))
        report = first.run_once()
        assert report.due_done == 1
        assert report.delivery.sent == 1
        assert first.run_once().due_done == 0  # nothing twice
    finally:
        first.close()

    later = service_for(database_url, tmp_path, "2025-10-09T16:00+08:00")
    try:
        later.register_due_handler("test_notice", notify)
        report = later.run_once()
        assert (report.due_done, report.delivery.sent) == (1, 1)
        with later.factory() as s:
            sent = list(s.execute(select(OutboxMessage.subject).order_by(OutboxMessage.id))
                        .scalars())
        assert sent == ["early", "late"]
        assert isinstance(later.clock, FixedClock)
    finally:
        later.close()


def test_a_failing_handler_rolls_back_backs_off_and_never_stops_the_others(
    factory: sessionmaker[Session],
) -> None:
    failing = {"on": True}

    def flaky(session: Session, row: DueWork, now: datetime) -> None:
        insert_row(session, AuditEvent(at=db_time(now), actor="test", action="flaky_wrote",
                                       detail={"key": row.key}))
        if failing["on"] and row.key == "bad":
            raise RuntimeError("directory has no manager")

    runner = DueRunner({"job": flaky}, "w1")
    with transaction(factory) as s:
        for key in ("a", "bad", "c"):
            schedule(s, kind="job", key=key, due_at=T0)
    assert runner.run_due(factory, T0) == 2
    assert sorted(e.detail["key"] for e in events(factory, "flaky_wrote")) == ["a", "c"]
    with factory() as s:
        (bad,) = pending(s, kind="job")
    assert bad.key == "bad" and bad.attempts == 1
    assert "RuntimeError: directory has no manager" in bad.last_error
    assert utc(bad.due_at) == T0 + backoff(1)
    # backing off: not retried at once, retried once due again; still failing: longer wait
    assert runner.run_due(factory, T0 + timedelta(seconds=30)) == 0
    assert runner.run_due(factory, T0 + backoff(1)) == 0
    with factory() as s:
        (bad,) = pending(s, kind="job")
    assert bad.attempts == 2 and utc(bad.due_at) == T0 + backoff(1) + backoff(2)
    failing["on"] = False
    assert runner.run_due(factory, T0 + timedelta(hours=1)) == 1
    with factory() as s:
        assert pending(s, kind="job") == []
        row = s.execute(select(DueWork).where(DueWork.key == "bad")).scalar_one()
    assert (row.status, row.attempts, row.last_error) == ("done", 3, "")


def test_a_handler_may_move_its_own_row_to_run_again(factory: sessionmaker[Session]) -> None:
    """Recurring work (the weekly meeting notice): the handler schedules the next time."""

    def weekly(session: Session, row: DueWork, now: datetime) -> None:
        record("weekly")(session, row, now)  # type: ignore[operator]
        schedule(session, kind="weekly", due_at=utc(row.due_at) + timedelta(days=7))

    runner = DueRunner({"weekly": weekly}, "w1")
    with transaction(factory) as s:
        schedule(s, kind="weekly", due_at=T0)
    assert runner.run_due(factory, T0 + timedelta(days=15)) == 1  # once per call, not 3 times
    assert runner.run_due(factory, T0 + timedelta(days=15)) == 1
    assert runner.run_due(factory, T0 + timedelta(days=15)) == 1
    assert runner.run_due(factory, T0 + timedelta(days=15)) == 0
    with factory() as s:
        (row,) = pending(s, kind="weekly")
    assert utc(row.due_at) == T0 + timedelta(days=21)
    assert len(events(factory, "weekly")) == 3


def test_kinds_without_a_handler_are_left_for_another_process(
    factory: sessionmaker[Session],
) -> None:
    with transaction(factory) as s:
        schedule(s, kind="unknown_here", due_at=T0)
    assert DueRunner({"other": record("x")}, "w1").run_due(factory, T0) == 0  # type: ignore[dict-item]
    with factory() as s:
        (row,) = pending(s)
    assert row.claimed_by == ""


def test_two_processes_racing_do_each_row_exactly_once(
    database_url: str, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = 120
    with transaction(factory) as s:
        for n in range(rows):
            schedule(s, kind="race", key=str(n), due_at=T0 - timedelta(seconds=n))
    procs = [
        subprocess.Popen([sys.executable, "-m", "tests.due_race", database_url, f"w{i}",
                          T0.isoformat()], cwd=REPO, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
        for i in (1, 2)
    ]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    done = [int(o.strip().splitlines()[-1].removeprefix("done=")) for o in outputs]
    assert sum(done) == rows, done
    with factory() as s:
        ids = list(s.execute(select(AuditEvent.detail).where(AuditEvent.action == "due_race"))
                   .scalars())
        states = dict(s.execute(select(DueWork.status, func.count()).group_by(DueWork.status))
                      .all())
    assert sorted(d["due_id"] for d in ids) == sorted(set(d["due_id"] for d in ids))
    assert len(ids) == rows
    assert states == {"done": rows}


def test_a_process_killed_in_a_handler_leaves_the_row_to_be_done_once(
    database_url: str, factory: sessionmaker[Session]
) -> None:
    """kill -9 inside a handler: its writes roll back with it and the row, still claimed by
    the dead process, is freed at once by the next run on this machine and done once."""
    with transaction(factory) as s:
        schedule(s, kind="race", key="only", due_at=T0)
    proc = subprocess.run([sys.executable, "-m", "tests.due_race", database_url, "x",
                           T0.isoformat(), "crash"], cwd=REPO, capture_output=True,
                          timeout=120, check=False)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    with factory() as s:
        (row,) = s.execute(select(DueWork)).scalars()
        assert row.status == "pending" and row.claimed_until is not None  # the dead claim
    assert events(factory, "due_race") == []  # its write died with it
    assert DueRunner({"race": record("due_race")}, "w-after").run_due(  # type: ignore[dict-item]
        factory, T0) == 1
    assert len(events(factory, "due_race")) == 1
    with factory() as s:
        assert s.execute(select(DueWork.status)).scalar_one() == "done"
