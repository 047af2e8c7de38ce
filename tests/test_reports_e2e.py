"""Reports and the project calendar over the real Dovecot and SMTP, the clock stepped as
``run --once --now T`` does: the monthly 服务月报 goes out on its day (R-SP-7, R-PM-13) with
its charts inline (multipart/related, PNG by cid) and in the .docx and .xlsx attachments, once;
the 项目总结报告 is asked of the PM when the project expires and reminded until answered
(R-SP-9); the yearly maintenance and training plans are asked of the PM (R-PM-7, R-PM-15);
the third fault on a system fixed within 5 minutes is reported to the supervisor (R-FN-7)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.clock import Clock, SystemClock
from mailflow.service import Service
from mailflow.store.models import DueWork
from mailflow_testing import mailbuild
from tests.approvals_desk import (
    LIN,
    MA,
    SUN,
    WANG,
    ZHANG,
    ZHENG,
    Desk,
    directory,
    reply,
    text_of,
)
from tests.stack import SERVICE
from tests.test_reports import GeneratedTickets

SH = ZoneInfo("Asia/Shanghai")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def tickets(session: Session, start: datetime, end: datetime, contract: str | None
            ) -> GeneratedTickets:
    return GeneratedTickets(4, 3, 2, {"技术问题": 3, "使用问题": 1}, {"紧急": 1, "一般": 3},
                            [5, 4, 3])


class TicketDesk(Desk):
    """The desk with a ticket source wired into each service it runs."""

    def run(self, clock: Clock | None = None) -> None:
        service = Service(self.settings, clock or SystemClock())
        service.reports.tickets = tickets
        try:
            service.run_once()
        finally:
            service.close()


def subjects(got: Mapping[str, list[EmailMessage]], who: str) -> list[str]:
    return [str(m["Subject"]) for m in got.get(who, [])]


def test_r_sp_7_monthly_report_sent_on_its_day_once_with_charts_inline_docx_xlsx(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = TicketDesk(mailstack, database_url, tmp_path,
                      approvals={"handlers": {"general": LIN}},
                      reports=[{"report": "internal", "to": ["role:it_manager", "郑丽"],
                                "day": 1, "at": "09:00"}])
    ack = desk.send(mailbuild.human_mail(sender=f"张伟 <{ZHANG}>", to=SERVICE,
                                         subject="打印机连不上", body="三楼打印机无法打印。"),
                    at("2026-11-10T10:00"))[ZHANG][0]
    desk.send(reply(ack, sender=LIN, body="已处理，打印机已恢复正常。"), at("2026-11-10T10:30"))
    assert desk.tick(at("2026-12-01T08:59")) == {}
    got = desk.tick(at("2026-12-01T09:00"))
    assert set(got) == {WANG, ZHENG}
    (mail,) = got[WANG]
    assert "服务月报" in str(mail["Subject"]) and "2026-11" in str(mail["Subject"])

    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    related = [p for p in mail.walk() if p.get_content_type() == "multipart/related"]
    assert related
    images = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 3
    content = html.get_content()
    for image in images:
        cid = str(image["Content-ID"]).strip("<>")
        assert f"cid:{cid}" in content
        assert image.get_content().startswith(b"\x89PNG")
    assert "R-SD-1" in text_of(mail) and "客户满意度" in content

    parts = {p.get_content_type(): p for p in mail.iter_attachments()}
    document = Document(io.BytesIO(parts[DOCX].get_content()))
    assert len(document.inline_shapes) == 3
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    assert "问题解决率" in cells and "75.0%" in cells     # tickets: 3 of 4 resolved
    book = load_workbook(io.BytesIO(parts[XLSX].get_content()))
    figures = {row[0]: row[1] for row in book.worksheets[0].iter_rows(min_row=3,
                                                                       values_only=True)}
    assert figures["请求总数"] == 1 and figures["首次回复按时（2小时，R-SD-1）"] == 1
    assert figures["客户满意度"] == 0.8
    assert sum(len(ws._images) for ws in book.worksheets) == 3

    assert desk.tick(at("2026-12-01T09:30")) == {}      # once, not per pass
    assert desk.tick(at("2026-12-02T09:00")) == {}
    (row,) = desk.query(select(DueWork).where(DueWork.kind == "report.monthly"))
    assert row.status == "pending" and row.payload == {"month": "2026-12"}
    sent = desk.actions("report_sent")
    assert [(e.detail["month"], e.detail["report"]) for e in sent] == [("2026-11",
                                                                        "internal")]


def test_r_sp_7_contract_quarterly_report_sent_once_on_its_day_covering_three_months(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    """R-SP-7: 「客户报告周期按合同约定设置」 — the contract agrees a quarter: its report covers
    October to December, goes out on the 5th of January, once, and counts only the contract's
    requests (张伟's, not 孙丽's)."""
    desk = Desk(mailstack, database_url, tmp_path,
                approvals={"handlers": {"general": LIN}},
                contracts=[{"key": "east", "name": "华东运维服务合同", "customer": "华东电力",
                            "requesters": [ZHANG]}],
                reports=[{"report": "east", "period": "quarter", "to": ["郑丽"], "day": 5,
                          "at": "09:00"}])
    for n, (who, day) in enumerate(((ZHANG, "2026-10-12"), (ZHANG, "2026-11-12"),
                                    (ZHANG, "2026-12-14"), (SUN, "2026-11-13"))):
        got = desk.send(mailbuild.human_mail(sender=who, to=SERVICE, subject=f"打印机连不上{n}",
                                             body="三楼打印机无法打印。"), at(f"{day}T10:00"))
        desk.send(reply(got[who][0], sender=LIN, body="已处理，打印机已恢复正常。"),
                  at(f"{day}T10:30"))
    assert ZHENG not in desk.tick(at("2026-12-01T09:00"))    # no monthly report
    assert ZHENG not in desk.tick(at("2027-01-05T08:59"))
    got = desk.tick(at("2027-01-05T09:00"))
    (mail,) = got[ZHENG]
    assert "服务季报" in str(mail["Subject"]) and "2026年第4季度" in str(mail["Subject"])
    assert "本季度" in text_of(mail) and "上季度" in text_of(mail)
    parts = {p.get_content_type(): p for p in mail.iter_attachments()}
    assert parts[XLSX].get_filename() == "服务季报-2026Q4-east.xlsx"
    book = load_workbook(io.BytesIO(parts[XLSX].get_content()))
    figures = {row[0]: row[1:3] for row in book.worksheets[0].iter_rows(min_row=3,
                                                                         values_only=True)}
    assert figures["请求总数"] == (3, 0)                      # three months, the quarter before
    assert ZHENG not in desk.tick(at("2027-01-05T09:30"))    # once
    assert ZHENG not in desk.tick(at("2027-02-05T09:00"))    # a quarter is not a month
    (row,) = desk.query(select(DueWork).where(DueWork.kind == "report.monthly"))
    assert row.status == "pending" and row.payload == {"month": "2027-01"}
    assert row.due_at.month == 4 and row.due_at.day == 5
    (sent,) = desk.actions("report_sent")
    assert (sent.detail["period"], sent.detail["report"]) == ("2026Q4", "east")


def test_r_pm_13_quality_measures_reminded_at_their_due_day_and_counted_in_the_report(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    """R-PM-13: a 质量改进措施表 (goal, method, owner, due date per measure), reviewed by the
    PM, is followed up like the minutes' action items: each owner is reminded before the
    measure's 时间节点, the filer told when one is overdue, and the month's report counts the
    measures under way and overdue."""
    from mailflow.documents.definitions import default_forms_dir, load_catalog
    from tests.approvals_desk import submission

    catalog = load_catalog(default_forms_dir())
    desk = Desk(mailstack, database_url, tmp_path,
                reports=[{"report": "internal", "to": ["role:it_manager"], "day": 1}])
    measures = [{"target": "问题解决率提高到95%", "method": "每周复盘未解决工单",
                 "owner": "张伟", "due": date(2026, 12, 10)},
                {"target": "客户满意度达到90%", "method": "每月回访重点客户", "owner": "郑丽",
                 "due": date(2026, 12, 15)},
                {"target": "系统故障率降到0.1%", "method": "每季度应急演练", "owner": "林芳",
                 "due": date(2027, 1, 15)}]
    got = desk.send(submission(catalog, "quality_improvement", sender=LIN,
                               subject="11月质量改进措施", measures=measures),
                    at("2026-12-01T10:00"))
    (ask,) = [m for m in got[ZHENG] if "质量改进措施表" in str(m["Subject"])]
    desk.send(reply(ask, sender=ZHENG, body="同意"), at("2026-12-01T11:00"))
    assert desk.request().status == "with_handler"
    reminded = desk.tick(at("2026-12-10T17:00"))
    (reminder,) = [m for m in reminded.get(ZHANG, []) if "质量改进措施提醒" in str(m["Subject"])]
    assert "问题解决率提高到95%" in text_of(reminder) and "每周复盘未解决工单" in text_of(reminder)
    assert "R-PM-13" in text_of(reminder)
    got = desk.tick(at("2026-12-11T09:00"))
    (overdue,) = [m for m in got.get(LIN, []) if "质量改进措施逾期" in str(m["Subject"])]
    assert "张伟" in text_of(overdue) and "2026-12-10" in text_of(overdue)
    # the second measure's owner answers its reminder: done, so never overdue
    reminded = desk.tick(at("2026-12-15T17:00"))
    (reminder,) = [m for m in reminded.get(ZHENG, []) if "质量改进措施提醒" in str(m["Subject"])]
    desk.send(reply(reminder, sender=ZHENG, body="尚未完成，正在回访。"), at("2026-12-15T17:10"))
    assert not desk.actions("action_item_done")              # "尚未完成" is no answer
    desk.send(reply(reminder, sender=ZHENG, body="已完成，重点客户均已回访。"),
              at("2026-12-15T17:20"))
    (done,) = desk.actions("action_item_done")
    assert done.detail["index"] == 2 and done.detail["rule"] == "R-PM-13"
    assert desk.request().status == "with_handler"           # the request stays open
    got = desk.tick(at("2026-12-16T09:00"))
    assert not any("质量改进措施逾期" in str(m["Subject"]) for ms in got.values() for m in ms)

    got = desk.tick(at("2027-01-01T09:00"))
    (report,) = [m for m in got[WANG] if "服务月报" in str(m["Subject"])]
    parts = {p.get_content_type(): p for p in report.iter_attachments()}
    book = load_workbook(io.BytesIO(parts[XLSX].get_content()))
    figures = {row[0]: row[1:3] for row in book.worksheets[0].iter_rows(min_row=3,
                                                                         values_only=True)}
    assert figures["质量改进措施进行中（R-PM-13）"] == (1, 0)   # due in January
    assert figures["质量改进措施逾期未落实"] == (1, 0)         # 10 December; 15th done


def test_r_sp_9_project_summary_asked_at_expiry_reminded_until_answered_and_r_pm_7_r_pm_15(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = Desk(mailstack, database_url, tmp_path, projects=[
        {"key": "P1", "name": "营业厅系统运维项目", "pm": ZHENG, "end": "2026-12-04"},
        {"key": "P2", "name": "客服中心CRM运维项目", "pm": "role:project_manager",
         "end": "2027-06-30"}])
    assert desk.tick(at("2026-12-03T09:00")) == {}
    got = desk.tick(at("2026-12-04T09:00"))                  # R-SP-9: at the expiry
    assert set(got) == {ZHENG}
    (ask,) = got[ZHENG]
    assert "项目总结报告" in str(ask["Subject"]) and "营业厅系统运维项目" in str(ask["Subject"])
    assert "R-SP-9" in text_of(ask)
    assert desk.tick(at("2026-12-08T09:00")) == {}          # 3 working days: not yet
    got = desk.tick(at("2026-12-09T09:00"))
    (first,) = got[ZHENG]
    assert "催办" in str(first["Subject"])
    desk.send(reply(first, sender=ZHENG, body="项目总结报告见附件。"), at("2026-12-10T10:00"))
    later = desk.tick(at("2026-12-20T09:00"))                # answered: no more reminders
    assert not any("催办" in s for s in subjects(later, ZHENG))
    assert desk.actions("project_summary_received")

    got = desk.tick(at("2027-01-10T09:00"))                  # R-PM-7, R-PM-15
    plans = subjects(got, ZHENG)
    assert len(plans) == 2 and all("客服中心CRM运维项目" in s for s in plans)
    assert any("维护计划" in s for s in plans) and any("培训计划" in s for s in plans)
    assert desk.tick(at("2027-01-10T10:00")) == {}
    rows = desk.query(select(DueWork).where(DueWork.kind == "project.annual_plan",
                                            DueWork.status == "pending"))
    assert sorted(r.key for r in rows) == ["maintenance:P2", "training:P2"]
    assert {r.due_at.year for r in rows} == {2028}         # next year's, the ended P1 none


def test_r_fn_7_third_quick_fault_on_a_system_is_reported_to_the_supervisor(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    roles = {**directory()["roles"], "it_supervisor": MA}
    desk = Desk(mailstack, database_url, tmp_path, roles=roles,
                approvals={"handlers": {"fault": LIN}})
    start = at("2026-12-01T10:00")
    subjects_seen = ["故障：CRM无法登录", "客户关系管理系统故障，页面打不开", "CRM 故障"]
    for n, subject in enumerate(subjects_seen):
        begin = start + timedelta(days=n * 3)
        got = desk.send(mailbuild.human_mail(sender=f"张伟 <{ZHANG}>", to=SERVICE,
                                             subject=subject, body="无法使用。"), begin)
        handover = got[LIN][0]
        got = desk.send(reply(handover, sender=LIN, body="已恢复"), begin + timedelta(minutes=3))
        if n < 2:
            assert MA not in got                               # two quick fixes: nobody told
        else:
            (told,) = got[MA]                                  # the third: the supervisor
            assert "故障频发" in str(told["Subject"]) and "CRM" in str(told["Subject"])
            assert "R-FN-7" in text_of(told)
    (reported,) = desk.actions("fault_recurrence_reported")
    assert reported.detail["system"] == "CRM" and len(reported.detail["references"]) == 3
    # a slow fix is no quick fix, and a quick one on another system counts apart
    got = desk.send(mailbuild.human_mail(sender=f"张伟 <{ZHANG}>", to=SERVICE,
                                         subject="故障：计费系统无法缴费", body="无法使用。"),
                    at("2026-12-12T10:00"))
    desk.send(reply(got[LIN][0], sender=LIN, body="已恢复"), at("2026-12-12T10:02"))
    assert len(desk.actions("fault_recurrence_reported")) == 1


def test_r_sp_9_r_pm_7_run_once_now_sends_what_the_calendar_has_due(tmp_path: Path) -> None:
    """`mailflow run --once --now T`: the project expiry request at its day, the yearly plan
    requests at theirs (local outbox folder, no SMTP), each once."""
    import email
    import subprocess
    import sys
    from email import policy

    (tmp_path / "maildir" / "new").mkdir(parents=True)
    config = tmp_path / "config.toml"
    config.write_text(f"""
