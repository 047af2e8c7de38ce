"""The test SMTP server (mailflow_testing.smtp) in a child process, for the throughput run.

Why a child process: in the thread the tests use, aiosmtpd would share the GIL with the
mailflow pass being timed and slow it down by its own work; a real SMTP server is never
inside mailflow's process. The child keeps every mail, the parent asks over a pipe.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from multiprocessing.connection import Connection
from types import TracebackType

from mailflow_testing.smtp import SmtpServer


def _serve(conn: Connection) -> None:
    server = SmtpServer()
    server.start()
    conn.send((server.host, server.port))
    try:
        while True:
            command, argument = conn.recv()
            if command == "count":
                conn.send(len(server.messages))
            elif command == "wait":
                count, timeout = argument
                try:
                    server.wait_for(count, timeout)
                    conn.send(True)
                except AssertionError:
                    conn.send(False)
            elif command == "recipients":
                conn.send([m.rcpt_tos for m in server.messages])
            elif command == "clear":
                server.clear()
                conn.send(True)
            else:  # "stop"
                conn.send(True)
                return
    finally:
        server.stop()


class SinkProcess:
    """``with SinkProcess() as sink:`` an SMTP server on ``sink.host:sink.port``."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._proc = context.Process(target=_serve, args=(child,), daemon=True)
        self.host = ""
        self.port = 0

    def _ask(self, command: str, argument: object = None) -> object:
        self._conn.send((command, argument))
        return self._conn.recv()

    def start(self) -> None:
        self._proc.start()
        if not self._conn.poll(30):
            raise RuntimeError("the SMTP sink process did not start within 30 s")
        self.host, self.port = self._conn.recv()

    def count(self) -> int:
        answer = self._ask("count")
        assert isinstance(answer, int)
        return answer

    def wait_for(self, count: int, timeout: float) -> bool:
        return bool(self._ask("wait", (count, timeout)))

    def recipients(self) -> list[tuple[str, ...]]:
        answer = self._ask("recipients")
        assert isinstance(answer, list)
        return answer

    def clear(self) -> None:
        self._ask("clear")

    def stop(self) -> None:
        if self._proc.is_alive():
            with contextlib.suppress(OSError, EOFError):
                self._ask("stop")
            self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)

    def __enter__(self) -> SinkProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
