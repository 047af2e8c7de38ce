"""The approval token: which step, of which request, for which approver a reply answers.

Why a token and not the reference number: anyone can quote ``REQ-2026-000123`` (a
colleague's reply-all, the requester himself), and a decision must be bound to the one
question we asked one person. Each approval mail carries an HMAC-SHA256 over request, step
and approver, keyed with a secret only the service knows, in its subject (``审批码 …``) and
in its Message-ID, so a reply finds it through In-Reply-To/References or, from clients that
drop those headers, through the subject — whatever prefixes (回复: 答复: 转发: Re: AW: Fwd: …)
clients add. The token is looked up and then verified with ``hmac.compare_digest``: a token
that was guessed, altered or copied onto another step does not verify.

The secret comes from ``[approvals] token_secret`` / ``MAILFLOW_APPROVALS_TOKEN_SECRET``, or
is generated once into the data directory (``approval-token.key``, mode 0600).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from mailflow.config import Settings
from mailflow.mail.compose import message_id_domain
from mailflow.mail.parse import ParsedMail
from mailflow.workflow.matching import thread_ids

SECRET_FILE = "approval-token.key"  # noqa: S105 - a file name, not a secret
TOKEN_CHARS = 16  # base32: 80 bits of the HMAC
_ALPHABET = "A-Z2-7"
#: in a subject: "审批码 K7Q2M9XPL3D4RT5V" (zh) or "code K7Q2…" (en); mail clients keep it
#: through any number of reply/forward prefixes since they only prepend
SUBJECT_TOKEN = re.compile(rf"(?<![A-Za-z0-9])#([{_ALPHABET}]{{{TOKEN_CHARS}}})(?![A-Za-z0-9])")


def load_secret(settings: Settings) -> bytes:
    """The HMAC key: configured, or generated into the data directory on first start."""
    configured = settings.approvals.token_secret
    if configured:
        return configured.encode("utf-8")
    path = settings.storage.data_dir / SECRET_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: of two processes starting at once, one writes and both read the same key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return _read(path)


def _read(path: Path) -> bytes:
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise FileNotFoundError(path)
    return key.encode("ascii")


def step_token(secret: bytes, request_id: int, step_id: int, approver: str) -> str:
    """The token of one step for one approver."""
    message = f"{request_id}|{step_id}|{approver.strip().lower()}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:TOKEN_CHARS]


def verify(secret: bytes, token: str, request_id: int, step_id: int, approver: str) -> bool:
    return hmac.compare_digest(token.encode("ascii", "replace"),
                               step_token(secret, request_id, step_id, approver).encode())


def subject_marker(token: str) -> str:
    return f"#{token}"


def approval_message_id(step_id: int, token: str, purpose: str, from_address: str) -> str:
    """A Message-ID carrying the token: ``<approval-12-TOKEN-request@our-domain>``; *purpose*
    (``request``, ``reminder1`` …) keeps several mails of one step apart."""
    return f"<approval-{step_id}-{token}-{purpose}@{message_id_domain(from_address)}>"


def tokens_in(parsed: ParsedMail, from_address: str) -> list[tuple[str, str]]:
    """The tokens a mail carries, as (token, where): from the Message-IDs it answers, most
    direct first, then from its subject. Only ids of our own domain count."""
    domain = re.escape(message_id_domain(from_address))
    pattern = re.compile(rf"^<approval-[0-9]{{1,20}}-([{_ALPHABET}]{{{TOKEN_CHARS}}})-"
                         rf"[a-z]{{1,12}}[0-9]{{0,6}}@{domain}>$", re.IGNORECASE)
    found: list[tuple[str, str]] = []
    for message_id in thread_ids(parsed):
        match = pattern.match(message_id)
        if match:
            found.append((match.group(1).upper(), "thread"))
    for match in SUBJECT_TOKEN.finditer(parsed.subject[:2000]):
        found.append((match.group(1), "subject"))
    return found
