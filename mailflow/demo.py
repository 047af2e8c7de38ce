"""``mailflow demo``: the main job on the embedded default, on bundled sample mails.

Copies the bundled Maildir of Chinese sample mails into a fresh directory, runs one pass with
SQLite and a local outbox folder (no servers needed), and prints what happened to each mail.
A small organisation directory (DEMO_DIRECTORY) routes the data extraction requests through
their approval chain (R-DX-2): 李娜's request is approved by her manager and rejected by the
IT manager with a reason, by the sample replies 12 and 13.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select

from mailflow.clock import FixedClock, parse_instant
from mailflow.config import (
    MailboxSettings,
    Settings,
    SmtpSettings,
    StorageSettings,
)
from mailflow.display import TableValue
from mailflow.errors import MailflowError
from mailflow.paths import DEMO_DIR
from mailflow.service import Service
from mailflow.store.models import ApprovalStep, AuditEvent, InboundMail, OutboxMessage, Request
from mailflow.templates import Templates

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
    "decision": "审批答复：结论已记录",
    "decision_refused": "审批答复：不予采纳（已记录原因）",
    "decision_unclear": "审批答复：无明确结论，已请其重答",
    "status_query": "询问进度：已答复",
    "withdrawn": "申请人撤回",
}
STEP_ZH = {"open": "（等待答复）", "planned": "（尚未送审）", "closed": "（已结束）"}
#: the token secret of the demo: fixed, so the sample replies (scripts/make_demo_mails.py)
#: can carry the tokens of the approval mails this run writes
DEMO_TOKEN_SECRET = "mailflow-demo"  # noqa: S105 - public on purpose: a demo
#: who is who in the demo: only data extraction goes through a chain here (R-DX-2), so the
#: other samples stay as they were
DEMO_DIRECTORY = {
    "people": [
        {"email": "li.na@example.com", "name": "李娜", "department": "finance"},
        {"email": "qian.min@example.com", "name": "钱敏", "department": "finance"},
        {"email": "chen.jing@example.com", "name": "陈静", "department": "finance"},
        {"email": "wang.jun@example.com", "name": "王军", "department": "it"},
        {"email": "lin.fang@example.com", "name": "林芳", "department": "it"},
    ],
    "departments": [
        {"key": "finance", "name": "财务部", "manager": "chen.jing@example.com"},
        {"key": "it", "name": "IT管理部", "manager": "wang.jun@example.com", "is_it": True},
    ],
    "roles": {"it_manager": "wang.jun@example.com"},
    "approvals": {
        "token_secret": DEMO_TOKEN_SECRET,
        "handlers": {"data_extraction": "lin.fang@example.com"},
        "chains": [{"kind": "data_extraction", "rule": "R-DX-2", "steps": [
            {"approvers": ["requester_manager"]},
            {"approvers": ["role:it_manager"]}]}],
    },
}


def demo_settings(directory: Path) -> Settings:
    return Settings.model_validate({
        "mailbox": MailboxSettings(source="maildir", maildir_path=directory / "maildir"),
        "smtp": SmtpSettings(from_address="it-flow@example.com"),
        "storage": StorageSettings(data_dir=directory),
        **DEMO_DIRECTORY,
    })


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
    console.print(f"[bold]mailflow demo[/bold] — data in {escape(str(directory))}")
    console.print(f"mailbox: Maildir {escape(str(settings.mailbox.maildir_path))} "
                  f"({sum(1 for _ in (directory / 'maildir' / 'cur').iterdir())} sample mails)")
    service = Service(settings, FixedClock(parse_instant(DEMO_NOW)))
    try:
        with console.status("taking mail in…"):
            report = service.run_once()
        _print_mails(service, console)
        _print_forms(service, settings, console)
        _print_approvals(service, console)
        _print_replies(service, settings, console)
        with service.factory() as session:
            blobs = session.execute(select(func.count()).select_from(InboundMail)).scalar_one()
    finally:
        service.close()
    i = report.intake
    console.print(
        f"\ntaken in {i.taken_in} mails (archived: {blobs}, quarantined: {i.quarantined}); "
        f"replies written: {report.delivery.sent} → {settings.storage.resolved_outbox_dir()}",
        markup=False,
    )
    console.print(f"archive: {settings.storage.resolved_archive_dir()}  "
                  f"database: {settings.storage.resolved_database_url()}", markup=False)
    console.print(f"done in {time.monotonic() - started:.1f} s. Run it again: the same result, "
                  "from a fresh copy of the sample mailbox.")
    console.print("the request list as a spreadsheet: mailflow requests export demo.xlsx --demo"
                  + ("" if directory == Path("storage/demo").resolve() else
                     f" (after `mailflow demo` without --dir; this run's data is in {directory})"),
                  markup=False)


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
        table.add_row(*(Text(cell) for cell in (
            str(mail.id),
            # text from mail is never rich markup (issue 20): Text keeps "[red]" as "[red]"
            f"{mail.from_name} <{mail.from_addr}>" if mail.from_name else mail.from_addr,
            mail.subject[:40],
            mail.kind if mail.kind == "human" else f"{mail.kind}\n({mail.kind_reason})",
            STATUS_ZH.get(mail.status, mail.status),
            ", ".join(refs.get(mail.id, [])),
        )))
    console.print(table)


def _print_forms(service: Service, settings: Settings, console: Console) -> None:
    from mailflow.display import ValueDisplay
    from mailflow.documents.definitions import FieldType, load_catalog

    catalog = load_catalog(settings.forms.definitions_dir)
    display = ValueDisplay(service.templates)
    with service.factory() as session:
        requests = session.execute(select(Request).order_by(Request.id)).scalars().all()
    for req in requests:
        if not req.fields or req.kind not in catalog.forms:
            continue
        form = catalog.get(req.kind)
        defs = {f.key: f for f in form.fields}
        table = Table(title=f"{req.reference} · {form.title_zh} · 读取的字段 / fields read",
                      show_header=False)
        table.add_column("栏目")
        table.add_column("值", overflow="fold")
        for key, value in req.fields.items():
            f = defs.get(key)
            label = display.label(f) if f is not None else key
            if f is not None and f.type is FieldType.TABLE and isinstance(value, list):
                table.add_row(label, _small_table(display.table(value, f)))
            else:
                table.add_row(label, Text(display.text(value, f)))
        console.print(table)


def _small_table(value: TableValue) -> Table:
    """An action-item list as a table inside the field table (事项 | 负责人 | 完成时间)."""
    inner = Table(show_edge=False, pad_edge=False, box=None)
    for heading in value.header:
        inner.add_column(heading, overflow="fold")
    for row in value.rows:
        inner.add_row(*(Text(cell) for cell in row))
    return inner


def _print_approvals(service: Service, console: Console) -> None:
    """The approval chains: each step, who decided what and why; the requests' statuses in
    words (templates/<lang>/words.j2)."""
    words = Templates(service.settings.service.templates_dir,
                      service.settings.service.language)
    statuses, verdicts = words.labels("words", "statuses"), words.labels("words", "verdicts")
    roles = words.labels("words", "roles")
    table = Table(title="审批 / approvals")
    for col in ("编号", "步骤", "审批人", "结论", "理由", "申请状态"):
        table.add_column(col, overflow="fold")
    with service.factory() as session:
        rows = session.execute(
            select(ApprovalStep, Request).join(Request, Request.id == ApprovalStep.request_id)
            .order_by(ApprovalStep.request_id, ApprovalStep.round, ApprovalStep.position)).all()
    for step, request in rows:
        waiting = STEP_ZH.get(step.status, step.status)
        table.add_row(request.reference, f"{step.position} {roles.get(step.role, step.role)}",
                      step.approver, verdicts.get(step.verdict, waiting), step.reason,
                      statuses.get(request.status, request.status))
    if rows:
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
        table.add_row(Text(row.primary_recipient), Text(row.subject), Text(", ".join(names)))
    console.print(table)
    samples: tuple[tuple[str, Callable[[OutboxMessage], bool]], ...] = (
        ("回执 / receipt", lambda r: r.purpose == "requester_ack"),
        ("请修改后重新提交 / please correct", lambda r: r.purpose == "form_problems"),
        ("修改后重新提交的回执 / receipt for the corrected form",
         lambda r: r.in_reply_to_mail_id in resubmissions),
        ("请审批 / approval request", lambda r: r.purpose == "approval_request"),
        ("驳回通知 / the requester told of a rejection",
         lambda r: r.purpose == "decision_notice" and "驳回" in r.subject),
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
