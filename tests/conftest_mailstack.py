"""Fixtures for the real mail stack (load with ``pytest_plugins = ["tests.conftest_mailstack"]``).

``dovecot``    session-wide private Dovecot with the standard accounts (DEFAULT_USERS).
``mailstack``  per test: every mailbox emptied, extra users dropped, a fresh SMTP server on a
               free port delivering into Dovecot by LMTP, and the service account.
``smtp_server`` per test: a plain SMTP sink (no Dovecot), for outbound-only tests.

A stack that cannot start makes the test fail with advice, never skip: a skipped mail test
looks green and hides that nothing was tested.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailflow_testing import (
    DEFAULT_USERS,
    SERVICE_ADDRESS,
    Account,
    Dovecot,
    DovecotError,
    MailStack,
    SmtpServer,
    SmtpServerError,
)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot(DEFAULT_USERS)
    try:
        try:
            server.start()
        except DovecotError as exc:
            pytest.fail(f"the test Dovecot did not start:\n{exc}", pytrace=False)
        yield server
    finally:
        server.close()  # also on failures; dovecot.py's atexit hook is the last resort


@pytest.fixture
def mailstack(dovecot: Dovecot) -> Iterator[MailStack]:
    try:
        dovecot.start()  # no-op unless an earlier test stopped it
        dovecot.reset()
        dovecot.set_users(DEFAULT_USERS)
        smtp = SmtpServer(lmtp=(dovecot.host, dovecot.lmtp_port))
        smtp.start()
    except (DovecotError, SmtpServerError) as exc:
        pytest.fail(f"the test mail stack is not usable:\n{exc}", pytrace=False)
    try:
        yield MailStack(dovecot, smtp, Account(SERVICE_ADDRESS, DEFAULT_USERS[SERVICE_ADDRESS]))
    finally:
        smtp.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    try:
        server.start()
    except SmtpServerError as exc:
        pytest.fail(f"the test SMTP server did not start:\n{exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()
