"""What is wrong with a form: the right FieldProblem (field, code, label, help) per mistake."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from mailflow.documents.definitions import FormCatalog, default_forms_dir, load_catalog
from mailflow.documents.generate import generate_blank_forms
from mailflow.documents.problems import PROBLEM_CODES, FieldProblem
from mailflow.documents.reading import FormReading, read_form
from mailflow.paths import bundled_dir
from tests.formfill import (
    SAMPLES,
    fill_docx,
    fill_xlsx,
    make_docx,
    para,
    replace_in_part,
    table,
)

CATALOG = load_catalog(default_forms_dir())


@pytest.fixture(scope="module")
def blanks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("blank")
    generate_blank_forms(CATALOG, out)
    return out


def _only(readings: list[FormReading]) -> FormReading:
    assert len(readings) == 1
    return readings[0]


def _problem(reading: FormReading, key: str) -> FieldProblem:
    found = [p for p in reading.problems if p.field_key == key]
    assert len(found) == 1, reading.problems
    return found[0]


def _filled(
    kind: str, fmt: str, blanks: Path, catalog: FormCatalog = CATALOG, **change: object
) -> FormReading:
    values = {k: v for k, v in SAMPLES[kind].items() if k not in change or change[k] is not None}
    values.update({k: v for k, v in change.items() if v is not None})
    blank = catalog.blank_path(kind, fmt, blanks).read_bytes()  # type: ignore[arg-type]
    form = catalog.get(kind)
    data = fill_docx(blank, form, values) if fmt == "docx" else fill_xlsx(blank, form, values)
    return _only(read_form(data, fmt, catalog, default_year=2026))  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_r_dx_1_purpose_missing_is_reported(blanks: Path, fmt: str) -> None:
    reading = _filled("data_extraction", fmt, blanks, purpose=None)
    p = _problem(reading, "purpose")
    assert (p.code, p.label_zh, p.label_en, p.rule) == ("missing", "使用目的", "Purpose", "R-DX-1")
    assert "使用目的" in p.help_zh
    assert "purpose" not in reading.values
    assert [q.field_key for q in reading.problems] == ["purpose"]


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_r_dx_1_scope_of_use_missing_is_reported(blanks: Path, fmt: str) -> None:
    reading = _filled("data_extraction", fmt, blanks, scope_of_use=None)
    p = _problem(reading, "scope_of_use")
    assert (p.code, p.label_zh, p.rule) == ("missing", "使用范围", "R-DX-1")
    assert [q.field_key for q in reading.problems] == ["scope_of_use"]


def test_r_dx_1_both_missing_in_a_hand_made_form() -> None:
    data = make_docx(
        para("业务数据提取申请表"),
        table([["申请人", "张三"], ["使用目的", ""], ["使用范围", "   "]]),
    )
    reading = _only(read_form(data, "docx", CATALOG))
    missing = {p.field_key for p in reading.problems if p.code == "missing"}
    assert {"purpose", "scope_of_use"} <= missing


def test_r_dx_3_classification_not_a_choice() -> None:
    data = make_docx(para("业务数据提取申请表"), table([["数据密级", "内部公开"]]))
    p = _problem(_only(read_form(data, "docx", CATALOG)), "classification")
    assert (p.code, p.value, p.label_zh, p.rule) == (
        "not_a_choice",
        "内部公开",
        "数据密级",
        "R-DX-3",
    )


def test_r_dx_3_classification_several_choices() -> None:
    data = make_docx(para("业务数据提取申请表"), table([["数据密级", "☑绝密 ☑机密 ☐保密"]]))
    p = _problem(_only(read_form(data, "docx", CATALOG)), "classification")
    assert p.code == "several_choices"


def test_r_ac_1_request_kind_nothing_ticked_is_missing(blanks: Path) -> None:
    reading = _filled("account", "docx", blanks, request_kind=None)
    p = _problem(reading, "request_kind")
    assert (p.code, p.rule) == ("missing", "R-AC-1")


def test_invalid_date_keeps_what_was_written(blanks: Path) -> None:
    reading = _filled("data_extraction", "docx", blanks, wanted_by="下周三前")
    p = _problem(reading, "wanted_by")
    assert (p.code, p.value, p.label_zh) == ("invalid_date", "下周三前", "期望完成日期")
    assert "wanted_by" not in reading.values


def test_month_day_without_a_default_year_is_invalid_date() -> None:
    data = make_docx(para("业务数据提取申请表"), table([["期望完成日期", "11月25日"]]))
    reading = _only(read_form(data, "docx", CATALOG, default_year=None))
    assert _problem(reading, "wanted_by").code == "invalid_date"


def test_impossible_date_is_invalid() -> None:
    data = make_docx(para("系统帐号申请表"), table([["生效日期", "2026-02-30"]]))
    assert (
        _problem(_only(read_form(data, "docx", CATALOG)), "effective_date").code == "invalid_date"
    )


def test_account_end_date_before_effective_date(blanks: Path) -> None:
    reading = _filled(
        "account",
        "xlsx",
        blanks,
        end_date=SAMPLES["account"]["effective_date"],
        effective_date=SAMPLES["account"]["end_date"],
    )
    p = _problem(reading, "end_date")
    assert (p.code, p.label_zh) == ("end_before_start", "临时帐号截止日期")


def test_time_range_end_before_start_with_explicit_dates() -> None:
    window = "2026-11-26 01:30 至 2026-11-25 23:30"
    data = make_docx(para("系统变更申请表"), table([["计划变更时间", window]]))
    p = _problem(_only(read_form(data, "docx", CATALOG)), "planned_window")
    assert (p.code, p.value, p.label_zh) == ("end_before_start", window, "计划变更时间")


def test_time_range_parts_end_before_start_names_the_end_part() -> None:
    rows = [["计划开始时间", "2026-11-26 01:30"], ["计划结束时间", "2026-11-25 23:30"]]
    data = make_docx(para("系统变更申请表"), table(rows))
    p = _problem(_only(read_form(data, "docx", CATALOG)), "planned_window")
    assert (p.code, p.column_key, p.column_label_zh) == ("end_before_start", "end", "计划结束时间")


def test_time_range_missing_end_part() -> None:
    data = make_docx(para("系统变更申请表"), table([["计划开始时间", "2026-11-25 23:30"]]))
    p = _problem(_only(read_form(data, "docx", CATALOG)), "planned_window")
    assert (p.code, p.column_key) == ("missing", "end")


def test_times_only_without_a_change_date_is_invalid_time_range() -> None:
    data = make_docx(para("系统变更申请表"), table([["计划变更时间", "23:30-01:30"]]))
    p = _problem(_only(read_form(data, "docx", CATALOG)), "planned_window")
    assert p.code == "invalid_time_range"


def test_r_ch_2_affects_live_users_unreadable_yesno() -> None:
    data = make_docx(para("系统变更申请表"), table([["是否影响现网用户", "待定"]]))
    p = _problem(_only(read_form(data, "docx", CATALOG)), "affects_live_users")
    assert (p.code, p.value, p.rule) == ("invalid_yesno", "待定", "R-CH-2")


def test_r_ch_1_tested_in_test_env_missing(blanks: Path) -> None:
    reading = _filled("system_change", "docx", blanks, tested_in_test_env=None)
    assert _problem(reading, "tested_in_test_env").rule == "R-CH-1"


def test_invalid_email_in_operator() -> None:
    data = make_docx(para("系统变更申请表"), table([["变更操作人员", "王五 <wangwu@>"]]))
    p = _problem(_only(read_form(data, "docx", CATALOG)), "operator")
    assert (p.code, p.value) == ("invalid_email", "王五 <wangwu@>")


def test_r_mt_2_recorder_missing(blanks: Path) -> None:
    reading = _filled("minutes", "xlsx", blanks, recorder=None)
    p = _problem(reading, "recorder")
    assert (p.code, p.label_zh, p.rule) == ("missing", "记录人", "R-MT-2")


def test_r_mt_5_action_item_without_owner(blanks: Path) -> None:
    items = [
        {"item": "完成联调", "due": date(2026, 11, 28)},
        {"item": "更新项目计划", "owner": "陈七", "due": date(2026, 11, 30)},
    ]
    reading = _filled("minutes", "docx", blanks, action_items=items)
    p = _problem(reading, "action_items")
    assert (p.code, p.row, p.column_key, p.column_label_zh, p.rule) == (
        "table_row_incomplete",
        1,
        "owner",
        "负责人",
        "R-MT-5",
    )


def test_r_mt_5_action_item_bad_due_date(blanks: Path) -> None:
    items = [{"item": "完成联调", "owner": "吴九", "due": "尽快"}]
    reading = _filled("minutes", "docx", blanks, action_items=items)
    p = _problem(reading, "action_items")
    assert (p.code, p.row, p.column_key, p.value) == ("invalid_date", 1, "due", "尽快")


def test_old_version_marker_is_reported(blanks: Path) -> None:
    blank = CATALOG.blank_path("account", "docx", blanks).read_bytes()
    data = fill_docx(blank, CATALOG.get("account"), SAMPLES["account"])
    old = replace_in_part(data, "word/document.xml", "form:account:1", "form:account:0")
    reading = _only(read_form(old, "docx", CATALOG))
    assert reading.version == 0
    assert [(p.field_key, p.code, p.value) for p in reading.problems] == [
        (None, "old_version", "0")
    ]


def test_json_values_are_json(blanks: Path) -> None:
    for kind in SAMPLES:
        reading = _filled(kind, "xlsx", blanks)
        text = json.dumps(reading.json_values(), ensure_ascii=False)
        assert json.loads(text) == reading.json_values()
    reading = _filled("system_change", "docx", blanks)
    assert reading.json_values()["planned_window"] == {
        "start": "2026-11-25T23:30:00",
        "end": "2026-11-26T01:30:00",
    }


# --- the reply lines ---------------------------------------------------------------------


def _macro(language: str) -> Any:
    env = Environment(
        loader=FileSystemLoader(str(bundled_dir("templates") / language)),
        undefined=StrictUndefined,
        autoescape=True,
    )
    return env.get_template("_form_problems.j2").module.problem_line  # type: ignore[attr-defined]


def _sample_problem(code: str) -> FieldProblem:
    row = 2 if code == "table_row_incomplete" else None
    return FieldProblem(
        "purpose",
        "使用目的",
        "Purpose",
        code,
        "XYZ",
        "请说明数据的使用目的（必填）。",
        "State the purpose.",
        row=row,
        column_label_zh="负责人" if row else "",
        column_label_en="Owner" if row else "",
    )


def test_problem_line_example_from_the_brief() -> None:
    line = str(_macro("zh")(_sample_problem("missing")))
    assert line == "「使用目的」未填写：请说明数据的使用目的（必填）。"


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("code", PROBLEM_CODES)
def test_every_code_has_its_own_line(language: str, code: str) -> None:
    line = str(_macro(language)(_sample_problem(code)))
    generic = str(_macro(language)(_sample_problem("some_unknown_code")))
    assert line and line != generic
    assert "\n" not in line
    if code not in ("missing", "several_choices", "table_row_incomplete", "old_version"):
        assert "XYZ" in line


def test_time_range_part_problem_reads_naturally() -> None:
    rows = [["计划开始时间", "2026-11-25 23:30"]]
    reading = _only(read_form(make_docx(para("系统变更申请表"), table(rows)), "docx", CATALOG))
    line = str(_macro("zh")(_problem(reading, "planned_window")))
    assert line.startswith("「计划结束时间」未填写：")
