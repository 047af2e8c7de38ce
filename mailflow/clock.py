"""The clock is an edge like IMAP: passed in, so tests and dry runs can set the time."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from time import monotonic
from typing import Protocol

from mailflow.errors import ConfigError

NOW_ENV = "MAILFLOW_NOW"


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """Starts at a given instant and then runs on (so retries and timeouts still advance)."""

    start: datetime
    _origin: float = field(default_factory=monotonic)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=monotonic() - self._origin)


def parse_instant(text: str) -> datetime:
    """ISO 8601 with an offset, e.g. ``2026-11-24T10:00+08:00``."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"--now/{NOW_ENV}: {text!r} is not an ISO 8601 time") from exc
    if value.tzinfo is None:
        raise ConfigError(f"--now/{NOW_ENV}: {text!r} needs an offset, e.g. +08:00")
    return value


def clock_from(now: str | None) -> Clock:
    """``--now`` wins, then ``MAILFLOW_NOW``, else the real clock."""
    text = now or os.environ.get(NOW_ENV)
    return FixedClock(parse_instant(text)) if text else SystemClock()
