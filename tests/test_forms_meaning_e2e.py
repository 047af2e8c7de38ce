"""Forms in other departments' words, end to end through Dovecot and SMTP.

A complete form in a department's own wording is registered with the labels it was read
from; a form with one plausible label we cannot be sure of gets the "是否即此项" reply, and
the requester's "确认" (a reply, or a mail quoting the number) completes the request with
that reading — anyone else's "确认" does nothing; an invitation, a meeting notice and a
price list are ordinary attachments (a receipt, no correction, no blanks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailflow.store.models import Request
from mailflow_testing import mailbuild
from tests.formfill import make_docx, para, table
from tests.stack import SERVICE
from tests.test_follow_up import DOCX, XLSX, Desk, reply_to, text_of
from tests.test_forms_meaning import DEPTS, docx_two_columns, invitation, meeting_notice, price_list

REQUESTER = "sun.li@example.test"
CHANGE = next(d for d in DEPTS if d.title == "生产环境变更申请单")


@pytest.fixture
def desk(mailstack: Any, database_url: str, tmp_path: Path) -> Desk:
    for user in (REQUESTER, "other@example.test"):
        mailstack.dovecot.add_user(user, "pw")
    return Desk(mailstack, database_url, tmp_path)


def submission(data: bytes, name: str = "变更申请.docx", mime: str = DOCX,
               subject: str = "计费系统升级变更申请") -> bytes:
    return mailbuild.human_mail(sender=f"孙丽 <{REQUESTER}>", to=SERVICE, subject=subject,
                                body="请审批，谢谢", charset="gbk",
                                attachments=[(name, data, mime)])


def one_label_unsure() -> bytes:
    """The operations department's change form with 是否影响在线用户 written another way."""
    rows = [[label, value] for label, value in CHANGE.rows if label != "是否影响在线用户"]
    rows.insert(5, ["用户影响评估", "有"])
    return make_docx(para(CHANGE.title), table(rows))


def test_a_complete_form_in_a_departments_words_is_registered_with_its_labels(
        desk: Desk) -> None:
    (receipt,) = desk.send(submission(docx_two_columns(CHANGE)))
    (request,) = desk.query(select(Request))
    assert (request.kind, request.status) == ("system_change", "submitted")
    assert "已受理" in str(receipt["Subject"])
    assert request.fields["affects_live_users"] is True
    assert request.field_labels["affects_live_users"] == "是否影响在线用户"
    assert request.field_labels["operator"] == "实施人"
    assert not [p for p in receipt.iter_attachments()]


def test_r_ch_2_an_unsure_label_is_asked_about_and_the_requesters_confirm_completes_it(
        desk: Desk) -> None:
    (returned,) = desk.send(submission(one_label_unsure()))
    (request,) = desk.query(select(Request))
    assert request.status == "returned"
    text = text_of(returned)
    assert ("「是否影响现网用户」未找到；表中「用户影响评估：有」是否即此项？"
            "如是，回复“确认”即可") in text
    assert "未填写" not in text  # never "empty" for a field that was answered

    # a colleague's "确认" in the same thread changes nothing and is not answered
    assert desk.send(reply_to(returned, sender="other@example.test", body="确认")) == []
    (request,) = desk.query(select(Request))
    assert request.status == "returned"

    (receipt,) = desk.send(reply_to(returned, sender=REQUESTER, body="确认，谢谢"))
    (request,) = desk.query(select(Request))
    assert request.status == "submitted"
    assert request.fields["affects_live_users"] is True
    assert request.fields["operator"] == "王五"
    assert request.field_labels["affects_live_users"] == "用户影响评估"
    assert request.problems == []
    assert str(receipt["Subject"]).startswith(f"[{request.reference}] 已受理")
    assert "用户影响评估" in text_of(receipt)
    (confirmed,) = desk.events("request_confirmed")
    assert confirmed.actor == REQUESTER


def test_a_confirm_quoting_the_number_completes_the_request_too(desk: Desk) -> None:
    desk.send(submission(one_label_unsure()))
    (request,) = desk.query(select(Request))
    confirm = mailbuild.human_mail(sender=REQUESTER, to=SERVICE,
                                   subject=f"{request.reference} 确认", body="确认")
    (receipt,) = desk.send(confirm)
    (request,) = desk.query(select(Request))
    assert request.status == "submitted"
    assert "已受理" in str(receipt["Subject"])


def test_a_no_is_not_a_confirmation(desk: Desk) -> None:
    (returned,) = desk.send(submission(one_label_unsure()))
    assert desk.send(reply_to(returned, sender=REQUESTER, body="不是，我重新填")) == []
    (request,) = desk.query(select(Request))
    assert request.status == "returned"


@pytest.mark.parametrize(("build", "name", "mime"), [
    (invitation, "邀请函.docx", DOCX),
    (meeting_notice, "会议通知.docx", DOCX),
    (price_list, "报价单.xlsx", XLSX),
], ids=["invitation", "meeting-notice", "price-list"])
def test_documents_that_are_no_forms_get_a_receipt_and_no_blanks(
        desk: Desk, build: Any, name: str, mime: str) -> None:
    (reply,) = desk.send(submission(build(), name, mime, subject="资料请查收"))
    (request,) = desk.query(select(Request))
    assert (request.kind, request.status) == ("general", "received")
    assert "请修改" not in str(reply["Subject"])
    assert [a for a in reply.iter_attachments()] == []
