"""The audit hash chain under concurrent writers (issue 17, part 2): events are sealed in the
order their transactions commit, not in id order, and several sealers never fork the chain."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import select

from mailflow.records.chain import seal
from mailflow.records.verify import check_chain
from mailflow.store import audit
from mailflow.store.db import make_engine, session_factory, transaction, upgrade
from mailflow.store.models import AuditEvent

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_an_event_committed_after_a_later_id_is_sealed_after_it(postgres_url: str) -> None:
    """On PostgreSQL ids are taken at INSERT, rows seen at COMMIT: the sealer must not wait
    for (or skip) the open transaction's lower id, and seals it once it commits."""
    engine = make_engine(postgres_url)
    upgrade(engine)
    factory = session_factory(engine)
    try:
        slow = factory()
        slow.begin()
        audit.record(slow, NOW, "slow_event", note="id first, commit last")
        slow.flush()
        with transaction(factory) as session:
            audit.record(session, NOW, "fast_event")
        assert seal(factory, NOW).sealed == 1  # the committed one; the open one is unseen
        slow.commit()
        slow.close()
        assert seal(factory, NOW).sealed == 1
        with factory() as session:
            events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
            assert [e.action for e in events] == ["fast_event", "slow_event"]
            assert events[0].id > events[1].id  # sealed in commit order, not id order
            checked, unsealed, problems = check_chain(session)
        assert (checked, unsealed, problems) == (2, 0, [])
    finally:
        engine.dispose()


def test_writers_and_sealers_side_by_side_keep_one_unbroken_chain(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    factory = session_factory(engine)
    errors: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def writer(number: int) -> None:
        try:
            for i in range(25):
                with transaction(factory) as session, audit.batched(session):
                    for j in range(3):  # several events in one INSERT
                        audit.record(session, NOW, "written", writer=number, i=i, j=j)
        except BaseException as exc:
            errors.append(exc)

    def sealer() -> None:
        try:
            while writing.is_set():
                seal(factory, NOW)
        except BaseException as exc:
            errors.append(exc)

    try:
        writers = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
        sealers = [threading.Thread(target=sealer) for _ in range(2)]
        for thread in (*writers, *sealers):
            thread.start()
        for thread in writers:
            thread.join(timeout=120)
        writing.clear()
        for thread in sealers:
            thread.join(timeout=120)
        assert errors == []
        seal(factory, NOW)
        with factory() as session:
            checked, unsealed, problems = check_chain(session)
        assert (checked, unsealed, problems) == (3 * 25 * 3, 0, [])
    finally:
        engine.dispose()
