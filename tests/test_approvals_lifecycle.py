"""Around the decisions: withdrawal, status questions, delegation, reminders and
escalation as due work, a chain that cannot be resolved, and the hourly cap that must not
silence approvals. Over the real Dovecot and SMTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mailflow.documents.definitions import FormCatalog
from mailflow_testing import mailbuild
from tests.approvals_desk import (
    ADMIN,
    OUTSIDER,
    QIAN,
    SUN,
    WANG,
    WU,
    ZHANG,
    ZHAO,
    Desk,
    reply,
    submission,
    text_of,
)
from tests.stack import SERVICE

REPO = Path(__file__).resolve().parents[1]


def test_requester_withdraws_and_the_waiting_approver_is_told(
    desk: Desk, catalog: FormCatalog
) -> None:
    got = desk.send(submission(catalog, "data_extraction"))
    ack, ask = got[ZHANG][0], got[ZHAO][0]
    got = desk.send(reply(ack, sender=ZHANG, body="撤回，不需要了"))
    assert sorted(got) == [ZHANG, ZHAO]  # one mail, the approver in Cc
    assert "已撤回" in str(got[ZHANG][0]["Subject"])
    assert desk.request().status == "withdrawn"
    assert [s.status for s in desk.steps()] == ["closed", "closed"]
    assert [t for t, _, _ in desk.transitions()] == ["chain_started", "withdrawn"]
    got = desk.send(reply(ask, sender=ZHAO, body="同意"))
    assert desk.request().status == "withdrawn"
    assert [e.detail["reason"] for e in desk.actions("decision_refused")] == ["step_closed"]


def test_only_the_requester_can_withdraw(desk: Desk, catalog: FormCatalog) -> None:
    desk.send(submission(catalog, "data_extraction"))
    reference = desk.request().reference
    desk.send(mailbuild.human_mail(sender=SUN, to=SERVICE, subject=f"{reference} 撤回",
                                   body="撤回"))
    assert desk.request().status == "awaiting_approval"


def test_anyone_in_the_record_may_ask_for_the_status(desk: Desk, catalog: FormCatalog
                                                    ) -> None:
    desk.send(submission(catalog, "data_extraction"))
    reference = desk.request().reference
    got = desk.send(mailbuild.human_mail(sender=ZHANG, to=SERVICE,
                                         subject=f"{reference} 进度?", body="进度？"))
    assert sorted(got) == [ZHANG]
    text = text_of(got[ZHANG][0])
    assert "审批中" in text and "赵磊" in text and "第 1 步，共 2 步" in text
    got = desk.send(mailbuild.human_mail(sender=WANG, to=SERVICE,
                                         subject=f"状态? {reference}", body="状态?"))
    assert sorted(got) == [WANG]  # a later approver is in the record too
    # a bystander gets nothing (the number alone does not open the record)
    assert desk.send(mailbuild.human_mail(sender=SUN, to=SERVICE,
                                          subject=f"{reference} 进度?", body="进度?")) == {}
    assert len(desk.actions("status_answered")) == 2


def test_delegate_receives_the_request_and_decides_for_the_approver(
    mailstack: Any, database_url: str, tmp_path: Path, catalog: FormCatalog
) -> None:
    today = datetime.now(UTC).astimezone().date()
    desk = Desk(mailstack, database_url, tmp_path, delegations=[{
        "who": ZHAO, "to": QIAN, "from_date": str(today - timedelta(days=1)),
        "to_date": str(today + timedelta(days=2))}])
    got = desk.send(submission(catalog, "data_extraction"))
    assert sorted(got) == [QIAN, ZHANG, ZHAO]
    ask = got[QIAN][0]
    assert ask["Cc"].addresses[0].addr_spec == ZHAO
    assert "授权代理人" in text_of(ask) and text_of(ask).startswith("钱敏，您好")
    desk.send(reply(ask, sender=QIAN, body="同意"))
    (recorded,) = desk.actions("decision_recorded")
    assert recorded.actor == QIAN and recorded.detail["on_behalf_of"] == ZHAO
    assert desk.steps()[0].delegate == QIAN


def test_reminder_then_escalation_as_due_work(desk: Desk, catalog: FormCatalog) -> None:
    desk.send(submission(catalog, "data_extraction"))
    start = datetime.now(UTC)
    assert desk.tick(start + timedelta(hours=1)) == {}  # nothing due yet
    got = desk.tick(start + timedelta(days=7))
    assert sorted(got) == [ZHAO]
    reminder = got[ZHAO][0]
    assert "提醒" in str(reminder["Subject"]) and "#" in str(reminder["Subject"])
    assert desk.tick(start + timedelta(days=7, minutes=5)) == {}  # reminded once
    got = desk.tick(start + timedelta(days=14))
    assert sorted(got) == [WU, ZHAO]  # the leader in charge, the approver in Cc
    assert "审批逾期" in str(got[WU][0]["Subject"])
    assert desk.tick(start + timedelta(days=21)) == {}
    # answering the reminder decides the step
    desk.send(reply(reminder, sender=ZHAO, body="同意"))
    assert desk.steps()[0].verdict == "approve"
    assert [e.action for e in desk.actions("approval_reminded", "approval_overdue")] == [
        "approval_reminded", "approval_overdue"]


def test_a_decision_cancels_the_reminder(desk: Desk, catalog: FormCatalog) -> None:
    got = desk.send(submission(catalog, "data_extraction"))
    desk.send(reply(got[ZHAO][0], sender=ZHAO, body="同意"))
    got = desk.tick(datetime.now(UTC) + timedelta(days=7))
    assert sorted(got) == [WANG]  # only the IT manager's step is reminded


def test_unknown_requester_is_told_and_the_administrator_alerted(
    desk: Desk, catalog: FormCatalog
) -> None:
    got = desk.send(submission(catalog, "data_extraction", sender=OUTSIDER))
    assert sorted(got) == [ADMIN, OUTSIDER]
    subjects = sorted(str(m["Subject"]) for m in got[OUTSIDER])
    assert any("暂无法送审" in s for s in subjects) and any("已受理" in s for s in subjects)
    blocked = next(m for m in got[OUTSIDER] if "暂无法送审" in str(m["Subject"]))
    assert "组织目录中没有您的邮箱" in text_of(blocked)
    assert OUTSIDER in text_of(got[ADMIN][0])
    assert desk.request().status == "submitted"
    (event,) = desk.actions("approval_blocked")
    assert event.detail["code"] == "unknown_requester"


def test_hourly_cap_never_silences_approvals_or_receipts(
    mailstack: Any, database_url: str, tmp_path: Path, catalog: FormCatalog
) -> None:
    desk = Desk(mailstack, database_url, tmp_path,
                service={"replies_per_sender_per_hour": 1})
    asks = []
    for n in range(3):
        got = desk.send(submission(catalog, "minutes", sender=ZHAO, subject=f"纪要{n}"))
        asks.append(got["zheng.li@example.test"][0])
    receipts = 0
    for ask in asks:
        got = desk.send(reply(ask, sender="zheng.li@example.test", body="同意"))
        receipts += sum("已记录" in str(m["Subject"]) for m in got["zheng.li@example.test"])
    assert receipts == 3
    # the cap still applies to answers to inbound mail: the 2nd and 3rd acknowledgements
    assert [e.detail.get("template") for e in desk.actions("reply_suppressed")] == [None, None]


def test_decision_killed_after_its_commit_is_applied_and_answered_once(
    desk: Desk, catalog: FormCatalog
) -> None:
    """kill -9 after the decision's commit, before its mail leaves the INBOX and before the
    receipt, the notice and the next approver's mail are sent: the rerun records nothing
    twice and sends each of them once."""
    got = desk.send(submission(catalog, "data_extraction"))
    desk.dovecot.append(SERVICE, reply(got[ZHAO][0], sender=ZHAO, body="同意"))
    payload = desk.settings.model_dump_json()
    killed = subprocess.run([sys.executable, "-m", "tests.crashrun", payload, "1"],
                            cwd=REPO, capture_output=True, timeout=120, check=False)
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    assert desk.dovecot.count(SERVICE, "INBOX") == 1  # committed, not yet moved
    assert len(desk.smtp.messages) == desk.sent_before  # nothing sent yet
    rerun = subprocess.run([sys.executable, "-m", "tests.crashrun", payload, "-1"],
                           cwd=REPO, capture_output=True, timeout=120, check=False)
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    got = desk.tick()
    assert {who: len(mails) for who, mails in got.items()} == {ZHAO: 1, WANG: 1, ZHANG: 1}
    assert desk.dovecot.count(SERVICE, "INBOX") == 0
    assert len(desk.actions("decision_recorded")) == 1
    assert [t for t, _, _ in desk.transitions()] == ["chain_started", "step_approved"]


def test_requesters_reply_after_the_directory_is_completed_starts_the_chain(
    mailstack: Any, database_url: str, tmp_path: Path, catalog: FormCatalog
) -> None:
    desk = Desk(mailstack, database_url, tmp_path)
    raw = desk.settings.model_dump()
    raw["departments"] = [{**d, "manager": ""} if d["key"] == "marketing" else d
                          for d in raw["departments"]]
    incomplete = desk.settings
    desk.settings = type(incomplete).model_validate(raw)
    got = desk.send(submission(catalog, "data_extraction"))
    blocked = next(m for m in got[ZHANG] if "暂无法送审" in str(m["Subject"]))
    assert "部门未登记部门经理" in text_of(blocked) and ADMIN in got
    desk.settings = incomplete  # the administrator named the manager
    got = desk.send(reply(blocked, sender=ZHANG, body="好的"))
    assert sorted(got) == [ZHAO]
    assert desk.request().status == "awaiting_approval"


def test_a_delegation_that_has_ended_no_longer_decides(
    mailstack: Any, database_url: str, tmp_path: Path, catalog: FormCatalog
) -> None:
    today = datetime.now(UTC).astimezone().date()
    desk = Desk(mailstack, database_url, tmp_path, delegations=[{
        "who": ZHAO, "to": QIAN, "from_date": str(today - timedelta(days=1)),
        "to_date": str(today + timedelta(days=2))}])
    ask = desk.send(submission(catalog, "data_extraction"))[QIAN][0]
    ended = desk.settings.model_dump()
    ended["delegations"] = [{"who": ZHAO, "to": QIAN, "from_date": today - timedelta(days=9),
                             "to_date": today - timedelta(days=2)}]
    desk.settings = type(desk.settings).model_validate(ended)
    got = desk.send(reply(ask, sender=QIAN, body="同意"))
    assert sorted(got) == [ZHAO]  # the approver hears someone else tried
    assert [e.detail["reason"] for e in desk.actions("decision_refused")] == [
        "not_the_approver"]
    assert desk.request().status == "awaiting_approval"


SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def test_a_delegation_that_begins_later_takes_the_open_step_by_the_calendar(
    mailstack: Any, database_url: str, tmp_path: Path, catalog: FormCatalog
) -> None:
    """赵磊 is away Monday and Tuesday: the request sent on Friday went to him; the reminder
    sent on Monday goes to his delegate 钱敏 (him in Cc), whose 同意 on Tuesday counts for him."""
    desk = Desk(mailstack, database_url, tmp_path, delegations=[{
        "who": ZHAO, "to": QIAN, "from_date": "2025-10-13", "to_date": "2025-10-14"}])
    got = desk.send(submission(catalog, "data_extraction"), at("2025-10-10 10:00"))
    assert sorted(got) == [ZHANG, ZHAO]  # no delegation yet: the manager alone
    # the reminder fell due on Friday evening (8 working hours on); the next pass is
    # Monday's, when the delegation has begun
    got = desk.tick(at("2025-10-13 09:30"))
    assert sorted(got) == [QIAN, ZHAO]
    reminder = got[QIAN][0]
    assert "提醒" in str(reminder["Subject"]) and "授权代理人" in text_of(reminder)
    assert text_of(reminder).startswith("钱敏，您好")  # greets the one it is sent to
    assert [a.addr_spec for a in reminder["Cc"].addresses] == [ZHAO]
    (changed,) = desk.actions("approval_delegate_changed")
    assert (changed.detail["previous"], changed.detail["delegate"]) == ("", QIAN)
    desk.send(reply(reminder, sender=QIAN, body="同意"), at("2025-10-14 11:00"))
    (recorded,) = desk.actions("decision_recorded")
    assert recorded.actor == QIAN and recorded.detail["on_behalf_of"] == ZHAO
    assert desk.steps()[0].verdict == "approve"


def test_a_delegate_answering_after_the_delegation_ended_changes_nothing(
    mailstack: Any, database_url: str, tmp_path: Path, catalog: FormCatalog
) -> None:
    """钱敏 decides for 赵磊 on Thursday and Friday only: her 同意 on Monday is refused, 赵磊
    is told, and the reminder of that pass goes back to him alone; his own 同意 counts."""
    desk = Desk(mailstack, database_url, tmp_path, delegations=[{
        "who": ZHAO, "to": QIAN, "from_date": "2025-10-09", "to_date": "2025-10-10"}])
    got = desk.send(submission(catalog, "data_extraction"), at("2025-10-09 10:00"))
    assert sorted(got) == [QIAN, ZHANG, ZHAO]  # the delegate, the approver in Cc
    ask = got[QIAN][0]
    got = desk.send(reply(ask, sender=QIAN, body="同意"), at("2025-10-13 09:30"))
    assert [e.detail["reason"] for e in desk.actions("decision_refused")] == [
        "not_the_approver"]
    assert desk.request().status == "awaiting_approval"
    assert QIAN not in got  # the reminder (due since Friday) is the approver's again
    reminder = next(m for m in got[ZHAO] if "提醒" in str(m["Subject"]))
    assert reminder["Cc"] is None and "授权代理人" not in text_of(reminder)
    assert text_of(reminder).startswith("赵磊，您好")
    assert any(m is not reminder for m in got[ZHAO])  # and he heard someone else tried
    desk.send(reply(reminder, sender=ZHAO, body="同意"), at("2025-10-13 10:00"))
    (recorded,) = desk.actions("decision_recorded")
    assert recorded.actor == ZHAO and desk.steps()[0].verdict == "approve"
