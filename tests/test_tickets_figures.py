"""The monthly report's ticket figures (mailflow/tickets/figures.py, R-PM-13 from the ticket
records of R-PM-1…5/R-PM-14): opened, resolved, resolved within the SLA, by category and
severity, ratings — per period and contract, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from mailflow.store.db import make_engine, session_factory, transaction, upgrade
from mailflow.store.models import InboundMail, Request, Ticket, db_time
from mailflow.store.rows import insert_row
from mailflow.tickets.figures import TicketFigures, ticket_figures

DEC = datetime(2026, 12, 1, tzinfo=UTC)
JAN = datetime(2027, 1, 1, tzinfo=UTC)


def add(session: Session, n: int, *, contract: str = "east", opened: datetime = DEC,
        **values: Any) -> None:
    mail = insert_row(session, InboundMail(
        sha256=f"{n:064d}", body_sha256="b" * 64, message_id=f"<{n}@x>", size=1, subject="s",
        from_addr="c@customer.test", from_name="", to_addrs=[], cc_addrs=[],
        received_at=db_time(opened), source="", kind="human", kind_reason="",
        status="processed", status_reason="", in_reply_to="", defects=[]))
    request = insert_row(session, Request(
        reference=f"REQ-2026-{n:06d}", kind="customer_ticket", status="submitted",
        title="t", requester_email="c@customer.test", requester_name="", source_mail_id=mail.id,
        fields={}, created_at=db_time(opened), updated_at=db_time(opened)))
    times = {k: db_time(v) if isinstance(v, datetime) else v for k, v in values.items()}
    session.add(Ticket(request_id=request.id, contract=contract, opened_at=db_time(opened),
                       updated_at=db_time(opened), status=times.pop("status", "in_progress"),
                       **times))
    session.flush()


def add_december(s: Session) -> None:
    """Three tickets of contract "east" in December: one resolved within its SLA and rated 5,
    one resolved late and rated 3, one still open."""
    day = timedelta(days=1)
    add(s, 1, opened=DEC + day, severity="urgent", category="technical", result="ok",
        resolved_at=DEC + day * 1.1, sla_due_at=DEC + day * 1.2, closed_at=DEC + day * 2,
        status="closed", rating=5, rated_at=DEC + day * 3)
    add(s, 2, opened=DEC + day * 2, severity="normal", category="usage", result="ok",
        resolved_at=DEC + day * 9, sla_due_at=DEC + day * 5, closed_at=DEC + day * 9,
        status="closed", rating=3, rated_at=DEC + day * 10)
    add(s, 3, opened=DEC + day * 4, severity="normal", category="usage")


def test_ticket_figures_of_a_month_and_a_contract_r_pm_13(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    factory = session_factory(engine)
    day = timedelta(days=1)
    with transaction(factory) as s:
        add_december(s)  # resolved within its SLA (5), late (3), still open
        # not triaged yet
        add(s, 4, opened=DEC + day * 5, status="awaiting_triage")
        # opened in November, closed in December, its rating given in January
        add(s, 5, opened=DEC - day * 3, severity="normal", category="functional", result="x",
            resolved_at=DEC + day, sla_due_at=DEC + day * 2, closed_at=DEC + day,
            status="closed", rating=1, rated_at=JAN + day)
        # another contract
        add(s, 6, contract="west", opened=DEC + day, severity="urgent", category="technical")
    with factory() as s:
        december = ticket_figures(s, DEC, JAN)
        east = ticket_figures(s, DEC, JAN, contract="east")
        west = ticket_figures(s, DEC, JAN, contract="west")
        january = ticket_figures(s, JAN, JAN + day * 31)
    assert december == TicketFigures(
        opened=5, resolved=3, resolved_in_time=2,
        by_category={"technical": 2, "usage": 2}, by_severity={"urgent": 2, "normal": 2},
        ratings=(5, 3))
    assert (east.opened, east.resolved, east.by_severity) == (4, 3, {"urgent": 1, "normal": 2})
    assert (west.opened, west.resolved, west.ratings) == (1, 0, ())
    assert (january.opened, january.resolved, january.ratings) == (0, 0, (1,))
    engine.dispose()
