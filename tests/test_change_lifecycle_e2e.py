"""A system change walked end to end over the real Dovecot and SMTP with the clock set step by
step (as `run --once --now T` does): submission, approvals (R-CH-3), the change notice at
the R-CH-4 time, the operator's result by reply and the result notice (R-CH-5), and for a
complex change the summary report chased after R-CH-6. One change is on the first working
day after National Day 2025 (its notice falls on the working day before the holiday), one
on the make-up working Saturday 2025-10-11 and approved too late for its notice time."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailflow.documents.definitions import FormCatalog, default_forms_dir, load_catalog
from mailflow.documents.values import TimeRange
from mailflow.store.models import AuditEvent, DueWork, utc
from tests.approvals_desk import (
    HE,
    MA,
    QIAN,
    SUN,
    WANG,
    WU,
    ZHANG,
    ZHAO,
    Desk,
    attachment_names,
    directory,
    reply,
    submission,
    text_of,
)

SH = ZoneInfo("Asia/Shanghai")
NOTICE_TO = [HE, ZHANG, SUN]          # 客服中心, 市场部, 财务部: the form's order
NOTICE_CC = [WU, ZHAO, QIAN]          # leader in charge, then the To departments' managers


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.fixture(scope="module")
def catalog() -> FormCatalog:
    return load_catalog(default_forms_dir())


@pytest.fixture
def desk(mailstack: Any, database_url: str, tmp_path: Path) -> Desk:
    departments = directory()["departments"]
    extra = {"service": {"heads": [HE]}, "marketing": {"interface_persons": [ZHANG]},
             "finance": {"interface_persons": [SUN]}}
    for dept in departments:
        dept.update(extra.get(dept["key"], {}))
    return Desk(mailstack, database_url, tmp_path, departments=departments)


def change(catalog: FormCatalog, start: str, end: str, **values: Any) -> bytes:
    window = TimeRange(datetime.fromisoformat(start), datetime.fromisoformat(end))
    return submission(catalog, "system_change", change_date=window.start.date(),
                      planned_window=window, **values)


def approve(desk: Desk, got: dict[str, list[EmailMessage]], when: str) -> None:
    """The IT manager and the cooperating 网管中心 confirm (R-CH-3)."""
    asks = {who: next(m for m in got[who] if "请审批" in str(m["Subject"]))
            for who in (WANG, MA)}
    desk.send(reply(asks[WANG], sender=WANG, body="同意"), at(when))
    desk.send(reply(asks[MA], sender=MA, body="同意配合"), at(when.replace(":00", ":05")))
    assert desk.request().status == "with_handler"


def notice_in(got: dict[str, list[EmailMessage]], words: str) -> EmailMessage:
    found = {who: [m for m in mails if words in str(m["Subject"])] for who, mails in got.items()}
    holders = sorted(who for who, mails in found.items() if mails)
    assert holders == sorted(NOTICE_TO + NOTICE_CC), holders
    assert all(len(mails) == 1 for who, mails in found.items() if mails)  # exactly once
    message = found[NOTICE_TO[0]][0]
    # R-CH-4: To in the form's order of relevance; Cc the leader, then the managers
    assert [a for _n, a in getaddresses([str(message["To"])])] == NOTICE_TO
    assert [a for _n, a in getaddresses([str(message["Cc"])])] == NOTICE_CC
    return message


def test_change_after_national_day_r_ch_4_r_ch_5(desk: Desk, catalog: FormCatalog) -> None:
    got = desk.send(change(catalog, "2025-10-09 00:30", "2025-10-09 02:30"),
                    at("2025-09-19 10:00"))
    assert not any("变更提醒" in str(m["Subject"]) for m in got[ZHANG])  # lead times met
    approve(desk, got, "2025-09-19 11:00")
    # R-CH-4: 2 hours before the end of the working day before the change's day; that day
    # is 2025-09-30, the working day before the National Day holiday
    (work,) = desk.query(select(DueWork).where(DueWork.kind == "notice.change_notice"))
    assert work.due_at == at("2025-09-30 16:00").astimezone(ZoneInfo("UTC")).replace(
        tzinfo=None)
    got = desk.tick(at("2025-09-30 15:59"))
    assert not any("系统变更通知" in str(m["Subject"]) for ms in got.values() for m in ms)
    got = desk.tick(at("2025-09-30 16:00"))
    notice = notice_in(got, "【系统变更通知】")
    assert notice["Date"].datetime == at("2025-09-30 16:00")
    assert attachment_names(notice) == [f"系统变更通知_{desk.request().reference}.docx"]
    assert "逾期" not in text_of(notice) and "计费系统月度版本升级" in text_of(notice)

    # the change ends; the operator (the IT manager handles changes) is asked for the result
    got = desk.tick(at("2025-10-09 02:30"))
    (ask,) = got[WANG]
    assert "报告变更结果" in str(ask["Subject"])
    got = desk.send(reply(ask, sender=WANG, body="成功\n遗留问题：无\n注意事项：请核对账单"),
                    at("2025-10-09 08:10"))
    result = notice_in(got, "【系统变更结果通告】")
    assert "变更成功" in str(result["Subject"])
    assert result["Date"].datetime <= at("2025-10-09 14:30")  # R-CH-5: 12 h after the end
    assert attachment_names(result) == [f"系统变更结果通告_{desk.request().reference}.docx"]
    assert desk.request().status == "done"
    # nothing further is due: no reminder of a result already given
    assert desk.tick(at("2025-10-09 15:00")) == {}
    queued = desk.actions("notice_queued")
    assert [(e.detail["template"], e.detail.get("rule"), e.detail.get("late"))
            for e in queued if e.detail["template"].startswith("departments_")] == [
        ("departments_change_notice", "R-CH-4", False),
        ("departments_change_result", "R-CH-5", False)]


def test_daytime_untested_change_warned_at_submission_r_ch_1_r_ch_2(
    desk: Desk, catalog: FormCatalog
) -> None:
    """Submitted three weeks ahead (the lead times of R-CH-2/3 are met) but planned for the
    afternoon though it affects live users, and not confirmed in the test environment: the
    requester is warned, Cc the IT manager, of exactly those two rules."""
    got = desk.send(change(catalog, "2025-10-09 14:00", "2025-10-09 15:00",
                           tested_in_test_env=False), at("2025-09-19 10:00"))
    (warning,) = [m for m in got[ZHANG] if "变更提醒" in str(m["Subject"])]
    assert [a for _n, a in getaddresses([str(warning["To"])])] == [ZHANG]
    assert [a for _n, a in getaddresses([str(warning["Cc"])])] == [WANG]
    text = text_of(warning)
    assert "R-CH-1" in text and "测试环境" in text
    assert "零点以后" in text and "2025-10-09 14:00" in text  # R-CH-2: after midnight
    assert "最晚应于" not in text  # no lead time missed
    (warned,) = desk.actions("change_lead_time_warned")
    assert warned.detail["rules"] == ["R-CH-1", "R-CH-2 after midnight"]
    assert not desk.actions("change_emergency")


def test_complex_change_on_a_make_up_saturday_approved_late_r_ch_4_r_ch_6(
    desk: Desk, catalog: FormCatalog
) -> None:
    got = desk.send(change(catalog, "2025-10-11 00:30", "2025-10-11 02:30",
                           complex_change=True), at("2025-10-09 10:00"))
    warning = next(m for m in got[ZHANG] if "变更提醒" in str(m["Subject"]))
    assert "R-CH-2" in text_of(warning) and "R-CH-3" in text_of(warning)  # too late
    assert any("变更提醒" in str(m["Subject"]) for m in got[WANG])
    # approved after 16:00 on the day before the make-up Saturday: the notice goes at once,
    # saying it is late and by which rule
    approve(desk, got, "2025-10-10 17:00")
    late = [e for e in desk.actions("notice_queued")
            if e.detail["template"] == "departments_change_notice"]
    assert [(e.detail["rule"], e.detail["late"]) for e in late] == [("R-CH-4", True)]
    assert utc(late[0].at).replace(microsecond=0) == at("2025-10-10 17:05")  # at once

    got = desk.tick(at("2025-10-11 02:30"))
    (ask,) = got[WANG]
    got = desk.send(reply(ask, sender=WANG,
                          body="失败\n原因：数据库迁移超时，已回退。\n遗留问题：下周重新实施"),
                    at("2025-10-11 03:00"))
    result = notice_in(got, "【系统变更结果通告】")
    assert "变更失败" in str(result["Subject"]) and "数据库迁移超时" in text_of(result)
    assert desk.request().status == "with_handler"  # a complex change owes its report

    # R-CH-6: 3 working days from the end (02:30 on the make-up Saturday counts from its
    # 09:00): 10-13, 10-14, 10-15 → due 2025-10-15 09:00; overdue, then escalated
    got = desk.tick(at("2025-10-14 11:16"))  # reminded at three quarters of the time
    (reminder,) = got[WANG]
    assert "【提醒】" in str(reminder["Subject"]) and "R-CH-6" in text_of(reminder)
    assert desk.tick(at("2025-10-15 08:59")) == {}
    got = desk.tick(at("2025-10-15 09:00"))
    (overdue,) = got[WANG]
    assert "已逾期" in str(overdue["Subject"]) and "R-CH-6" in text_of(overdue)
    got = desk.tick(at("2025-10-15 17:01"))  # 8 working hours after the reminder (09:00+)
    assert sorted(got) == [WANG, WU]
    assert "逾期升级" in str(got[WU][0]["Subject"])
    escalated = desk.query(select(AuditEvent).where(AuditEvent.action == "deadline_escalated"))
    assert [e.detail["rule"] for e in escalated] == ["R-CH-6"]

    # the report, by reply: to the business departments' managers, Cc the leader (R-CH-6)
    got = desk.send(reply(overdue, sender=WANG, body=(
        "总结报告如下：\n背景：月末出账耗时过长\n完成情况：引擎升级已完成\n"
        "难度与复杂度：三个系统联调\n意义：出账时间缩短")), at("2025-10-16 10:00"))
    report = next(m for m in got[QIAN] if "【系统变更总结报告】" in str(m["Subject"]))
    assert [a for _n, a in getaddresses([str(report["To"])])] == [HE, ZHAO, QIAN]
    assert [a for _n, a in getaddresses([str(report["Cc"])])] == [WU]
    assert "月末出账耗时过长" in text_of(report) and "R-CH-6" in text_of(report)  # late
    assert attachment_names(report) == [f"系统变更总结报告_{desk.request().reference}.docx"]
    assert desk.request().status == "done"


def test_minutes_reach_every_attendee_once_even_through_an_smtp_outage_r_mt_3_r_mt_5(
    desk: Desk, catalog: FormCatalog
) -> None:
    from datetime import date

    from tests.approvals_desk import LIN, ZHENG

    got = desk.send(submission(
        catalog, "minutes", subject="评审会纪要", host="王军", recorder="林芳",
        attendees=["王军", "林芳", "财务部 钱敏", "孙丽 <sun.li@example.test>"], absentees=[],
        action_items=[{"item": "完成计费模块联调", "owner": "林芳",
                       "due": date(2025, 10, 11)}]), at("2025-10-09 10:00"))
    ask = got[ZHENG][0]
    desk.smtp.fail_with(451)  # the server refuses for a while: everything stays queued
    desk.send(reply(ask, sender=ZHENG, body="同意，可以发出"), at("2025-10-09 10:30"))
    assert desk.request().status == "with_handler"
    desk.smtp.succeed()
    got = desk.tick(at("2025-10-09 10:45"))
    minutes = {who: [m for m in mails if "【会议纪要】" in str(m["Subject"])]
               for who, mails in got.items()}
    assert sorted(w for w, ms in minutes.items() if ms) == sorted([WANG, LIN, QIAN, SUN])
    assert all(len(ms) == 1 for ms in minutes.values() if ms)  # exactly once each
    assert attachment_names(minutes[LIN][0]) == [f"会议纪要_{desk.request().reference}.docx"]
    again = desk.tick(at("2025-10-09 11:00"))
    assert not any("【会议纪要】" in str(m["Subject"]) for ms in again.values() for m in ms)

    # R-MT-5: the owner is reminded a working day before the item falls due (on the
    # make-up Saturday), the host told when it is overdue
    assert desk.tick(at("2025-10-10 17:59")) == {}
    got = desk.tick(at("2025-10-10 18:00"))
    assert sorted(got) == [LIN] and "行动项提醒" in str(got[LIN][0]["Subject"])
    got = desk.tick(at("2025-10-11 18:00"))
    assert sorted(got) == [WANG] and "行动项逾期" in str(got[WANG][0]["Subject"])


def test_a_notified_change_moved_then_called_off_gets_corrections_r_ch_4(
    desk: Desk, catalog: FormCatalog
) -> None:
    got = desk.send(change(catalog, "2025-10-09 00:30", "2025-10-09 02:30"),
                    at("2025-09-19 10:00"))
    approve(desk, got, "2025-09-19 11:00")
    notice_in(desk.tick(at("2025-09-30 16:00")), "【系统变更通知】")
    handed = [e for e in desk.actions("notice_queued")
              if e.detail["template"] == "handler_assignment"]
    assert handed  # the IT manager has the change
    # the IT manager moves the change by replying (to any mail of the request: here a
    # fresh mail quoting the number)
    from mailflow_testing import mailbuild
    from tests.stack import SERVICE

    reference = desk.request().reference
    moved = mailbuild.human_mail(sender=WANG, to=SERVICE, subject=f"回复: [{reference}] 变更",
                                 body="改期至 2025-10-16 00:30 至 2025-10-16 02:30，"
                                      "原因：供应商补丁延迟")
    got = desk.send(moved, at("2025-10-08 10:00"))
    correction = notice_in(got, "【系统变更改期通知】")
    text = text_of(correction)
    assert "2025-10-09 00:30" in text and "2025-10-16 00:30" in text and "供应商补丁延迟" in text
    assert desk.request().fields["planned_window"] == {"start": "2025-10-16T00:30:00",
                                                       "end": "2025-10-16T02:30:00"}
    assert desk.tick(at("2025-10-09 02:31")) == {}  # the result is not asked at the old end
    got = desk.tick(at("2025-10-16 02:30"))
    assert "报告变更结果" in str(got[WANG][0]["Subject"])
    called_off = mailbuild.human_mail(sender=WANG, to=SERVICE,
                                      subject=f"回复: [{reference}] 变更",
                                      body="取消变更，业务部门撤销了需求")
    got = desk.send(called_off, at("2025-10-16 08:00"))
    cancelled = notice_in(got, "【系统变更取消通知】")
    assert "业务部门撤销了需求" in text_of(cancelled)
    assert desk.request().status == "done"
    assert desk.tick(at("2025-10-16 15:00")) == {}  # nothing chased any more


def test_emergency_change_notified_afterwards_and_marked_r_ch_4(
    desk: Desk, catalog: FormCatalog
) -> None:
    """紧急变更 ticked: submitted two hours before a daytime change, the lead times are
    waived (R-CH-2/3) but not the test check (R-CH-1), and the emergency is recorded;
    approved after the change ran, its notice goes at once, marked as made up afterwards
    (R-CH-4), never as late."""
    got = desk.send(change(catalog, "2025-10-09 14:00", "2025-10-09 15:00", emergency=True,
                           tested_in_test_env=False), at("2025-10-09 12:00"))
    (warning,) = [m for m in got[ZHANG] if "变更提醒" in str(m["Subject"])]
    assert any("变更提醒" in str(m["Subject"]) for m in got[WANG])  # and the IT manager
    text = text_of(warning)
    assert "R-CH-1" in text and "R-CH-2" not in text and "R-CH-3" not in text
    assert "已标记为紧急变更" in text
    (marked,) = desk.actions("change_emergency")
    assert marked.detail["rule"] == "R-CH-4"
    assert desk.request().fields["emergency"] is True
    asks = {who: next(m for m in got[who] if "请审批" in str(m["Subject"]))
            for who in (WANG, MA)}
    desk.send(reply(asks[WANG], sender=WANG, body="同意"), at("2025-10-09 15:30"))
    got = desk.send(reply(asks[MA], sender=MA, body="同意"), at("2025-10-09 15:35"))
    assert desk.request().status == "with_handler"
    # due at once and sent in the approving pass, once, to the R-CH-4 people, marked
    notice = notice_in(got, "【系统变更通知】")
    assert "紧急变更补发" in str(notice["Subject"])
    assert "事后补发" in text_of(notice) and "晚于规定时间" not in text_of(notice)
    assert notice["Date"].datetime.replace(second=0) == at("2025-10-09 15:35")
    queued = [e for e in desk.actions("notice_queued")
              if e.detail["template"] == "departments_change_notice"]
    assert [bool(e.detail.get("late")) for e in queued] == [False]  # never "late"
    (deadlines_set,) = [e for e in desk.actions("deadlines_set")
                        if "R-CH-4" in e.detail["deadlines"]]
    assert deadlines_set.detail["emergency"] is True
