"""Migration 0002_approvals on a database holding requests from before: they keep their
statuses, and the database refuses a status the state machine does not know."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from mailflow.store.db import make_engine, upgrade


def test_existing_requests_survive_and_unknown_statuses_are_refused(database_url: str
                                                                    ) -> None:
    engine = make_engine(database_url)
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO inbound_mail (id, sha256, body_sha256, size, subject, from_addr, "
            "from_name, to_addrs, cc_addrs, received_at, source, kind, kind_reason, status, "
            "status_reason, in_reply_to, defects) VALUES (1, 'a', 'b', 1, '', 'x@y', '', "
            "'[]', '[]', '2026-11-23 08:00:00', '', 'human', '', 'registered', '', '', '[]')"))
        for n, status in enumerate(("received", "submitted", "returned"), start=1):
            conn.execute(text(
                "INSERT INTO request (id, reference, kind, status, title, requester_email, "
                "requester_name, fields, problems, source_mail_id, created_at, updated_at) "
                f"VALUES ({n}, 'REQ-2026-00000{n}', 'general', '{status}', '', 'x@y', '', "
                "'{}', '[]', 1, '2026-11-23 08:00:00', '2026-11-23 08:00:00')"))
    upgrade(engine)
    with engine.begin() as conn:
        statuses = conn.execute(text("SELECT status FROM request ORDER BY id")).scalars().all()
        assert statuses == ["received", "submitted", "returned"]
        conn.execute(text("UPDATE request SET status = 'awaiting_approval' WHERE id = 2"))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE request SET status = 'bogus' WHERE id = 1"))
    engine.dispose()
