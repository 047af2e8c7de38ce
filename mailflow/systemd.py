"""systemd readiness and watchdog: the sd_notify protocol, which is one datagram a message.

``Type=notify`` units wait for ``READY=1`` before counting the service as started (the
database reached and migrated), and ``WatchdogSec=`` restarts a service that stops sending
``WATCHDOG=1`` (a hung loop). Without ``$NOTIFY_SOCKET`` (not under systemd) nothing is sent.
A few lines instead of a dependency: the protocol is a datagram to a unix socket.
"""

from __future__ import annotations

import os
import socket
import time


class Notifier:
    def __init__(self, address: str | None, watchdog_seconds: float | None = None) -> None:
        self._address = address
        self.watchdog_seconds = watchdog_seconds
        self._last_ping = float("-inf")

    @classmethod
    def from_environment(cls) -> Notifier:
        address = os.environ.get("NOTIFY_SOCKET") or None
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        watchdog = None
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog = int(usec) / 1_000_000
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, message: str) -> bool:
        """Send *message* (``READY=1``, ``STATUS=…``); False when not under systemd or the
        socket is gone (never an error: the service runs on without its manager)."""
        if not self._address:
            return False
        address = self._address
        if address.startswith("@"):  # abstract namespace
            address = "\0" + address[1:]
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(address)
                sock.sendall(message.encode("utf-8"))
        except OSError:
            return False
        return True

    def ready(self, status: str = "") -> None:
        self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, text: str) -> None:
        self.notify(f"STATUS={text}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def alive(self) -> None:
        """``WATCHDOG=1``, at most every half watchdog interval (call it from the loop)."""
        if self.watchdog_seconds is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.watchdog_seconds / 4:
            self._last_ping = now
            self.notify("WATCHDOG=1")

    def max_wait(self, seconds: float) -> float:
        """*seconds*, shortened so the loop comes round before the watchdog fires."""
        if self.watchdog_seconds is None:
            return seconds
        return min(seconds, self.watchdog_seconds / 3)
