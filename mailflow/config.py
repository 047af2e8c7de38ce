"""TOML configuration → validated, typed settings.

Why pydantic: every key is checked on load and an error names the key, the value and what was
expected, so an administrator fixes a typo in one go instead of meeting it at 3 a.m.
Secrets may come from the environment (``MAILFLOW_<SECTION>_<KEY>``) so they stay out of files.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mailflow.config_section import Section
from mailflow.errors import ConfigError

if TYPE_CHECKING:
    from mailflow.templates import Templates
from mailflow.paths import DEFAULT_FORMS_DIR, DEFAULT_TEMPLATES_DIR
from mailflow.reports.settings import (
    Contract,
    FaultRecurrenceSettings,
    PlansSettings,
    Project,
    ProjectSummarySettings,
    ReportSchedule,
    check_references,
)
from mailflow.tickets.settings import Customer

Security = Literal["tls", "starttls", "none"]
ENV_PREFIX = "MAILFLOW_"


_Section = Section  # every section's base, shared with the feature packages' settings


class ServiceSettings(_Section):
    language: Literal["zh", "en"] = "zh"
    timezone: str = "Asia/Shanghai"
    reference_prefix: str = Field(default="REQ", pattern=r"^[A-Z][A-Z0-9]{0,9}$")
    replies_per_sender_per_hour: int = Field(default=10, ge=1)
    # who gets an answer (issue 20, workflow/answering.py)
    replies_per_domain_per_hour: int = Field(default=100, ge=1)
    answer_domains: tuple[str, ...] = ()
    trusted_authserv_ids: tuple[str, ...] = ()
    require_authentication: Literal["auto", "always", "never"] = "auto"
    templates_dir: Path = DEFAULT_TEMPLATES_DIR
    templates_override_dir: Path | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    lease_seconds: float = Field(default=15.0, ge=3)
    metrics_port: int = Field(default=0, ge=0, le=65535)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. 'Asia/Shanghai')") from exc
        return value


class MailboxSettings(_Section):
    source: Literal["imap", "maildir"] = "imap"
    host: str = ""
    port: int = Field(default=993, ge=1, le=65535)
    security: Security = "tls"
    username: str = ""
    password: str = ""
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    maildir_path: Path = Path("maildir")
    idle: bool = True
    poll_interval_seconds: float = Field(default=30.0, gt=0)
    fetch_batch: int = Field(default=100, ge=1, le=1000)
    max_message_bytes: int = Field(default=50 * 1024 * 1024, ge=64 * 1024)
    timeout_seconds: float = Field(default=30.0, gt=0)
    cafile: Path | None = None

    @model_validator(mode="after")
    def _imap_needs_host(self) -> MailboxSettings:
        if self.source == "imap" and not self.host:
            raise ValueError("mailbox.host is required when mailbox.source = 'imap'")
        return self


class SmtpSettings(_Section):
    host: str = ""
    port: int = Field(default=587, ge=1, le=65535)
    security: Security = "starttls"
    username: str = ""
    password: str = ""
    from_address: str = Field(default="mailflow@localhost", pattern=r"^[^@\s]+@[^@\s]+$")
    from_name: str = "IT管理部 流程服务"
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=12, ge=1)
    retry_base_seconds: float = Field(default=30.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    cafile: Path | None = None

    @property
    def enabled(self) -> bool:
        """Without a host, mail goes to the local outbox folder (demo, offline use)."""
        return bool(self.host)


#: the database engines mailflow is built and tested for (SQLAlchemy URL schemes)
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")


class StorageSettings(_Section):
    database_url: str = ""
    data_dir: Path = Path("storage")
    archive_dir: Path | None = None
    outbox_dir: Path | None = None

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        scheme = value.partition("://")[0].lower() if "://" in value else ""
        if value and scheme not in DATABASE_SCHEMES:
            raise ValueError(
                f"unsupported database {scheme or value!r}: use sqlite:///FILE or "
                "postgresql://USER@HOST/DB (mailflow runs on SQLite and PostgreSQL only)")
        return value

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'mailflow.db'}"

    def resolved_archive_dir(self) -> Path:
        return self.archive_dir or self.data_dir / "archive"

    def resolved_outbox_dir(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"


class FormsSettings(_Section):
    definitions_dir: Path = DEFAULT_FORMS_DIR
    max_attachment_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    libreoffice: str = "auto"
    conversion_timeout_seconds: float = Field(default=20.0, gt=0)
    # the box LibreOffice converts in (issue 20): no network, bounded memory, bounded work
    conversion_network_sandbox: bool = True
    conversion_memory_mb: int = Field(default=2048, ge=0)
    conversion_budget_seconds: float = Field(default=60.0, gt=0)
    max_office_attachments: int = Field(default=10, ge=1)
    # mails converted side by side in the background, off the intake pass (0: in the pass)
    conversion_workers: int = Field(default=2, ge=0, le=16)


def _clock_time(value: str) -> time:
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time of day like '09:00'")
    return time(int(match.group(1)), int(match.group(2)))


def _checked_clock_time(value: str) -> str:
    _clock_time(value)
    return value


#: a time of day written "HH:MM", checked when the config is read, kept as written
ClockTime = Annotated[str, AfterValidator(_checked_clock_time)]


class _Hours(_Section):
    """A section with a start and an end time of day (the fields *_hours* names): their
    checks and their ``time`` values in one place for every such section."""

    _hours: ClassVar[tuple[str, str]]

    @property
    def start_time(self) -> time:
        return _clock_time(getattr(self, self._hours[0]))

    @property
    def end_time(self) -> time:
        return _clock_time(getattr(self, self._hours[1]))


class CalendarSettings(_Hours):
    """The working-day calendar (R-GEN-2): working hours, and overrides of the official
    holiday table (a company's own day off, or a year chinese-calendar does not know yet)."""

    _hours: ClassVar[tuple[str, str]] = ("work_start", "work_end")

    work_start: ClockTime = "09:00"
    work_end: ClockTime = "18:00"
    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> CalendarSettings:
        if not self.start_time < self.end_time:
            raise ValueError(
                f"work_start {self.work_start} must be before work_end {self.work_end}"
            )
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(
                "dates listed both as holidays and workdays: " + ", ".join(map(str, both))
            )
        return self


class WeeklyMeetingSettings(_Hours):
    """The weekly meeting (R-MT-6, Thursdays 16:00–18:00 by default) and its notice (R-MT-1),
    sent automatically *notice_hours_before* the start; none on a day that is not a
    working day (R-GEN-2)."""

    _hours: ClassVar[tuple[str, str]] = ("start", "end")

    enabled: bool = False
    day_of_week: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "thu"
    start: ClockTime = "16:00"
    end: ClockTime = "18:00"
    title: str = "周例会"
    place: str = ""
    host: str = ""
    attendees: tuple[str, ...] = ()
    agenda: str = ""
    notice_hours_before: float = Field(default=24.0, ge=0)


class ServiceDeskSettings(_Section):
    """Service-desk times for plain requests (seed 002: the first reply within 2 hours, a
    solution or a progress report within 24 hours; R-SD-1, R-SD-2). A reply from anyone in
    the IT department to the request's thread is the first reply; one that holds a
    *progress_words* word (or closes it) is the solution or progress report. Missed, the
    desk (``[approvals] handlers.general``, else the IT manager) is told, ``escalate_to`` in
    Cc. ``measure``: "working" counts working time on the calendar (R-GEN-2; 24 hours is one
    working day, shorter spans working hours), "clock" counts clock hours."""

    enabled: bool = True
    kinds: tuple[str, ...] = ("general",)
    measure: Literal["working", "clock"] = "working"
    first_reply_hours: float = Field(default=2.0, gt=0)
    progress_hours: float = Field(default=24.0, gt=0)
    escalate_to: str = "it_manager"
    progress_words: tuple[str, ...] = (
        "已解决", "已处理", "已完成", "解决方案", "处理方案", "进展", "进度", "正在处理", "处理中",
        "预计", "resolved", "solved", "solution", "progress", "working on", "expected")


class Person(_Section):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    name: str
    department: str = ""
    employee_id: str = ""


class Department(_Section):
    key: str
    name: str
    manager: str = ""
    interface_persons: tuple[str, ...] = ()
    heads: tuple[str, ...] = ()
    is_it: bool = False


class Roles(_Section):
    """Who holds each role. The named ones are the rulebook's; any other key is a role the
    organisation names for its own chains and notices (服务部经理 service_manager, 技术服务事业部
    technical_services, 财务部门 finance, 客服 customer_service, …): directory data, no code."""

    model_config = ConfigDict(extra="allow", frozen=True)

    it_manager: str = ""
    president: str = ""
    leader_in_charge: str = ""
    project_manager: str = ""
    archivist: str = ""
    admin: str = ""


    @model_validator(mode="after")
    def _extra_roles_are_addresses(self) -> Roles:
        for name, who in (self.model_extra or {}).items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"roles.{name}: a role name is lower case words joined by _")
            if not isinstance(who, str):
                raise ValueError(f"roles.{name}: an address, not {who!r}")
        return self

    def names(self) -> frozenset[str]:
        """Every role this directory defines (the rulebook's and the organisation's)."""
        return frozenset(self.model_dump())


