"""The hostile mail of ``--stall`` (issue 20): LibreOffice kept converting for as long as the
latency run lasts.

The mail carries 20 copies of a real Word 97 .doc whose picture is linked (INCLUDEPICTURE)
to a URL on a listener started here, which accepts the connection, reads the request and
does not answer until released: issue 20's attack as it was found. mailflow's own network
sandbox would cut the link off (nothing is fetched at all), so the run switches it off
(``conversion_network_sandbox = false``, with a conversion timeout and budget longer than
the run) to get a conversion that is provably in flight during every sample.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

from mailflow_testing import SERVICE_ADDRESS, mailbuild

#: a 1×1 PNG: what the listener answers once released
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63f8cf00000301010018dd8db40000000049454e44ae426082")
HOSTILE_SENDER = "attacker@example.test"


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


def linked_picture_doc(url: str) -> bytes:
    """A Word 97 .doc whose picture is an INCLUDEPICTURE field pointing at *url* (written by
    LibreOffice itself from HTML with an <img>)."""
    soffice = shutil.which("soffice")
    if soffice is None:
        raise RuntimeError("--stall needs LibreOffice (soffice) to write the hostile .doc")
    with tempfile.TemporaryDirectory(prefix="mailflow-bench-doc-") as tmp:
        work = Path(tmp)
        (work / "form.html").write_text(
            f'<html><body><p>申请表</p><img src="{url}" width="10" height="10"></body></html>',
            encoding="utf-8")
        subprocess.run(
            [soffice, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
             "--infilter=HTML (StarWriter)", "--convert-to", "doc:MS Word 97", "--outdir",
             str(work), str(work / "form.html")],
            cwd=work, capture_output=True, timeout=120, check=True)
        return (work / "form.doc").read_bytes()


def hostile_mail(doc: bytes) -> bytes:
    return mailbuild.to_crlf(mailbuild.human_mail(
        sender=HOSTILE_SENDER, to=SERVICE_ADDRESS, subject="申请", body="见附件",
        attachments=[(f"表{i}.doc", doc, "application/msword") for i in range(20)]))
