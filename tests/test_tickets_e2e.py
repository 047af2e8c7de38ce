"""Customer maintenance tickets over the real Dovecot and SMTP, the clock stepped per pass
(R-PM-1…5, R-PM-10, R-PM-14): a contract customer's mail opens a ticket; 客服 (何平, [roles]
customer_service) triages it by reply; the engineer gets the 派单; progress and overdue mails
run on the clock; the engineer escalates and reports the result; 客服 checks it; the
customer rates it, and again when followed up. An urgent ticket runs the emergency flow.
Outside mail from anyone else opens nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from mailflow.store.models import Request, Ticket, utc
from mailflow_testing import mailbuild
from tests.approvals_desk import HE, LIN, MA, WANG, ZHANG, ZHENG, Desk, reply, text_of
from tests.stack import SERVICE

SH = ZoneInfo("Asia/Shanghai")
CUSTOMER = "chen.jing@customer.test"
PUBLIC = "li.na.1980@163.test"       # a contact of the contract on a public mailbox
STRANGER = "sales@elsewhere.test"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def make_desk(mailstack: Any, database_url: str, tmp_path: Path) -> Desk:
    for address in (CUSTOMER, PUBLIC, STRANGER):
        mailstack.dovecot.add_user(address, "pw")
    return Desk(mailstack, database_url, tmp_path,
                roles={"it_manager": WANG, "project_manager": ZHENG,
                       "customer_service": HE},
                customers=[{
                    "key": "east-power", "name": "华东电力公司", "domains": ["customer.test"],
                    "contacts": [PUBLIC], "project_manager": "郑丽",
                    "engineers": ["林芳", MA],
                    "sla": {"normal": {"response_hours": 4, "resolution_hours": 4,
                                       "progress_hours": 2},
                            "urgent": {"response_hours": 0.5, "resolution_hours": 2,
                                       "progress_hours": 1}},
                    "follow_up_days": 7}])


def report(desk: Desk, when: datetime, sender: str = CUSTOMER,
           body: str = "今天上午9点左右开始，营业厅缴费页面打不开，提示连接超时。"
                       "联系电话 138-1234-5678。") -> dict[str, Any]:
    return desk.send(mailbuild.human_mail(sender=f"陈静 <{sender}>", to=SERVICE,
                                          subject="缴费页面打不开", body=body, charset="gbk"),
                     when)


def ticket(desk: Desk) -> Ticket:
    (row,) = desk.query(select(Ticket))
    assert isinstance(row, Ticket)
    return row


def rules(desk: Desk, action: str) -> list[str]:
    return [str(e.detail.get("rule")) for e in desk.actions(action)]


def test_ticket_from_intake_to_satisfaction_and_follow_up_r_pm_1_2_3_4_5_14(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = make_desk(mailstack, database_url, tmp_path)
    t0 = at("2026-12-01T10:00")
    got = report(desk, t0)
    # R-PM-1: the customer gets the number, 客服 the triage request
    (receipt,) = got[CUSTOMER]
    (triage_ask,) = got[HE]
    request = desk.request()
    assert request.kind == "customer_ticket" and request.reference in str(receipt["Subject"])
    assert "紧急" in text_of(triage_ask) and "技术问题" in text_of(triage_ask)
    row = ticket(desk)
    assert (row.customer_name, row.contact_email, row.contact_phone, row.status) == \
        ("华东电力公司", CUSTOMER, "138-1234-5678", "awaiting_triage")
    assert "缴费页面打不开" in row.description
    assert row.occurred_at is not None and utc(row.occurred_at) == at("2026-12-01T09:00")

    # R-PM-2: an engineer cannot triage; the customer's "紧急" is added to the ticket
    got = desk.send(reply(receipt, sender=LIN, body="一般，使用问题，工程师：林芳"),
                    t0 + timedelta(minutes=5))
    assert "客服" in text_of(got[LIN][0])
    assert rules(desk, "ticket_triage_refused") == ["R-PM-2"]
    got = desk.send(reply(receipt, sender=CUSTOMER, body="很紧急，请尽快！自助终端也不行。"),
                    t0 + timedelta(minutes=6))
    assert "自助终端也不行" in text_of(got[HE][0])
    assert ticket(desk).status == "awaiting_triage"

    # unreadable triage: 客服 is told exactly what to write
    got = desk.send(reply(triage_ask, sender=HE, body="收到，我看一下"),
                    t0 + timedelta(minutes=10))
    assert "紧急程度" in text_of(got[HE][0]) and "工程师：" in text_of(got[HE][0])
    # R-PM-2/3: triage by 客服 → the 派单 to the engineer, with requirement and due time
    got = desk.send(reply(triage_ask, sender=HE,
                          body="一般，操作方面的问题，派给林芳处理。\n影响范围：营业厅收费员\n"
                               "处理要求：上门指导收费员操作"),
                    t0 + timedelta(minutes=15))
    (dispatch,) = got[LIN]
    assert "派单" in str(dispatch["Subject"]) and "上门指导收费员操作" in text_of(dispatch)
    assert "2026-12-01 14:00" in text_of(dispatch)   # the contract's 4 hours from opening
    row = ticket(desk)
    assert (row.severity, row.category, row.engineer, row.impact, row.status) == \
        ("normal", "usage", LIN, "营业厅收费员", "in_progress")
    assert ("handed_over", "with_handler", "R-PM-3") in desk.transitions()

    # R-PM-4: a progress mail every 2 hours (from the dispatch), the engineer escalates
    assert desk.tick(t0 + timedelta(minutes=134)) == {}
    got = desk.tick(t0 + timedelta(minutes=135))
    assert "处理进展" in str(got[CUSTOMER][0]["Subject"])
    got = desk.send(reply(dispatch, sender=LIN, body="需要协助：需要网管中心配合检查防火墙策略。"),
                    t0 + timedelta(hours=3))
    assert WANG in got and ZHENG in got            # the engineer's superior and the PM
    assert "防火墙" in text_of(got[WANG][0])
    # past the 4-hour resolution time: the customer is told why, 客服 and the PM reminded
    got = desk.tick(t0 + timedelta(hours=4))
    why = next(m for m in got[CUSTOMER] if "延长" in str(m["Subject"]))
    assert "防火墙" in text_of(why)
    assert any("超时" in str(m["Subject"]) for m in got[HE])
    assert any("超时" in str(m["Subject"]) for m in got[ZHENG])
    assert rules(desk, "ticket_overdue") == ["R-PM-4"]

    # R-PM-5: the result → 客服 checks → the customer gets it and is asked to rate
    got = desk.send(reply(dispatch, sender=LIN, body="已处理，请客户再试。"),
                    t0 + timedelta(hours=4, minutes=30))
    (check,) = got[HE]
    assert ticket(desk).status == "awaiting_check"
    # 客服's check fails: back to the engineer with the reason
    got = desk.send(reply(check, sender=HE, body="退回：客户反馈自助终端仍无法缴费。"),
                    t0 + timedelta(hours=4, minutes=40))
    assert "自助终端仍无法缴费" in text_of(got[LIN][0]) and ticket(desk).status == "in_progress"
    got = desk.send(reply(dispatch, sender=LIN, body="已解决：防火墙策略已调整，缴费恢复正常。"),
                    t0 + timedelta(hours=5))
    (check,) = got[HE]
    assert ticket(desk).status == "awaiting_check"
    got = desk.send(reply(check, sender=HE, body="确认"), t0 + timedelta(hours=5, minutes=10))
    (result,) = got[CUSTOMER]
    assert "防火墙策略已调整" in text_of(result) and "满意" in text_of(result)
    row = ticket(desk)
    assert row.status == "closed" and row.closed_at is not None
    assert desk.query(select(Request.status)) == ["done"]
    desk.send(reply(result, sender=CUSTOMER, body="非常满意，谢谢！"),
              t0 + timedelta(hours=6))
    assert ticket(desk).rating == 5 and rules(desk, "ticket_rated") == ["R-PM-5"]

    # R-PM-14: 回访 7 days after closing; the answer feeds the same record
    closed = t0 + timedelta(hours=5, minutes=10)
    assert desk.tick(closed + timedelta(days=7) - timedelta(minutes=1)) == {}
    got = desk.tick(closed + timedelta(days=7))
    (visit,) = got[CUSTOMER]
    assert "回访" in str(visit["Subject"])
    desk.send(reply(visit, sender=CUSTOMER, body="一般吧，希望以后响应快一点。"),
              closed + timedelta(days=8))
    assert ticket(desk).rating == 3
    assert rules(desk, "ticket_rated") == ["R-PM-5", "R-PM-14"]


def test_urgent_ticket_runs_the_emergency_flow_r_pm_10(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = make_desk(mailstack, database_url, tmp_path)
    t0 = at("2026-12-02T20:00")
    got = report(desk, t0, body="系统从10分钟前开始全部瘫痪，所有营业厅无法收费！")
    (triage_ask,) = got[HE]
    got = desk.send(reply(triage_ask, sender=HE, body="緊急，技術問題，林芳；影响范围：全部营业厅"),
                    t0 + timedelta(minutes=3))
    # at once: the 派单, and the PM and the contract's engineers told, the PM asked for a plan
    assert any("派单" in str(m["Subject"]) for m in got[LIN])
    started = next(m for m in got[ZHENG] if "应急处理" in str(m["Subject"]))
    assert MA in got and "应急处理方案" in text_of(started)
    assert rules(desk, "ticket_emergency_started") == ["R-PM-10"]
    # the PM's plan is recorded and forwarded to the engineers
    plan = "切换到备用数据库，林芳负责切换，马超检查网络。"
    got = desk.send(reply(started, sender=ZHENG, body=plan), t0 + timedelta(minutes=10))
    assert "切换到备用数据库" in text_of(got[LIN][0]) and MA in got
    # recovery → verification by 客服 → the result to the customer, the summary asked of the PM
    got = desk.send(reply(started, sender=LIN, body="已恢复，已切换到备用库，业务恢复正常。"),
                    t0 + timedelta(minutes=50))
    (verify,) = got[HE]
    assert "验证" in str(verify["Subject"])
    got = desk.send(reply(verify, sender=HE, body="验证通过"), t0 + timedelta(minutes=60))
    assert "备用库" in text_of(got[CUSTOMER][0])
    (ask_summary,) = got[ZHENG]
    assert "总结" in str(ask_summary["Subject"]) and ticket(desk).status == "awaiting_summary"
    got = desk.send(reply(ask_summary, sender=ZHENG,
                          body="原因：主库磁盘满。改进措施：增加磁盘监控告警。"),
                    t0 + timedelta(hours=20))
    assert "增加磁盘监控告警" in text_of(got[HE][0])
    row = ticket(desk)
    assert row.status == "closed" and "磁盘监控" in row.summary and "备用数据库" in row.plan
    assert desk.query(select(Request.status)) == ["done"]
    assert [a for a in ("ticket_plan_recorded", "ticket_recovered", "ticket_verified",
                        "ticket_summary_recorded") if rules(desk, a) != ["R-PM-10"]] == []


def test_only_contract_customers_open_tickets_r_pm_1(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = make_desk(mailstack, database_url, tmp_path)
    got = desk.send(mailbuild.human_mail(sender=STRANGER, to=SERVICE, subject="系统打不开",
                                         body="你们的系统打不开了"), at("2026-12-01T10:00"))
    assert got == {} and desk.query(select(Ticket)) == []
    assert [e.detail["reason"] for e in desk.actions("mail_not_answered")]
    sent = at("2026-12-01T10:02")
    got = desk.send(mailbuild.human_mail(sender=PUBLIC, to=SERVICE, subject="请教",
                                         body="报表导出功能怎么用？", date=sent),
                    at("2026-12-01T10:05"))
    assert PUBLIC in got
    row = ticket(desk)
    assert row.contract == "east-power" and row.customer_name == "华东电力公司"
    # no time in the text: the problem is taken to have started when the mail was written
    assert row.occurred_at is not None and utc(row.occurred_at) == sent and not row.occurred_text
    # R-PM-2: not triaged within the (urgent, before triage) response time: 客服 reminded
    got = desk.tick(at("2026-12-01T10:35"))
    assert "尚未分级" in str(got[HE][0]["Subject"]) or "尚未" in text_of(got[HE][0])
    assert ZHENG in got and rules(desk, "ticket_response_overdue") == ["R-PM-2"]
    # our own staff's mail is no customer ticket
    desk.send(mailbuild.human_mail(sender=ZHANG, to=SERVICE, subject="打印机坏了",
                                   body="三楼打印机无法打印。"), at("2026-12-01T10:10"))
    assert len(desk.query(select(Ticket))) == 1
