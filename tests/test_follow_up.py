"""Mails that answer an existing request join its record instead of opening a new one.

Through the real Dovecot and SMTP server: the receipt and the "please correct" reply ask
people to reply, or keep the number in the subject; this checks that promise is kept — the
corrected form completes the returned request under its number, a "thanks" or a colleague's
reply-all is recorded and not answered, and only the requester can resubmit.
"""

from __future__ import annotations

import email
import subprocess
import sys
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mailflow.config import Settings
from mailflow.documents.definitions import FormCatalog, default_forms_dir, load_catalog
from mailflow.documents.validate import json_safe
from mailflow.store.models import AuditEvent, InboundMail, OutboxMessage, Request
from mailflow_testing import mailbuild
from tests.formfill import SAMPLES, fill_docx, fill_xlsx
from tests.paths import CORPUS
from tests.stack import SERVICE, query, run_once, stack_settings

BLANKS = default_forms_dir() / "blank"
REPO = Path(__file__).resolve().parents[1]
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REQUESTER = "qian.min@example.test"
SUBJECT = "数据提取申请"


@pytest.fixture(scope="module")
def catalog() -> FormCatalog:
    return load_catalog(default_forms_dir())


def form(catalog: FormCatalog, kind: str, *, without: tuple[str, ...] = (),
         fmt: str = "docx") -> bytes:
    values = {k: v for k, v in SAMPLES[kind].items() if k not in without}
    blank = (BLANKS / f"{kind}.{fmt}").read_bytes()
    fill = fill_docx if fmt == "docx" else fill_xlsx
    return fill(blank, catalog.get(kind), values)


def account_submission(catalog: FormCatalog) -> bytes:
    """The requester's complete account form: registered and acknowledged."""
    return mailbuild.human_mail(
        sender=REQUESTER, to=SERVICE, subject="帐号申请", body="见附件",
        attachments=[("系统帐号申请表.xlsx", form(catalog, "account", fmt="xlsx"), XLSX)])


def copied_to_manager(filled: bytes, message_id: str) -> bytes:
    """The requester's account form sent to us with the manager in Cc."""
    return mailbuild.human_mail(
        sender=REQUESTER, to=SERVICE, cc="manager@example.test", subject="帐号申请",
        body="见附件", message_id=message_id,
        attachments=[("系统帐号申请表.docx", filled, DOCX)])


def incomplete_submission(catalog: FormCatalog, *, without: tuple[str, ...],
                          sender: str = REQUESTER) -> bytes:
    """The requester's data extraction form with *without* left blank: it is sent back."""
    return mailbuild.human_mail(
        sender=sender, to=SERVICE, subject=SUBJECT, body="请处理", charset="gbk",
        attachments=[("数据提取申请表.docx",
                      form(catalog, "data_extraction", without=without), DOCX)])


