"""A real mail stack for mailflow's tests, demo and benchmark (not shipped with mailflow).

``Dovecot`` is a private IMAP + LMTP server, ``SmtpServer`` an SMTP front that can deliver
into it, ``mailbuild`` makes realistic raw mails. ``mail_stack()`` starts both with the
standard accounts, for code outside pytest (bench/, the demo); tests use the fixtures in
tests/conftest_mailstack.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from mailflow_testing.dovecot import Dovecot, DovecotError, free_port
from mailflow_testing.smtp import ReceivedMail, SmtpServer, SmtpServerError

__all__ = [
    "DEFAULT_USERS",
    "SERVICE_ADDRESS",
    "Account",
    "Dovecot",
    "DovecotError",
    "MailStack",
    "ReceivedMail",
    "SmtpServer",
    "SmtpServerError",
    "free_port",
    "mail_stack",
]

DOMAIN = "example.test"
SERVICE_ADDRESS = f"service@{DOMAIN}"
#: the standard accounts: address -> password ("<local part>-pw")
DEFAULT_USERS: Mapping[str, str] = {
    f"{local}@{DOMAIN}": f"{local}-pw"
    for local in ("service", "approver", "requester", "it-manager")
}


@dataclass(frozen=True)
class Account:
    address: str
    password: str

    @property
    def username(self) -> str:
        """IMAP/SMTP login name (the address itself)."""
        return self.address


@dataclass(frozen=True)
class MailStack:
    """A running Dovecot, an SMTP server delivering into it, and the service account."""

    dovecot: Dovecot
    smtp: SmtpServer
    service: Account

    def account(self, address: str) -> Account:
        return Account(address, self.dovecot.password(address))

    def mailbox_settings(self) -> dict[str, object]:
        """Keyword arguments for ``mailflow.config.MailboxSettings`` (plain IMAP, no TLS)."""
        return {
            "source": "imap",
            "host": self.dovecot.host,
            "port": self.dovecot.imap_port,
            "security": "none",
            "username": self.service.username,
            "password": self.service.password,
        }

    def smtp_settings(self) -> dict[str, object]:
        """Keyword arguments for ``mailflow.config.SmtpSettings`` (no TLS, no login)."""
        return {
            "host": self.smtp.host,
            "port": self.smtp.port,
            "security": "none",
            "from_address": self.service.address,
        }


@contextmanager
def mail_stack(users: Mapping[str, str] = DEFAULT_USERS) -> Iterator[MailStack]:
    """Start Dovecot and a relaying SMTP server; stop both and delete all mail after."""
    with Dovecot(users) as dovecot:
        smtp = SmtpServer(lmtp=(dovecot.host, dovecot.lmtp_port))
        with smtp:
            yield MailStack(dovecot, smtp, Account(SERVICE_ADDRESS, users[SERVICE_ADDRESS]))
