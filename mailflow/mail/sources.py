"""Where inbound mail comes from: an IMAP folder (production) or a Maildir (demo, offline).

A source hands out raw bytes with a stable position (``source_key`` + uid) and moves messages
once mailflow has committed them; it never interprets a mail.
"""

from __future__ import annotations

import contextlib
import mailbox
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import imapclient
import structlog
from imapclient.exceptions import IMAPClientError, LoginError

from mailflow.config import MailboxSettings
from mailflow.errors import AuthError, SourceError, server_text

Target = Literal["processed", "quarantine"]


@dataclass(frozen=True)
class FetchedMail:
    uid: str
    raw: bytes


class MailSource(Protocol):
    source_key: str

    def open(self) -> None: ...

    def batches(self, size: int) -> Iterator[list[FetchedMail]]:
        """The mails waiting now, *size* at a time (sources may set ``waiting`` to their
        number when they know it: the CLI's progress)."""
        ...

    def move(self, uids: Sequence[str], target: Target) -> None: ...

    def wait(self, timeout: float) -> bool:
        """Block until new mail may have arrived (IDLE) or *timeout*; True if woken by news."""
        ...

    def close(self) -> None: ...


IMAP_ERRORS = (IMAPClientError, OSError, socket.timeout, ssl.SSLError)


class ImapSource:
    def __init__(self, settings: MailboxSettings) -> None:
        self._s = settings
        self._client: imapclient.IMAPClient | None = None
        self._validity = 0
        self.source_key = ""
        self.waiting: int | None = None  # mails found by the last batches() (for progress)

    @property
    def client(self) -> imapclient.IMAPClient:
        if self._client is None:
            raise SourceError("IMAP source used before open()")
        return self._client

    def open(self) -> None:
        s = self._s
        try:
            context = None
            if s.security != "none":
                context = ssl.create_default_context(cafile=str(s.cafile) if s.cafile else None)
            client = imapclient.IMAPClient(
                s.host, port=s.port, ssl=s.security == "tls", ssl_context=context,
                timeout=s.timeout_seconds,
            )
            if s.security == "starttls":
                client.starttls(context)
            client.login(s.username, s.password)
            for folder in (s.processed_folder, s.quarantine_folder):
                if not client.folder_exists(folder):
                    client.create_folder(folder)
            status = client.select_folder(s.folder)
        except LoginError as exc:
            raise AuthError(f"IMAP {s.host}:{s.port} refused the login of {s.username!r}: "
                            f"{server_text(exc)}; fix [mailbox] username/password "
                            "(MAILFLOW_MAILBOX_PASSWORD)") from exc
        except IMAP_ERRORS as exc:
            raise SourceError(f"IMAP {s.host}:{s.port} ({s.username}): "
                              f"{server_text(exc)}") from exc
        self._client = client
        self._validity = status.get(b"UIDVALIDITY", 0)
        # a position is (server, folder, UIDVALIDITY, UID): a folder deleted and created
        # again, or restored, numbers its mails from 1 again under a new UIDVALIDITY
        self.source_key = (f"imap://{s.username}@{s.host}:{s.port}/{s.folder};"
                           f"UIDVALIDITY={self._validity}")

    def _same_folder(self) -> None:
        """Raise unless the folder still has the UIDVALIDITY it was opened with: UIDs of
        another generation of the folder must never be taken, or moved, as ours (issue 19).
        The service then reconnects and reads the new generation under its own key."""
        try:
            status = self.client.folder_status(self._s.folder, ["UIDVALIDITY"])
        except IMAP_ERRORS as exc:
            raise SourceError(f"IMAP STATUS {self._s.folder} failed: {exc}") from exc
        if status.get(b"UIDVALIDITY", 0) != self._validity:
            raise SourceError(f"IMAP folder {self._s.folder} was recreated (UIDVALIDITY "
                              f"{self._validity} -> {status.get(b'UIDVALIDITY')}); reopening")

    def batches(self, size: int) -> Iterator[list[FetchedMail]]:
        self._same_folder()
        try:
            uids = sorted(self.client.search(["UNDELETED"]))
            self.waiting = len(uids)
            for start in range(0, len(uids), size):
                chunk = uids[start:start + size]
                fetched = self.client.fetch(chunk, ["BODY.PEEK[]"])
                yield [
                    FetchedMail(uid=str(uid), raw=fetched[uid][b"BODY[]"])
                    for uid in chunk
                    if uid in fetched and b"BODY[]" in fetched[uid]
                ]
        except IMAP_ERRORS as exc:
            raise SourceError(f"IMAP fetch failed: {exc}") from exc

    def move(self, uids: Sequence[str], target: Target) -> None:
        if not uids:
            return
        folder = self._s.processed_folder if target == "processed" else self._s.quarantine_folder
        ids = [int(u) for u in uids]
        self._same_folder()
        try:
            if self.client.has_capability("MOVE"):
                self.client.move(ids, folder)
            else:
                self.client.copy(ids, folder)
                self.client.delete_messages(ids)
                self.client.uid_expunge(ids)
        except IMAP_ERRORS as exc:
            raise SourceError(f"IMAP move to {folder} failed: {exc}") from exc

    def wait(self, timeout: float) -> bool:
        """IDLE (RFC 2177) until the server reports news; callers keep timeout < 29 min."""
        if not self._s.idle or not self.client.has_capability("IDLE"):
            time.sleep(timeout)
            return False
        responses: list[Any] = []
        try:
            self.client.idle()
            try:
                responses = list(self.client.idle_check(timeout=timeout))
            finally:
                # news that came in just as the wait ended arrives with DONE's answer: it
                # is never reported again, so it counts too (short waits: conversions.py)
                _, after = self.client.idle_done()
                responses += after
            if not _news(responses):
                # servers tell an IDLE client of new mail late (Dovecot: 500 ms), so mail of
                # the wait's last moments is not told yet: a NOOP sees it at once
                responses += self.client.noop()[1]
        except IMAP_ERRORS as exc:
            raise SourceError(f"IMAP IDLE failed: {exc}") from exc
        return _news(responses)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(*IMAP_ERRORS):
                client.logout()


