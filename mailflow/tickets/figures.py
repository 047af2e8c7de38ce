"""The ticket figures of a period, for the monthly report (R-PM-13: 问题解决率, 客户满意度):
how many tickets were opened, how many were resolved and how many of those within the
contract's resolution time, by category and severity, and the ratings customers gave.

Why from the ticket rows: every figure is a fact recorded on the ticket when it happened
(opened_at, closed_at with the result, sla_due_at set at triage, rated_at), so the report
counts the same thing however often it is made.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.store.models import Ticket, db_time


@dataclass(frozen=True)
class TicketFigures:
    opened: int
    resolved: int              # closed with a result in the period
    resolved_in_time: int      # within the SLA resolution time
    by_category: Mapping[str, int]   # "technical" / "functional" / "usage" (技术/功能/使用问题)
    by_severity: Mapping[str, int]   # "urgent" / "normal"
    ratings: Sequence[int]           # 1..5 (满意=5, 一般=3, 不满意=1)


def ticket_figures(session: Session, start: datetime, end: datetime,
                   contract: str | None = None) -> TicketFigures:
    """The figures of tickets in [*start*, *end*) (aware times), of one contract or all.
    Categories and severities count the tickets opened in the period (an untriaged ticket
    has neither); ratings are those given in the period, the latest per ticket."""
    low, high = db_time(start), db_time(end)
    base = select(Ticket)
    if contract is not None:
        base = base.where(Ticket.contract == contract)
    opened = list(session.execute(
        base.where(Ticket.opened_at >= low, Ticket.opened_at < high)).scalars())
    resolved = [t for t in session.execute(
        base.where(Ticket.closed_at >= low, Ticket.closed_at < high)).scalars()
        if t.result and t.resolved_at is not None]
    in_time = sum(1 for t in resolved
                  if t.sla_due_at is not None and t.resolved_at is not None
                  and t.resolved_at <= t.sla_due_at)
    rated = session.execute(base.where(Ticket.rated_at >= low, Ticket.rated_at < high)
                            .order_by(Ticket.rated_at, Ticket.id)).scalars()
    return TicketFigures(
        opened=len(opened), resolved=len(resolved), resolved_in_time=in_time,
        by_category=dict(Counter(t.category for t in opened if t.category)),
        by_severity=dict(Counter(t.severity for t in opened if t.severity)),
        ratings=tuple(t.rating for t in rated if t.rating is not None))