class SystemEntry(_Section):
    name: str
    owner_department: str
    aliases: tuple[str, ...] = ()


#: who approves, as the chain data names them (workflow/chains.py resolves them):
#: the requester's department manager; a [roles] entry; the manager of the department owning
#: the system a form field names (R-AC-2); the managers of the departments a list field names
APPROVER_SPEC = (r"^(requester_manager|role:[a-z0-9_]+|system_owner:[a-z_]+"
                 r"|department_managers:[a-z_]+|department:[^:\s]+)$")
EscalationRole = Literal["", "president", "leader_in_charge"]


class ChainStep(_Section):
    """One step of an approval chain: everyone it names decides, in parallel; the step is
    approved when all have approved."""

    approvers: tuple[str, ...] = Field(min_length=1)
    #: who the approver may send the request on to ("同意，需总裁审批": R-DX-2, R-AC-2)
    may_escalate_to: EscalationRole = ""

    @field_validator("approvers")
    @classmethod
    def _specs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for spec in value:
            if not re.match(APPROVER_SPEC, spec):
                raise ValueError(
                    f"{spec!r} is not an approver: requester_manager, role:NAME, "
                    "system_owner:FIELD, department_managers:FIELD or department:KEY")
        return value


class Chain(_Section):
    """The approval chain of one form kind, with the rule it enforces."""

    kind: str
    rule: str
    steps: tuple[ChainStep, ...] = Field(min_length=1)


