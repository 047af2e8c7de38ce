"""The README's quick start: `mailflow demo` takes the sample mails in, archives and answers."""

from __future__ import annotations

import email
import re
import subprocess
import sys
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

from mailflow.paths import DEMO_DIR

REPO = Path(__file__).resolve().parents[1]


def test_demo_takes_in_archives_and_acknowledges(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "demo", "--dir", str(target)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={"COLUMNS": "160", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    first = list((DEMO_DIR / "maildir" / "cur").iterdir())
    samples = [*first, *(DEMO_DIR / "later").rglob("*.mailflow:2,")]
    out = result.stdout
    assert len(samples) > len(first)  # the later passes bring mails too
    assert f"taken in {len(samples)} mails" in out
    assert "quarantined: 0" in out
    # every sample archived, byte for byte
    blobs = [p for p in (target / "archive").rglob("*") if p.is_file()]
    archived = {p.read_bytes() for p in blobs}
    for sample in samples:
        assert sample.read_bytes() in archived
    # people answered (Chinese, with a reference), robots not
    replies = [email.message_from_bytes(p.read_bytes(), policy=policy.default)
               for p in (target / "outbox").glob("*.eml")]
    recipients = sorted(str(r["To"]) for r in replies)
    assert replies and all(re.search(r"REQ-\d{4}-\d{6}", str(r["Subject"])) for r in replies)
    assert not any("MAILER-DAEMON" in r or "sun.li" in r for r in recipients)
    assert "zhang.wei@example.com" in " ".join(recipients)
    assert "张伟" in out  # decoded GBK sender name in the table
    # the filled forms of all four kinds were read into fields, the bad ones answered
    flat = "".join(out.split())
    # four kinds, 钱敏's corrected form, and 刘洋's fault reported by plain mail
    assert flat.count("读取的字段") == 6
    for title in ("业务数据提取申请表", "系统帐号申请表", "系统变更申请表", "会议纪要"):
        assert f"{title}·读取的字段" in flat
    assert "使用目的" in flat and "仅限市场部经营分析组内部使用" in flat
    assert "「使用目的」未填写" in out  # the correction reply, field by field
    assert "请修改后重新提交" in out
    # 钱敏's reply with the corrected form completes her request under the same number
    assert "按原编号重新提交" in flat and "→REQ-2026-000007" in flat
    assert "[REQ-2026-000007]已受理：数据提取申请" in flat
    assert "原申请按原编号继续受理" in out
    # 李娜's request through its chain (R-DX-2): her manager's 同意, the IT manager's 驳回
    assert "已记录：同意，第1/2步" in flat and "已记录：驳回，第2/2步" in flat
    assert "请审批 / approval request" in out and "第1步，共2步" in flat
    assert "提取范围过大，请只申请本季度的数据" in out and "当前状态：已驳回" in out
    # the sample Maildir in the repository is untouched (the demo works on a copy)
    assert len(list((DEMO_DIR / "maildir" / "cur").iterdir())) == len(first)
    assert_change_notices(replies, out)
    assert_fault_and_ticket(replies, out)


def assert_change_notices(replies: list[EmailMessage], out: str) -> None:
    """赵敏's change REQ-2026-000005 (2026-11-25 23:30 to 11-26 01:30), over the demo's passes:
    warned at submission (R-CH-2/3), confirmed by 王军 and 马涛 (R-CH-3), its change notice
    at 16:00 on the working day before (R-CH-4), the result notice after 王五's 成功 (R-CH-5)."""
    flat = "".join(out.split())
    change = [r for r in replies if "REQ-2026-000005" in str(r["Subject"])]
    warned = [r for r in change if "变更提醒" in str(r["Subject"])]
    assert [str(r["To"]) for r in warned] == ["赵敏 <zhao.min@example.com>"]
    assert "wang.jun@example.com" in str(warned[0]["Cc"])  # and the IT manager
    assert "R-CH-2" in out and "R-CH-3" in out and "变更提醒" in out
    assert "2026-11-2314:00" in flat and "王军、马涛同意变更" in flat
    assert "网管中心届时安排值班" in flat  # 马涛's condition, kept as the reason
    notices = [r for r in change if "【系统变更通知】" in str(r["Subject"])]
    results = [r for r in change if "【系统变更结果通告】" in str(r["Subject"])]
    assert len(notices) == len(results) == 1  # once each, to everyone in one mail
    notice, outcome = notices[0], results[0]
    # R-CH-4: To the interface persons of 客服中心、市场部、财务部 in the form's order; Cc the
    # leader in charge and the departments' managers
    to = [a for _n, a in getaddresses([str(notice["To"])])]
    cc = [a for _n, a in getaddresses([str(notice["Cc"])])]
    assert to == ["zheng.li@example.com", "zhang.wei@example.com", "liu.yang@example.com"]
    assert cc == ["wu.gang@example.com", "he.ping@example.com", "feng.tao@example.com",
                  "chen.jing@example.com"]
    assert notice["Date"].datetime.replace(second=0) == datetime.fromisoformat(
        "2026-11-24T16:00+08:00")
    assert [p.get_filename() for p in notice.iter_attachments()] == [
        "系统变更通知_REQ-2026-000005.docx"]
    # R-CH-5: the result notice to the same people, after the reply, within 12 h of the end
    assert "变更成功" in str(outcome["Subject"])
    assert [a for _n, a in getaddresses([str(outcome["To"])])] == to
    sent = outcome["Date"].datetime
    assert datetime.fromisoformat("2026-11-26T09:30+08:00") <= sent
    assert sent <= datetime.fromisoformat("2026-11-26T13:30+08:00")
    body = outcome.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    assert "变更结果：成功" in body.get_content()
    assert [p.get_filename() for p in outcome.iter_attachments()] == [
        "系统变更结果通告_REQ-2026-000005.docx"]
    # printed like the rest: both notices in full, and the operator's reply recorded
    assert "系统变更通知 / the change notice (R-CH-4)" in out
    assert "系统变更结果通告 / the result notice (R-CH-5)" in out
    assert "变更结果报告：结果通告已发出" in flat


def assert_fault_and_ticket(replies: list[EmailMessage], out: str) -> None:
    """刘洋's fault REQ-2026-000009 escalated after 5 minutes (R-FN-1/2); 周晓梅's customer
    ticket REQ-2026-000010 opened (R-PM-1), triaged by 何平 and dispatched to 王五 (R-PM-2/3)."""
    flat = "".join(out.split())
    fault = [str(r["Subject"]) for r in replies if "REQ-2026-000009" in str(r["Subject"])]
    assert any("故障升级" in s for s in fault) and "故障升级/afaultescalated(R-FN-2)" in flat
    # the handler 赵敏 got it at once (R-FN-1); her supervisor 王军 is told after 5 minutes
    escalation = next(r for r in replies if "REQ-2026-000009" in str(r["Subject"])
                      and "故障升级" in str(r["Subject"]))
    assert "wang.jun@example.com" in str(escalation["To"])
    assert "受理人员：赵敏" in escalation.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert any("zhao.min@example.com" in str(r["To"]) for r in replies
               if "REQ-2026-000009" in str(r["Subject"]))
    ticket = {str(r["To"]): r for r in replies if "REQ-2026-000010" in str(r["Subject"])}
    receipt = next(r for to, r in ticket.items() if "zhou.xm@eastpower.example.cn" in to)
    assert "工单编号 REQ-2026-000010" in str(receipt["Subject"])
    assert any("待分级" in str(r["Subject"]) for to, r in ticket.items() if "he.ping" in to)
    dispatch = next(r for to, r in ticket.items() if "wangwu" in to)
    assert "派单" in str(dispatch["Subject"]) and "2026-11-26 17:00" in str(dispatch["Subject"])
    # the ticket as recorded: 客户名称, 联系方式 (with the phone from the signature), the
    # time the problem started read from the text, the triage
    assert "华东电力公司" in flat and "138-1234-5678" in flat and "2026-11-2609:40" in flat
    assert "一般│使用问题│王五│2026-11-2617:00│处理中" in flat


def test_demo_gives_the_same_account_every_run(tmp_path: Path) -> None:
    """Fixed clock steps and a fixed token secret: two runs print the same, bar where the
    data is and how long it took, and write the same mails (subjects, recipients, dates)."""
    import io

    from rich.console import Console

    from mailflow.demo import run_demo

    accounts, outboxes = [], []
    for run in ("a", "b"):
        target = tmp_path / run
        printed = io.StringIO()
        run_demo(target, Console(file=printed, width=160, color_system=None))
        text = printed.getvalue().replace(str(target.resolve()), "DIR")
        accounts.append(re.sub(r"done in [\d.]+ s", "done", text))
        mails = [email.message_from_bytes(p.read_bytes(), policy=policy.default)
                 for p in (target / "outbox").glob("*.eml")]
        outboxes.append(sorted((str(m["Subject"]), str(m["To"]), str(m["Cc"]),
                                str(m["Date"])[:-9]) for m in mails))  # to the minute
    assert accounts[0] == accounts[1]
    assert outboxes[0] == outboxes[1]
