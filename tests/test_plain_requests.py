"""R-DP-2: a single urgent data-processing item may come from the applicant's supervisor by
plain mail (no form) and is handled at once. Recognition (unit) and the walk over the real
Dovecot and SMTP: recorded as a 业务数据处理 request, audited, straight to the handler, the
supervisor told when it is done."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mailflow.config import Settings
from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.workflow.directory import Directory
from mailflow.workflow.plain_requests import recognise
from mailflow_testing import mailbuild
from tests.approvals_desk import (
    LIN,
    QIAN,
    SUN,
    ZHANG,
    ZHAO,
    Desk,
    attachment_names,
    directory,
    reply,
    text_of,
)
from tests.stack import SERVICE

SH = ZoneInfo("Asia/Shanghai")
FORMS = list(load_catalog(default_forms_dir()).forms.values())


@pytest.fixture(scope="module")
def people() -> Directory:
    return Directory(Settings.model_validate(directory()))


def test_urgent_mail_from_the_applicants_supervisor_is_a_data_processing_request_r_dp_2(
        people: Directory) -> None:
    found = recognise(FORMS, people, ZHAO, "紧急：数据处理",
                      "林芳：\n张伟负责的客户 13800000000 话费重复扣费，请紧急处理数据，冲正一笔。")
    assert found is not None
    assert (found.kind, found.rule, found.applicant.email) == ("data_processing", "R-DP-2",
                                                              ZHANG)
    assert found.fields["applicant"] == "张伟" and found.fields["department"] == "市场部"
    assert found.fields["urgency"] == "紧急"
    assert "13800000000" in found.fields["data_to_process"]


def test_english_urgent_mail_is_recognised_r_dp_2(people: Directory) -> None:
    found = recognise(FORMS, people, ZHAO, "URGENT data fix",
                      "Please fix the data of 张伟's customer account 42 asap.")
    assert found is not None and found.applicant.email == ZHANG


@pytest.mark.parametrize(("sender", "subject", "body"), [
    # not the applicant's supervisor: a colleague, or another department's manager
    (SUN, "紧急数据处理", "张伟的客户数据请紧急处理"),
    (QIAN, "紧急数据处理", "张伟的客户数据请紧急处理"),
    # the applicant themselves
    (ZHANG, "紧急数据处理", "张伟的客户数据请紧急处理"),
    # not urgent, or urgency denied
    (ZHAO, "数据处理", "张伟的客户数据请处理"),
    (ZHAO, "数据处理（不紧急）", "张伟的客户数据请在本周内处理"),
    # urgent, but not data processing
    (ZHAO, "紧急", "张伟的电脑坏了，请紧急来看看"),
    # nobody named: whose item is it?
    (ZHAO, "紧急数据处理", "客户数据请紧急处理"),
])
def test_other_mails_are_not_urgent_requests_r_dp_2(people: Directory, sender: str,
                                                    subject: str, body: str) -> None:
    assert recognise(FORMS, people, sender, subject, body) is None


def test_urgent_plain_mail_goes_straight_to_the_handler_and_back_to_the_supervisor_r_dp_2(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = Desk(mailstack, database_url, tmp_path,
                approvals={"handlers": {"data_processing": LIN}})
    got = desk.send(mailbuild.human_mail(
        sender=f"赵磊 <{ZHAO}>", to=SERVICE, subject="紧急：请处理客户数据", charset="gbk",
        body="张伟的客户 13800000000 十月话费重复扣费，请紧急处理数据（冲正一笔）。\n赵磊"),
        datetime(2026, 12, 1, 10, 0, tzinfo=SH))
    request = desk.request()
    assert (request.kind, request.status) == ("data_processing", "with_handler")
    assert request.requester_email == ZHAO and request.fields["applicant"] == "张伟"
    (ack,) = got[ZHAO]
    assert "已受理" in str(ack["Subject"]) and request.reference in str(ack["Subject"])
    (handover,) = got[LIN]
    assert "紧急" in str(handover["Subject"])
    assert "R-DP-2" in text_of(handover) and "13800000000" in text_of(handover)
    assert attachment_names(handover) == [f"{request.reference}.eml"]
    assert ZHANG not in got  # the applicant was not asked for anything
    (recorded,) = desk.actions("plain_mail_request")
    assert recorded.detail["rule"] == "R-DP-2"
    assert (recorded.detail["applicant"], recorded.detail["supervisor"]) == (ZHANG, ZHAO)
    assert [t for t, _, _ in desk.transitions()] == ["handed_over"]
    assert not desk.steps()  # no approval

    got = desk.send(reply(handover, sender=LIN, body="已完成，已冲正"),
                    datetime(2026, 12, 1, 10, 20, tzinfo=SH))
    assert desk.request().status == "done"
    (done,) = got[ZHAO]  # the supervisor hears it is done
    assert "已冲正" in text_of(done)


def test_a_plain_mail_that_is_not_urgent_is_registered_as_before(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = Desk(mailstack, database_url, tmp_path,
                approvals={"handlers": {"data_processing": LIN}})
    got = desk.send(mailbuild.human_mail(
        sender=ZHAO, to=SERVICE, subject="数据处理", body="张伟的客户数据下周请处理一下"))
    request = desk.request()
    assert (request.kind, request.status) == ("general", "received")
    assert LIN not in got and not desk.actions("plain_mail_request")
