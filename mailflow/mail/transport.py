"""How outbound mail leaves: one reused SMTP connection, or a folder when no server is set.

Both raise ``SendError`` with ``permanent`` telling the outbox whether to retry (4xx, refused
connection, timeout) or give up and report (5xx).
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import aiosmtplib

from mailflow.config import SmtpSettings
from mailflow.errors import SendError, server_text


class Transport(Protocol):
    async def send(self, sender: str, recipients: Sequence[str], raw: bytes) -> None: ...

    async def close(self) -> None: ...


class SmtpTransport:
    """Keeps one authenticated connection open across sends (about half the cost per mail)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings
        self._client: aiosmtplib.SMTP | None = None

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self._settings
        context = ssl.create_default_context(cafile=str(s.cafile) if s.cafile else None)
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=s.timeout_seconds,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            tls_context=context if s.security != "none" else None,
        )
        await client.connect()
        if s.username:
            await client.login(s.username, s.password)
        return client

    async def probe(self) -> None:
        """Connect (and TLS) and say goodbye, without logging in: is the server there?"""
        s = self._settings
        context = ssl.create_default_context(cafile=str(s.cafile) if s.cafile else None)
        client = aiosmtplib.SMTP(
            hostname=s.host, port=s.port, timeout=s.timeout_seconds,
            use_tls=s.security == "tls", start_tls=s.security == "starttls",
            tls_context=context if s.security != "none" else None,
        )
        await client.connect()
        await client.quit()

    async def send(self, sender: str, recipients: Sequence[str], raw: bytes) -> None:
        try:
            if self._client is None or not self._client.is_connected:
                self._client = await self._connect()
            errors, _ = await self._client.sendmail(sender, list(recipients), raw)
        except aiosmtplib.SMTPAuthenticationError as exc:
            # the credentials, not the mail: never a reason to give a reply up as failed
            await self._drop()
            raise SendError(
                f"SMTP {self._settings.host}:{self._settings.port} refused the login of "
                f"{self._settings.username}: {exc.code} {server_text(exc.message)}; fix "
                "[smtp] username/password (MAILFLOW_SMTP_PASSWORD)",
                permanent=False, code=exc.code, auth=True) from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            permanent = all(500 <= c < 600 for c in codes)
            raise SendError(f"recipients refused: {exc}", permanent=permanent,
                            code=codes[0] if codes else None) from exc
        except aiosmtplib.SMTPResponseException as exc:
            await self._drop()
            raise SendError(
                f"SMTP {exc.code} {exc.message}", permanent=500 <= exc.code < 600, code=exc.code
            ) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._drop()
            raise SendError(f"SMTP server unavailable: {exc}", permanent=False) from exc
        if errors:
            # some recipients refused, others accepted: the mail went out; note it, no resend
            return

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # already failing; nothing more to do
                client.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except aiosmtplib.SMTPException:
                client.close()


class FolderTransport:
    """No SMTP server configured (demo, offline): each mail becomes a .eml file to look at."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, sender: str, recipients: Sequence[str], raw: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        match = re.search(rb"^Message-ID:\s*<([^>]+)>", raw, re.MULTILINE | re.IGNORECASE)
        stem = match.group(1).decode("ascii", "replace") if match else str(len(raw))
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", stem)[:150]
        # 0600 whatever the umask: a reply holds the requester's form fields (issue 20)
        fd = os.open(self.directory / f"{safe}.eml", os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(raw)

    async def close(self) -> None:
        return None


def make_transport(settings: SmtpSettings, outbox_dir: Path) -> Transport:
    return SmtpTransport(settings) if settings.enabled else FolderTransport(outbox_dir)
