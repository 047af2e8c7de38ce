"""Issue 20, findings 1 and 2: LibreOffice converts the sender's .doc in a box, and a mail's
office files cannot stall intake or hold the database's write lock.

The SSRF probe is a real .doc whose picture is linked to a URL (LibreOffice itself writes it
from HTML with an <img>), served by an HTTP listener this test starts: converted outside the
box, LibreOffice fetches it (the control); in the box, the listener sees nothing and the file
still converts. A stand-in ``soffice`` (a script that records what it may do, or sleeps) shows
the limits it runs under and what a slow conversion does to a concurrent writer.
"""

from __future__ import annotations

import http.server
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailflow.config import Settings
from mailflow.documents.examine import Budget, FormDesk
from mailflow.documents.legacy import LegacyConverter
from mailflow.documents.safety import FileRefused, Refusal
from mailflow.mail.parse import parse_mail
from mailflow.store.models import InboundMail, OutboxMessage
from mailflow_testing import hostile_office, mailbuild
from tests.paths import CORPUS
from tests.stack import SERVICE, query, run_once, stack_settings

SOFFICE = shutil.which("soffice")
needs_soffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed")
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63f8cf00000301010018dd8db40000000049454e44ae426082")
DOC = "application/msword"


class Listener:
    """An HTTP server on 127.0.0.1 that answers every request with a picture and notes it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        seen = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(f"GET {self.path}")
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)

            def do_HEAD(self) -> None:
                seen.append(f"HEAD {self.path}")
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def linked_picture_doc(tmp_path: Path, url: str) -> bytes:
    """A Word 97 .doc whose picture is an INCLUDEPICTURE field pointing at *url*."""
    assert SOFFICE is not None
    data = hostile_office.linked_picture_doc(url, tmp_path / "make-doc")
    assert url.encode() in data or url.encode("utf-16-le") in data
    return data


@needs_soffice
def test_linked_picture_in_a_doc_is_not_fetched_and_the_doc_still_converts(
    tmp_path: Path, listener: Listener
) -> None:
    url = f"http://127.0.0.1:{listener.port}/tracker.png"
    doc = linked_picture_doc(tmp_path, url)
    assert SOFFICE is not None
    # control: the probe works — unboxed, LibreOffice fetches the link while converting
    listener.requests.clear()
    LegacyConverter(SOFFICE, isolate_network=False).convert(doc, "doc")
    assert listener.requests, "the probe .doc should make an unboxed LibreOffice fetch"
    listener.requests.clear()

    converted = LegacyConverter(SOFFICE).convert(doc, "doc")

    assert converted.startswith(b"PK")  # a .docx came out
    assert listener.requests == []


@needs_soffice
def test_without_a_network_namespace_legacy_files_are_refused_not_converted_online(
    tmp_path: Path, listener: Listener, caplog: pytest.LogCaptureFixture
) -> None:
    doc = linked_picture_doc(tmp_path, f"http://127.0.0.1:{listener.port}/x.png")
    listener.requests.clear()
    assert SOFFICE is not None
    boxless = LegacyConverter(SOFFICE, unshare="/bin/false")  # as where unshare is refused

    with pytest.raises(FileRefused) as refused:
        boxless.convert(doc, "doc")

    assert refused.value.refusal is Refusal.LEGACY_FORMAT
    assert "network" in refused.value.detail
    assert listener.requests == []


STAND_IN = """#!/usr/bin/env python3
# a stand-in soffice: writes what it is allowed to do as the "converted" file
import os, sys, time
args = sys.argv
out, src = args[args.index("--outdir") + 1], args[-1]
target = args[args.index("--convert-to") + 1].split(":")[0]
marker = os.environ.get("STAND_IN_MARKER") or {marker!r}
if marker:
    with open(marker, "a") as fh:
        fh.write("started\\n")
time.sleep({sleep})
with open("/proc/self/limits") as fh:
    limits = fh.read()
with open("/proc/net/dev") as fh:
    nets = [line.split(":")[0].strip() for line in fh.readlines()[2:]]
stem = os.path.splitext(os.path.basename(src))[0]
with open(os.path.join(out, stem + "." + target), "w") as fh:
    fh.write(limits + "\\nINTERFACES " + ",".join(nets) + "\\n")