DEFAULT_CHAINS = (
    # R-DX-2: department manager, then the IT manager, who may send it on to the president
    Chain(kind="data_extraction", rule="R-DX-2", steps=(
        ChainStep(approvers=("requester_manager",)),
        ChainStep(approvers=("role:it_manager",), may_escalate_to="president"))),
    # R-AC-2: department manager, then the department owning the system's permissions;
    # beyond that department's authority it goes to the leader in charge
    Chain(kind="account", rule="R-AC-2", steps=(
        ChainStep(approvers=("requester_manager",)),
        ChainStep(approvers=("system_owner:system",), may_escalate_to="leader_in_charge"))),
    # R-CH-3: the IT manager and every cooperating department's manager, in parallel
    Chain(kind="system_change", rule="R-CH-3", steps=(
        ChainStep(approvers=("role:it_manager",
                             "department_managers:cooperating_departments")),)),
    # R-MT-4: the project manager reviews minutes before they are distributed
    Chain(kind="minutes", rule="R-MT-4", steps=(
        ChainStep(approvers=("role:project_manager",)),)),
    # seed 002 业务需求: the requesting department submits it (its manager approves)
    Chain(kind="business_requirement", rule="R-BR-1", steps=(
        ChainStep(approvers=("requester_manager",)),)),
    # seed 002 产品申请: the requesting department's manager and the marketing department's
    Chain(kind="product", rule="R-PR-1", steps=(
        ChainStep(approvers=("requester_manager",)),
        ChainStep(approvers=("department:marketing",)))),
    # seed 002 业务数据处理: the requesting department's manager
    Chain(kind="data_processing", rule="R-DP-1", steps=(
        ChainStep(approvers=("requester_manager",)),)),
    # seeds 003/004, service planning and post-delivery maintenance: the roles are the
    # organisation's ([roles] service_manager 服务部经理, technical_services 技术服务事业部,
    # finance 财务部门); a kind whose role is not filled is held and the administrator told
    Chain(kind="project_initiation", rule="R-SP-3", steps=(
        ChainStep(approvers=("role:service_manager",)),)),
    Chain(kind="project_plan", rule="R-SP-4", steps=(
        ChainStep(approvers=("role:technical_services",)),)),
    Chain(kind="work_plan", rule="R-SP-5", steps=(
        ChainStep(approvers=("role:service_manager",)),)),
    Chain(kind="plan_change", rule="R-SP-6", steps=(
        ChainStep(approvers=("role:service_manager",)),)),
    Chain(kind="maintenance_record", rule="R-PM-11", steps=(
        ChainStep(approvers=("role:project_manager",)),)),
    Chain(kind="maintenance_plan", rule="R-PM-11", steps=(
        ChainStep(approvers=("role:project_manager",)),)),
    Chain(kind="maintenance_budget", rule="R-PM-8", steps=(
        ChainStep(approvers=("role:finance",)),)),
    Chain(kind="maintenance_adjustment", rule="R-PM-9", steps=(
        ChainStep(approvers=("department_managers:approving_departments",)),)),
    Chain(kind="maintenance_document", rule="R-PM-11", steps=(
        ChainStep(approvers=("role:project_manager",)),)),
    Chain(kind="document_access", rule="R-PM-12", steps=(
        ChainStep(approvers=("role:project_manager",)),)),
    Chain(kind="training_plan", rule="R-PM-15", steps=(
        ChainStep(approvers=("role:service_manager",)),)),
    # R-PM-13 質量改進措施: the PM reviews them (as every maintenance document, R-PM-11);
    # then each measure is followed up to its 時間節點
    Chain(kind="quality_improvement", rule="R-PM-13", steps=(
        ChainStep(approvers=("role:project_manager",)),)),
)


