"""The small exception hierarchy, and how a failure from the environment becomes one line.

Each class says what went wrong; callers decide whom to tell. ``explain`` turns an error that
comes from outside the program (configuration, files, network, database, permissions) into
one line for an operator — what failed, the value, what to do — and returns None for
anything else, which is a bug and keeps its traceback (in the log).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


class MailflowError(Exception):
    """Base of every error mailflow raises on purpose."""


class ConfigError(MailflowError):
    """The configuration file or environment is invalid; the message names the key."""


class SourceError(MailflowError):
    """The mail source (IMAP server or Maildir) could not be read or changed."""


class AuthError(SourceError):
    """The server refused the service account's user name or password: retrying the same
    credentials cannot help and may lock the account (AD-backed mail servers)."""


class SendError(MailflowError):
    """A mail could not be handed to the SMTP server."""

    def __init__(self, message: str, *, permanent: bool, code: int | None = None,
                 auth: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.auth = auth


class ArchiveError(MailflowError):
    """The archive could not store or return a blob."""


class OperatorError(MailflowError):
    """A command was asked for something that cannot be done (unknown id, wrong state)."""


#: exit statuses of the ``mailflow`` command (sysexits.h where one fits)
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69  # a server (database, SMTP, IMAP) cannot be reached
EXIT_CONFIG = 78  # configuration or credentials: restarting cannot help (systemd stops)


def one_line(text: str) -> str:
    """Newlines (a server's multi-line reply, pydantic's layout) joined into one line."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def server_text(value: object) -> str:
    """A server's reply as words: imaplib hands them out as bytes or as the repr of bytes
    (``b'[AUTHENTICATIONFAILED] …'``), which an operator should never have to read."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    text = str(value)
    for quote in ("'", '"'):
        if text.startswith(f"b{quote}") and text.endswith(quote):
            return text[2:-1]
    return text


_FILE_ADVICE = {
    errno.ENOENT: "create the directory or choose another path",
    errno.EEXIST: "remove it or choose another path",
    errno.EACCES: "fix its permissions or run as the user that owns it",
    errno.EPERM: "fix its permissions or run as the user that owns it",
    errno.EISDIR: "name a file, not a directory",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.ENOSPC: "free some disk space",
    errno.EROFS: "the file system is read-only: use a writable data directory",
}


def explain_os_error(exc: OSError, doing: str = "") -> str:
    """``cannot write /nodir/x.xlsx: No such file or directory (the directory /nodir does not
    exist); create the directory or choose another path``."""
    path = exc.filename if exc.filename is not None else ""
    what = doing or "cannot use"
    reason = exc.strerror or type(exc).__name__
    extra = ""
    if exc.errno == errno.ENOENT and path:
        parent = Path(os.fspath(path)).parent
        if str(parent) not in ("", ".") and not parent.is_dir():
            extra = f" (the directory {parent} does not exist)"
    advice = _FILE_ADVICE.get(exc.errno or 0, "check the path")
    return f"{what} {path}: {reason}{extra}; {advice}".replace("  ", " ")


def explain(exc: BaseException) -> str | None:
    """One line for an environment failure, None for a bug."""
    from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError

    if isinstance(exc, MailflowError):
        return one_line(str(exc))
    if isinstance(exc, (OperationalError, InterfaceError)):
        return ("database unreachable: " + one_line(server_text(exc.orig or exc))
                + "; check [storage] database_url (or MAILFLOW_STORAGE_DATABASE_URL) and that "
                "the database server runs")
    if isinstance(exc, (NoSuchModuleError, ArgumentError)):
        return (f"database URL not usable: {one_line(str(exc))}; use sqlite:///FILE or "
                "postgresql://USER@HOST/DB")
    if isinstance(exc, OSError):
        return explain_os_error(exc)
    return None
