"""The small exception hierarchy: each class says what went wrong; callers decide whom to tell."""


class MailflowError(Exception):
    """Base of every error mailflow raises on purpose."""


class ConfigError(MailflowError):
    """The configuration file or environment is invalid; the message names the key."""


class SourceError(MailflowError):
    """The mail source (IMAP server or Maildir) could not be read or changed."""


class SendError(MailflowError):
    """A mail could not be handed to the SMTP server."""

    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


class ArchiveError(MailflowError):
    """The archive could not store or return a blob."""
