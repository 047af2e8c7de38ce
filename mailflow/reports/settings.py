"""The configuration of reports, the project calendar and the fault "three times" rule:
``[[contracts]]``, ``[[reports]]``, ``[[projects]]``, ``[plans]``, ``[project_summary]`` and
``[fault_recurrence]``. Kept here (not in config.py) so the feature's settings live beside it;
``Settings`` only names the fields.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any, Literal

from pydantic import Field, field_validator

from mailflow.config_section import Section
from mailflow.reports.periods import PeriodKind

KEY = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,59}$"


_Section = Section  # config.py's base: env overrides and unknown-key checks apply


def _clock_time(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError(f"{value!r} is not a time HH:MM")
    return value


class Contract(_Section):
    """A customer's service contract: whose requests and which systems it covers (a request
    counts for the contract when its requester's domain or address, or the system it names,
    is listed here)."""

    key: str = Field(pattern=KEY)
    name: str
    customer: str = ""
    requester_domains: tuple[str, ...] = ()
    requesters: tuple[str, ...] = ()
    systems: tuple[str, ...] = ()


class ReportSchedule(_Section):
    """One 服务月报 (R-SP-7, R-PM-13) and who receives it: the period it covers (R-SP-7: the
    customer's report period is set per contract — a month, quarter, half-year or year,
    aligned to the calendar), the day of the month after the period ends and the local time
    it goes out, in which language."""

    report: str = Field(default="internal", pattern=KEY)  # "internal" or a contract key
    period: PeriodKind = "month"
    to: tuple[str, ...] = Field(min_length=1)  # addresses, people (name or id) or role:NAME
    day: int = Field(default=1, ge=1, le=28)
    at: str = "09:00"
    language: Literal["zh", "en"] = "zh"

    @field_validator("at")
    @classmethod
    def _at_is_a_time(cls, value: str) -> str:
        return _clock_time(value)

    @property
    def clock(self) -> time:
        hour, minute = self.at.split(":")
        return time(int(hour), int(minute))


class Project(_Section):
    """A project of the calendar: at *end* its PM is asked for the 项目总结报告 (R-SP-9); while
    it runs, the yearly plans are asked of the PM (R-PM-7, R-PM-15)."""

    key: str = Field(pattern=KEY)
    name: str
    contract: str = ""
    pm: str  # an address, a person (name or id) or role:NAME
    end: date


class ProjectSummarySettings(_Section):
    """The 项目总结报告 request (R-SP-9): reminders when the PM has not answered."""

    reminder_working_days: int = Field(default=3, ge=1)
    max_reminders: int = Field(default=2, ge=0)
    escalate_to: str = "it_manager"  # a [roles] name, copied on the last reminder


class PlansSettings(_Section):
    """The yearly reminders to each running project's PM to file the 年度维护计划 (R-PM-7)
    and the 年度培训计划 (R-PM-15): the seeds give no date, so both default to early
    January."""

    enabled: bool = True
    maintenance_month: int = Field(default=1, ge=1, le=12)
    maintenance_day: int = Field(default=10, ge=1, le=28)
    training_month: int = Field(default=1, ge=1, le=12)
    training_day: int = Field(default=10, ge=1, le=28)
    at: str = "09:00"

    @field_validator("at")
    @classmethod
    def _at_is_a_time(cls, value: str) -> str:
        return _clock_time(value)


class FaultRecurrenceSettings(_Section):
    """R-FN-7 (seed 002): a fault fixed within *quick_minutes* that is the *count*-th such fault
    on the same system within *window_days* is reported to the supervisor (the R-FN-2
    recipient)."""

    enabled: bool = True
    kinds: tuple[str, ...] = ("fault",)
    quick_minutes: float = Field(default=5.0, gt=0)
    count: int = Field(default=3, ge=2)
    window_days: float = Field(default=30.0, gt=0)
    supervisor_rule: str = "R-FN-2"


def contracts_of(settings: Any) -> tuple[Contract, ...]:
    """Every contract a report or project may name: the ``[[contracts]]`` and each customer
    of ``[[customers]]`` (the ticket desk's maintenance contracts, mailflow/tickets) not
    listed there, whose requests are those from its domains and contact addresses. One key
    thus names the same customer for tickets, reports and the project calendar."""
    listed = {c.key for c in settings.contracts}
    return tuple(settings.contracts) + tuple(
        Contract(key=c.key, name=c.name, customer=c.name, requester_domains=tuple(c.domains),
                 requesters=tuple(c.contacts))
        for c in getattr(settings, "customers", ()) if c.key not in listed)


def check_references(settings: Any) -> None:
    """What the reports' sections name must exist (``Settings`` calls this on load, so
    ``mailflow config check`` names the mistake): a report's contract, a project's contract,
    and every recipient or PM as an address, a person of ``[[people]]`` (name or employee id)
    or a role."""
    if len({c.key for c in settings.contracts}) != len(settings.contracts):
        raise ValueError("contracts: two entries have the same key")
    contracts = {c.key for c in contracts_of(settings)}
    keys = [p.key for p in settings.projects]
    if len(set(keys)) != len(keys):
        raise ValueError("projects: two entries have the same key")
    roles = settings.roles.names()
    people = {p.name for p in settings.people} | {
        p.employee_id for p in settings.people if p.employee_id} | {
        p.email.partition("@")[0] for p in settings.people}

    def known(spec: str) -> bool:
        spec = spec.strip()
        return "@" in spec or spec.removeprefix("role:") in roles or spec in people

    for report in settings.reports:
        if report.report != "internal" and report.report not in contracts:
            raise ValueError(f"reports: report {report.report!r} is neither \"internal\" nor "
                             "a [[contracts]] or [[customers]] key")
        for spec in report.to:
            if not known(spec):
                raise ValueError(f"reports: {spec!r} is no address, person of [[people]] or "
                                 "role")
    for project in settings.projects:
        if project.contract and project.contract not in contracts:
            raise ValueError(f"projects: {project.key} names unknown contract "
                             f"{project.contract!r}")
        if not known(project.pm):
            raise ValueError(f"projects: {project.key} pm {project.pm!r} is no address, "
                             "person of [[people]] or role")
