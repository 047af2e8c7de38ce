"""A real SMTP server for tests: aiosmtpd in a thread, optionally delivering to Dovecot LMTP.

It keeps every accepted mail for assertions, can refuse on demand (4xx/5xx at RCPT or DATA,
the way to test outbox retries) and can be taken down and brought back on the same port.
With ``lmtp=(host, port)`` each recipient is checked against Dovecot at RCPT (unknown users
get Dovecot's 550) and each accepted mail is delivered by LMTP, one transaction per
recipient (LMTP answers DATA once per recipient; smtplib reads only one, pitfall 14), so the
mail lands in the recipient's INBOX through Dovecot's own delivery: IDLE, flags and UIDs
are all real.
"""

from __future__ import annotations

import asyncio
import email.policy
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, Literal

from aiosmtpd.controller import Controller

from mailflow_testing.dovecot import free_port

Stage = Literal["RCPT", "DATA"]


class SmtpServerError(RuntimeError):
    """The test SMTP server could not start; the message says why and what to try."""


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str  # "" for the null sender <> (bounces, auto-replies)
    rcpt_tos: tuple[str, ...]
    data: bytes

    def parsed(self) -> EmailMessage:
        """The mail parsed with the modern policy (decoded headers, get_body(), ...)."""
        message = BytesParser(policy=email.policy.default).parsebytes(self.data)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class _Failure:
    code: int
    text: str
    stage: Stage
    times: int | None  # None: until succeed()


class SmtpServer:
    """aiosmtpd in a thread. Keeps every accepted mail in ``.messages``; optionally relays
    each recipient to Dovecot LMTP (one LMTP transaction per recipient) so mail lands in
    the recipient's INBOX."""

    host = "127.0.0.1"

    def __init__(self, lmtp: tuple[str, int] | None = None, port: int = 0, *,
                 starttls: ssl.SSLContext | None = None,
                 implicit_tls: ssl.SSLContext | None = None) -> None:
        """*starttls*: offer STARTTLS and refuse mail before it; *implicit_tls*: speak TLS
        from the first byte (port 465 style)."""
        self.lmtp = lmtp
        self._starttls = starttls
        self._implicit_tls = implicit_tls
        self._auto_port = port == 0
        self.port = port or free_port(self.host)
        self._controller: Controller | None = None
        self._lock = threading.Condition()
        self._messages: list[ReceivedMail] = []
        self._failure: _Failure | None = None
        self._attempts = 0

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Listen on ``host:port`` (the same port every time); no-op when running."""
        if self._controller is not None:
            return
        for attempt in range(3):
            controller = Controller(
                _Handler(self),
                hostname=self.host,
                port=self.port,
                server_hostname="smtp.mailflow.test",
                ready_timeout=10.0,
                tls_context=self._starttls,
                require_starttls=self._starttls is not None,
                ssl_context=self._implicit_tls,
            )
            try:
                controller.start()
            except OSError as exc:
                # a port picked in __init__ may have been taken since: pick another, once
                if self._auto_port and attempt < 2:
                    self.port = free_port(self.host)
                    continue
                raise SmtpServerError(
                    f"test SMTP server cannot listen on {self.host}:{self.port}: {exc}. "
                    "Another process holds the port (`ss -ltnp`); use port=0 for a free one."
                ) from exc
            except TimeoutError as exc:
                raise SmtpServerError(
                    f"test SMTP server on {self.host}:{self.port} did not come up: {exc} "
                    "(machine busy? set AIOSMTPD_CONTROLLER_TIMEOUT higher)"
                ) from exc
            self._controller = controller
            self._auto_port = False  # from now on the port is this server's identity
            return

    def stop(self) -> None:
        """Go down: the port refuses connections until start() (same port) again."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what arrived ----------------------------------------------------------------------

    @property
    def messages(self) -> list[ReceivedMail]:
        """Accepted mails in arrival order (a copy)."""
        with self._lock:
            return list(self._messages)

    @property
    def attempts(self) -> int:
        """DATA commands seen, accepted or refused, plus RCPTs refused by fail_with(at="RCPT")."""
        with self._lock:
            return self._attempts

    def clear(self) -> None:
        """Forget accepted mails and the attempt count (failure mode stays)."""
        with self._lock:
            self._messages.clear()
            self._attempts = 0

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Block until at least *count* mails were accepted; AssertionError on timeout."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._messages) >= count, timeout):
                got = [
                    f"{m.mail_from} -> {', '.join(m.rcpt_tos)}: {_subject(m.data)}"
                    for m in self._messages
                ]
                raise AssertionError(
                    f"expected {count} mail(s) on {self.host}:{self.port} within {timeout} s, "
                    f"got {len(got)} (attempts {self._attempts}): {got}"
                )
            return list(self._messages)

    # -- failure injection -----------------------------------------------------------------

    def fail_with(
        self,
        code: int,
        text: str | None = None,
        *,
        times: int | None = None,
        at: Stage = "DATA",
    ) -> None:
        """Refuse the next *times* DATA (or RCPT) commands with *code* (None: until succeed())."""
        if not 400 <= code < 600:
            raise ValueError(f"fail_with needs a 4xx or 5xx code, not {code}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for 'until succeed()')")
        default = "4.3.0 Try again later (test)" if code < 500 else "5.7.1 Refused (test)"
        with self._lock:
            self._failure = _Failure(code, text or default, at, times)

    def succeed(self) -> None:
        """Accept again after fail_with()."""
        with self._lock:
            self._failure = None

    # -- called from the server thread -----------------------------------------------------

    def _refusal(self, stage: Stage) -> str | None:
        with self._lock:
            if stage == "DATA":
                self._attempts += 1
            failure = self._failure
            if failure is None or failure.stage != stage:
                return None
            if stage == "RCPT":
                self._attempts += 1
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failure = None
            return f"{failure.code} {failure.text}"

    def _record(self, mail: ReceivedMail) -> None:
        with self._lock:
            self._messages.append(mail)
            self._lock.notify_all()

    def _lmtp_probe(self, mail_from: str, rcpt: str) -> str | None:
        """Dovecot's answer to RCPT for *rcpt* as an SMTP reply, or None if accepted."""
        assert self.lmtp is not None
        with smtplib.LMTP(*self.lmtp, timeout=10) as lmtp:
            lmtp.ehlo("smtp.mailflow.test")
            code, msg = lmtp.mail(mail_from)
            if code != 250:
                return _reply(code, msg)
            code, msg = lmtp.rcpt(rcpt)
            if code not in (250, 251):
                return _reply(code, msg)
            lmtp.rset()
        return None

    def _lmtp_deliver(self, mail_from: str, rcpts: tuple[str, ...], data: bytes) -> str | None:
        """Deliver to each recipient in its own LMTP transaction; an SMTP error reply or None."""
        assert self.lmtp is not None
        with smtplib.LMTP(*self.lmtp, timeout=30) as lmtp:
            lmtp.ehlo("smtp.mailflow.test")
            options = ["BODY=8BITMIME"] if not data.isascii() and lmtp.has_extn("8bitmime") else []
            for rcpt in rcpts:
                try:
                    lmtp.sendmail(mail_from, [rcpt], data, mail_options=options)
                except smtplib.SMTPRecipientsRefused as exc:
                    code, msg = exc.recipients[rcpt]
                    return _reply(code, msg)
                except smtplib.SMTPResponseException as exc:
                    return _reply(exc.smtp_code, exc.smtp_error)
        return None


