"""Fault notices (故障通报, seed 002; R-FN-1…6) walked over the real Dovecot and SMTP with the
clock stepped by minutes (as ``run --once --now T`` does): a mail with 故障 in the subject opens
a fault handed to the handler at once; unresolved, the handler's supervisor is told at 5
minutes, the department manager at 15, the leader in charge and every business department at
30; the handler's "已恢复" closes it and the recovery notice goes out at once to the reporter
and everyone told. The ladder is data (forms/fault.toml), the supervisor a [roles] entry."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.store.models import DueWork
from mailflow_testing import mailbuild
from tests.approvals_desk import (
    HE,
    LIN,
    MA,
    QIAN,
    WANG,
    WU,
    ZHANG,
    ZHAO,
    ZHENG,
    Desk,
    directory,
    reply,
    submission,
    text_of,
)
from tests.stack import SERVICE

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 12, 5, 23, 50, tzinfo=SH)   # a Saturday night: faults keep no hours
BUSINESS = {ZHAO, HE, MA, QIAN}                     # the non-IT departments' managers


def minute(n: float) -> datetime:
    return START + timedelta(minutes=n)   # on the minute: the ladder counts whole minutes


@pytest.fixture
def desk(mailstack: Any, database_url: str, tmp_path: Path) -> Desk:
    roles = {**directory()["roles"], "it_supervisor": ZHENG}  # 主管: from the directory
    return Desk(mailstack, database_url, tmp_path, roles=roles,
                approvals={"handlers": {"fault": LIN}})


def report(desk: Desk) -> dict[str, list[Any]]:
    return desk.send(mailbuild.human_mail(
        sender=f"张伟 <{ZHANG}>", to=SERVICE, subject="计费系统故障：营业厅无法缴费",
        charset="gbk", body="各营业厅从23:45起无法缴费，提示连接超时。"), START)


def test_fault_escalates_at_5_15_30_minutes_then_recovery_is_announced_r_fn(
        desk: Desk) -> None:
    got = report(desk)
    request = desk.request()
    assert (request.kind, request.status) == ("fault", "with_handler")
    assert request.fields["symptom"].startswith("各营业厅从23:45起无法缴费")
    (handover,) = got[LIN]
    assert "故障" in str(handover["Subject"]) and "R-FN-1" in text_of(handover)
    assert "已受理" in str(got[ZHANG][0]["Subject"])

    assert desk.tick(minute(4)) == {}                    # nothing before 5 minutes
    got = desk.tick(minute(5))                           # R-FN-2: the supervisor
    assert set(got) == {ZHENG, LIN}
    (to_supervisor,) = got[ZHENG]
    assert "5 分钟未排除" in str(to_supervisor["Subject"])
    assert "R-FN-2" in text_of(to_supervisor)

    assert desk.tick(minute(14)) == {}
    got = desk.tick(minute(15))                          # R-FN-3: the handler's manager
    assert set(got) == {WANG, LIN}
    assert "15 分钟未排除" in str(got[WANG][0]["Subject"])

    got = desk.tick(minute(30))     # R-FN-4 the leader in charge; R-FN-5 every business dept
    assert "30 分钟未排除" in str(got[WU][0]["Subject"])
    notices = {who for who, mails in got.items()
               if any("系统故障通报" in str(m["Subject"]) for m in mails)}
    assert notices >= BUSINESS and WANG in notices       # IT's manager in Cc
    notice = next(m for m in got[ZHAO] if "系统故障通报" in str(m["Subject"]))
    assert "R-FN-5" in text_of(notice)
    assert desk.tick(minute(60)) == {}                   # the ladder ends there

    got = desk.send(reply(handover, sender=LIN, body="已恢复。原因：数据库连接池耗尽，已扩容。"),
                    minute(42))
    assert desk.request().status == "done"
    recovered = {who for who, mails in got.items()
                 if any("故障已恢复" in str(m["Subject"]) for m in mails)}
    # R-FN-6: at once (the same pass), to the reporter and everyone told before
    assert {ZHANG, ZHENG, WANG, WU, *BUSINESS} <= recovered
    text = text_of(next(m for m in got[ZHANG] if "故障已恢复" in str(m["Subject"])))
    assert "数据库连接池耗尽" in text and "R-FN-6" in text
    (closing,) = desk.actions("closing_notice")
    assert closing.detail["rule"] == "R-FN-6"
    assert [e.detail["rule"] for e in desk.actions("escalation_notified")] == [
        "R-FN-2", "R-FN-3", "R-FN-4", "R-FN-5"]


def test_fault_fixed_within_minutes_tells_nobody_above_r_fn_6(desk: Desk) -> None:
    got = report(desk)
    handover = got[LIN][0]
    got = desk.send(reply(handover, sender=LIN, body="还未恢复，正在排查"), minute(2))
    assert desk.request().status == "with_handler"   # "未恢复" does not close it
    got = desk.send(reply(handover, sender=LIN, body="已修复"), minute(3))
    assert desk.request().status == "done"
    recovered = {who for who, mails in got.items()
                 if any("故障已恢复" in str(m["Subject"]) for m in mails)}
    assert recovered == {ZHANG, LIN}
    assert desk.tick(minute(31)) == {}                # the pending escalations were cancelled
    rows = desk.query(select(DueWork).where(DueWork.kind == "notice.escalation"))
    assert {r.status for r in rows} == {"cancelled"}


def test_fault_form_opens_a_fault_too_and_a_plain_mail_without_fault_does_not(
        desk: Desk) -> None:
    catalog = load_catalog(default_forms_dir())
    got = desk.send(submission(catalog, "fault", subject="申告"), START)
    assert desk.request().status == "with_handler" and got[LIN]
    rows = desk.query(select(DueWork).where(DueWork.kind == "notice.escalation"))
    assert sorted(r.key for r in rows) == ["R-FN-2", "R-FN-3", "R-FN-4", "R-FN-5"]


def test_without_a_supervisor_in_the_directory_the_5_minute_step_goes_to_the_manager_r_fn_2(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = Desk(mailstack, database_url, tmp_path, approvals={"handlers": {"fault": LIN}})
    report(desk)
    got = desk.tick(minute(5))
    assert "5 分钟未排除" in str(got[WANG][0]["Subject"])   # the handler's manager instead
    (unaddressed,) = desk.actions("escalation_unaddressed")
    assert unaddressed.detail["rule"] == "R-FN-2" and unaddressed.detail["instead"] == [WANG]