class KindDeadline(_Section):
    """A deadline of a form kind set here rather than in its definition (the planning and
    maintenance seeds give none: the organisation decides). Same keys as a definition's
    ``[[deadlines]]`` (docs/forms.md), plus the kind; one with a rule the definition also
    declares replaces it."""

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    rule: str = Field(pattern=r"^R-[A-Z]+-\d+$")
    counts_from: Literal["handed_over", "chain_started", "last_step_approved"] = "handed_over"
    working_days: int | None = Field(default=None, ge=1)
    hours: float | None = Field(default=None, gt=0)
    task: str = ""
    task_zh: str = ""
    task_en: str = ""
    note_zh: str = ""
    note_en: str = ""

    @model_validator(mode="after")
    def _one_measure(self) -> KindDeadline:
        if (self.working_days is None) == (self.hours is None):
            raise ValueError(f"deadlines: {self.kind} {self.rule} needs working_days or hours")
        if not (self.task or self.task_zh):
            raise ValueError(f"deadlines: {self.kind} {self.rule} needs task or task_zh")
        return self


class ApprovalSettings(_Section):
    token_secret: str = ""
    deadline_working_days: int = Field(default=2, ge=1)
    reminder_after_working_hours: float = Field(default=8.0, gt=0)
    escalate_after_working_hours: float = Field(default=8.0, gt=0)
    escalate_to: Literal["leader_in_charge", "president", "admin"] = "leader_in_charge"
    require_authentication: bool = False
    trusted_authserv_ids: tuple[str, ...] = ()
    handlers: dict[str, str] = Field(default_factory=dict)
    chains: tuple[Chain, ...] = DEFAULT_CHAINS

    def chain_for(self, kind: str) -> Chain | None:
        return next((c for c in self.chains if c.kind == kind), None)


