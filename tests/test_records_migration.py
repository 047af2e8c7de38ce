"""Migration 0004_records gives existing audit events their request (issue 17, part 1)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from mailflow.records.chain import seal
from mailflow.records.index import reindex
from mailflow.store.db import make_engine, session_factory, upgrade

AT = datetime(2026, 11, 2, 3, 0)


JSON_COLUMNS = {"to_addrs", "cc_addrs", "defects", "fields", "problems", "recipients", "detail"}


def _insert(conn: sa.Connection, table: str, **values: object) -> int:
    t = sa.table(table, *(sa.column(k, sa.JSON() if k in JSON_COLUMNS else None)
                          for k in (*values, "id")))
    return int(conn.execute(t.insert().values(**values).returning(t.c.id)).scalar_one())


def test_existing_events_are_given_their_requests(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0001")
        with engine.begin() as conn:
            mail = {"body_sha256": "b" * 64, "size": 10, "subject": "两份", "from_addr": "a@x",
                    "from_name": "", "to_addrs": [], "cc_addrs": [],
                    "received_at": AT, "source": "s", "kind": "human", "kind_reason": "",
                    "status": "registered", "status_reason": "", "in_reply_to": "",
                    "defects": []}
            mail_id = _insert(conn, "inbound_mail", sha256="a" * 64, **mail)
            req = {"kind": "general", "status": "received", "title": "", "requester_email": "a@x",
                   "requester_name": "", "fields": {},
                   "problems": [], "source_mail_id": mail_id, "created_at": AT,
                   "updated_at": AT}
            first = _insert(conn, "request", reference="REQ-2026-000001", **req)
            second = _insert(conn, "request", reference="REQ-2026-000002", **req)
            outbox_id = _insert(conn, "outbox", message_id="<m@x>", purpose="requester_ack",
                                recipients=["a@x"], primary_recipient="a@x",
                                subject="s", raw=b"raw", status="sent", attempts=1,
                                next_attempt_at=AT, last_error="", created_at=AT,
                                archive_sha256="", request_id=first, claimed_by="")
            event = {"at": AT, "actor": "mailflow", "detail": {}}
            _insert(conn, "audit_event", action="mail_received", mail_id=mail_id, **event)
            _insert(conn, "audit_event", action="mail_sent", outbox_id=outbox_id, **event)
            _insert(conn, "audit_event", action="mail_quarantined", **event)
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT action, request_id FROM audit_event ORDER BY id")).all()
        assert sorted(rows, key=str) == sorted([
            ("mail_received", first), ("mail_sent", first), ("mail_quarantined", None),
            ("mail_received", second)], key=str)
        report = seal(session_factory(engine), AT, reindex)
        assert report.sealed == 4 and report.head_seq == 4
    finally:
        engine.dispose()
