"""Who approves a request: the chain of its kind (config data) resolved from the directory.

The chains are data (``[[approvals.chains]]``, defaults in config.py: R-DX-2, R-AC-2,
R-CH-3, R-MT-4); this module only turns "requester_manager" or "system_owner:system" into
addresses for one request, applies delegations ([[delegations]]) and refuses to guess: a
requester the directory does not know, a department without a manager, a system nobody owns
is a ChainProblem the desk reports to the requester and the administrator.

No self-approval: when the person a step names is the requester (a manager's own request),
the step goes one level up ([approvals] escalate_to, the leader in charge by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from mailflow.config import Chain, Department, Settings
from mailflow.workflow.directory import Directory, DirectoryError


@dataclass(frozen=True)
class PlannedApprover:
    position: int  # 1-based; approvers of one position decide in parallel
    approver: str
    role: str  # requester_manager, it_manager, system_owner, department_manager, …
    may_escalate_to: str = ""
    instead_of: str = ""  # the requester, when the step went one level up (no self-approval)


@dataclass(frozen=True)
class ChainPlan:
    kind: str
    rule: str
    approvers: tuple[PlannedApprover, ...]

    @property
    def total(self) -> int:
        return max((a.position for a in self.approvers), default=0)


class ChainProblem(Exception):
    """The chain cannot be resolved: *code* says why (words in templates), *detail* what."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def resolve(settings: Settings, directory: Directory, kind: str, requester: str,
            fields: Mapping[str, Any]) -> ChainPlan | None:
    """The approvers of a request of *kind* by *requester*; None when the kind needs no
    approval, or when no organisation directory is configured (no [[departments]]: nothing
    to route by, so requests are only registered, as before approvals existed)."""
    chain = settings.approvals.chain_for(kind)
    if chain is None or not settings.departments:
        return None
    if not directory.is_known(requester):
        raise ChainProblem("unknown_requester", requester)
    planned: list[PlannedApprover] = []
    for position, step in enumerate(chain.steps, start=1):
        seen: set[str] = set()
        for spec in step.approvers:
            for address, role in _approvers(directory, chain, spec, requester, fields):
                instead_of = ""
                if address.lower() == requester.lower():
                    instead_of, address, role = address, _one_level_up(
                        settings, directory, requester), settings.approvals.escalate_to
                if address.lower() in seen:
                    continue
                seen.add(address.lower())
                planned.append(PlannedApprover(position, address, role, step.may_escalate_to,
                                               instead_of))
    return ChainPlan(kind, chain.rule, _merge_repeats(planned))


def _merge_repeats(planned: list[PlannedApprover]) -> tuple[PlannedApprover, ...]:
    """One person twice in a row (an IT employee's department manager is the IT manager)
    approves once: the earlier step is dropped, the later one (with its escalation) kept."""
    by_position: dict[int, list[PlannedApprover]] = {}
    for approver in planned:
        by_position.setdefault(approver.position, []).append(approver)
    steps = [by_position[p] for p in sorted(by_position)]
    kept: list[list[PlannedApprover]] = []
    for index, step in enumerate(steps):
        following = steps[index + 1] if index + 1 < len(steps) else None
        if following is not None and len(step) == len(following) == 1 and \
                step[0].approver.lower() == following[0].approver.lower():
            continue
        kept.append(step)
    return tuple(replace(a, position=n) for n, step in enumerate(kept, start=1) for a in step)


def escalation_approver(settings: Settings, directory: Directory, role: str,
                        requester: str) -> str:
    """The person a step is sent on to ("同意，需总裁审批"): a [roles] entry."""
    address = _role(directory, role)
    if address.lower() == requester.lower():
        raise ChainProblem("self_approval", role)
    return address


def next_level(settings: Settings, directory: Directory, approver: str) -> str | None:
    """Who is told when *approver* lets a step lie ([approvals] escalate_to), never the
    approver themselves; the administrator as the last resort."""
    for role in (settings.approvals.escalate_to, "admin"):
        try:
            address = directory.role(role)
        except DirectoryError:
            continue
        if address and address.lower() != approver.lower():
            return address
    return None


def delegates(settings: Settings, approver: str, day: date) -> tuple[str, ...]:
    """Who decides in *approver*'s place on *day* ([[delegations]])."""
    return tuple(d.to for d in settings.delegations
                 if d.who.lower() == approver.lower() and d.active_on(day))


def may_decide(settings: Settings, approver: str, sender: str, day: date) -> bool:
    """The approver of a step, or their delegate on *day*."""
    wanted = sender.lower()
    return wanted == approver.lower() or wanted in (d.lower() for d in
                                                    delegates(settings, approver, day))


def _approvers(directory: Directory, chain: Chain, spec: str, requester: str,
               fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    name, _, argument = spec.partition(":")
    if name == "requester_manager":
        department = directory.department_of(requester)
        if department is None:
            raise ChainProblem("no_department", requester)
        return [(_manager(department), "requester_manager")]
    if name == "role":
        return [(_role(directory, argument), argument)]
    if name == "system_owner":  # R-AC-2: the business department owning the permissions
        system = _text(fields.get(argument))
        if not system:
            raise ChainProblem("field_missing", argument)
        owner = _owner(directory, system)
        if owner is None:
            raise ChainProblem("unknown_system", system)
        return [(_manager(owner), "system_owner")]
    if name == "department_managers":  # R-CH-3: every cooperating department
        return [(_manager(_department(directory, written)), "department_manager")
                for written in _names(fields.get(argument))]
    if name == "department":  # seed 002 产品申请: the marketing department's manager
        return [(_manager(_department(directory, argument)), "department_manager")]
    raise ChainProblem("bad_chain", f"{chain.kind}: {spec}")


def _department(directory: Directory, written: str) -> Department:
    """The department *written* names; one the directory does not know stops the chain."""
    try:
        return directory.department(written)
    except DirectoryError:
        raise ChainProblem("unknown_department", written) from None


def _manager(department: Department) -> str:
    """*department*'s manager; a department without one stops the chain."""
    if not department.manager:
        raise ChainProblem("no_manager", department.name)
    return department.manager


def _owner(directory: Directory, system: str) -> Department | None:
    """The owner of *system*, also when the form adds 系统 to a name the directory lists
    without it ("CRM系统" for CRM)."""
    for name in dict.fromkeys((system, system.removesuffix("系统"))):
        try:
            return directory.owner_of_system(name)
        except DirectoryError:
            continue
    return None


def _role(directory: Directory, role: str) -> str:
    try:
        address = directory.role(role)
    except DirectoryError:
        address = None
    if not address:
        raise ChainProblem("no_role", role)
    return address


def _one_level_up(settings: Settings, directory: Directory, requester: str) -> str:
    address = _role(directory, settings.approvals.escalate_to)
    if address.lower() == requester.lower():
        raise ChainProblem("self_approval", requester)
    return address


def _text(value: object) -> str:
    if isinstance(value, list):
        return _text(value[0]) if value else ""
    return value.strip() if isinstance(value, str) else ""


def _names(value: object) -> Sequence[str]:
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    if isinstance(value, str):
        return [part.strip() for part in value.replace("、", ",").replace("，", ",").split(",")
                if part.strip()]
    return []
