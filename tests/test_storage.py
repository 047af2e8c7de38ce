"""Storage on SQLite and PostgreSQL: migrations, reference numbers, dedupe keys, outbox claims."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from mailflow.store import outbox
from mailflow.store.db import current_revision, make_engine, session_factory, transaction, upgrade
from mailflow.store.models import InboundMail, db_time
from mailflow.store.references import next_reference

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
TABLES = {"inbound_mail", "attachment", "source_position", "request", "reference_counter",
          "audit_event", "outbox", "lease", "alembic_version"}


def test_migrations_create_every_table_and_are_idempotent(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)  # second start: no-op
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert current_revision(engine) is not None
    engine.dispose()


def test_db_upgrade_command(database_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "db", "upgrade"], cwd=tmp_path,
        env={"MAILFLOW_STORAGE_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "database at revision" in result.stdout


def test_reference_numbers_are_sequential_per_year(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        first = next_reference(session, "REQ", 2026)
        second = next_reference(session, "REQ", 2026)
        other_year = next_reference(session, "REQ", 2027)
    with transaction(factory) as session:
        third = next_reference(session, "REQ", 2026)
    engine.dispose()
    assert (first, second, third) == ("REQ-2026-000001", "REQ-2026-000002", "REQ-2026-000003")
    assert other_year == "REQ-2027-000001"


def _mail(sha: str, message_id: str | None, body: str) -> InboundMail:
    return InboundMail(sha256=sha, body_sha256=body, message_id=message_id, size=1,
                       received_at=db_time(NOW), to_addrs=[], cc_addrs=[], defects=[])


def test_dedupe_constraints(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        session.add(_mail("a" * 64, "<m1@x>", "b" * 64))
        session.add(_mail("c" * 64, None, "b" * 64))  # no Message-ID: content hash only
        session.add(_mail("d" * 64, None, "b" * 64))
    with pytest.raises(IntegrityError), transaction(factory) as session:
        session.add(_mail("e" * 64, "<m1@x>", "b" * 64))  # same Message-ID + body
    with pytest.raises(IntegrityError), transaction(factory) as session:
        session.add(_mail("a" * 64, "<m2@x>", "f" * 64))  # same raw bytes
    engine.dispose()


def test_outbox_claims_are_exclusive_and_expire(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    factory = session_factory(engine)
    with transaction(factory) as session:
        for i in range(3):
            outbox.enqueue(session, now=NOW, message_id=f"<o{i}@x>", purpose="test",
                           recipients=[f"r{i}@x"], subject="s", raw=b"raw")
    lease = timedelta(minutes=5)
    with transaction(factory) as session:
        first = outbox.claim_due(session, now=NOW, worker="w1", limit=2, lease=lease)
    with transaction(factory) as session:
        second = outbox.claim_due(session, now=NOW, worker="w2", limit=5, lease=lease)
    assert [i.message_id for i in first] == ["<o0@x>", "<o1@x>"]
    assert [i.message_id for i in second] == ["<o2@x>"]
    # a claim whose holder died runs out and can be taken again
    with transaction(factory) as session:
        later = outbox.claim_due(session, now=NOW + lease + timedelta(seconds=1),
                                 worker="w3", limit=5, lease=lease)
    assert sorted(i.message_id for i in later) == ["<o0@x>", "<o1@x>", "<o2@x>"]
    with transaction(factory) as session:
        outbox.mark_sent(session, later[0].id, now=NOW, archive_sha256="0" * 64)
    with transaction(factory) as session:
        after = outbox.claim_due(session, now=NOW + timedelta(hours=1), worker="w4", limit=5,
                                 lease=lease)
    assert later[0].message_id not in [i.message_id for i in after]
    engine.dispose()
