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
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mailflow.errors import ConfigError
from mailflow.paths import DEFAULT_FORMS_DIR, DEFAULT_TEMPLATES_DIR

Security = Literal["tls", "starttls", "none"]
ENV_PREFIX = "MAILFLOW_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    lease_seconds: float = Field(default=15.0, ge=3)

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
    maildir_path: Path = Path("storage/maildir")
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


class StorageSettings(_Section):
    database_url: str = ""
    data_dir: Path = Path("storage")
    archive_dir: Path | None = None
    outbox_dir: Path | None = None

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
    it_manager: str = ""
    president: str = ""
    leader_in_charge: str = ""
    project_manager: str = ""
    archivist: str = ""
    admin: str = ""


class SystemEntry(_Section):
    name: str
    owner_department: str
    aliases: tuple[str, ...] = ()


class Settings(_Section):
    service: ServiceSettings = ServiceSettings()
    mailbox: MailboxSettings = MailboxSettings(source="maildir")
    smtp: SmtpSettings = SmtpSettings()
    storage: StorageSettings = StorageSettings()
    forms: FormsSettings = FormsSettings()
    people: tuple[Person, ...] = ()
    departments: tuple[Department, ...] = ()
    roles: Roles = Roles()
    systems: tuple[SystemEntry, ...] = ()

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
        return self

    def plaintext_password_hosts(self) -> list[str]:
        """Where a password would cross the network in clear (``security = "none"`` to a
        host that is not this machine): said loudly on start and by ``config check``."""
        risky = []
        for name, section in (("mailbox", self.mailbox), ("smtp", self.smtp)):
            if section.security == "none" and section.password and section.host and \
                    not _is_loopback(section.host):
                risky.append(f"{name}: security = \"none\" sends the password in clear to "
                             f"{section.host}; use \"tls\" or \"starttls\"")
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
    """Read *path* (or the embedded default when None), apply environment overrides, validate."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    text = ""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            raw = tomllib.loads(text)
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    _apply_env(raw, env)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, path, text)) from exc
    return _relative_to(settings, path.parent if path is not None else Path.cwd())


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    """``MAILFLOW_SMTP_PASSWORD=…`` overrides ``[smtp] password``; any scalar key works."""
    for section, model in (
        ("service", ServiceSettings),
        ("mailbox", MailboxSettings),
        ("smtp", SmtpSettings),
        ("storage", StorageSettings),
        ("forms", FormsSettings),
    ):
        for key in model.model_fields:
            value = env.get(f"{ENV_PREFIX}{section}_{key}".upper())
            if value is not None:
                raw.setdefault(section, {})[key] = value


#: a key whose value is never shown (a typo of one too: ``pasword``, ``api_tokn``)
_SECRET_KEY = re.compile(r"pass|pw|secret|tok|key|cred|auth", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/@:\s]*):[^/@\s]*@",
                              re.IGNORECASE)


def redact(key: str, value: object) -> str:
    """How a configuration value may be shown in a message: secrets never (issue 20)."""
    if _SECRET_KEY.search(key):
        return "'***'"
    return _URL_CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", repr(value))


def _explain(exc: ValidationError, path: Path | None, text: str) -> str:
    where = str(path) if path else "default configuration"
    lines = [f"{where}: invalid configuration"]
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
        line_no = _line_of(text, err["loc"])
        at = f" (line {line_no})" if line_no else ""
        lines.append(f"  {loc or '(top level)'}{shown}{at}: {err['msg']}")
    return "\n".join(lines)


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


def _relative_to(settings: Settings, base: Path) -> Settings:
    """Relative paths in a config file mean relative to that file, not to the caller's cwd."""

    def fix(p: Path) -> Path:
        return p if p.is_absolute() else base / p

    st = settings.storage
    storage = st.model_copy(
        update={
            "data_dir": fix(st.data_dir),
            "archive_dir": fix(st.archive_dir) if st.archive_dir else None,
            "outbox_dir": fix(st.outbox_dir) if st.outbox_dir else None,
        }
    )
    url = storage.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            storage = storage.model_copy(update={"database_url": f"sqlite:///{fix(Path(rel))}"})
    mailbox = settings.mailbox.model_copy(
        update={"maildir_path": fix(settings.mailbox.maildir_path)}
    )
    service = settings.service.model_copy(
        update={"templates_dir": fix(settings.service.templates_dir)}
    )
    forms = settings.forms.model_copy(
        update={"definitions_dir": fix(settings.forms.definitions_dir)}
    )
    return settings.model_copy(
        update={"storage": storage, "mailbox": mailbox, "service": service, "forms": forms}
    )
