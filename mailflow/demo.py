"""``mailflow demo``: the main job on the embedded default, on bundled sample mails.

Copies the bundled Maildir of Chinese sample mails into a fresh directory, runs one pass with
SQLite and a local outbox folder (no servers needed), and prints what happened to each mail.
"""

from __future__ import annotations

import shutil
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select

from mailflow.clock import FixedClock, parse_instant
from mailflow.config import (
    MailboxSettings,
    Settings,
    SmtpSettings,
    StorageSettings,
)
from mailflow.errors import MailflowError
from mailflow.paths import DEMO_DIR
from mailflow.requests_export import cell_text
from mailflow.service import Service
from mailflow.store.models import AuditEvent, InboundMail, OutboxMessage, Request

#: left in a directory the demo made: only such a directory is ever deleted by the next run
DEMO_MARKER = ".mailflow-demo"

#: the morning the sample mails were written, so every run gives the same numbers and times
DEMO_NOW = "2026-11-23T11:00+08:00"

STATUS_ZH = {
    "registered": "已登记并回执",
    "returned": "退回修改（已说明原因）",
    "resubmitted": "按原编号重新提交，已受理",
    "follow_up": "归入原申请记录，不另回复",
    "ignored": "自动邮件：存档，不回复",
    "unanswerable": "无有效发件人：存档",
    "quarantined": "隔离",
}


def demo_settings(directory: Path) -> Settings:
    return Settings(
        mailbox=MailboxSettings(source="maildir", maildir_path=directory / "maildir"),
        smtp=SmtpSettings(from_address="it-flow@example.com"),
        storage=StorageSettings(data_dir=directory),
    )


def run_demo(directory: Path, console: Console) -> None:
    started = time.monotonic()
    directory = directory.resolve()
    if directory.exists():
        if not (directory / DEMO_MARKER).is_file() and (
                not directory.is_dir() or any(directory.iterdir())):
            # `--dir ~` must never delete a home directory (issue 20)
            raise MailflowError(f"{directory} exists and is not a directory the demo made "
                                f"(no {DEMO_MARKER} in it): choose a new or empty one")
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    (directory / DEMO_MARKER).write_text("made by `mailflow demo`; deleted by its next run\n")
    shutil.copytree(DEMO_DIR / "maildir", directory / "maildir")
    for sub in ("cur", "new", "tmp"):
        (directory / "maildir" / sub).mkdir(exist_ok=True)
    settings = demo_settings(directory)
    console.print(f"[bold]mailflow demo[/bold] — data in {directory}")
    console.print(f"mailbox: Maildir {settings.mailbox.maildir_path} "
                  f"({sum(1 for _ in (directory / 'maildir' / 'cur').iterdir())} sample mails)")
    service = Service(settings, FixedClock(parse_instant(DEMO_NOW)))
    try:
        with console.status("taking mail in…"):
            report = service.run_once()
        _print_mails(service, console)
        _print_forms(service, settings, console)
        _print_replies(service, settings, console)
        with service.factory() as session:
            blobs = session.execute(select(func.count()).select_from(InboundMail)).scalar_one()
    finally:
        service.close()
    i = report.intake
    console.print(
        f"\ntaken in {i.taken_in} mails (archived: {blobs}, quarantined: {i.quarantined}); "
        f"replies written: {report.delivery.sent} → {settings.storage.resolved_outbox_dir()}"
    )
    console.print(f"archive: {settings.storage.resolved_archive_dir()}  "
                  f"database: {settings.storage.resolved_database_url()}")
    console.print(f"done in {time.monotonic() - started:.1f} s. Run it again: the same result, "
                  "from a fresh copy of the sample mailbox.")


def _print_mails(service: Service, console: Console) -> None:
    table = Table(title="收到的邮件 / mails taken in", show_lines=False)
    for col in ("#", "发件人", "主题", "类别", "处理", "编号"):
        table.add_column(col, overflow="fold")
    with service.factory() as session:
        mails = session.execute(select(InboundMail).order_by(InboundMail.id)).scalars().all()
        refs: dict[int, list[str]] = {}
        for req in session.execute(select(Request)).scalars():
            refs.setdefault(req.source_mail_id, []).append(req.reference)
        linked = session.execute(select(AuditEvent.mail_id, AuditEvent.detail)
                                 .where(AuditEvent.action == "mail_linked"))
        for mail_id, detail in linked:  # a mail that answered a request shows its number
            if mail_id is not None and isinstance(detail, dict):
                refs.setdefault(mail_id, []).append(f"→ {detail.get('reference', '')}")
    for mail in mails:
        table.add_row(
            str(mail.id),
            # text from mail is never rich markup (issue 20): "[red]" stays "[red]"
            escape(f"{mail.from_name} <{mail.from_addr}>" if mail.from_name else mail.from_addr),
            escape(mail.subject[:40]),
            escape(mail.kind if mail.kind == "human" else f"{mail.kind}\n({mail.kind_reason})"),
            STATUS_ZH.get(mail.status, mail.status),
            escape(", ".join(refs.get(mail.id, []))),
        )
    console.print(table)


def _print_forms(service: Service, settings: Settings, console: Console) -> None:
    from mailflow.documents.definitions import load_catalog

    catalog = load_catalog(settings.forms.definitions_dir)
    with service.factory() as session:
        requests = session.execute(select(Request).order_by(Request.id)).scalars().all()
    for req in requests:
        if not req.fields or req.kind not in catalog.forms:
            continue
        form = catalog.get(req.kind)
        labels = {f.key: f.label_zh for f in form.fields}
        table = Table(title=f"{req.reference} · {form.title_zh} · 读取的字段 / fields read",
                      show_header=False)
        table.add_column("栏目")
        table.add_column("值", overflow="fold")
        for key, value in req.fields.items():
            table.add_row(escape(labels.get(key, key)), escape(str(cell_text(value))))
        console.print(table)


def _print_replies(service: Service, settings: Settings, console: Console) -> None:
    table = Table(title="发出的回复 / replies sent")
    for col in ("收件人", "主题", "附件"):
        table.add_column(col, overflow="fold")
    with service.factory() as session:
        rows = session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
        resubmissions = set(session.execute(
            select(InboundMail.id).where(InboundMail.status == "resubmitted")).scalars())
    for row in rows:
        msg = BytesParser(policy=policy.default).parsebytes(row.raw)
        names = [part.get_filename() or "" for part in msg.iter_attachments()]
        table.add_row(escape(row.primary_recipient), escape(row.subject),
                      escape(", ".join(names)))
    console.print(table)
    samples = (
        ("回执 / receipt", lambda r: r.purpose == "requester_ack"),
        ("请修改后重新提交 / please correct", lambda r: r.purpose == "form_problems"),
        ("修改后重新提交的回执 / receipt for the corrected form",
         lambda r: r.in_reply_to_mail_id in resubmissions),
    )
    for title, wanted in samples:
        sample = next((r for r in rows if wanted(r)), None)
        if sample is None:
            continue
        msg = BytesParser(policy=policy.default).parsebytes(sample.raw)
        body = msg.get_body(preferencelist=("plain",))
        if isinstance(body, EmailMessage):
            console.print(f"\n[bold]{title}[/bold] — to {escape(sample.primary_recipient)}, "
                          f"subject: {escape(sample.subject)}")
            console.print(str(body.get_content()).strip(), highlight=False, markup=False)