"""


def stand_in(tmp_path: Path, *, sleep: float = 0.0, marker: Path | None = None) -> str:
    script = tmp_path / "soffice-stand-in"
    script.write_text(STAND_IN.format(sleep=sleep, marker=str(marker or "")))
    script.chmod(0o755)
    return str(script)


def test_soffice_runs_with_loopback_only_and_memory_and_cpu_limits(tmp_path: Path) -> None:
    converter = LegacyConverter(stand_in(tmp_path), timeout_s=7,
                                memory_bytes=512 * 1024 * 1024)

    seen = converter.convert(b"any", "doc").decode()

    limits = {line[:26].strip(): line[26:].split() for line in seen.splitlines()
              if line.startswith("Max ")}
    assert limits["Max address space"][0] == str(512 * 1024 * 1024)
    assert int(limits["Max cpu time"][0]) <= 8
    interfaces = seen.split("INTERFACES ")[1].split()[0].split(",")
    assert interfaces == ["lo"]


def mail_with(files: list[tuple[str, bytes, str]], sender: str = "wang.li@example.test") -> bytes:
    return mailbuild.to_crlf(mailbuild.human_mail(
        sender=sender, to=SERVICE, subject="申请", body="见附件", attachments=files))


def test_a_mail_with_many_office_files_reads_only_the_budget_and_converts_copies_once(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "conversions"
    settings = Settings.model_validate({"forms": {
        "libreoffice": stand_in(tmp_path, marker=marker), "max_office_attachments": 5}})
    desk = FormDesk.from_settings(settings)
    assert desk.budget == Budget(5, 60.0)
    ole = CORPUS / "poi/document/SampleDoc.doc"
    doc = ole.read_bytes()
    files = [(f"copy{i}.doc", doc, DOC) for i in range(20)]

    outcome = desk.examine(parse_mail(mail_with(files)))

    assert marker.read_text().count("started") == 1  # 20 copies, one conversion
    codes = [p.code for p in outcome.problems]
    assert codes.count("too_many_files") == 15
    assert len(codes) == 20  # every file is named in the reply, the first five read


def test_conversion_time_budget_of_a_mail_is_shared_by_its_files(tmp_path: Path) -> None:
    settings = Settings.model_validate({"forms": {
        "libreoffice": stand_in(tmp_path, sleep=30), "conversion_timeout_seconds": 2,
        "conversion_budget_seconds": 3}})
    desk = FormDesk.from_settings(settings)
    ole = CORPUS / "poi/document"
    files = [(p.name, p.read_bytes(), DOC) for p in sorted(ole.glob("*.doc"))
             if not p.name.lower().startswith("password")][:4]
    assert len({f[1] for f in files}) == 4

    started = time.monotonic()
    outcome = desk.examine(parse_mail(mail_with(files)))
    spent = time.monotonic() - started

    assert [p.code for p in outcome.problems] == ["legacy_format"] * 4
    assert "budget" in outcome.problems[-1].detail
    assert spent < 20  # not 4 × 30 s: bounded by the mail's budget (a wide margin)


def test_slow_conversion_does_not_hold_the_write_lock_of_sqlite(tmp_path: Path) -> None:
    """A small batch (one mail) used to be examined inside the recording transaction: a
    concurrent write then waited for the whole conversion and failed "database is locked"."""
    marker = tmp_path / "started"
    maildir = tmp_path / "maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    ole = CORPUS / "poi/document/SampleDoc.doc"
    (maildir / "new" / "1.eml").write_bytes(mail_with([("申请表.doc", ole.read_bytes(), DOC)]))
    data = tmp_path / "data"
    settings = Settings.model_validate({
        "mailbox": {"source": "maildir", "maildir_path": str(maildir)},
        "storage": {"data_dir": str(data)},
        "forms": {"libreoffice": stand_in(tmp_path, sleep=4, marker=marker)},
    })
    outcome: dict[str, Exception | None] = {}

    def concurrent_writer() -> None:
        while not marker.exists():
            time.sleep(0.02)
        time.sleep(0.5)  # well into the conversion
        con = sqlite3.connect(data / "mailflow.db", timeout=1.5)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute("CREATE TABLE IF NOT EXISTS probe (x INTEGER)")
            con.execute("INSERT INTO probe VALUES (1)")
            con.commit()
            outcome["error"] = None
        except sqlite3.OperationalError as exc:
            outcome["error"] = exc
        finally:
            con.close()

    writer = threading.Thread(target=concurrent_writer)
    writer.start()
    run_once(settings)
    writer.join(timeout=30)

    assert outcome == {"error": None}
    (mail,) = query(settings, select(InboundMail))
    assert mail.status in ("returned", "registered")
    assert query(settings, select(OutboxMessage.id))  # and it was answered


@needs_soffice
def test_twenty_linked_docs_in_a_mail_through_dovecot_fetch_nothing_and_are_answered(
    mailstack: Any, sqlite_url: str, tmp_path: Path, listener: Listener
) -> None:
    doc = linked_picture_doc(tmp_path, f"http://127.0.0.1:{listener.port}/p.png")
    listener.requests.clear()
    mailstack.dovecot.add_user("wang.li@example.test", "pw")
    settings = stack_settings(mailstack.dovecot, mailstack.smtp, sqlite_url, tmp_path / "d")
    settings = settings.model_copy(update={"forms": settings.forms.model_copy(
        update={"libreoffice": SOFFICE})})
    mailstack.dovecot.append(SERVICE, hostile_office.copies_mail(doc, "wang.li@example.test",
                                                                 to=SERVICE))

    run_once(settings)

    assert listener.requests == []
    (reply,) = [m for m in mailstack.smtp.messages if "wang.li@example.test" in m.rcpt_tos]
    assert "表0.doc" in reply.parsed().get_body(("plain",)).get_content()