[mailbox]
source = "maildir"
maildir_path = "{tmp_path / 'maildir'}"
[storage]
data_dir = "data"
[plans]
maintenance_month = 12
maintenance_day = 7
training_month = 12
training_day = 8
[[people]]
email = "{ZHENG}"
name = "郑丽"
[[projects]]
key = "P1"
name = "营业厅系统运维项目"
pm = "郑丽"
end = 2026-12-31
""", encoding="utf-8")

    def run(now: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-m", "mailflow", "--config", str(config), "run", "--once",
             "--now", now], capture_output=True, text=True, timeout=120, check=False,
            cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return sorted(str(email.message_from_bytes(p.read_bytes(), policy=policy.default)
                          ["Subject"]) for p in (tmp_path / "data" / "outbox").glob("*.eml"))

    assert run("2026-12-06T09:00+08:00") == []
    assert len(run("2026-12-07T09:00+08:00")) == 1            # R-PM-7 on 7 December
    sent = run("2026-12-08T09:30+08:00")                       # R-PM-15 on the 8th
    assert len(sent) == 2 and any("培训计划" in s for s in sent)
    sent = run("2026-12-31T09:00+08:00")                       # R-SP-9 at the expiry
    assert len(sent) == 3 and any("项目总结报告" in s for s in sent)
    assert len(run("2026-12-31T10:00+08:00")) == 3             # once
