"""The demo and the export show values the way people write them, and the .xlsx has typed
cells, widths, a frozen header and a filter (issue 18); `requests export` finds the demo."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from mailflow.documents.definitions import default_forms_dir, load_catalog

REPO = Path(__file__).resolve().parents[1]
REPRS = re.compile(r"\b(True|False|None)\b|start=|end=|item=|owner=|due=|\{'|\['|"
                   r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def mailflow(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFLOW_")}
    return subprocess.run([sys.executable, "-m", "mailflow", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=180, check=False,
                          env={**env, "PYTHONPATH": str(REPO), "COLUMNS": "200"})


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("demo-cwd")
    result = mailflow(cwd, "demo")
    assert result.returncode == 0, result.stderr[-3000:]
    return cwd, result.stdout


def test_demo_shows_no_python_values(demo_dir: tuple[Path, str]) -> None:
    _, out = demo_dir
    assert not REPRS.search(out), REPRS.search(out)
    flat = "".join(out.split())
    assert "至次日" in flat  # the change window across midnight
    assert re.search(r"是否影响现网用户│?[是否]", flat)
    assert "事项" in out and "负责人" in out  # action items as a table
    assert "requests export demo.xlsx --demo" in out
    # replies say when the person sent the mail (its Date header), not the demo's 11:00
    assert re.search(r"您于 2026-11-23 09:\d\d 发来", out)


def test_export_after_the_demo_says_where_its_data_is(demo_dir: tuple[Path, str]) -> None:
    cwd, _ = demo_dir
    plain = mailflow(cwd, "requests", "export", "none.xlsx")
    assert plain.returncode == 0
    assert "0 requests written" in plain.stdout
    assert "--demo" in plain.stderr and "storage/demo" in plain.stderr


def test_xlsx_has_typed_cells_widths_frozen_header_and_filter(
    demo_dir: tuple[Path, str],
) -> None:
    cwd, _ = demo_dir
    result = mailflow(cwd, "requests", "export", "demo.xlsx", "--demo")
    assert result.returncode == 0, result.stderr
    written = int(result.stdout.split()[0])
    assert written >= 5
    sheet = load_workbook(cwd / "demo.xlsx").active
    assert sheet is not None
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}" \
                                    f"{written + 1}"
    header = [c.value for c in sheet[1]]
    assert all(c.font.b for c in sheet[1])
    column = {name: i + 1 for i, name in enumerate(header)}
    assert sheet.column_dimensions["A"].width >= len("REQ-2026-000001")
    received = sheet.cell(2, column["收到时间"])
    assert isinstance(received.value, datetime) and received.is_date
    catalog = load_catalog(default_forms_dir())
    change = catalog.get("system_change")
    labels = {f.key: f.label_zh for f in change.fields}
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    change_rows = [r for r in rows if r[column["申请类别"] - 1] == change.title_zh]
    assert change_rows
    row = change_rows[0]
    assert isinstance(row[column[labels["change_date"]] - 1], datetime)  # an Excel date
    assert row[column[labels["affects_live_users"]] - 1] in ("是", "否")
    window = row[column[labels["planned_window"]] - 1]
    assert isinstance(window, str) and " 至 " in window
    for r in rows:
        for value in r:
            assert not (isinstance(value, str) and REPRS.search(value)), value
            assert not isinstance(value, bool)
    date_cell = sheet.cell(sheet.min_row + 1 + rows.index(row), column[labels["change_date"]])
    assert date_cell.is_date and "yy" in date_cell.number_format


def test_kind_limits_the_columns_to_that_kind(demo_dir: tuple[Path, str]) -> None:
    cwd, _ = demo_dir
    result = mailflow(cwd, "requests", "export", "change.csv", "--demo", "--kind",
                      "system_change")
    assert result.returncode == 0, result.stderr
    with (cwd / "change.csv").open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    change = load_catalog(default_forms_dir()).get("system_change")
    assert len(table[0]) == 7 + len(change.fields)
    assert table[0][7:] == [f.label_zh for f in change.fields]
    assert len(table) >= 2
    for row in table[1:]:
        for value in row:
            assert not REPRS.search(value), value
    days = [row[5][:10] for row in table[1:]]
    assert all(date.fromisoformat(day) for day in days)