def approval_authserv_ids(settings: Settings) -> tuple[str, ...]:
    """The receiving servers whose Authentication-Results vouch for a decision:
    ``[approvals] trusted_authserv_ids``, or, not set, ``[service] trusted_authserv_ids``
    (the same receiving servers vouch for receipts, so a deployment names them once)."""
    own = tuple(t for t in settings.approvals.trusted_authserv_ids if t.strip())
    return own or tuple(t for t in settings.service.trusted_authserv_ids if t.strip())


class Delegation(_Section):
    """*who* is away: *to* decides in their place from *from_date* to *to_date* inclusive."""

    who: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    to: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    from_date: date
    to_date: date

    def active_on(self, day: date) -> bool:
        return self.from_date <= day <= self.to_date
class RecordsSettings(_Section):
    """The archive (records/): how long each kind of record is kept, in days. A kind not
    named is kept for ever; an expired record is only listed until an archivist confirms."""

    retention_days: dict[str, int] = Field(default_factory=dict)

    @field_validator("retention_days")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        for kind, days in value.items():
            if days < 1:
                raise ValueError(f"retention_days.{kind} must be at least 1 day")
        return value


WebRole = Literal["archivist", "auditor", "admin"]


class WebUser(_Section):
    name: str = Field(min_length=1)
    #: an argon2 hash (``mailflow web hash-password``), never the password
    password_hash: str = Field(pattern=r"^\$argon2")
    roles: tuple[WebRole, ...] = ("archivist",)


