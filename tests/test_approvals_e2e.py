"""Approval chains end to end over the real Dovecot and SMTP, on SQLite and PostgreSQL.

Each test follows one request through its chain (R-DX-2, R-AC-2, R-CH-3, R-MT-4) and checks
the database, the audit trail and exactly which mails every party received.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from email.message import EmailMessage

from mailflow.documents.definitions import FormCatalog
from mailflow.documents.values import TimeRange
from tests.approvals_desk import (
    HE,
    LIN,
    MA,
    QIAN,
    WANG,
    ZHANG,
    ZHAO,
    ZHENG,
    ZHOU,
    Desk,
    attachment_names,
    corrected,
    reply,
    submission,
    text_of,
)


def test_data_extraction_through_manager_and_it_manager_r_dx_2(
    desk: Desk, catalog: FormCatalog
) -> None:
    got = desk.send(submission(catalog, "data_extraction", subject="数据提取申请"))
    assert sorted(got) == [ZHANG, ZHAO]  # the receipt; the department manager's request
    (ack,) = got[ZHANG]
    request = desk.request()
    assert request.status == "awaiting_approval"
    assert "已受理" in str(ack["Subject"])
    (ask,) = got[ZHAO]
    subject = str(ask["Subject"])
    assert request.reference in subject and "第 1 步，共 2 步" in subject and "#" in subject
    body = text_of(ask)
    assert "第 1 步，共 2 步" in body and "使用目的" in body and "用于月度经营分析报告" in body
    assert "同意" in body and "驳回" in body and "个工作日内" in body
    assert attachment_names(ask) == ["data_extraction.docx"]  # the original form
    token = subject.rsplit("#", 1)[1]
    assert token in str(ask["Message-ID"])

    got = desk.send(reply(ask, sender=f"赵磊 <{ZHAO}>", body="同意。"))
    assert sorted(got) == [WANG, ZHANG, ZHAO]
    (receipt,) = got[ZHAO]
    assert str(receipt["Subject"]) == f"[{request.reference}] 已记录：同意，第 1/2 步"
    assert f"已记录：同意，{request.reference} 第 1/2 步" in text_of(receipt)
    (notice,) = got[ZHANG]
    assert "赵磊" in text_of(notice) and "王军" in text_of(notice)
    (ask2,) = got[WANG]
    assert "第 2 步，共 2 步" in str(ask2["Subject"])
    assert "赵磊" in text_of(ask2) and "同意" in text_of(ask2)  # the earlier decision
    assert "总裁" in text_of(ask2)  # how to send it on to the president

    got = desk.send(reply(ask2, sender=WANG, body="同意"))
    assert sorted(got) == [LIN, WANG, ZHANG]
    (handover,) = got[LIN]
    assert "请处理" in str(handover["Subject"])
    names = attachment_names(handover)
    assert names[0] == "data_extraction.docx" and len(names) == 3  # form + both decisions
    assert "已批准" in str(got[ZHANG][0]["Subject"])
    request = desk.request()
    assert request.status == "with_handler"
    assert desk.transitions() == [
        ("chain_started", "awaiting_approval", "R-DX-2"),
        ("step_approved", "awaiting_approval", "R-DX-2"),
        ("last_step_approved", "approved", "R-DX-2"),
        ("handed_over", "with_handler", "R-DX-2"),
    ]
    steps = desk.steps()
    assert [(s.position, s.approver, s.verdict, s.decided_by) for s in steps] == [
        (1, ZHAO, "approve", ZHAO), (2, WANG, "approve", WANG)]
    assert steps[0].evidence.startswith("同意")
    recorded = desk.actions("decision_recorded")
    assert [e.actor for e in recorded] == [ZHAO, WANG]
    # which mail of ours each decision answered (RequestMatch.answered)
    assert [e.detail["answered"] for e in recorded] == [str(ask["Message-ID"]),
                                                        str(ask2["Message-ID"])]
    assert all(e.detail["rule"] == "R-DX-2" for e in recorded)

    # the handler reports it carried out: done, and the requester told
    got = desk.send(reply(handover, sender=LIN, body="已完成，数据已加密发送"))
    assert sorted(got) == [ZHANG]
    assert "已完成" in str(got[ZHANG][0]["Subject"])
    assert "数据已加密发送" in text_of(got[ZHANG][0])
    assert desk.request().status == "done"
    assert desk.transitions()[-1] == ("done", "done", "R-DX-2")


def test_data_extraction_sent_on_to_the_president_and_requester_told_r_dx_2(
    desk: Desk, catalog: FormCatalog
) -> None:
    got = desk.send(submission(catalog, "data_extraction"))
    got = desk.send(reply(got[ZHAO][0], sender=ZHAO, body="同意"))
    got = desk.send(reply(got[WANG][0], sender=WANG, body="同意，需总裁审批"))
    assert sorted(got) == [WANG, ZHANG, ZHOU]
    (ask,) = got[ZHOU]
    assert "第 3 步，共 3 步" in str(ask["Subject"])
    (told,) = got[ZHANG]
    assert "已转上级审批" in str(told["Subject"]) and "周华" in text_of(told)
    assert "第 2/3 步" in str(got[WANG][0]["Subject"])
    assert desk.request().status == "awaiting_approval"

    got = desk.send(reply(ask, sender=ZHOU, body="同意"))
    assert sorted(got) == [LIN, ZHANG, ZHOU]
    assert desk.request().status == "with_handler"
    assert [t for t, _, _ in desk.transitions()] == [
        "chain_started", "step_approved", "escalated", "step_approved", "last_step_approved",
        "handed_over"]
    assert [(s.position, s.approver, s.role) for s in desk.steps()] == [
        (1, ZHAO, "requester_manager"), (2, WANG, "it_manager"), (3, ZHOU, "president")]


def test_account_rejected_with_a_reason_then_resubmitted_r_ac_2(
    desk: Desk, catalog: FormCatalog
) -> None:
    got = desk.send(submission(catalog, "account", subject="帐号申请"))
    got = desk.send(reply(got[ZHAO][0], sender=ZHAO, body="同意"))
    (ask,) = got[HE]  # 客服中心 owns the CRM's permissions
    assert "系统业务管理部门经理" in text_of(ask)
    got = desk.send(reply(ask, sender=HE, body="驳回，权限范围过大，请只申请工单查询"))
    assert sorted(got) == [HE, ZHANG]
    (notice,) = got[ZHANG]
    assert "已驳回" in str(notice["Subject"])
    assert "权限范围过大，请只申请工单查询" in text_of(notice)
    assert "原编号" in text_of(notice)
    request = desk.request()
    assert request.status == "rejected"
    assert desk.steps()[1].reason == "权限范围过大，请只申请工单查询"

    got = desk.send(corrected(catalog, "account", notice, functional_permissions="工单查询"))
    assert sorted(got) == [ZHANG, ZHAO]  # a receipt; round 2 starts at the manager again
    assert "重新提交" in text_of(got[ZHANG][0])
    again = desk.request()
    assert again.id == request.id and again.status == "awaiting_approval"
    assert again.fields["functional_permissions"] == "工单查询"
    assert [(s.round, s.position, s.status) for s in desk.steps()] == [
        (1, 1, "approved"), (1, 2, "rejected"), (2, 1, "open"), (2, 2, "planned")]
    assert [t for t, _, _ in desk.transitions()] == [
        "chain_started", "step_approved", "rejected", "resubmitted", "chain_started"]
    # the old round's token no longer decides anything
    got = desk.send(reply(ask, sender=HE, body="同意"))
    assert desk.request().status == "awaiting_approval"
    assert [e.detail["reason"] for e in desk.actions("decision_refused")] == ["step_closed"]


def test_change_confirmed_by_two_cooperating_departments_in_parallel_r_ch_3(
    desk: Desk, catalog: FormCatalog
) -> None:
    # planned well ahead, so the lead times hold (R-CH-2/3: no warning mail) and the change
    # notice (R-CH-4) falls due after the approvals (notices/lifecycle.py)
    start = datetime.combine(date.today() + timedelta(days=60), time(0, 30))
    got = desk.send(submission(catalog, "system_change",
                               cooperating_departments=["网管中心", "财务部"],
                               change_date=start.date(),
                               planned_window=TimeRange(start, start + timedelta(hours=2))))
    assert sorted(got) == [MA, QIAN, WANG, ZHANG]
    for who in (MA, QIAN, WANG):
        assert "第 1 步，共 1 步" in str(got[who][0]["Subject"])
    # values as people write them: 是/否, the window as "… 至 02:30"
    ask = text_of(got[WANG][0])
    assert "是否影响现网用户：是" in ask and "是否复杂变更：否" in ask
    assert f"计划变更时间：{start:%Y-%m-%d %H:%M} 至 02:30" in ask
    assert "True" not in ask and "start=" not in ask
    asks = {who: got[who][0] for who in (MA, QIAN, WANG)}
    got = desk.send(reply(asks[WANG], sender=WANG, body="同意"))
    assert sorted(got) == [WANG, ZHANG]
    assert desk.request().status == "awaiting_approval"
    got = desk.send(reply(asks[MA], sender=MA, body="确认配合，同意"))
    assert desk.request().status == "awaiting_approval"
    assert "钱敏" in text_of(got[ZHANG][0])  # still waiting for her
    got = desk.send(reply(asks[QIAN], sender=QIAN, body="同意"))
    assert sorted(got) == [QIAN, WANG, ZHANG]  # the IT manager is the change's handler
    assert "请处理" in str(got[WANG][0]["Subject"])
    assert desk.request().status == "with_handler"
    assert {s.approver: s.verdict for s in desk.steps()} == {
        WANG: "approve", MA: "approve", QIAN: "approve"}


def test_minutes_approved_by_the_project_manager_r_mt_4(
    desk: Desk, catalog: FormCatalog
) -> None:
    got = desk.send(submission(catalog, "minutes", subject="周例会纪要"))
    assert sorted(got) == [ZHANG, ZHENG]
    assert_action_items_table(got[ZHENG][0])  # the approval mail
    got = desk.send(reply(got[ZHENG][0], sender=ZHENG, body="同意，可以发出"))
    assert sorted(got) == [WANG, ZHANG, ZHENG]
    assert desk.request().status == "with_handler"
    assert desk.steps()[0].reason == "可以发出"
    assert_action_items_table(next(m for m in got[WANG] if "请处理" in str(m["Subject"])))


def assert_action_items_table(mail: EmailMessage) -> None:
    """The minutes' action items as a small table: aligned columns in the text (a CJK
    character two columns wide), a nested table in the HTML; never run together."""
    from mailflow.display import display_width

    lines = text_of(mail).splitlines()
    at = lines.index("  行动项：")
    header, first, second = lines[at + 1:at + 4]
    assert header.split() == ["事项", "负责人", "完成时间"]
    assert first.split() == ["完成计费模块联调", "吴九", "2026-11-28"]
    assert second.split() == ["更新项目计划", "陈七", "2026-11-30"]
    for row in (first, second):  # every column starts where its heading does
        for heading, cell in zip(header.split(), row.split(), strict=True):
            assert display_width(header[:header.index(heading)]) == display_width(
                row[:row.index(cell)])
    html = mail.get_body(preferencelist=("html",))
    assert isinstance(html, EmailMessage)
    markup = str(html.get_content())
    assert '<th align="left">事项</th><th align="left">负责人</th>' in markup
    assert "<td style=\"white-space:pre-line\">完成计费模块联调</td>" in markup
    assert "item=" not in markup and " · " not in markup


def test_unclear_reply_changes_nothing_then_a_clear_one_decides(
    desk: Desk, catalog: FormCatalog
) -> None:
    got = desk.send(submission(catalog, "minutes"))
    ask = got[ZHENG][0]
    got = desk.send(reply(ask, sender=ZHENG, body="我看一下再说"))
    assert sorted(got) == [ZHENG]
    (nudge,) = got[ZHENG]
    assert "请回复 同意 或 驳回" in text_of(nudge)
    assert "#" in str(nudge["Subject"])
    assert desk.request().status == "awaiting_approval"
    assert desk.steps()[0].status == "open"
    assert [e.detail["evidence"] for e in desk.actions("decision_unclear")] == ["我看一下再说"]
    got = desk.send(reply(nudge, sender=ZHENG, body="同意"))  # answering the nudge binds too
    assert sorted(got) == [WANG, ZHANG, ZHENG]
    assert desk.request().status == "with_handler"


def test_html_only_reply_with_the_original_quoted_is_read_from_what_was_written(
    desk: Desk, catalog: FormCatalog
) -> None:
    """QQ Mail / Outlook web send HTML only; the quoted approval mail below holds both
    同意 and 驳回 and must not decide anything."""
    from email.message import EmailMessage as Message

    ask = desk.send(submission(catalog, "minutes"))[ZHENG][0]
    answer = Message()
    answer["From"] = f"郑丽 <{ZHENG}>"
    answer["To"] = "service@example.test"
    answer["Subject"] = "回复：" + str(ask["Subject"])
    answer["In-Reply-To"] = answer["References"] = str(ask["Message-ID"])
    answer["Message-ID"] = "<html-only-1@example.test>"
    answer.set_content(
        "<div>驳回，议题二的结论写错了，请更正</div><div><br></div>"
        "<div style=\"font-size:12px\">------------------&nbsp;原始邮件&nbsp;"
        "------------------</div>"
        f"<blockquote>{text_of(ask)}</blockquote>", subtype="html", charset="utf-8")
    got = desk.send(answer.as_bytes())
    assert sorted(got) == [ZHANG, ZHENG]
    assert desk.request().status == "rejected"
    (step,) = desk.steps()
    assert step.verdict == "reject" and "议题二的结论写错了" in step.reason


def test_one_cooperating_department_rejecting_closes_the_parallel_step_r_ch_3(
    desk: Desk, catalog: FormCatalog
) -> None:
    # planned well ahead: no lead-time warning (R-CH-2/3) comes into the count
    start = datetime.combine(date.today() + timedelta(days=60), time(0, 30))
    got = desk.send(submission(catalog, "system_change",
                               cooperating_departments=["网管中心", "财务部"],
                               change_date=start.date(),
                               planned_window=TimeRange(start, start + timedelta(hours=2))))
    asks = {who: got[who][0] for who in (MA, QIAN, WANG)}
    desk.send(reply(asks[WANG], sender=WANG, body="同意"))
    got = desk.send(reply(asks[MA], sender=MA, body="驳回，窗口与网管割接冲突，请改期"))
    assert sorted(got) == [MA, QIAN, ZHANG]
    (closed,) = got[QIAN]  # still asked: told no answer is needed
    assert "无需再审批" in str(closed["Subject"]) and "请改期" in text_of(closed)
    assert desk.request().status == "rejected"
    assert {s.approver: s.status for s in desk.steps()} == {
        WANG: "approved", MA: "rejected", QIAN: "closed"}
    got = desk.send(reply(asks[QIAN], sender=QIAN, body="同意"))
    assert [e.detail["reason"] for e in desk.actions("decision_refused")] == ["step_closed"]
