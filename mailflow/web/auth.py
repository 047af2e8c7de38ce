"""Who may sign in, and how often they may fail: argon2 hashes from [web] users, a lockout
after repeated failures, and the CSRF token every form carries.

The lockout is per user name and per process (the web server is one process): after
``max_failed_logins`` failures within the lockout period the name is refused, even with
the right password, until ``lockout_minutes`` have passed. A wrong name costs as much as a
wrong password (a dummy hash is checked), so names cannot be guessed by timing.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mailflow.config import WebSettings, WebUser

_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SignedIn:
    name: str
    roles: tuple[str, ...]


@dataclass
class _Failures:
    count: int = 0
    first: datetime | None = None
    locked_until: datetime | None = None


@dataclass
class Authenticator:
    settings: WebSettings
    _failures: dict[str, _Failures] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def user(self, name: str) -> WebUser | None:
        return next((u for u in self.settings.users if u.name == name), None)

    def locked(self, name: str, now: datetime) -> bool:
        with self._lock:
            state = self._failures.get(name)
            return bool(state and state.locked_until and state.locked_until > now)

    def sign_in(self, name: str, password: str, now: datetime) -> SignedIn | None:
        """The user when *password* is right and the name is not locked; else None."""
        if self.locked(name, now):
            return None
        user = self.user(name)
        try:
            ok: bool = _HASHER.verify(user.password_hash if user else _DUMMY, password)
        except (VerificationError, InvalidHashError):
            ok = False
        if ok and user is not None:
            with self._lock:
                self._failures.pop(name, None)
            return SignedIn(user.name, tuple(user.roles))
        self._fail(name, now)
        return None

    def _fail(self, name: str, now: datetime) -> None:
        window = timedelta(minutes=self.settings.lockout_minutes)
        with self._lock:
            state = self._failures.setdefault(name, _Failures())
            if state.first is None or now - state.first > window:
                state.count, state.first, state.locked_until = 0, now, None
            state.count += 1
            if state.count >= self.settings.max_failed_logins:
                state.locked_until = now + window

    def may_see(self, roles: tuple[str, ...], classification: str) -> bool:
        """R-DX-3: a record classified at a guarded level only for the roles allowed."""
        if classification not in self.settings.classified_levels:
            return True
        return any(role in self.settings.classified_roles for role in roles)

    def hidden_levels(self, roles: tuple[str, ...]) -> tuple[str, ...]:
        if any(role in self.settings.classified_roles for role in roles):
            return ()
        return tuple(self.settings.classified_levels)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str | None) -> bool:
    return bool(given and expected) and hmac.compare_digest(str(given), str(expected))
