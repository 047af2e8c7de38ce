"""Issue 20, the stall: a mail LibreOffice converts is read in the background, and the other
mails of the mailbox are taken in and answered while it converts.

A conversion is made to last as long as the test wants by a stand-in ``soffice`` (a script
run exactly as LibreOffice would be: in the box, under the limits, by legacy.py) that says
it started and then waits for a gate file before it writes its result, a real filled-in
.docx form. The assertions are about order (the gate is still shut, so that conversion is
provably still in flight), never about time. The end-to-end test with the real LibreOffice,
Dovecot and SMTP is tests/test_conversion_stall_e2e.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from mailflow.clock import SystemClock
from mailflow.config import Settings
from mailflow.documents.definitions import FormCatalog, default_forms_dir
from mailflow.documents.legacy import LegacyConverter
from mailflow.mail.sources import MailSource
from mailflow.service import Service
from mailflow.store.archive import sha256_hex
from mailflow.store.models import AuditEvent, InboundMail, OutboxMessage, Request
from mailflow_testing import mailbuild
from tests.formfill import SAMPLES, fill_docx
from tests.paths import CORPUS
from tests.stack import SERVICE

DOC = "application/msword"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HOSTILE = "slow.sender@example.test"
ORDINARY = [f"staff{i}@example.test" for i in range(3)]

GATED = """#!/usr/bin/env python3
# a stand-in soffice: notes its pid, waits for the gate, then "converts" to a real form
import os, shutil, sys, time
args = sys.argv
out, src = args[args.index("--outdir") + 1], args[-1]
target = args[args.index("--convert-to") + 1].split(":")[0]
with open({marker!r}, "a") as fh:
    fh.write(str(os.getpid()) + "\\n")
deadline = time.monotonic() + 300
while not os.path.exists({gate!r}) and time.monotonic() < deadline:
    time.sleep(0.05)
