"""The approval tests' desk: the real mail stack, a database, and an organisation directory.

Everyone below is a Dovecot user, so what SMTP received is what each person's mail client
would show. ``Desk.send`` delivers a mail to the shared mailbox, runs mailflow once and
returns the new mails by recipient: tests check exactly who got what.
"""

from __future__ import annotations

import email
from collections import defaultdict
from datetime import datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mailflow.clock import Clock, FixedClock, SystemClock
from mailflow.config import Settings
from mailflow.documents.definitions import FormCatalog
from mailflow.service import Service
from mailflow.store.models import ApprovalStep, AuditEvent, Request
from mailflow_testing import mailbuild
from tests.formfill import SAMPLES, fill_docx
from tests.stack import SERVICE, stack_settings

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
D = "example.test"
ZHANG = f"zhang.wei@{D}"      # 市场部 requester
ZHAO = f"zhao.lei@{D}"        # 市场部 manager
WANG = f"wang.jun@{D}"        # IT manager
LIN = f"lin.fang@{D}"         # IT handler of data extraction
ZHOU = f"zhou.hua@{D}"        # president
WU = f"wu.gang@{D}"           # leader in charge
ZHENG = f"zheng.li@{D}"       # project manager
HE = f"he.ping@{D}"           # 客服中心 manager (owns CRM's permissions)
MA = f"ma.chao@{D}"           # 网管中心 manager
QIAN = f"qian.min@{D}"        # 财务部 manager
SUN = f"sun.li@{D}"           # 财务部 staff (a bystander)
ADMIN = f"admin@{D}"
OUTSIDER = f"mallory@{D}"     # in no directory

PEOPLE = {ZHANG: ("张伟", "marketing"), ZHAO: ("赵磊", "marketing"), WANG: ("王军", "it"),
          LIN: ("林芳", "it"), ZHENG: ("郑丽", "it"), ZHOU: ("周华", ""), WU: ("吴刚", ""),
          HE: ("何平", "service"), MA: ("马超", "netops"), QIAN: ("钱敏", "finance"),
          SUN: ("孙丽", "finance"), ADMIN: ("管理员", "it")}


def directory(**approvals: Any) -> dict[str, Any]:
    return {
        "people": [{"email": e, "name": n, "department": d} for e, (n, d) in PEOPLE.items()],
        "departments": [
            {"key": "it", "name": "IT管理部", "manager": WANG, "is_it": True},
            {"key": "marketing", "name": "市场部", "manager": ZHAO},
            {"key": "service", "name": "客服中心", "manager": HE},
            {"key": "netops", "name": "网管中心", "manager": MA},
            {"key": "finance", "name": "财务部", "manager": QIAN},
        ],
        "roles": {"it_manager": WANG, "president": ZHOU, "leader_in_charge": WU,
                  "project_manager": ZHENG, "admin": ADMIN},
        "systems": [{"name": "CRM", "owner_department": "service",
                     "aliases": ["客户关系管理系统"]}],
        "approvals": {"handlers": {"data_extraction": LIN}, **approvals},
    }


class Desk:
    def __init__(self, mailstack: Any, database_url: str, tmp_path: Path,
                 **overrides: Any) -> None:
        self.dovecot, self.smtp = mailstack.dovecot, mailstack.smtp
        for user in PEOPLE:
            self.dovecot.add_user(user, "pw")
        self.dovecot.add_user(OUTSIDER, "pw")
        base = stack_settings(self.dovecot, self.smtp, database_url, tmp_path)
        raw = base.model_dump()
        raw.update(directory(**overrides.pop("approvals", {})))
        raw.update(overrides)
        self.settings = Settings.model_validate(raw)
        self.sent_before = 0

    def run(self, clock: Clock | None = None) -> None:
        service = Service(self.settings, clock or SystemClock())
        try:
            service.run_once()
        finally:
            service.close()

    def send(self, raw: bytes, at: datetime | None = None) -> dict[str, list[EmailMessage]]:
        """Deliver *raw* to the shared mailbox, run mailflow once; the new mails by
        recipient (a mail to several people is listed under each)."""
        self.dovecot.append(SERVICE, raw)
        return self.tick(at)

    def tick(self, at: datetime | None = None) -> dict[str, list[EmailMessage]]:
        """Run mailflow once (at *at*: due work such as reminders); the new mails."""
        self.run(FixedClock(at) if at else None)
        received = self.smtp.messages
        new = received[self.sent_before:]
        self.sent_before = len(received)
        out: dict[str, list[EmailMessage]] = defaultdict(list)
        for m in new:
            parsed = email.message_from_bytes(m.data, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            for rcpt in m.rcpt_tos:
                out[rcpt.lower()].append(parsed)
        return dict(out)

    def query(self, stmt: Any) -> list[Any]:
        service = Service(self.settings, SystemClock())
        try:
            with service.factory() as session:
                return list(session.execute(stmt).scalars().all())
        finally:
            service.close()

    def request(self) -> Request:
        (request,) = self.query(select(Request))
        assert isinstance(request, Request)
        return request

    def steps(self) -> list[ApprovalStep]:
        return self.query(select(ApprovalStep).order_by(ApprovalStep.round,
                                                       ApprovalStep.position, ApprovalStep.id))

    def actions(self, *names: str) -> list[AuditEvent]:
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        if names:
            stmt = stmt.where(AuditEvent.action.in_(names))
        return self.query(stmt)

    def transitions(self) -> list[tuple[str, str, str]]:
        return [(e.detail["transition"], e.detail["status"], e.detail["rule"])
                for e in self.actions("status_changed")]


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def attachment_names(msg: EmailMessage) -> list[str]:
    return [part.get_filename() or "" for part in msg.iter_attachments()]


def submission(catalog: FormCatalog, kind: str, *, sender: str = ZHANG,
               subject: str = "申请", **values: Any) -> bytes:
    filled = fill_docx(_blank(kind), catalog.get(kind), {**SAMPLES[kind], **values})
    return mailbuild.human_mail(sender=sender, to=SERVICE, subject=subject, body="请审批",
                                attachments=[(f"{kind}.docx", filled, DOCX)])


def corrected(catalog: FormCatalog, kind: str, parent: EmailMessage, *, sender: str = ZHANG,
              **values: Any) -> bytes:
    filled = fill_docx(_blank(kind), catalog.get(kind), {**SAMPLES[kind], **values})
    return reply(parent, sender=sender, body="已按意见修改，请重新审批",
                 attachments=[(f"{kind}（修改）.docx", filled, DOCX)])


def _blank(kind: str) -> bytes:
    from mailflow.documents.definitions import default_forms_dir
    return (default_forms_dir() / "blank" / f"{kind}.docx").read_bytes()


def reply(msg: EmailMessage, *, sender: str, body: str, prefix: str = "回复: ",
          attachments: list[tuple[str, bytes, str]] | None = None, html: str | None = None,
          headers: dict[str, str] | None = None, subject: str | None = None,
          to: str = SERVICE, cc: str | None = None) -> bytes:
    """What a mail client writes when *sender* presses Reply on *msg*: the original quoted
    below, Outlook style."""
    parent = str(msg["Message-ID"])
    quoted = "\n".join("> " + line for line in text_of(msg).splitlines())
    return mailbuild.human_mail(
        sender=sender, to=to, cc=cc, subject=subject or prefix + str(msg["Subject"]),
        body=f"{body}\n\n-----原始邮件-----\n发件人: IT管理部 流程服务\n{quoted}\n",
        charset="gbk", attachments=attachments or [], html=html,
        extra_headers={"In-Reply-To": parent, "References": parent, **(headers or {})})

