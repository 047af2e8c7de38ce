"""An HTTP server that holds requests: the URL of issue 20 that never answers.

A hostile .doc links a picture to a URL; LibreOffice, converting it with network access,
fetches it and waits. ``HoldingListener`` is that URL on 127.0.0.1: it answers with a picture,
or, while holding, takes each request and answers nothing until ``release``. The stall test
(tests/test_conversion_stall_e2e.py) and ``bench --stall`` keep a conversion in flight with
it for exactly as long as they need.
"""

from __future__ import annotations

import socket
import threading

__all__ = ["PNG", "HoldingListener"]

#: a 1×1 PNG: what the listener answers once released
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63f8cf00000301010018dd8db40000000049454e44ae426082")


class HoldingListener:
    """HTTP on 127.0.0.1: answers with a picture, or, while holding, reads each request and
    never answers (until ``release``)."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._holding = False
        self._held: list[socket.socket] = []
        self.request_held = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self) -> None:
        with self._lock:
            self._holding = True

    def holding(self) -> bool:
        """Is a request being held right now (the conversion still in flight)?"""
        with self._lock:
            return self._holding and bool(self._held)

    def release(self) -> None:
        with self._lock:
            self._holding = False
            held, self._held = self._held, []
        for conn in held:
            _answer(conn)

    def close(self) -> None:
        self.release()
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            conn.settimeout(10)
            data = b""
            try:
                while b"\r\n\r\n" not in data and (chunk := conn.recv(4096)):
                    data += chunk
            except OSError:
                pass
            with self._lock:
                if self._holding:
                    self._held.append(conn)
                    self.request_held.set()
                    continue
            _answer(conn)


def _answer(conn: socket.socket) -> None:
    try:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: "
                     + str(len(PNG)).encode() + b"\r\nConnection: close\r\n\r\n" + PNG)
    except OSError:
        pass
    finally:
        conn.close()
