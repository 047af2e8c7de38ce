"""Issue 7: intake records several mails per transaction and reads ahead in a worker process;
none of that may change what happens to a mail.

A Maildir source and SQLite keep these fast (the real IMAP path is in test_intake_e2e). A
batch of twelve form mails is enough for the read-ahead worker (8 or more) and for groups.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailflow.clock import SystemClock
from mailflow.config import Settings
from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.documents.examine import FormDesk
from mailflow.documents.outcome import FormsOutcome
from mailflow.intake import Intake, IntakeReport
from mailflow.mail.classify import Classification
from mailflow.mail.parse import ParsedMail
from mailflow.paths import DEMO_DIR
from mailflow.readahead import MIN_BATCH, ReadAhead
from mailflow.reception import Reception
from mailflow.service import Service
from mailflow.store.models import AuditEvent, InboundMail, OutboxMessage, Request
from mailflow_testing import mailbuild
from tests.formfill import SAMPLES, fill_docx

SERVICE = "service@example.test"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def form_mails(count: int) -> list[bytes]:
    catalog = load_catalog(default_forms_dir())
    form = catalog.get("account")
    blank = catalog.blank_path("account", "docx", default_forms_dir() / "blank").read_bytes()
    mails = []
    for i in range(count):
        values = {**SAMPLES["account"], "reason": f"岗位调整 第{i}号"}
        mails.append(mailbuild.to_crlf(mailbuild.human_mail(
            sender=f"staff{i:02d}@example.test", to=SERVICE, subject=f"帐号申请 第{i}号",
            body="附件是申请表。", attachments=[(f"帐号申请-{i}.docx",
                                               fill_docx(blank, form, values), DOCX)],
        )))
    return mails


def maildir_service(tmp_path: Path, mails: list[bytes]) -> Service:
    maildir = tmp_path / "maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for i, raw in enumerate(mails):
        (maildir / "new" / f"{i:04d}.eml").write_bytes(raw)
    settings = Settings.model_validate({
        "mailbox": {"source": "maildir", "maildir_path": str(maildir)},
        "storage": {"data_dir": str(tmp_path / "data")},
    })
    return Service(settings, SystemClock())


def take_in(service: Service, examine: Callable[[ParsedMail], FormsOutcome],
            fail_after_reply: str | None = None) -> IntakeReport:
    """One pass with forms read ahead by a worker; a mail whose subject holds
    *fail_after_reply* raises after its reference number and reply were written."""
    settings = service.settings
    desk = FormDesk.from_settings(settings)
    ahead = ReadAhead(examine)
    reception = Reception(settings, service.templates, ahead.examine, desk.blank_forms,
                          desk.titles("zh"))

    def respond(session: Session, mail: InboundMail, parsed: ParsedMail, c: Classification,
                now: datetime) -> str:
        status = reception(session, mail, parsed, c, now)
        if fail_after_reply and fail_after_reply in parsed.subject:
            raise RuntimeError("simulated defect after the reply was queued")
        return status

    intake = Intake(service.factory, service.archive, service.clock, respond,
                    settings.own_addresses, read_ahead=ahead)
    source = service.new_source()
    source.open()
    try:
        return intake.run(source)
    finally:
        source.close()


def test_groups_and_read_ahead_record_each_mail_once_and_isolate_the_bad_one(
    tmp_path: Path,
) -> None:
    mails = form_mails(12)
    mails.insert(6, mails[3])  # the same mail twice in one batch
    assert len(mails) >= MIN_BATCH
    service = maildir_service(tmp_path, mails)
    desk = FormDesk.from_settings(service.settings)
    pids = tmp_path / "examined-in"

    def examine(parsed: ParsedMail) -> FormsOutcome:
        with pids.open("a") as fh:
            fh.write(f"{os.getpid()}\n")
        return desk.examine(parsed)

    report = take_in(service, examine, fail_after_reply="第7号")
    assert (report.taken_in, report.duplicates, report.quarantined) == (11, 1, 1)
    assert str(os.getpid()) not in set(pids.read_text().split())  # all read by the worker
    with service.factory() as session:
        requests = session.execute(select(Request).order_by(Request.id)).scalars().all()
        outbox = session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
        bad = session.execute(
            select(InboundMail).where(InboundMail.status == "quarantined")).scalar_one()
        quarantined = session.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "mail_quarantined")).scalar_one()
    service.close()
    # the failing mail's savepoint gave back its reference number and its queued reply
    assert [r.status for r in requests] == ["submitted"] * 11
    assert [int(r.reference.rsplit("-", 1)[1]) for r in requests] == list(range(1, 12))
    assert outbox == 11
    assert "第7号" in bad.subject and "simulated defect" in bad.status_reason
    assert quarantined == 1
    maildir = tmp_path / "maildir"
    assert not any((maildir / "new").iterdir())
    assert len(list((maildir / ".Processed" / "new").iterdir())) == 12
    assert len(list((maildir / ".Quarantine" / "new").iterdir())) == 1


def test_a_worker_that_dies_mid_pass_loses_nothing(tmp_path: Path) -> None:
    service = maildir_service(tmp_path, form_mails(10))
    desk = FormDesk.from_settings(service.settings)
    parent = os.getpid()

    def examine(parsed: ParsedMail) -> FormsOutcome:
        if os.getpid() != parent and "第4号" in parsed.subject:
            os._exit(3)  # the worker dies (a crash in a reader library, the OOM killer)
        return desk.examine(parsed)

    report = take_in(service, examine)
    with service.factory() as session:
        statuses = session.execute(select(Request.status)).scalars().all()
    service.close()
    assert (report.taken_in, report.quarantined) == (10, 0)
    assert statuses == ["submitted"] * 10


def test_maildir_copied_without_its_empty_folders_is_completed_and_a_non_maildir_refused(
    tmp_path: Path,
) -> None:
    """git and zip drop empty folders: a Maildir with only cur/ gets new/ and tmp/ back and
    is read; a folder that is no Maildir at all is refused by name, not with a traceback."""
    import shutil

    import pytest

    from mailflow.config import MailboxSettings
    from mailflow.errors import SourceError
    from mailflow.mail.sources import MaildirSource

    box = tmp_path / "box"
    shutil.copytree(DEMO_DIR / "maildir" / "cur", box / "cur")
    source = MaildirSource(MailboxSettings(source="maildir", maildir_path=box))
    source.open()
    batches = list(source.batches(100))
    assert (box / "new").is_dir() and (box / "tmp").is_dir()
    assert source.waiting == len(batches[0]) > 0
    (tmp_path / "plain").mkdir()
    with pytest.raises(SourceError, match="is not a Maildir"):
        MaildirSource(MailboxSettings(source="maildir", maildir_path=tmp_path / "plain")).open()