class Desk:
    """The mail stack, one database and a way to send a mail and run mailflow once."""

    def __init__(self, mailstack: Any, database_url: str, tmp_path: Path) -> None:
        self.dovecot, self.smtp = mailstack.dovecot, mailstack.smtp
        self.settings: Settings = stack_settings(self.dovecot, self.smtp, database_url,
                                                 tmp_path)
        self.sent_before = 0

    def send(self, raw: bytes) -> list[EmailMessage]:
        """Deliver *raw* to the shared mailbox, run mailflow once, return the new replies."""
        self.dovecot.append(SERVICE, raw)
        run_once(self.settings)
        received = self.smtp.messages
        new = received[self.sent_before:]
        self.sent_before = len(received)
        out = []
        for m in new:
            parsed = email.message_from_bytes(m.data, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            out.append(parsed)
        return out

    def events(self, action: str) -> list[AuditEvent]:
        """The audit events of one kind, oldest first."""
        return self.query(select(AuditEvent).where(AuditEvent.action == action)
                          .order_by(AuditEvent.id))

    def query(self, stmt: Any) -> list[Any]:
        return query(self.settings, stmt)


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def reply_to(msg: EmailMessage, *, sender: str, body: str,
             attachments: list[tuple[str, bytes, str]] | None = None,
             subject_prefix: str = "回复: ") -> bytes:
    """What a mail client writes when a person presses Reply on *msg*."""
    parent = str(msg["Message-ID"])
    return mailbuild.human_mail(
        sender=sender, to=SERVICE, subject=subject_prefix + str(msg["Subject"]), body=body,
        charset="gbk", attachments=attachments or [],
        extra_headers={"In-Reply-To": parent, "References": parent})


@pytest.fixture
def desk(mailstack: Any, database_url: str, tmp_path: Path) -> Desk:
    for user in (REQUESTER, "manager@example.test", "other@example.test"):
        mailstack.dovecot.add_user(user, "pw")
    return Desk(mailstack, database_url, tmp_path)


def test_corrected_form_replied_to_the_returned_request_completes_it_under_its_number(
    desk: Desk, catalog: FormCatalog
) -> None:
    (returned,) = desk.send(incomplete_submission(
        catalog, without=("purpose", "scope_of_use"), sender=f"钱敏 <{REQUESTER}>"))
    (request,) = desk.query(select(Request))
    assert request.status == "returned"
    assert request.reference in str(returned["Subject"])

    (receipt,) = desk.send(reply_to(
        returned, sender=f"钱敏 <{REQUESTER}>", body="已补充，请查收",
        attachments=[("数据提取申请表（修改）.docx", form(catalog, "data_extraction"), DOCX)]))

    (after,) = desk.query(select(Request))  # still one request: the same one, completed
    assert after.id == request.id and after.reference == request.reference
    assert after.status == "submitted"
    assert after.fields == json_safe(SAMPLES["data_extraction"])
    assert after.problems == []
    assert after.attachment_id is not None
    # the receipt names the same number, the original subject and says it was resubmitted
    assert str(receipt["Subject"]) == f"[{request.reference}] 已受理：{SUBJECT}"
    assert "重新提交" in text_of(receipt) and request.reference in text_of(receipt)
    assert str(receipt["In-Reply-To"]) != str(returned["Message-ID"])  # answers the reply
    actions = desk.query(select(AuditEvent.action).where(AuditEvent.request_id == request.id)
                         .order_by(AuditEvent.id))
    # every event about the reply names the request (records/, issue 17);
    # status_changed: returned → submitted
    assert actions[-6:] == ["mail_received", "mail_linked", "status_changed",
                            "request_resubmitted", "reply_queued", "mail_sent"]
    statuses = desk.query(select(InboundMail.status).order_by(InboundMail.id))
    assert statuses == ["returned", "resubmitted"]


def test_corrected_form_still_incomplete_is_returned_again_under_the_same_number(
    desk: Desk, catalog: FormCatalog
) -> None:
    (returned,) = desk.send(incomplete_submission(
        catalog, without=("purpose", "scope_of_use")))
    (again,) = desk.send(reply_to(
        returned, sender=REQUESTER, body="补了使用目的",
        attachments=[("数据提取申请表.docx",
                      form(catalog, "data_extraction", without=("scope_of_use",)), DOCX)]))
    (request,) = desk.query(select(Request))
    assert request.status == "returned"
    fields = [f["key"] for p in request.problems for f in p["fields"]]
    assert fields == ["scope_of_use"]  # what is still wrong, not what was wrong before
    assert str(again["Subject"]).startswith(f"[{request.reference}] 请修改后重新提交：{SUBJECT}")
    text = text_of(again)
    assert "使用范围" in text and "「使用目的」" not in text


def test_thanks_reply_to_a_receipt_is_recorded_and_not_answered(
    desk: Desk, catalog: FormCatalog
) -> None:
    (receipt,) = desk.send(account_submission(catalog))
    assert desk.send(reply_to(receipt, sender=REQUESTER, body="收到，谢谢！")) == []
    (request,) = desk.query(select(Request))
    assert request.status == "submitted"
    assert desk.query(select(func.count()).select_from(OutboxMessage)) == [1]
    linked = desk.events("mail_linked")
    assert len(linked) == 1
    assert linked[0].request_id == request.id
    assert linked[0].detail["matched_by"] == "in-reply-to"
    assert linked[0].detail["from_requester"] is True
    assert desk.query(select(InboundMail.status).order_by(InboundMail.id)) == [
        "registered", "follow_up"]


def test_colleague_reply_all_to_the_submission_joins_its_record_without_a_receipt(
    desk: Desk, catalog: FormCatalog
) -> None:
    assert len(desk.send(copied_to_manager(form(catalog, "account"), "<submission-1@x>"))) == 1
    # the manager answers the requester's mail (not mailflow's): Reply All reaches us too
    manager_reply = mailbuild.human_mail(
        sender="manager@example.test", to=f"{REQUESTER}, {SERVICE}", subject="Re: 帐号申请",
        body="已阅。", extra_headers={"In-Reply-To": "<submission-1@x>"})
    assert desk.send(manager_reply) == []
    (request,) = desk.query(select(Request))
    (linked,) = desk.events("mail_linked")
    assert linked.request_id == request.id
    assert linked.actor == "manager@example.test"
    assert linked.detail["from_requester"] is False


def test_only_the_requester_can_resubmit_a_returned_request(
    desk: Desk, catalog: FormCatalog
) -> None:
    (returned,) = desk.send(incomplete_submission(catalog, without=("purpose",)))
    # someone else replies to the same thread with a complete form: their own request
    (theirs,) = desk.send(reply_to(
        returned, sender="other@example.test", body="我来补",
        attachments=[("数据提取申请表.docx", form(catalog, "data_extraction"), DOCX)]))
    requests = desk.query(select(Request).order_by(Request.id))
    assert [(r.requester_email, r.status) for r in requests] == [
        (REQUESTER, "returned"), ("other@example.test", "submitted")]
    assert requests[1].reference in str(theirs["Subject"])
    assert theirs["To"].addresses[0].addr_spec == "other@example.test"
    assert desk.events("request_resubmitted") == []


def test_subject_reference_is_enough_and_an_unknown_one_opens_a_new_request(
    desk: Desk, catalog: FormCatalog
) -> None:
    (receipt,) = desk.send(mailbuild.human_mail(
        sender=REQUESTER, to=SERVICE, subject="OA系统登录后页面空白", body="请协助处理"))
    (request,) = desk.query(select(Request))
    # a new mail (no thread headers) quoting the number, typed without brackets
    assert desk.send(mailbuild.human_mail(
        sender=REQUESTER, to=SERVICE, subject=f"关于{request.reference.lower()}的补充说明",
        body="换了浏览器也一样")) == []
    (linked,) = desk.events("mail_linked")
    assert linked.detail["matched_by"] == "subject"
    # a number that does not exist matches nothing: an ordinary new request with its receipt
    (new_receipt,) = desk.send(mailbuild.human_mail(
        sender=REQUESTER, to=SERVICE, subject="关于 REQ-2026-999999 的问题", body="?"))
    assert len(desk.query(select(Request))) == 2
    assert "已受理" in str(new_receipt["Subject"])
    assert receipt["Message-ID"] != new_receipt["Message-ID"]


def test_auto_reply_to_a_receipt_is_recorded_on_the_request_and_never_answered(
    desk: Desk, catalog: FormCatalog
) -> None:
    (receipt,) = desk.send(account_submission(catalog))
    parent = str(receipt["Message-ID"])
    out_of_office = mailbuild.human_mail(
        sender=REQUESTER, to=SERVICE, subject="自动回复: " + str(receipt["Subject"]),
        body="我正在休假", extra_headers={"In-Reply-To": parent, "References": parent,
                                      "Auto-Submitted": "auto-replied"})
    assert desk.send(out_of_office) == []
    assert desk.query(select(InboundMail.status).order_by(InboundMail.id)) == [
        "registered", "ignored"]
    # not answered, but it is part of the request's record (the receipt was not read)
    (request,) = desk.query(select(Request))
    (linked,) = desk.events("mail_linked")
    assert (linked.request_id, linked.detail["robot"]) == (request.id, "auto_reply")


def test_reply_in_the_same_batch_as_its_submission_is_matched(
    desk: Desk, catalog: FormCatalog
) -> None:
    desk.dovecot.append(SERVICE, copied_to_manager(form(catalog, "account"), "<submission-2@x>"))
    replies = desk.send(mailbuild.human_mail(
        sender="manager@example.test", to=SERVICE, subject="答复: 帐号申请", body="好的",
        extra_headers={"References": "<older@example.test> <submission-2@x>"}))
    assert len(replies) == 1  # the requester's receipt; nothing for the manager
    (request,) = desk.query(select(Request))
    (linked,) = desk.events("mail_linked")
    assert (linked.request_id, linked.detail["matched_by"]) == (request.id, "references")


def test_request_title_is_the_first_line_of_a_multi_line_value(
    desk: Desk, catalog: FormCatalog
) -> None:
    (receipt,) = desk.send(mailbuild.human_mail(
        sender=REQUESTER, to=SERVICE, subject="数据", body="见附件",
        attachments=[("数据提取申请表.docx", form(catalog, "data_extraction"), DOCX)]))
    (request,) = desk.query(select(Request))
    assert SAMPLES["data_extraction"]["data_wanted"] == \
        "2026年10月新增用户清单\n字段：用户号、开户日期、套餐"
    assert request.title == "2026年10月新增用户清单"
    text = text_of(receipt)
    assert "2026年10月新增用户清单" in text and "字段：用户号" not in text


def test_form_sent_back_as_unknown_is_completed_by_a_new_mail_quoting_its_number(
    desk: Desk, catalog: FormCatalog
) -> None:
    unknown = (CORPUS / "python-docx/tests/test_files/test.docx").read_bytes()
    (returned,) = desk.send(mailbuild.human_mail(
        sender=REQUESTER, to=SERVICE, subject="申请", body="见附件",
        attachments=[("申请.docx", unknown, DOCX)]))
    (request,) = desk.query(select(Request))
    assert (request.status, request.kind) == ("returned", "unknown")
    # not a reply: a fresh mail whose subject carries the number, with the right form; out of
    # the thread, the From address alone could be forged, so the receiving server's DMARC
    # pass vouches for it (issue 20: tests/test_security_answers.py has the forged one)
    desk.settings = desk.settings.model_copy(update={"service": desk.settings.service.model_copy(
        update={"trusted_authserv_ids": ("mx.example.test",)})})
    (receipt,) = desk.send(mailbuild.human_mail(
        sender=REQUESTER, to=SERVICE, subject=f"{request.reference} 重新提交帐号申请表",
        body="用正式表格重新提交",
        extra_headers={"Authentication-Results":
                       "mx.example.test; dmarc=pass header.from=example.test"},
        attachments=[("系统帐号申请表.xlsx", form(catalog, "account", fmt="xlsx"), XLSX)]))
    (after,) = desk.query(select(Request))
    assert (after.id, after.status, after.kind) == (request.id, "submitted", "account")
    assert after.fields == json_safe(SAMPLES["account"])
    assert str(receipt["Subject"]) == f"[{request.reference}] 已受理：申请"
    (resubmitted,) = desk.events("request_resubmitted")
    assert resubmitted.detail["previous"]["kind"] == "unknown"
    assert returned["Message-ID"] != receipt["Message-ID"]


def test_resubmission_killed_after_its_commit_is_applied_and_answered_once(
    desk: Desk, catalog: FormCatalog
) -> None:
    """kill -9 after the resubmission's commit, before the mail leaves the INBOX and before
    its receipt is sent: the rerun neither resubmits twice nor answers twice."""
    (returned,) = desk.send(incomplete_submission(catalog, without=("purpose",)))
    desk.dovecot.append(SERVICE, reply_to(
        returned, sender=REQUESTER, body="已补充",
        attachments=[("数据提取申请表.docx", form(catalog, "data_extraction"), DOCX)]))
    payload = desk.settings.model_dump_json()
    killed = subprocess.run([sys.executable, "-m", "tests.crashrun", payload, "1"],
                            cwd=REPO, capture_output=True, timeout=120, check=False)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    assert desk.dovecot.count(SERVICE, "INBOX") == 1  # committed, not yet moved
    assert len(desk.smtp.messages) == desk.sent_before  # nor answered
    rerun = subprocess.run([sys.executable, "-m", "tests.crashrun", payload, "-1"],
                           cwd=REPO, capture_output=True, timeout=120, check=False)
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    (receipt,) = desk.smtp.wait_for(desk.sent_before + 1)[desk.sent_before:]
    assert list(receipt.rcpt_tos) == [REQUESTER]
    assert desk.dovecot.count(SERVICE, "INBOX") == 0
    (request,) = desk.query(select(Request))
    assert request.status == "submitted"
    assert len(desk.events("request_resubmitted")) == 1
    assert desk.query(select(func.count()).select_from(OutboxMessage)) == [2]


def test_reply_all_carrying_the_original_form_back_is_not_a_new_request(
    desk: Desk, catalog: FormCatalog
) -> None:
    """Foxmail's "reply all with attachments", or the requester sending the same file twice:
    the form is the very file the request holds, so nothing new is opened or answered."""
    filled = form(catalog, "account")
    (receipt,) = desk.send(copied_to_manager(filled, "<submission-3@x>"))
    manager = mailbuild.human_mail(
        sender="manager@example.test", to=f"{REQUESTER}, {SERVICE}", subject="回复: 帐号申请",
        body="同意", extra_headers={"In-Reply-To": "<submission-3@x>"},
        attachments=[("系统帐号申请表.docx", filled, DOCX)])
    assert desk.send(manager) == []
    again = reply_to(receipt, sender=REQUESTER, body="再发一次附件",
                     attachments=[("系统帐号申请表.docx", filled, DOCX)])
    assert desk.send(again) == []
    (request,) = desk.query(select(Request))
    assert request.requester_email == REQUESTER
    assert len(desk.events("mail_linked")) == 2
    # a different, new form in the same thread is still a request of its own
    other = dict(SAMPLES["account"], account_name="wangwu")
    blank = (BLANKS / "account.docx").read_bytes()
    (new_receipt,) = desk.send(reply_to(
        receipt, sender=REQUESTER, body="另一个帐号",
        attachments=[("帐号申请表2.docx", fill_docx(blank, catalog.get("account"), other),
                      DOCX)]))
    assert len(desk.query(select(Request))) == 2
    assert "已受理" in str(new_receipt["Subject"])
