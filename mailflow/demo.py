"""``mailflow demo``: the main job on the embedded default, on bundled sample mails.

Copies the bundled Maildir of Chinese sample mails into a fresh directory, runs the passes of
DEMO_STEPS with SQLite and a local outbox folder (no servers needed), each at its fixed time
as ``run --once --now T`` would, and prints what happened to each mail. A small organisation
directory (DEMO_DIRECTORY) routes the data extraction requests through their approval chain
(R-DX-2): 李娜's request is approved by her manager and rejected by the IT manager with a
reason, by the sample replies 12 and 13. 赵敏's system change is confirmed by the IT manager
and the cooperating department (R-CH-3) in the second pass; its change notice goes out at
its R-CH-4 time (the third), the operator is asked for the result at the change's end (the
fourth) and replies 成功, which sends the result notice (R-CH-5, the last pass). The later
passes' mails are in demo/later/ (scripts/make_demo_mails.py writes them).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select

from mailflow.clock import parse_instant
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
from mailflow.store.models import (
    ApprovalStep,
    AuditEvent,
    InboundMail,
    OutboxMessage,
    Request,
    Ticket,
)
from mailflow.templates import Templates

#: left in a directory the demo made: only such a directory is ever deleted by the next run
DEMO_MARKER = ".mailflow-demo"

@dataclass(frozen=True)
class DemoStep:
    """One pass of the demo: the mails that arrive before it (a folder of the bundled demo
    directory, "" for none) and the time it runs at, as ``run --once --now T`` would."""

    now: str
    mails: str
    what: str


#: fixed times, so every run gives the same numbers, times and mails
DEMO_STEPS = (
    DemoStep("2026-11-23T11:00+08:00", "maildir/cur", "上午收到的样例邮件 / the sample mails"),
    DemoStep("2026-11-23T14:00+08:00", "later/approvals",
             "王军、马涛同意变更（R-CH-3） / the change approved"),
    DemoStep("2026-11-24T16:00+08:00", "",
             "变更前一工作日 16:00：变更通知到期（R-CH-4） / the change notice falls due"),
    DemoStep("2026-11-26T01:30+08:00", "",
             "变更计划结束：请操作人员报告结果 / the change ends, its result is asked for"),
    DemoStep("2026-11-26T09:30+08:00", "later/result",
             "王五回复“成功”：变更结果通告（R-CH-5） / the result notice"),
    DemoStep("2026-11-26T10:00+08:00", "later/reports",
             "故障申告（R-FN-1）；客户来信，开出工单（R-PM-1） / a fault, a customer ticket"),
    DemoStep("2026-11-26T10:06+08:00", "later/triage",
             "故障 5 分钟未排除：升级（R-FN-2）；客服分级、派单（R-PM-2/3） "
             "/ the fault escalated, the ticket triaged and dispatched"),
)
#: the morning the sample mails were written (the first pass)
DEMO_NOW = DEMO_STEPS[0].now


class DemoClock:
    """The demo's clock: set to each pass's time, then running on (like FixedClock)."""

    def __init__(self, start: datetime) -> None:
        self._start, self._origin = start, time.monotonic()

    def set(self, start: datetime) -> None:
        self._start, self._origin = start, time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._origin)


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
    "change_result": "变更结果报告：结果通告已发出",
    "change_summary": "变更总结报告：已发出",
    "change_rescheduled": "变更改期：已通知",
    "change_cancelled": "变更取消：已通知",
    "data_delivered": "数据已加密交付",
    "ticket_opened": "客户反馈：已开工单并回执（R-PM-1）",
    "ticket_dispatched": "客服分级：已派单（R-PM-2/3）",
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
        {"email": "liu.yang@example.com", "name": "刘洋", "department": "finance"},
        {"email": "wang.jun@example.com", "name": "王军", "department": "it"},
        {"email": "lin.fang@example.com", "name": "林芳", "department": "it"},
        {"email": "zhao.min@example.com", "name": "赵敏", "department": "it"},
        {"email": "wangwu@example.com", "name": "王五", "department": "it"},
        {"email": "ma.tao@example.com", "name": "马涛", "department": "noc"},
        {"email": "he.ping@example.com", "name": "何平", "department": "service"},
        {"email": "zheng.li@example.com", "name": "郑丽", "department": "service"},
        {"email": "feng.tao@example.com", "name": "冯涛", "department": "marketing"},
        {"email": "zhang.wei@example.com", "name": "张伟", "department": "marketing"},
        {"email": "wu.gang@example.com", "name": "吴刚"},
    ],
    "departments": [
        {"key": "finance", "name": "财务部", "manager": "chen.jing@example.com",
         "interface_persons": ["liu.yang@example.com"]},
        {"key": "it", "name": "IT管理部", "manager": "wang.jun@example.com", "is_it": True},
        {"key": "noc", "name": "网管中心", "manager": "ma.tao@example.com"},
        {"key": "service", "name": "客服中心", "manager": "he.ping@example.com",
         "interface_persons": ["zheng.li@example.com"]},
        {"key": "marketing", "name": "市场部", "manager": "feng.tao@example.com",
         "interface_persons": ["zhang.wei@example.com"]},
    ],
    "roles": {"it_manager": "wang.jun@example.com", "leader_in_charge": "wu.gang@example.com",
              "it_supervisor": "wang.jun@example.com",
              "customer_service": "he.ping@example.com"},
    # a maintenance contract: its customer's mail opens tickets (R-PM-1), 何平 triages them
    "customers": [{"key": "east-power", "name": "华东电力公司",
                   "domains": ["eastpower.example.cn"], "project_manager": "郑丽",
                   "engineers": ["王五", "林芳"]}],
    "approvals": {
        "token_secret": DEMO_TOKEN_SECRET,
        # 赵敏 takes faults (R-FN-1); unresolved after 5 minutes her supervisor 王军 is told
        "handlers": {"data_extraction": "lin.fang@example.com",
                     "system_change": "wangwu@example.com", "fault": "zhao.min@example.com"},
        "chains": [
            {"kind": "data_extraction", "rule": "R-DX-2", "steps": [
                {"approvers": ["requester_manager"]},
                {"approvers": ["role:it_manager"]}]},
            # R-CH-3: the IT manager and the cooperating department's manager, in parallel
            {"kind": "system_change", "rule": "R-CH-3", "steps": [
                {"approvers": ["role:it_manager",
                               "department_managers:cooperating_departments"]}]},
        ],
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
    later = sum(1 for step in DEMO_STEPS[1:] if step.mails
                for _ in (DEMO_DIR / step.mails).iterdir())
    console.print(f"mailbox: Maildir {escape(str(settings.mailbox.maildir_path))} "
                  f"({sum(1 for _ in (directory / 'maildir' / 'cur').iterdir())} sample mails; "
                  f"{later} more arrive in the later passes)")
    clock = DemoClock(parse_instant(DEMO_NOW))
    service = Service(settings, clock)
    taken_in = quarantined = sent = 0
    try:
        passes = Table(title="运行 / passes (run --once --now T)")
        for col in ("#", "时间", "经过", "收到", "发出"):
            passes.add_column(col, overflow="fold")
        for number, step in enumerate(DEMO_STEPS, start=1):
            if number > 1 and step.mails:  # the mails of this pass arrive (Maildir new/)
                for sample in sorted((DEMO_DIR / step.mails).iterdir()):
                    shutil.copyfile(sample, directory / "maildir" / "new" / sample.name)
            clock.set(parse_instant(step.now))
            with console.status(f"pass {number} at {step.now}…"):
                report = service.run_once()
            taken_in += report.intake.taken_in
            quarantined += report.intake.quarantined
            sent += report.delivery.sent
            passes.add_row(str(number), step.now.replace("T", " ")[:16], step.what,
                           str(report.intake.taken_in), str(report.delivery.sent))
        console.print(passes)
        _print_mails(service, console)
        _print_forms(service, settings, console)
        _print_approvals(service, console)
        _print_tickets(service, console)
        _print_replies(service, settings, console)
        with service.factory() as session:
            blobs = session.execute(select(func.count()).select_from(InboundMail)).scalar_one()
    finally:
        service.close()
    console.print(
        f"\ntaken in {taken_in} mails (archived: {blobs}, quarantined: {quarantined}); "
        f"replies written: {sent} → {settings.storage.resolved_outbox_dir()}",
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


def _print_tickets(service: Service, console: Console) -> None:
    """The customer tickets (R-PM-1…3): what was recorded, how 客服 triaged, who has it."""
    words = service.templates.words
    table = Table(title="客户工单 / customer tickets")
    for col in ("编号", "客户名称", "联系方式", "问题出现时间", "紧急程度", "类别", "工程师",
                "完成时间", "状态"):
        table.add_column(col, overflow="fold")
    with service.factory() as session:
        rows = session.execute(select(Ticket, Request).join(
            Request, Request.id == Ticket.request_id).order_by(Ticket.id)).all()
        mail = service.tickets.mail
        for ticket, request in rows:
            c = mail.context(request, ticket)
            table.add_row(*(Text(cell) for cell in (
                request.reference, ticket.customer_name,
                f"{ticket.contact_email} {ticket.contact_phone}".strip(), c["occurred_at"],
                words("tickets/_words", "severity", {"code": ticket.severity}),
                words("tickets/_words", "category", {"code": ticket.category}),
                c["engineer_name"], c["due"],
                words("tickets/_words", "status", {"code": ticket.status}))))
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
        ("变更提醒 / a change submitted too late (R-CH-1/2/3)",
         lambda r: r.purpose == "requester_change_lead_time"),
        ("系统变更通知 / the change notice (R-CH-4)",
         lambda r: r.purpose == "departments_change_notice"),
        ("系统变更结果通告 / the result notice (R-CH-5)",
         lambda r: r.purpose == "departments_change_result"),
        ("故障升级 / a fault escalated (R-FN-2)", lambda r: r.purpose == "fault_escalation"),
        ("客户工单回执 / the customer's receipt (R-PM-1)",
         lambda r: r.purpose == "tickets/customer_receipt"),
        ("派单 / the dispatch to the engineer (R-PM-3)",
         lambda r: r.purpose == "tickets/dispatch"),
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