class WebSettings(_Section):
    """The archivists' pages (``mailflow web``)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    #: signs session cookies; empty: a random key per start (everyone signs in again)
    secret_key: str = ""
    session_minutes: float = Field(default=30.0, gt=0)
    max_failed_logins: int = Field(default=5, ge=1)
    lockout_minutes: float = Field(default=15.0, gt=0)
    #: classification levels (R-DX-3) only ``classified_roles`` may see
    classified_levels: tuple[str, ...] = ("绝密", "机密")
    classified_roles: tuple[WebRole, ...] = ("auditor", "admin")
    #: send the session cookie over HTTPS only (behind a TLS proxy)
    secure_cookies: bool = False
    users: tuple[WebUser, ...] = ()


class Settings(_Section):
    service: ServiceSettings = ServiceSettings()
    mailbox: MailboxSettings = MailboxSettings(source="maildir")
    smtp: SmtpSettings = SmtpSettings()
    storage: StorageSettings = StorageSettings()
    forms: FormsSettings = FormsSettings()
    calendar: CalendarSettings = CalendarSettings()
    weekly_meeting: WeeklyMeetingSettings = WeeklyMeetingSettings()
    service_desk: ServiceDeskSettings = ServiceDeskSettings()
    deadlines: tuple[KindDeadline, ...] = ()
    people: tuple[Person, ...] = ()
    departments: tuple[Department, ...] = ()
    roles: Roles = Roles()
    systems: tuple[SystemEntry, ...] = ()
    approvals: ApprovalSettings = ApprovalSettings()
    delegations: tuple[Delegation, ...] = ()
    records: RecordsSettings = RecordsSettings()
    web: WebSettings = WebSettings()
    # reports, the project calendar, R-FN-7 (mailflow/reports/settings.py)
    contracts: tuple[Contract, ...] = ()
    reports: tuple[ReportSchedule, ...] = ()
    projects: tuple[Project, ...] = ()
    project_summary: ProjectSummarySettings = ProjectSummarySettings()
    plans: PlansSettings = PlansSettings()
    fault_recurrence: FaultRecurrenceSettings = FaultRecurrenceSettings()
    customers: tuple[Customer, ...] = ()  # maintenance contracts (mailflow/tickets)

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> Settings:
        """A password never crosses the network in clear (issue 20): ``security = "none"``
        with a password is refused unless the server is this machine."""
        risky = self.plaintext_password_hosts()
        if risky:
            raise ValueError("; ".join(risky))
        return self

    @model_validator(mode="after")
    def _directory_is_consistent(self) -> Settings:
        emails = {p.email.lower() for p in self.people}
        dept_keys = {d.key for d in self.departments}
        for p in self.people:
            if p.department and p.department not in dept_keys:
                raise ValueError(f"people: {p.email} names unknown department {p.department!r}")
        for d in self.departments:
            for who in (d.manager, *d.interface_persons, *d.heads):
                if who and who.lower() not in emails:
                    raise ValueError(
                        f"departments: {d.key} names {who!r}, who is not in [[people]]"
                    )
        for role, who in self.roles.model_dump().items():
            if who and who.lower() not in emails:
                raise ValueError(f"roles.{role}: {who!r} is not in [[people]]")
        for s in self.systems:
            if s.owner_department not in dept_keys:
                raise ValueError(
                    f"systems: {s.name} names unknown department {s.owner_department!r}"
                )
        # a default chain may name a role this organisation has not filled (a request of that
        # kind is then blocked and the administrator told); one written here may not
        roles = self.roles.names() | set(Roles.model_fields)
        for chain in self.approvals.chains:
            if chain in DEFAULT_CHAINS:
                continue
            for step in chain.steps:
                for spec in step.approvers:
                    if spec.startswith("department:") and self.departments and not any(
                            spec[11:] in (d.key, d.name) for d in self.departments):
                        raise ValueError(f"approvals.chains: {chain.kind} names unknown "
                                         f"department {spec[11:]!r}")
                    if spec.startswith("role:") and spec[5:] not in roles:
                        raise ValueError(f"approvals.chains: {chain.kind} names unknown role "
                                         f"{spec[5:]!r}")
        for kind, who in self.approvals.handlers.items():
            if who.lower() not in emails:
                raise ValueError(f"approvals.handlers.{kind}: {who!r} is not in [[people]]")
        for delegation in self.delegations:
            for who in (delegation.who, delegation.to):
                if who.lower() not in emails:
                    raise ValueError(f"delegations: {who!r} is not in [[people]]")
            if delegation.to_date < delegation.from_date:
                raise ValueError(f"delegations: {delegation.who} ends before it starts")
        return self

    @model_validator(mode="after")
    def _reports_name_what_exists(self) -> Settings:
        check_references(self)  # mailflow/reports/settings.py
        return self

    def templates(self) -> Templates:
        """The mail templates: the bundled set with the organisation's overrides over it."""
        from mailflow.templates import Templates

        return Templates(self.service.templates_dir, self.service.language,
                         self.service.templates_override_dir)

    def plaintext_password_hosts(self) -> list[str]:
        """Where a password would cross the network in clear (``security = "none"`` to a
        host that is not this machine): refused when the configuration is loaded."""
        risky = []
        used: list[tuple[str, str, str, str]] = [
            ("smtp", self.smtp.security, self.smtp.password, self.smtp.host)]
        if self.mailbox.source == "imap":  # a Maildir source never logs in
            used.insert(0, ("mailbox", self.mailbox.security, self.mailbox.password,
                            self.mailbox.host))
        for name, security, password, host in used:
            if security == "none" and password and host and not _is_loopback(host):
                risky.append(f"{name}: security = \"none\" sends the password in clear to "
                             f"{host}; use \"tls\" or \"starttls\"")
        return risky

    @property
    def own_addresses(self) -> frozenset[str]:
        """Addresses mailflow sends from or reads; mail from them is never answered."""
        own = {self.smtp.from_address.lower()}
        if "@" in self.mailbox.username:
            own.add(self.mailbox.username.lower())
        return frozenset(own)


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.strip("[]").lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read *path* (or the embedded default when None), apply environment overrides, validate.

    Relative paths in the file mean relative to the data directory (``[storage] data_dir``,
    itself relative to the working directory when not absolute), never to the directory the
    file is in: a config in /etc must not put the database under /etc."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    text = ""
    if path is not None:
        text = _read_config(path)
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}; fix the file and run "
                              "`mailflow config check`") from exc
    from_env = _apply_env(raw, env)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, path, text, from_env)) from exc
    return _relative_to(settings, Path.cwd())


