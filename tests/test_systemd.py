"""sd_notify over a real unix datagram socket: READY=1 once the database is reached,
WATCHDOG=1 while the loop turns, STOPPING=1 on SIGTERM (docs/deployment.md's Type=notify)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.clock import SystemClock
from mailflow.config import MailboxSettings, Settings, StorageSettings
from mailflow.service import Service
from mailflow.systemd import Notifier


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    try:
        yield path, sock
    finally:
        sock.close()


def received(sock: socket.socket, until: str, limit: int = 200) -> list[str]:
    messages: list[str] = []
    for _ in range(limit):
        messages.append(sock.recv(4096).decode())
        if until in messages[-1]:
            return messages
    raise AssertionError(f"{until} never came: {messages}")


def test_notifier_speaks_the_protocol(notify_socket: tuple[str, socket.socket],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path, sock = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    notifier = Notifier.from_environment()
    assert notifier.enabled and notifier.watchdog_seconds == 2.0
    notifier.ready("up")
    assert sock.recv(100) == b"READY=1\nSTATUS=up"
    notifier.alive()
    notifier.alive()  # too soon for a second ping
    notifier.status("x")
    assert [sock.recv(100), sock.recv(100)] == [b"WATCHDOG=1", b"STATUS=x"]
    assert notifier.max_wait(30.0) == pytest.approx(2 / 3)


def test_no_socket_no_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not Notifier.from_environment().notify("READY=1")
    gone = Notifier(str(tmp_path / "gone"))
    assert not gone.notify("READY=1")  # the manager went away: the service runs on


def test_abstract_socket_address(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"mailflow-test-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert Notifier("@" + name).notify("READY=1")
        assert sock.recv(100) == b"READY=1"


def test_run_forever_is_ready_pings_the_watchdog_and_says_stopping(
    notify_socket: tuple[str, socket.socket], tmp_path: Path
) -> None:
    path, sock = notify_socket
    settings = Settings(
        mailbox=MailboxSettings(source="maildir", maildir_path=tmp_path / "box",
                                poll_interval_seconds=0.2),
        storage=StorageSettings(data_dir=tmp_path / "data"),
    )
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "box" / sub).mkdir(parents=True)
    service = Service(settings, SystemClock(), notifier=Notifier(path, watchdog_seconds=0.8))
    runner = threading.Thread(target=service.run_forever, kwargs={"install_signals": False})
    runner.start()
    try:
        first = received(sock, "READY=1")
        assert first[-1].startswith("READY=1")
        received(sock, "WATCHDOG=1")
        received(sock, "WATCHDOG=1")  # and again: the loop keeps pinging
    finally:
        service.request_stop()
        runner.join(30)
    assert not runner.is_alive()
    assert "STOPPING=1" in received(sock, "STOPPING=1")[-1]
