"""Queued notices in the outbox: cancelled or superseded before they leave, and never counted
by the hourly loop-breaker cap (which counts answers to inbound mail only)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from mailflow.store import outbox
from mailflow.store.db import make_engine, session_factory, transaction, upgrade
from mailflow.store.models import InboundMail, OutboxMessage, db_time
from mailflow.store.rows import insert_row

NOW = datetime(2025, 9, 30, 8, 0, tzinfo=UTC)
WHO = "liu.yang@example.com"


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine: Engine = make_engine(database_url)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def queue(session: Session, n: int, purpose: str, *, reply_to: int | None = None,
          request_id: int | None = None) -> OutboxMessage:
    return outbox.enqueue(session, now=NOW, message_id=f"<{purpose}-{n}@example.com>",
                          purpose=purpose, recipients=[WHO], subject=f"{purpose} {n}",
                          raw=b"Subject: x\r\n\r\nx\r\n", in_reply_to_mail_id=reply_to,
                          request_id=request_id)


def inbound(session: Session) -> int:
    mail = insert_row(session, InboundMail(
        sha256="a" * 64, body_sha256="b" * 64, message_id="<m@x>", size=1, subject="s",
        from_addr=WHO, from_name="", to_addrs=[], cc_addrs=[], received_at=db_time(NOW),
        source="", kind="human", kind_reason="", status="processed", status_reason="",
        in_reply_to="", defects=[]))
    return mail.id


def test_notices_never_count_toward_the_hourly_cap(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        mail_id = inbound(s)
        for n in range(12):
            queue(s, n, "change_notice")
        assert outbox.recent_count_to(s, WHO, NOW - outbox.REPLY_CAP_WINDOW) == 0
        queue(s, 1, "requester_ack", reply_to=mail_id)
        # the count kept in the session follows what is queued, answers only
        assert outbox.recent_count_to(s, WHO, NOW - outbox.REPLY_CAP_WINDOW) == 1
        queue(s, 13, "change_notice")
        assert outbox.recent_count_to(s, WHO, NOW - outbox.REPLY_CAP_WINDOW) == 1
    with factory() as s:  # counted afresh from the table
        assert outbox.recent_count_to(s, WHO.upper(), NOW - outbox.REPLY_CAP_WINDOW) == 1


def test_cancelled_and_superseded_notices_are_never_sent(factory: sessionmaker[Session]
                                                         ) -> None:
    with transaction(factory) as s:
        first = queue(s, 1, "change_notice")
        result = queue(s, 2, "result_notice")
        other = queue(s, 3, "admin_alert")
    with transaction(factory) as s:
        claimed = outbox.claim_due(s, now=NOW, worker="w", limit=10,
                                   lease=timedelta(minutes=5))
        outbox.release(s, [c.id for c in claimed if c.id == other.id])
        # a row a live process is handing to SMTP is left alone
        assert outbox.cancel(s, now=NOW, ids=[result.id]) == 0
        outbox.release(s, [result.id, first.id])
        assert outbox.cancel(s, now=NOW, ids=[first.id],
                             reason="superseded by <change_notice-4@example.com>") == 1
        assert outbox.cancel(s, now=NOW, ids=[first.id]) == 0
    with transaction(factory) as s:
        assert [i.id for i in outbox.claim_due(s, now=NOW, worker="w2", limit=10,
                                               lease=timedelta(minutes=5))] == [result.id,
                                                                                other.id]
    with factory() as s:
        row = s.get(OutboxMessage, first.id)
        assert row is not None
        assert (row.status, row.last_error) == ("cancelled",
                                                "superseded by <change_notice-4@example.com>")
        assert outbox.due_count(s, now=NOW) == 2


def test_cancel_by_request_and_purpose(factory: sessionmaker[Session]) -> None:
    from mailflow.store.models import Request

    with transaction(factory) as s:
        mail_id = inbound(s)
        req = insert_row(s, Request(
            reference="REQ-2025-000001", kind="system_change", status="approved", title="t",
            requester_email=WHO, requester_name="", fields={}, problems=[],
            source_mail_id=mail_id, created_at=db_time(NOW), updated_at=db_time(NOW)))
        queue(s, 1, "change_notice", request_id=req.id)
        queue(s, 2, "change_notice_reminder", request_id=req.id)
        queue(s, 3, "change_notice")  # another request's (none)
        ack = queue(s, 4, "requester_ack", request_id=req.id, reply_to=mail_id)
    with transaction(factory) as s:
        assert outbox.cancel(s, now=NOW, request_id=req.id,
                             purposes=["change_notice", "change_notice_reminder"]) == 2
        with pytest.raises(ValueError):
            outbox.cancel(s, now=NOW)
    with factory() as s:
        states = dict(s.execute(select(OutboxMessage.subject, OutboxMessage.status)).all())
    assert states == {"change_notice 1": "cancelled", "change_notice_reminder 2": "cancelled",
                      "change_notice 3": "pending", "requester_ack 4": "pending"}
    with factory() as s:  # a cancelled answer does not count either
        assert outbox.recent_count_to(s, WHO, NOW - outbox.REPLY_CAP_WINDOW) == 1
    with transaction(factory) as s:
        assert outbox.cancel(s, now=NOW, ids=[ack.id]) == 1
    with factory() as s:
        assert outbox.recent_count_to(s, WHO, NOW - outbox.REPLY_CAP_WINDOW) == 0
