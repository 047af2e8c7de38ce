"""A small archive for the records tests: forms and mails taken in through the real mail
stack (Dovecot, SMTP) by the real service, sealed; and the CLI run against it."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailflow.clock import SystemClock
from mailflow.config import Settings
from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.service import Service
from mailflow_testing import mailbuild
from mailflow_testing.config_file import settings_toml
from tests.formfill import SAMPLES, fill_docx, fill_xlsx
from tests.stack import SERVICE, stack_settings

REPO = Path(__file__).resolve().parents[1]
BLANKS = default_forms_dir() / "blank"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: subjects of the mails, in the order they are sent; what the tests look records up by
SECRET = "业务数据提取申请"  # a data extraction classified 机密 (R-DX-3)
ACCOUNT = "帐号申请"
PRINTER = "打印机坏了"
TWO_FORMS = "两份申请"
#: the printer mail's HTML part: what the web page must never run or load
HOSTILE_HTML = ('<p>三楼打印机<b>卡纸</b>，请派人修理。</p>'
                '<img src="http://tracker.example.test/pixel.png">'
                '<script>document.title="pwned"</script>'
                '<a href="javascript:alert(1)" onclick="alert(2)">链接</a>')
OPEN = {**SAMPLES["data_extraction"], "classification": "保密",
        "data_wanted": "客服工单月报\n字段：工单号、类别"}


@dataclass(frozen=True)
class SmallArchive:
    settings: Settings
    config: Path

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mailflow", "--config", str(self.config), *args],
            cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


def build_archive(mailstack: Any, database_url: str, tmp_path: Path,
                  extra_toml: str = "") -> SmallArchive:
    catalog = load_catalog(default_forms_dir())
    dovecot = mailstack.dovecot
    # 张伟 has no mailbox: the reply to him is refused (its archived copy stays referenced)
    for user in ("li.na@example.test", "wang.qiang@example.test", "liu.yang@example.test"):
        dovecot.add_user(user, "pw")
    docx = fill_docx((BLANKS / "data_extraction.docx").read_bytes(),
                     catalog.get("data_extraction"), SAMPLES["data_extraction"])
    open_docx = fill_docx((BLANKS / "data_extraction.docx").read_bytes(),
                          catalog.get("data_extraction"), OPEN)
    xlsx = fill_xlsx((BLANKS / "account.xlsx").read_bytes(), catalog.get("account"),
                     SAMPLES["account"])
    dovecot.append_many(SERVICE, [
        mailbuild.human_mail(sender="李娜 <li.na@example.test>", to=SERVICE, subject=SECRET,
                             body="请见附件，谢谢。", charset="gbk",
                             attachments=[("数据提取申请表.docx", docx, DOCX)]),
        mailbuild.human_mail(sender="王强 <wang.qiang@example.test>", to=SERVICE,
                             subject=ACCOUNT, body="见附件",
                             attachments=[("系统帐号申请表.xlsx", xlsx, XLSX)]),
        mailbuild.human_mail(sender="张伟 <zhang.wei@example.test>", to=SERVICE,
                             subject=PRINTER, body="三楼打印机卡纸，请派人修理。",
                             html=HOSTILE_HTML),
        mailbuild.human_mail(sender="刘洋 <liu.yang@example.test>", to=SERVICE,
                             subject=TWO_FORMS, body="两份表格",
                             attachments=[("数据提取.docx", open_docx, DOCX),
                                          ("帐号.xlsx", xlsx, XLSX)]),
    ])
    settings = stack_settings(dovecot, mailstack.smtp, database_url, tmp_path)
    service = Service(settings, SystemClock())
    try:
        service.run_once()
    finally:
        service.close()
    config = tmp_path / "config.toml"
    config.write_text(settings_toml(settings) + "\n" + extra_toml, encoding="utf-8")
    return SmallArchive(settings, config)