class MaildirSource:
    """Reads ``cur``/``new`` of a Maildir; processed mail moves into Maildir++ sub-folders."""

    def __init__(self, settings: MailboxSettings) -> None:
        self._s = settings
        self._box: mailbox.Maildir | None = None
        self.source_key = f"maildir://{settings.maildir_path.resolve()}"
        self.waiting: int | None = None  # mails found by the last batches() (for progress)

    def _folder_name(self, target: Target) -> str:
        name = self._s.processed_folder if target == "processed" else self._s.quarantine_folder
        return name.replace("/", ".")

    def open(self) -> None:
        path: Path = self._s.maildir_path
        if not path.exists():
            # the embedded default and a fresh data directory start with an empty Maildir
            # (drop .eml files into its new/); said once, so a mistyped path is noticed
            try:
                for sub in ("cur", "new", "tmp"):
                    (path / sub).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise SourceError(f"Maildir {path} does not exist and cannot be created "
                                  f"({exc.strerror}); fix [mailbox] maildir_path") from exc
            structlog.get_logger(__name__).warning("Maildir did not exist; created it empty",
                                                   maildir=str(path))
        parts = [path / sub for sub in ("cur", "new", "tmp")]
        if not any(part.is_dir() for part in parts):
            raise SourceError(f"{path} is not a Maildir: it has none of cur/, new/, tmp/")
        try:  # git and zip drop empty folders: a copied Maildir often lacks new/ or tmp/
            for part in parts:
                part.mkdir(exist_ok=True)
        except OSError as exc:
            raise SourceError(f"Maildir {path}: cannot create {exc.filename}: {exc}") from exc
        self._box = mailbox.Maildir(path, factory=None, create=False)

    @property
    def box(self) -> mailbox.Maildir:
        if self._box is None:
            raise SourceError("Maildir source used before open()")
        return self._box

    def batches(self, size: int) -> Iterator[list[FetchedMail]]:
        keys = sorted(self.box.iterkeys())
        self.waiting = len(keys)
        for start in range(0, len(keys), size):
            batch = []
            for key in keys[start:start + size]:
                with contextlib.suppress(KeyError), self.box.get_file(key) as fh:
                    batch.append(FetchedMail(uid=key, raw=fh.read()))
            yield batch

    def move(self, uids: Sequence[str], target: Target) -> None:
        name = self._folder_name(target)
        folder = (self.box.get_folder(name) if name in self.box.list_folders()
                  else self.box.add_folder(name))
        for key in uids:
            try:
                with self.box.get_file(key) as fh:
                    raw = fh.read()
            except KeyError:
                continue
            folder.add(raw)
            self.box.discard(key)

    def wait(self, timeout: float) -> bool:
        time.sleep(timeout)
        return False

    def close(self) -> None:
        self._box = None


def _news(responses: list[Any]) -> bool:
    """Do these untagged responses say that mail came?"""
    return any(isinstance(r, tuple) and len(r) > 1 and r[1] in (b"EXISTS", b"RECENT")
               for r in responses)


def probe_imap(settings: MailboxSettings) -> None:
    """Connect (and TLS) and log out without logging in: does the server answer?"""
    context = None
    if settings.security != "none":
        context = ssl.create_default_context(
            cafile=str(settings.cafile) if settings.cafile else None)
    try:
        client = imapclient.IMAPClient(settings.host, port=settings.port,
                                       ssl=settings.security == "tls", ssl_context=context,
                                       timeout=settings.timeout_seconds)
        if settings.security == "starttls":
            client.starttls(context)
        client.logout()
    except IMAP_ERRORS as exc:
        raise SourceError(f"IMAP {settings.host}:{settings.port}: {server_text(exc)}") from exc


def make_source(settings: MailboxSettings) -> MailSource:
    return ImapSource(settings) if settings.source == "imap" else MaildirSource(settings)