def _read_config(path: Path) -> str:
    """The file's text, or a ConfigError that says what is wrong with *path* and what to do."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist; give an existing file with "
                          "--config or MAILFLOW_CONFIG (see config.example.toml)") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"config file {path} is a directory; name the TOML file itself, "
                          f"e.g. --config {path / 'config.toml'}") from exc
    except PermissionError as exc:
        raise ConfigError(f"config file {path} cannot be read (permission denied); run as the "
                          "user it belongs to or fix its mode") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text ({exc.reason} at byte "
                          f"{exc.start}); save it as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from exc


def env_sections() -> dict[str, type[BaseModel]]:
    """The sections whose scalar keys may come from the environment: every table-valued
    section of Settings (sections added later take part without being listed here)."""
    out: dict[str, type[BaseModel]] = {}
    for name, info in Settings.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, _Section):
            out[name] = model
    return out


def env_variable(section: str, key: str) -> str:
    return f"{ENV_PREFIX}{section}_{key}".upper()


#: MAILFLOW_* variables that are not configuration keys (the CLI's and the test suite's own)
OTHER_VARIABLES = frozenset({"MAILFLOW_CONFIG", "MAILFLOW_NOW", "MAILFLOW_DEBUG",
                             "MAILFLOW_TEST_PG_URL"})


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """``MAILFLOW_SMTP_PASSWORD=…`` overrides ``[smtp] password``; any scalar key works.
    Returns which (section, key) came from which variable, to blame errors on it."""
    used: dict[tuple[str, str], str] = {}
    for section, model in env_sections().items():
        for key in model.model_fields:
            name = env_variable(section, key)
            value = env.get(name)
            if value is not None:
                raw.setdefault(section, {})[key] = value
                used[(section, key)] = name
    return used


def unknown_env_variables(env: Mapping[str, str]) -> list[str]:
    """Warnings for MAILFLOW_* variables that set nothing (a misspelling is otherwise silently
    ignored), each naming the closest real variable."""
    import difflib

    known = {env_variable(section, key)
             for section, model in env_sections().items() for key in model.model_fields}
    known |= OTHER_VARIABLES
    warnings = []
    for name in sorted(env):
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            warnings.append(f"environment variable {name} is not a mailflow setting and is "
                            f"ignored{hint}")
    return warnings


#: ports that belong to one security mode: a mismatch almost always hangs or fails the TLS
#: handshake, so it is worth a warning (a non-standard port is left alone)
_TLS_PORTS = {465, 993, 995}
_PLAIN_PORTS = {25, 143, 587, 110}


def security_warnings(settings: Settings) -> list[str]:
    """Port/security combinations that are almost certainly a mistake."""
    out = []
    pairs = [("smtp", settings.smtp.port, settings.smtp.security)]
    if settings.mailbox.source == "imap":
        pairs.append(("mailbox", settings.mailbox.port, settings.mailbox.security))
    for section, port, security in pairs:
        if security == "tls" and port in _PLAIN_PORTS:
            out.append(f"[{section}] port = {port} with security = \"tls\": port {port} "
                       "normally speaks plain text first; use security = \"starttls\" or "
                       f"the implicit-TLS port ({465 if section == 'smtp' else 993})")
        elif security != "tls" and port in _TLS_PORTS:
            out.append(f"[{section}] port = {port} with security = \"{security}\": port "
                       f"{port} expects TLS from the first byte; use security = \"tls\"")
    return out


#: a key whose value is never shown (a typo of one too: ``pasword``, ``api_tokn``)
_SECRET_KEY = re.compile(r"pass|pw|secret|tok|key|cred|auth", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/@:\s]*):[^/@\s]*@",
                              re.IGNORECASE)


def redact(key: str, value: object) -> str:
    """How a configuration value may be shown in a message: secrets never (issue 20)."""
    if _SECRET_KEY.search(key):
        return "'***'"
    return _URL_CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", repr(value))


def _explain(exc: ValidationError, path: Path | None, text: str,
             from_env: Mapping[tuple[str, str], str]) -> str:
    """One line: every problem, each naming the key (or the environment variable it came
    from), the value and, for the file, the line; then what to do."""
    where = str(path) if path else "default configuration"
    problems = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"] if part != "__root__")
        value = err.get("input")
        key = str(err["loc"][-1]) if err["loc"] else ""
        if isinstance(value, dict):
            shown = ""
        elif err["type"] == "extra_forbidden":  # an unknown key: its value helps nobody
            shown = " = '***'"
        else:
            shown = f" = {redact(key, value)}"
        variable = (from_env.get((str(err["loc"][0]), str(err["loc"][1])))
                    if len(err["loc"]) == 2 else None)
        if variable is not None:
            problems.append(f"{variable}{shown} (from the environment, for "
                            f"{loc}): {err['msg']}")
            continue
        line_no = _line_of(text, err["loc"])
        at = f" (line {line_no})" if line_no else ""
        problems.append(f"{loc or '(top level)'}{shown}{at}: {err['msg']}")
    return (f"{where}: invalid configuration: {'; '.join(problems)}; fix it and run "
            "`mailflow config check`")


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line number of the offending key, for humans editing the file."""
    if not text or not loc:
        return None
    section = str(loc[0])
    key = str(loc[-1])
    in_section = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[\[?\s*([\w.]+)\s*\]\]?", stripped)
        if header:
            in_section = header.group(1) == section
            continue
        if in_section and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number
    return None