stem = os.path.splitext(os.path.basename(src))[0]
shutil.copyfile({result!r}, os.path.join(out, stem + "." + target))
"""


class Gated:
    """The stand-in soffice and its gate."""

    def __init__(self, tmp_path: Path, result: bytes) -> None:
        self.marker = tmp_path / "soffice-started"
        self.gate = tmp_path / "soffice-gate"
        converted = tmp_path / "converted.docx"
        converted.write_bytes(result)
        self.path = tmp_path / "soffice-gated"
        self.path.write_text(GATED.format(marker=str(self.marker), gate=str(self.gate),
                                          result=str(converted)))
        self.path.chmod(0o755)

    def started(self) -> list[int]:
        if not self.marker.exists():
            return []
        return [int(line) for line in self.marker.read_text().split()]

    def open(self) -> None:
        self.gate.touch()

    def is_open(self) -> bool:
        return self.gate.exists()


def filled(catalog: FormCatalog, kind: str) -> bytes:
    blank = (default_forms_dir() / "blank" / f"{kind}.docx").read_bytes()
    return fill_docx(blank, catalog.get(kind), SAMPLES[kind])


def hostile_mail() -> bytes:
    """A mail with 20 copies of a legacy .doc: one conversion (copies convert once)."""
    doc = (CORPUS / "poi/document/SampleDoc.doc").read_bytes()
    return mailbuild.to_crlf(mailbuild.human_mail(
        sender=HOSTILE, to=SERVICE, subject="会议纪要（旧格式）", body="见附件",
        attachments=[(f"纪要{i}.doc", doc, DOC) for i in range(20)]))


def ordinary_mail(catalog: FormCatalog, sender: str) -> bytes:
    return mailbuild.to_crlf(mailbuild.human_mail(
        sender=sender, to=SERVICE, subject="会议纪要", body="见附件",
        attachments=[("会议纪要.docx", filled(catalog, "minutes"), DOCX)]))


def maildir_settings(tmp_path: Path, database_url: str, soffice: Path) -> Settings:
    maildir = tmp_path / "maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    return Settings.model_validate({
        "mailbox": {"source": "maildir", "maildir_path": str(maildir)},
        "storage": {"data_dir": str(tmp_path / "data"), "database_url": database_url},
        # the gate, not the timeout, ends the conversion
        "forms": {"libreoffice": str(soffice), "conversion_timeout_seconds": 120,
                  "conversion_budget_seconds": 120},
    })


def deliver(settings: Settings, name: str, raw: bytes) -> None:
    (settings.mailbox.maildir_path / "new" / name).write_bytes(raw)


def in_inbox(settings: Settings) -> int:
    box = settings.mailbox.maildir_path
    return sum(1 for sub in ("new", "cur") for _ in (box / sub).iterdir())


def senders_recorded(service: Service) -> list[str]:
    with service.factory() as session:
        return sorted(session.execute(select(InboundMail.from_addr)).scalars())


def replies_to(service: Service, who: str) -> int:
    with service.factory() as session:
        return session.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.primary_recipient == who)).scalar_one()


def opened_source(service: Service) -> MailSource:
    source = service.new_source()
    source.open()
    return source


def test_other_mails_are_answered_while_a_mail_converts_and_it_follows_exactly_once(
    tmp_path: Path, database_url: str, catalog: FormCatalog
) -> None:
    gated = Gated(tmp_path, filled(catalog, "minutes"))
    settings = maildir_settings(tmp_path, database_url, gated.path)
    hostile = hostile_mail()
    deliver(settings, "1-hostile.eml", hostile)  # first in the mailbox
    for number, sender in enumerate(ORDINARY, start=2):
        deliver(settings, f"{number}-ordinary.eml", ordinary_mail(catalog, sender))
    service = Service(settings, SystemClock())
    try:
        source = opened_source(service)
        first = service.take_in(source, settle=False)  # what the loop does
        service.send_due()

        # the gate is shut: that conversion is still in flight, and the others are answered
        assert not gated.is_open()
        assert (first.taken_in, first.converting) == (3, 1)
        assert senders_recorded(service) == ORDINARY
        assert all(replies_to(service, who) == 1 for who in ORDINARY)
        # archived first, recorded nothing, still in the inbox (a crash now loses nothing)
        assert service.archive.path_for(sha256_hex(hostile)).is_file()
        assert replies_to(service, HOSTILE) == 0
        assert in_inbox(settings) == 1
        # another pass meanwhile neither waits for it nor starts it again
        again = service.take_in(source, settle=False)
        assert (again.taken_in, again.converting) == (0, 1)

        gated.open()
        assert service.conversions is not None and service.conversions.wait(120)
        last = service.take_in(source, settle=False)
        service.send_due()
        after = service.take_in(source, settle=False)
        source.close()

        assert (last.taken_in, last.converting) == (1, 0)
        assert (after.taken_in, after.converting, after.duplicates) == (0, 0, 0)
        assert len(gated.started()) == 1  # 20 copies, one conversion, over three passes
        assert in_inbox(settings) == 0
        assert replies_to(service, HOSTILE) == 1
        with service.factory() as session:
            (mail,) = session.execute(select(InboundMail).where(
                InboundMail.from_addr == HOSTILE)).scalars()
            assert mail.sha256 == sha256_hex(hostile)
            received = session.execute(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.mail_id == mail.id, AuditEvent.action == "mail_received")
            ).scalar_one()
            kinds = session.execute(select(Request.kind).where(
                Request.source_mail_id == mail.id)).scalars().all()
        # read from what the conversion gave back: the first ten copies (the per-mail
        # office budget), each a request; the mail's one "received" is on each of them
        assert kinds == ["minutes"] * settings.forms.max_office_attachments
        assert received == len(kinds)
    finally:
        service.close()


def test_run_once_answers_the_others_first_then_waits_for_the_conversion(
    tmp_path: Path, sqlite_url: str, catalog: FormCatalog
) -> None:
    """`run --once`: the gate opens only once the ordinary mails are recorded (a thread
    watching the database), so a pass that waited for the conversion first could never
    finish; the pass then waits for the conversion and takes that mail in too."""
    gated = Gated(tmp_path, filled(catalog, "minutes"))
    settings = maildir_settings(tmp_path, sqlite_url, gated.path)
    deliver(settings, "1-hostile.eml", hostile_mail())
    for number, sender in enumerate(ORDINARY, start=2):
        deliver(settings, f"{number}-ordinary.eml", ordinary_mail(catalog, sender))
    service = Service(settings, SystemClock())
    seen: dict[str, list[str]] = {}

    def open_when_the_others_are_in() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            recorded = senders_recorded(service)
            if recorded == ORDINARY and gated.started():
                seen["recorded"] = recorded
                break
            time.sleep(0.05)
        gated.open()  # (also after the bound: the pass must end either way)

    watcher = threading.Thread(target=open_when_the_others_are_in)
    watcher.start()
    try:
        report = service.run_once()
    finally:
        watcher.join()
        service.close()
    assert seen.get("recorded") == ORDINARY  # answered while the conversion was held
    assert report.intake.taken_in == 4
    assert report.intake.converting == 0
    assert in_inbox(settings) == 0
    service = Service(settings, SystemClock())
    try:
        assert replies_to(service, HOSTILE) == 1
        assert senders_recorded(service) == sorted([HOSTILE, *ORDINARY])
    finally:
        service.close()


def test_killed_during_a_conversion_the_mail_is_taken_in_after_restart(
    tmp_path: Path, sqlite_url: str, catalog: FormCatalog
) -> None:
    """kill -9 of `mailflow run` while a mail converts: the others are in, that one was
    never recorded and is still in the inbox; the next start takes it in, once."""
    from mailflow_testing.config_file import write_config

    gated = Gated(tmp_path, filled(catalog, "minutes"))
    settings = maildir_settings(tmp_path, sqlite_url, gated.path)
    deliver(settings, "1-hostile.eml", hostile_mail())
    for number, sender in enumerate(ORDINARY, start=2):
        deliver(settings, f"{number}-ordinary.eml", ordinary_mail(catalog, sender))
    config = write_config(settings, tmp_path / "config.toml")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailflow", "--config", str(config), "run"],
        cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    service = Service(settings, SystemClock())
    try:
        deadline = time.monotonic() + 60
        while not (senders_recorded(service) == ORDINARY and gated.started()):
            assert time.monotonic() < deadline, "the ordinary mails were not taken in"
            assert proc.poll() is None
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert in_inbox(settings) == 1
        assert HOSTILE not in senders_recorded(service)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        service.close()

    gated.open()  # the restarted service's conversion goes through
    service = Service(settings, SystemClock())
    try:
        report = service.run_once()
        assert report.intake.taken_in == 1
        assert in_inbox(settings) == 0
        assert replies_to(service, HOSTILE) == 1
        assert senders_recorded(service) == sorted([HOSTILE, *ORDINARY])
    finally:
        service.close()


def test_a_conversion_whose_service_died_is_killed_at_its_own_timeout(tmp_path: Path) -> None:
    """legacy.py runs LibreOffice under coreutils ``timeout``: with nobody left to stop it
    (the service was killed), a stalled conversion still ends."""
    gated = Gated(tmp_path, b"unused")
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys\n"
        "from mailflow.documents.legacy import LegacyConverter\n"
        f"LegacyConverter({str(gated.path)!r}, timeout_s=1).convert(b'x', 'doc')\n")])
    try:
        deadline = time.monotonic() + 60
        while not gated.started():
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        (pid,) = gated.started()
        while _alive(pid):
            assert time.monotonic() < deadline, "the orphaned conversion was never stopped"
            time.sleep(0.1)
    finally:
        gated.open()
        if child.poll() is None:
            child.kill()
            child.wait()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_with_no_conversion_workers_the_pass_converts_as_before(
    tmp_path: Path, sqlite_url: str, catalog: FormCatalog
) -> None:
    gated = Gated(tmp_path, filled(catalog, "minutes"))
    gated.open()
    settings = maildir_settings(tmp_path, sqlite_url, gated.path)
    settings = settings.model_copy(update={"forms": settings.forms.model_copy(
        update={"conversion_workers": 0})})
    deliver(settings, "1-hostile.eml", hostile_mail())
    service = Service(settings, SystemClock())
    try:
        assert service.conversions is None
        source = opened_source(service)
        report = service.take_in(source, settle=False)
        source.close()
        assert (report.taken_in, report.converting) == (1, 0)
    finally:
        service.close()


def test_converter_is_found_for_the_stand_in(tmp_path: Path) -> None:
    """The stand-in really runs where LibreOffice would (sanity of the fixture)."""
    gated = Gated(tmp_path, b"PK-not-really")
    gated.open()
    assert LegacyConverter(str(gated.path)).convert(b"x", "doc") == b"PK-not-really"
