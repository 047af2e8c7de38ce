"""The request state machine: which status follows which event, in one table.

Why one pure table: a request's status is what people are told ("waiting for 王军"), what
the export shows and what decides whether a reply may still change anything. Spread over the
desk and the approval code as ``request.status = "…"``, an impossible move (approving a
withdrawn request, resubmitting an approved one) would go unnoticed. Here every move is a
named transition; ``transition`` refuses the rest, and ``advance`` writes the audit event
naming the transition and the process rule it serves (R-GEN-3).

    received                          a plain mail without a form (no transitions)
    submitted ──chain_started──▶ awaiting_approval ──step_approved/escalated──▶ (same)
        │                              │──last_step_approved──▶ approved ──handed_over──▶
        │                              └──rejected──▶ rejected ──resubmitted──▶ submitted
        └──(returned by the desk)                                   with_handler ──done──▶ done
    returned ──resubmitted──▶ submitted
    submitted ──handed_over──▶ with_handler   a request the rule lets skip approval (R-DP-2)
    submitted/awaiting_approval/approved/rejected/returned ──withdrawn──▶ withdrawn
    any ──deleted──▶ deleted          past retention, on an archivist's confirmation
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import inspect, update
from sqlalchemy.orm import Session

from mailflow.store import audit
from mailflow.store.models import Request, db_time


class Status(StrEnum):
    RECEIVED = "received"
    SUBMITTED = "submitted"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    WITH_HANDLER = "with_handler"
    DONE = "done"
    REJECTED = "rejected"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    DELETED = "deleted"  # past its retention period, deleted on an archivist's confirmation


class Event(StrEnum):
    CHAIN_STARTED = "chain_started"
    STEP_APPROVED = "step_approved"
    ESCALATED = "escalated"
    LAST_STEP_APPROVED = "last_step_approved"
    REJECTED = "rejected"
    HANDED_OVER = "handed_over"
    DONE = "done"
    RESUBMITTED = "resubmitted"
    WITHDRAWN = "withdrawn"
    DELETED = "deleted"


#: statuses in which a request is still open (a decision or a withdrawal may change it)
OPEN = frozenset({Status.SUBMITTED, Status.AWAITING_APPROVAL, Status.APPROVED,
                  Status.REJECTED, Status.RETURNED})


@dataclass(frozen=True)
class Transition:
    source: Status
    event: Event
    target: Status


class IllegalTransition(ValueError):
    """*event* cannot happen to a request in its current status."""


def _table() -> dict[tuple[Status, Event], Status]:
    s, e = Status, Event
    table = {
        (s.SUBMITTED, e.CHAIN_STARTED): s.AWAITING_APPROVAL,
        (s.AWAITING_APPROVAL, e.STEP_APPROVED): s.AWAITING_APPROVAL,
        (s.AWAITING_APPROVAL, e.ESCALATED): s.AWAITING_APPROVAL,
        (s.AWAITING_APPROVAL, e.LAST_STEP_APPROVED): s.APPROVED,
        (s.AWAITING_APPROVAL, e.REJECTED): s.REJECTED,
        (s.APPROVED, e.HANDED_OVER): s.WITH_HANDLER,
        # a request the rule lets skip approval (R-DP-2: a supervisor's urgent plain mail)
        (s.SUBMITTED, e.HANDED_OVER): s.WITH_HANDLER,
        (s.WITH_HANDLER, e.DONE): s.DONE,
        (s.RETURNED, e.RESUBMITTED): s.SUBMITTED,
        (s.REJECTED, e.RESUBMITTED): s.SUBMITTED,
    }
    for source in OPEN:
        table[(source, e.WITHDRAWN)] = s.WITHDRAWN
    # R-GEN-3 retention (records/retention.py): any record but a deleted one, on confirmation
    for source in s:
        if source is not s.DELETED:
            table[(source, e.DELETED)] = s.DELETED
    return table


TRANSITIONS: dict[tuple[Status, Event], Status] = _table()


def transition(current: str, event: Event) -> Transition:
    """The move *event* makes from *current*; IllegalTransition when there is none."""
    try:
        source = Status(current)
    except ValueError as exc:
        raise IllegalTransition(f"unknown status {current!r}") from exc
    target = TRANSITIONS.get((source, event))
    if target is None:
        raise IllegalTransition(f"{event.value} is not possible from {source.value}")
    return Transition(source, event, target)


def allowed(current: str, event: Event) -> bool:
    try:
        transition(current, event)
    except IllegalTransition:
        return False
    return True


#: ``session.info`` key of the callables told of every transition in that session (the
#: notices stage follows a change or minutes through their lifecycle this way; the service
#: puts them on its session factory, so a transition and what it sets off commit together)
LISTENERS = "mailflow.transition_listeners"
TransitionListener = Callable[[Session, Request, Transition, datetime], None]


def advance(session: Session, request: Request, event: Event, now: datetime, *,
            rule: str, actor: str = audit.SYSTEM_ACTOR, mail_id: int | None = None,
            **detail: Any) -> Transition:
    """Move *request* by *event* and record it: the audit event ``status_changed`` names the
    transition and the process *rule* (R-…) it serves."""
    move = transition(request.status, event)
    request.status = move.target.value
    request.updated_at = db_time(now)
    if inspect(request).persistent:
        session.flush()
    else:  # written by a plain INSERT (store/rows.py): the session does not track it
        session.execute(update(Request).where(Request.id == request.id).values(
            status=request.status, updated_at=request.updated_at))
    audit.record(session, now, "status_changed", actor=actor, mail_id=mail_id,
                 request_id=request.id, reference=request.reference,
                 transition=event.value, rule=rule, previous=move.source.value,
                 status=move.target.value, **detail)
    for listener in session.info.get(LISTENERS, ()):
        listener(session, request, move, now)
    return move