def _relative_to(settings: Settings, cwd: Path) -> Settings:
    """Relative paths mean relative to the data directory (never to the config file's
    directory, /etc/mailflow in a deployment); a relative data directory is relative to the
    working directory."""
    st = settings.storage
    data_dir = st.data_dir if st.data_dir.is_absolute() else cwd / st.data_dir

    def fix(p: Path) -> Path:
        return p if p.is_absolute() else data_dir / p

    storage = st.model_copy(
        update={
            "data_dir": data_dir,
            "archive_dir": fix(st.archive_dir) if st.archive_dir else None,
            "outbox_dir": fix(st.outbox_dir) if st.outbox_dir else None,
        }
    )
    url = storage.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            storage = storage.model_copy(update={"database_url": f"sqlite:///{fix(Path(rel))}"})
    mailbox = settings.mailbox.model_copy(update={
        "maildir_path": fix(settings.mailbox.maildir_path),
        "cafile": fix(settings.mailbox.cafile) if settings.mailbox.cafile else None,
    })
    smtp = settings.smtp.model_copy(update={
        "cafile": fix(settings.smtp.cafile) if settings.smtp.cafile else None,
    })
    service = settings.service.model_copy(
        update={
            "templates_dir": fix(settings.service.templates_dir),
            "templates_override_dir": fix(settings.service.templates_override_dir)
            if settings.service.templates_override_dir else None,
        }
    )
    forms = settings.forms.model_copy(
        update={"definitions_dir": fix(settings.forms.definitions_dir)}
    )
    return settings.model_copy(update={"storage": storage, "mailbox": mailbox, "smtp": smtp,
                                       "service": service, "forms": forms})
