"""The README's quick start: `mailflow demo` takes the sample mails in, archives and answers."""

from __future__ import annotations

import email
import re
import subprocess
import sys
from email import policy
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
    samples = list((DEMO_DIR / "maildir" / "cur").iterdir())
    out = result.stdout
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
    assert flat.count("读取的字段") == 5  # four kinds, and 钱敏's corrected form
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
    assert len(list((DEMO_DIR / "maildir" / "cur").iterdir())) == len(samples)
