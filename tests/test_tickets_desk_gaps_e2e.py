"""The ticket desk's second round over the real Dovecot and SMTP, both databases:

* R-PM-1 "by phone, mail or online": 客服 (何平) registers a customer's phone or online
  report by mail; the channel is recorded, 客服 gets the number, the customer the receipt
  when their address is known; a triage in the same mail dispatches at once; a report naming
  no customer gets a reply saying what to add; 客服's other mail opens nothing.
* R-PM-2 re-triage: 客服 changes a dispatched ticket's severity and engineer by reply.
* R-PM-4: after a check returned to the engineer, the overdue mail is not sent again.
* R-PM-1: the customer's receipts are capped per hour; the tickets are still opened.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mailflow.store.models import Ticket, utc
from mailflow_testing import mailbuild
from tests.approvals_desk import HE, LIN, MA, ZHENG, reply, text_of
from tests.stack import SERVICE
from tests.test_tickets_e2e import CUSTOMER, at, make_desk, report, rules, ticket


def tickets(desk: Any) -> list[Ticket]:
    return list(desk.query(select(Ticket).order_by(Ticket.id)))


def test_customer_service_registers_phone_and_online_reports_r_pm_1(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = make_desk(mailstack, database_url, tmp_path)
    t0 = at("2026-12-01T10:00")
    # a phone call, in free text, naming the customer by its short name and their address
    got = desk.send(mailbuild.human_mail(
        sender=f"何平 <{HE}>", to=SERVICE, subject="华东电力来电：缴费页面打不开",
        body="刚接到华东电力陈静的电话（chen.jing@customer.test，138-1234-5678），"
             "营业厅缴费页面打不开，今天上午9点左右开始的。"), t0)
    (ack,) = got[HE]
    (receipt,) = got[CUSTOMER]
    row = tickets(desk)[0]
    assert (row.channel, row.registered_by, row.contract, row.contact_email,
            row.contact_phone, row.status) == ("phone", HE, "east-power", CUSTOMER,
                                               "138-1234-5678", "awaiting_triage")
    assert row.occurred_at is not None and utc(row.occurred_at) == at("2026-12-01T09:00")
    reference = desk.request().reference
    assert reference in str(ack["Subject"]) and reference in str(receipt["Subject"])
    assert "紧急程度" in text_of(ack) and "电话" in text_of(ack)
    assert [e.detail["channel"] for e in desk.actions("ticket_opened")] == ["phone"]
    # 客服 triages by replying to the acknowledgement, as usual (R-PM-2/3)
    got = desk.send(reply(ack, sender=HE, body="一般，技术问题，工程师：林芳"),
                    t0 + timedelta(minutes=5))
    assert any("派单" in str(m["Subject"]) for m in got[LIN])
    assert tickets(desk)[0].status == "in_progress"

    # online, in 字段：值 lines, no customer address, triaged in the same mail: dispatched
    got = desk.send(mailbuild.human_mail(
        sender=HE, to=SERVICE, subject="代客户登记",
        body="客户在微信服务号上留言反映：\n客户：east-power\n联系人：李娜\n联系电话：0571-88886666\n"
             "问题描述：报表导出一直报错\n出现时间：昨天下午3点\n\n紧急，技术问题，派给马超"),
        t0 + timedelta(minutes=10))
    second = tickets(desk)[1]
    assert (second.channel, second.contact_name, second.contact_phone, second.contact_email,
            second.description, second.severity, second.engineer, second.status) == \
        ("online", "李娜", "0571-88886666", "", "报表导出一直报错", "urgent", MA, "in_progress")
    assert second.occurred_at is not None and utc(second.occurred_at) == at("2026-11-30T15:00")
    assert any("派单" in str(m["Subject"]) for m in got[MA])
    assert any("应急处理" in str(m["Subject"]) for m in got[ZHENG])        # R-PM-10 at once
    ack = next(m for m in got[HE] if "已登记并派单" in str(m["Subject"]))
    assert "告知客户" in text_of(ack) and CUSTOMER not in got            # nobody to mail

    # a customer's mail forwarded by 客服 (their words below the forward line): channel mail
    got = desk.send(mailbuild.human_mail(
        sender=HE, to=SERVICE, subject="转发: 报表导出失败",
        body="请登记，一般，功能问题，工程师：林芳\n\n---------- Forwarded message ---------\n"
             "From: 李娜 <li.na.1980@163.test>\nSubject: 报表导出失败\n\n"
             "月报导出按钮点了没反应。\n李娜 13700001111"), t0 + timedelta(minutes=15))
    third = tickets(desk)[2]
    assert (third.channel, third.contact_email, third.contact_name, third.contact_phone,
            third.engineer, third.category) == ("mail", "li.na.1980@163.test", "李娜",
                                                "13700001111", LIN, "functional")
    assert "没反应" in third.description and "li.na.1980@163.test" in got
    # a report naming no contract customer: what to add, no ticket
    got = desk.send(mailbuild.human_mail(
        sender=HE, to=SERVICE, subject="客户来电报障",
        body="有客户来电反映系统登录不了，联系人：王先生，电话 13900001111。"),
        t0 + timedelta(minutes=20))
    assert "华东电力公司" in text_of(got[HE][0]) and "客户：" in text_of(got[HE][0])
    assert len(tickets(desk)) == 3 and rules(desk, "ticket_register_unclear") == ["R-PM-1"]
    # 客服's own mail that is no report opens nothing
    desk.send(mailbuild.human_mail(sender=HE, to=SERVICE, subject="请问",
                                   body="下周三的部门例会改到几点？"), t0 + timedelta(minutes=30))
    assert len(tickets(desk)) == 3


def test_customer_service_retriages_a_dispatched_ticket_r_pm_2_r_pm_10(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = make_desk(mailstack, database_url, tmp_path)
    t0 = at("2026-12-01T10:00")
    (triage_ask,) = report(desk, t0)[HE]
    got = desk.send(reply(triage_ask, sender=HE, body="一般，使用问题，工程师：林芳"),
                    t0 + timedelta(minutes=5))
    (dispatch,) = got[LIN]
    # a note without a change leaves the ticket as it is
    desk.send(reply(dispatch, sender=HE, body="客户又来电催了一次"), t0 + timedelta(minutes=20))
    assert ticket(desk).severity == "normal" and desk.actions("ticket_retriaged") == []
    got = desk.send(reply(dispatch, sender=HE,
                          body="林芳今天外出，由一般改为紧急，转派给马超处理，技术问题。"),
                    t0 + timedelta(minutes=30))
    row = ticket(desk)
    assert (row.severity, row.category, row.engineer) == ("urgent", "technical", MA)
    told = next(m for m in got[LIN] if "转派" in str(m["Subject"]))
    assert "马超" in text_of(told)
    assert any("派单" in str(m["Subject"]) for m in got[MA])
    assert any("应急处理" in str(m["Subject"]) for m in got[ZHENG])       # R-PM-10
    (event,) = desk.actions("ticket_retriaged")
    assert event.detail["rule"] == "R-PM-2" and event.detail["changes"] == {
        "severity": ["normal", "urgent"], "category": ["usage", "technical"],
        "engineer": [LIN, MA]}
    # a change word but nothing that changes: 客服 is told how to write it
    got = desk.send(reply(dispatch, sender=HE, body="改为紧急"), t0 + timedelta(minutes=40))
    assert "转派给" in text_of(got[HE][0]) and len(desk.actions("ticket_retriaged")) == 1
    # the urgent resolution time (2 h from opening) now runs: overdue at 12:00
    got = desk.tick(t0 + timedelta(hours=2))
    assert any("延长" in str(m["Subject"]) for m in got[CUSTOMER])
    # the new engineer reports the recovery: 客服 verifies (the urgent flow)
    got = desk.send(reply(dispatch, sender=MA, body="已恢复"), t0 + timedelta(hours=2, minutes=5))
    assert ticket(desk).status == "awaiting_verification"


def test_overdue_mail_not_repeated_after_check_returned_r_pm_4(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = make_desk(mailstack, database_url, tmp_path)
    t0 = at("2026-12-01T10:00")
    (triage_ask,) = report(desk, t0)[HE]
    (dispatch,) = desk.send(reply(triage_ask, sender=HE, body="一般，技术问题，林芳"),
                            t0 + timedelta(minutes=5))[LIN]
    got = desk.tick(t0 + timedelta(hours=4))                       # 4 h resolution time
    assert sum("延长" in str(m["Subject"]) for m in got[CUSTOMER]) == 1
    (check,) = desk.send(reply(dispatch, sender=LIN, body="已解决"),
                         t0 + timedelta(hours=4, minutes=10))[HE]
    got = desk.send(reply(check, sender=HE, body="退回：客户说还是打不开"),
                    t0 + timedelta(hours=4, minutes=20))
    assert "还是打不开" in text_of(got[LIN][0])
    got = desk.tick(t0 + timedelta(hours=4, minutes=21))
    assert not any("延长" in str(m["Subject"]) for m in got.get(CUSTOMER, []))
    assert rules(desk, "ticket_overdue") == ["R-PM-4"]
    # resolved and returned once more: still not told again
    (check,) = desk.send(reply(dispatch, sender=LIN, body="已处理"),
                         t0 + timedelta(hours=5))[HE]
    desk.send(reply(check, sender=HE, body="不通过，仍有问题"), t0 + timedelta(hours=5, minutes=5))
    got = desk.tick(t0 + timedelta(hours=6))
    assert not any("延长" in str(m["Subject"]) for m in got.get(CUSTOMER, []))
    # a re-triage to 紧急 sets another resolution time: that one is told, once
    got = desk.send(reply(dispatch, sender=HE, body="改为紧急"), t0 + timedelta(hours=6))
    assert sum("延长" in str(m["Subject"]) for m in got.get(CUSTOMER, [])) == 1
    got = desk.tick(t0 + timedelta(hours=8))
    assert not any("延长" in str(m["Subject"]) for m in got.get(CUSTOMER, []))
    assert len(desk.actions("ticket_overdue")) == 2


def test_customer_receipts_capped_per_hour_r_pm_1(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = make_desk(mailstack, database_url, tmp_path)
    service = desk.settings.service.model_copy(update={"replies_per_sender_per_hour": 2})
    desk.settings = desk.settings.model_copy(update={"service": service})
    t0 = at("2026-12-01T10:00")
    receipts = [len(report(desk, t0 + timedelta(minutes=i), body=f"第{i}个问题：页面打不开")
                    .get(CUSTOMER, [])) for i in range(3)]
    assert receipts == [1, 1, 0]
    assert len(tickets(desk)) == 3 and all(t.status == "awaiting_triage" for t in tickets(desk))
    (suppressed,) = desk.actions("reply_suppressed")
    assert CUSTOMER in suppressed.detail["reason"]
    # an hour on, the customer is answered again
    assert len(report(desk, t0 + timedelta(hours=1, minutes=5)).get(CUSTOMER, [])) == 1
