"""The figures of one month's 服务月报 (R-SP-7 服务数据 and SLA指标实现; R-PM-13 问题解决率,
客户满意度, 系统故障率), collected from what mailflow already records: requests, their
outcomes, the audit trail of deadlines and service-desk times, and the faults.

Why from the audit trail: every deadline met or missed (``request_done_on_time`` /
``request_done_late``, ``deadline_escalated``) and every service-desk time
(``service_desk_met`` / ``service_desk_missed``) is already an event with its rule, so the
report counts evidence rather than re-deriving it.

Customer tickets belong to another package; the report takes them through ``TicketSource``
(any callable giving an object with the ``TicketFigures`` attributes), so nothing here
imports it. Without one, the ticket sections say there is no ticket data.

Definitions (docs/reports.md):
- 问题解决率 (requests) = requests of the month done / requests of the month (withdrawn and
  deleted ones left out); (tickets) = resolved / opened.
- 客户满意度 = the mean rating (1..5) as a share of 5; also the share of ratings 4 or 5.
- 系统故障率 = the minutes the month's faults were open (report to recovery; still open: to the
  end of the month) over the month's minutes times the systems in scope (the contract's
  systems, else every ``[[systems]]`` entry, at least one): the share of system time lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.config import Settings
from mailflow.reports.settings import Contract, contracts_of
from mailflow.reports.systems import fault_system, fold, known_system, systems_named
from mailflow.store.models import AuditEvent, Request, db_time, utc

FAULT_KINDS = ("fault",)
UNCOUNTED = ("withdrawn", "deleted")


class TicketFigures(Protocol):
    """What a ticket system tells the report about a period (the tickets package's
    figures, or a test's dataclass)."""

    @property
    def opened(self) -> int: ...
    @property
    def resolved(self) -> int: ...
    @property
    def resolved_in_time(self) -> int: ...
    @property
    def by_category(self) -> Mapping[str, int]: ...
    @property
    def by_severity(self) -> Mapping[str, int]: ...
    @property
    def ratings(self) -> Sequence[int]: ...


#: (session, start, end, contract key or None for the internal report) → figures
TicketSource = Callable[[Session, datetime, datetime, str | None], TicketFigures]


@dataclass(frozen=True)
class MetMissed:
    met: int = 0
    missed: int = 0

    @property
    def total(self) -> int:
        return self.met + self.missed

    @property
    def rate(self) -> float | None:
        return self.met / self.total if self.total else None


@dataclass(frozen=True)
class Tickets:
    opened: int
    resolved: int
    resolved_in_time: int
    by_category: dict[str, int]
    by_severity: dict[str, int]
    ratings: tuple[int, ...]

    @property
    def resolution_rate(self) -> float | None:
        return self.resolved / self.opened if self.opened else None

    @property
    def in_time_rate(self) -> float | None:
        return self.resolved_in_time / self.resolved if self.resolved else None

    @property
    def satisfaction(self) -> float | None:
        """The mean rating as a share of 5 (客户满意度)."""
        valid = [r for r in self.ratings if 1 <= r <= 5]
        return sum(valid) / len(valid) / 5 if valid else None

    @property
    def mean_rating(self) -> float | None:
        valid = [r for r in self.ratings if 1 <= r <= 5]
        return sum(valid) / len(valid) if valid else None

    @property
    def satisfied_share(self) -> float | None:
        valid = [r for r in self.ratings if 1 <= r <= 5]
        return sum(1 for r in valid if r >= 4) / len(valid) if valid else None


@dataclass(frozen=True)
class Figures:
    """One period's figures for one report (a contract's, or the internal one: None)."""

    start: datetime
    end: datetime
    contract: str | None
    requests_by_kind: dict[str, int]
    requests_total: int
    requests_done: int
    deadlines: MetMissed
    first_reply: MetMissed
    progress: MetMissed
    faults: int
    fault_minutes: int
    systems_in_scope: int
    faults_by_system: dict[str, int]
    tickets: Tickets | None = None
    quick_fault_reports: int = 0
    measures_open: int = 0  # R-PM-13: tracked rows not yet due at the period's end
    measures_overdue: int = 0  # … past their due day, not reported done
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def request_resolution_rate(self) -> float | None:
        return self.requests_done / self.requests_total if self.requests_total else None

    @property
    def fault_rate(self) -> float:
        """系统故障率: the share of system time lost to faults (see the module docstring)."""
        minutes = (self.end - self.start).total_seconds() / 60 * max(self.systems_in_scope, 1)
        return min(self.fault_minutes / minutes, 1.0) if minutes > 0 else 0.0

    @property
    def resolution_rate(self) -> float | None:
        """问题解决率: tickets when there are ticket figures, else requests."""
        if self.tickets is not None and self.tickets.opened:
            return self.tickets.resolution_rate
        return self.request_resolution_rate

    @property
    def satisfaction(self) -> float | None:
        return self.tickets.satisfaction if self.tickets is not None else None


def in_contract(settings: Settings, contract: Contract | None, request: Request) -> bool:
    """Whether *request* counts for *contract* (None: the internal report counts all)."""
    if contract is None:
        return True
    who = request.requester_email.lower()
    if who in {r.lower() for r in contract.requesters}:
        return True
    if who.rpartition("@")[2] in {d.lower().lstrip("@") for d in contract.requester_domains}:
        return True
    wanted = {fault_system_name(settings, s) for s in contract.systems}
    return bool(wanted & systems_named(settings, request))


def fault_system_name(settings: Settings, name: str) -> str:
    """A contract's system as the fault code names it (the ``[[systems]]`` entry's name)."""
    return known_system(settings, name) or fold(name)


def labelled(counts: Mapping[str, int], prefix: str, words: Mapping[str, str]
             ) -> list[tuple[str, int]]:
    """A ticket count per code ("technical", "urgent") as the report's words name it (the
    ticket desk stores codes; an unknown code is shown as it is)."""
    return sorted((words.get(f"{prefix}_{code}", code), count) for code, count in counts.items())


def find_contract(settings: Settings, key: str | None) -> Contract | None:
    if key is None or key == "internal":
        return None
    for contract in contracts_of(settings):
        if contract.key == key:
            return contract
    raise KeyError(key)


def collect(session: Session, settings: Settings, start: datetime, end: datetime,
            contract_key: str | None, tickets: TicketSource | None = None) -> Figures:
    """The figures of [start, end) for *contract_key* (None: internal, every request)."""
    contract = find_contract(settings, contract_key)
    requests = [r for r in session.execute(select(Request).where(
        Request.created_at >= db_time(start), Request.created_at < db_time(end))).scalars()
        if in_contract(settings, contract, r)]
    counted = [r for r in requests if r.status not in UNCOUNTED]
    by_kind = Counter(r.kind for r in counted)
    ids = {r.id for r in session.execute(select(Request)).scalars()
           if in_contract(settings, contract, r)} if contract is not None else None

    def events(*actions: str) -> list[AuditEvent]:
        rows = session.execute(select(AuditEvent).where(
            AuditEvent.action.in_(actions), AuditEvent.at >= db_time(start),
            AuditEvent.at < db_time(end))).scalars()
        return [e for e in rows if ids is None or e.request_id in ids]

    done_late = events("request_done_late", "deadline_escalated")
    deadlines = MetMissed(
        met=len(events("request_done_on_time")),
        # a request chased and then done late is one miss, not two
        missed=len({e.request_id for e in done_late}))
    desk = events("service_desk_met", "service_desk_missed")

    def desk_times(rule: str) -> MetMissed:
        mine = [e for e in desk if e.detail.get("rule") == rule]
        missed = {e.request_id for e in mine if e.action == "service_desk_missed"}
        met = {e.request_id for e in mine if e.action == "service_desk_met"} - missed
        return MetMissed(met=len(met), missed=len(missed))

    faults = [r for r in counted if r.kind in FAULT_KINDS]
    fault_minutes = 0
    for fault in faults:
        opened = utc(fault.created_at)
        closed = min(utc(fault.updated_at), end) if fault.status == "done" else end
        fault_minutes += max(0, int((closed - opened).total_seconds() // 60))
    if contract is not None and contract.systems:
        in_scope = len(contract.systems)
    else:
        in_scope = max(len(settings.systems), 1)
    measures = tracked_rows(session, settings, end, contract)
    return Figures(
        start=start, end=end, contract=contract_key if contract is not None else None,
        requests_by_kind=dict(sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))),
        requests_total=len(counted),
        requests_done=sum(1 for r in counted if r.status == "done"),
        deadlines=deadlines, first_reply=desk_times("R-SD-1"), progress=desk_times("R-SD-2"),
        faults=len(faults), fault_minutes=fault_minutes, systems_in_scope=in_scope,
        faults_by_system=dict(Counter(fault_system(settings, f) or "-" for f in faults)),
        tickets=_tickets(tickets(session, start, end, contract_key if contract else None))
        if tickets is not None else None,
        quick_fault_reports=len(events("fault_recurrence_reported")),
        measures_open=measures[0], measures_overdue=measures[1],
    )


#: statuses in which a request's tracked rows are being followed up (handed over or done)
FOLLOWED = ("with_handler", "done")


def tracked_rows(session: Session, settings: Settings, end: datetime,
                 contract: Contract | None) -> tuple[int, int]:
    """R-PM-13: the rows of every kind whose definition tracks them for the report
    (``[tracked_items] in_report``, the 质量改进措施), as they stand at *end*: (open —
    not yet due, overdue — past their due day and not recorded done)."""
    from mailflow.documents.definitions import FormCatalog, load_catalog

    try:
        catalog = load_catalog(settings.forms.definitions_dir)
    except Exception:  # no definitions: nothing is tracked
        catalog = FormCatalog()
    specs = {kind: form.tracked_items for kind, form in catalog.forms.items()
             if form.tracked_items is not None and form.tracked_items.in_report}
    if not specs:
        return 0, 0
    last_day = end.date() if end.time() != time(0) else end.date() - timedelta(days=1)
    open_rows = overdue = 0
    for request in session.execute(select(Request).where(
            Request.kind.in_(sorted(specs)), Request.status.in_(FOLLOWED),
            Request.created_at < db_time(end))).scalars():
        if not in_contract(settings, contract, request):
            continue
        spec = specs[request.kind]
        done = {e.detail.get("index") for e in session.execute(select(AuditEvent).where(
            AuditEvent.request_id == request.id, AuditEvent.action == "action_item_done",
            AuditEvent.at < db_time(end))).scalars()}
        rows = [r for r in request.fields.get(spec.field) or [] if isinstance(r, dict)]
        for index, row in enumerate(rows, start=1):
            try:
                day = date.fromisoformat(str(row.get(spec.due) or "")[:10])
            except ValueError:
                continue
            if index in done:
                continue
            if day <= last_day:
                overdue += 1
            else:
                open_rows += 1
    return open_rows, overdue


def _tickets(figures: TicketFigures) -> Tickets:
    return Tickets(opened=int(figures.opened), resolved=int(figures.resolved),
                   resolved_in_time=int(figures.resolved_in_time),
                   by_category=dict(figures.by_category), by_severity=dict(figures.by_severity),
                   ratings=tuple(int(r) for r in figures.ratings))