class _Handler:
    """aiosmtpd hooks; blocking LMTP work runs in a worker thread, not on the loop."""

    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self.owner._refusal("RCPT")
        if refusal is not None:
            return refusal
        if self.owner.lmtp is not None:
            try:
                answer = await asyncio.to_thread(
                    self.owner._lmtp_probe, envelope.mail_from or "", address
                )
            except (OSError, smtplib.SMTPException) as exc:
                return f"451 4.4.0 Dovecot LMTP at {self.owner.lmtp} unavailable: {exc}"
            if answer is not None:
                return answer
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        refusal = self.owner._refusal("DATA")
        if refusal is not None:
            return refusal
        data: bytes = envelope.original_content or b""
        sender = "" if envelope.mail_from in (None, "<>") else str(envelope.mail_from)
        mail = ReceivedMail(sender, tuple(envelope.rcpt_tos), data)
        if self.owner.lmtp is not None:
            try:
                answer = await asyncio.to_thread(
                    self.owner._lmtp_deliver, mail.mail_from, mail.rcpt_tos, data
                )
            except (OSError, smtplib.SMTPException) as exc:
                return f"451 4.4.0 Dovecot LMTP at {self.owner.lmtp} unavailable: {exc}"
            if answer is not None:
                return answer
        self.owner._record(mail)
        return "250 2.0.0 OK: queued"


def _reply(code: int, msg: bytes | str) -> str:
    text = msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg
    return f"{code} {' '.join(text.split())}"


def _subject(data: bytes) -> str:
    try:
        return str(
            BytesParser(policy=email.policy.default)
            .parsebytes(data, headersonly=True)
            .get("Subject", "")
        )
    except Exception:  # a summary for an assertion message must never raise
        return "?"
