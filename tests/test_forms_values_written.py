"""Values as departments really write them (issue 14, part 3), table-driven.

Ranges in one cell, English dates, 起/前/止, dates without a year (completed from the form's
or the mail's date), yes/no words, action items written as numbered paragraphs (R-MT-5) and
free-text answers to a choice. Each row: what a person wrote → the typed value.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.documents.layout import RawValue
from mailflow.documents.prose_rows import prose_rows
from mailflow.documents.reading import read_form
from mailflow.documents.values import (
    ChoiceAnswer,
    TimeRange,
    ValueProblem,
    YearHint,
    parse_choices_noted,
    parse_date,
    parse_datetime,
    parse_list,
    parse_time_range,
    parse_yesno,
)
from tests.formfill import make_docx, para, table

CATALOG = load_catalog(default_forms_dir())
D = date(2026, 11, 25)


def tr(a: tuple[int, ...], b: tuple[int, ...]) -> TimeRange:
    return TimeRange(datetime(*a), datetime(*b))  # type: ignore[arg-type]


NIGHT = tr((2026, 11, 25, 23, 30), (2026, 11, 26, 1, 30))
SAT = tr((2026, 12, 5, 22, 0), (2026, 12, 6, 0, 0))


@pytest.mark.parametrize(
    ("raw", "base", "expected"),
    [
        ("2026年11月25日 23:30 至 次日 01:30", None, NIGHT),
        ("2026年11月25日 23:30 到 次日 01:30", None, NIGHT),
        ("2026-11-25 23:30 ~ 次日 01:30", None, NIGHT),
        ("2026-11-25 23:30 － 次日01:30", None, NIGHT),
        ("2026-11-25 23:30 — 01:30", None, NIGHT),
        ("2026-11-25 23:30—2026-11-26 01:30", None, NIGHT),
        ("2026/11/25 23:30-2026/11/26 01:30", None, NIGHT),
        ("2026.11.25 23:30 至 2026.11.26 1:30", None, NIGHT),
        ("2026-11-25 23:30 至 26日 01:30", None, NIGHT),
        ("11月25日 23:30 至 次日 01:30", None, NIGHT),
        ("11月25日23:30～次日1:30", None, NIGHT),
        ("2026年11月25日 晚上11点半至次日凌晨1点半", None, NIGHT),
        ("23:30 至 01:30", D, NIGHT),
        ("23:30-次日01:30", D, NIGHT),
        ("12月5日（周六）22:00-24:00", None, SAT),
        ("2026年12月5日(星期六) 22:00 至 24:00", None, SAT),
        ("Nov 25, 2026 23:30 to Nov 26, 2026 01:30", None, NIGHT),
        ("25 Nov 2026 23:30 - 26 Nov 2026 01:30", None, NIGHT),
        ("2026-11-25 22:00 至 23:00。", None, tr((2026, 11, 25, 22), (2026, 11, 25, 23))),
        ("2026-11-30 23:00 至 12月1日 02:00", None, tr((2026, 11, 30, 23), (2026, 12, 1, 2))),
        ("2026-11-30 23:00 至 1日 02:00", None, tr((2026, 11, 30, 23), (2026, 12, 1, 2))),
        ("2026年11月25日晚23:30至次日凌晨1:30", None, NIGHT),
        ("2026-11-25 23:30至11-26 01:30", None, NIGHT),
        ("11/25 23:30 - 11/26 01:30", None, NIGHT),
        ("2026-11-25 23:30 至 2026-11-26 01:30（共2小时）", None, NIGHT),
        ("2026-11-25 23:30起至次日01:30止", None, NIGHT),
        ("2026-11-25T23:30/2026-11-26T01:30", None, NIGHT),
        ("从2026-11-25 23:30到2026-11-26 01:30", None, NIGHT),
        ("2026年11月25日（星期三）23:30—11月26日（星期四）01:30", None, NIGHT),
        ("2026年11月25日23点30分至26日1点30分", None, NIGHT),
        ("2026-11-25 23：30 至 次日 01：30", None, NIGHT),
    ],
)
def test_ranges_in_one_cell(raw: str, base: date | None, expected: TimeRange) -> None:
    assert parse_time_range(raw, default_year=2026, base_day=base) == expected


@pytest.mark.parametrize(
    ("raw", "hint", "expected"),
    [
        ("30 Nov 2026", None, date(2026, 11, 30)),
        ("Nov 30, 2026", None, date(2026, 11, 30)),
        ("November 30, 2026", None, date(2026, 11, 30)),
        ("30-Nov-2026", None, date(2026, 11, 30)),
        ("30th November 2026", None, date(2026, 11, 30)),
        ("Dec. 1 2026", None, date(2026, 12, 1)),
        ("1 December", 2026, date(2026, 12, 1)),
        ("30/11/2026", None, date(2026, 11, 30)),
        ("11/30/2026", None, date(2026, 11, 30)),
        ("2026年12月1日起", None, date(2026, 12, 1)),
        ("自2026年12月1日起生效", None, date(2026, 12, 1)),
        ("从2026-12-01开始", None, date(2026, 12, 1)),
        ("2026年12月1日前", None, date(2026, 12, 1)),
        ("2026-12-01之前完成", None, date(2026, 12, 1)),
        ("截至2026年12月31日", None, date(2026, 12, 31)),
        ("截止到2026.12.31止", None, date(2026, 12, 31)),
        ("2026年12月31日为止", None, date(2026, 12, 31)),
        ("不晚于2026-12-01", None, date(2026, 12, 1)),
        ("12月1日", 2026, date(2026, 12, 1)),
        ("12月1日起", date(2026, 11, 20), date(2026, 12, 1)),
        # no year: the one nearest the form's / the mail's date (across New Year)
        ("1月5日", date(2026, 12, 20), date(2027, 1, 5)),
        ("12月28日", date(2027, 1, 3), date(2026, 12, 28)),
        ("11月30日前", date(2026, 11, 25), date(2026, 11, 30)),
        ("30.11.2026", None, date(2026, 11, 30)),
        ("2026年11月底", None, date(2026, 11, 30)),
        ("2026年2月末", None, date(2026, 2, 28)),
        ("December 1st, 2026", None, date(2026, 12, 1)),
        ("即日起", date(2026, 11, 25), date(2026, 11, 25)),
        ("2026年11月30号之前", None, date(2026, 11, 30)),
    ],
)
def test_dates_as_written(raw: str, hint: YearHint, expected: date) -> None:
    assert parse_date(raw, hint) == expected


@pytest.mark.parametrize(
    "raw", ["12/1/2026", "下月初", "2026-11-25 至 2026-11-26", "Nov", "即日起", "11/25"]
)
def test_not_dates_as_written(raw: str) -> None:
    with pytest.raises(ValueProblem):
        parse_date(raw, 2026)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nov 26, 2026 4:00 pm", datetime(2026, 11, 26, 16, 0)),
        ("26 Nov 2026 16:00", datetime(2026, 11, 26, 16, 0)),
        ("2026年11月26日（周四）16:00-18:00", datetime(2026, 11, 26, 16, 0)),
        ("11月26日 下午4点至6点", datetime(2026, 11, 26, 16, 0)),
        ("26 Nov 2026, 4pm", datetime(2026, 11, 26, 16, 0)),
        ("2026-11-26 4:00 PM", datetime(2026, 11, 26, 16, 0)),
        ("2026年11月26日 16时", datetime(2026, 11, 26, 16, 0)),
    ],
)
def test_datetimes_as_written(raw: str, expected: datetime) -> None:
    assert parse_datetime(raw, 2026) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("是", True), ("否", False), ("有", True), ("无", False), ("√", True), ("×", False),
        ("☑", True), ("☐", None), ("通过", True), ("不通过", False), ("验证通过", True),
        ("已测试", True), ("未测试", False), ("Yes", True), ("No", False), ("Y", True),
        ("N", False), ("已在测试环境验证通过", True), ("测试通过，无异常", True),
        ("不影响", False), ("影响部分用户", True), ("无影响", False), ("需要", True),
        ("不需要", False), ("是（约30分钟）", True), ("否，夜间执行", False), ("OK", True),
        ("pass", True), ("failed", False), ("N/A", False), ("☑是 ☐否", True),
        ("☐是 ☑否", False), ("☑已测试 ☐未测试", True), ("☐已测试 ☑未测试", False),
        ("已确认", True), ("没有", False), ("是√ 否", True), ("是 否√", False),
        ("√是 否", True), ("是\n否\n√", False), ("是\n√\n否", True),
    ],
)
def test_yes_and_no_words(raw: RawValue, expected: bool | None) -> None:
    assert parse_yesno(raw) == expected


@pytest.mark.parametrize("raw", ["待定", "看情况"])
def test_undecided_is_no_yes_or_no(raw: str) -> None:
    with pytest.raises(ValueProblem) as caught:
        parse_yesno(raw)
    assert caught.value.code == "invalid_yesno"


FORMATS = ("Excel", "CSV", "TXT")
LEVELS = ("绝密", "机密", "保密")


@pytest.mark.parametrize(
    ("raw", "choices", "single", "expected"),
    [
        ("PDF及Excel", FORMATS, False, ChoiceAnswer(("PDF", "Excel"))),
        ("Excel和PDF", FORMATS, False, ChoiceAnswer(("Excel", "PDF"))),
        ("Excel、CSV", FORMATS, False, ChoiceAnswer(("Excel", "CSV"))),
        ("excel表格", FORMATS, False, ChoiceAnswer(("Excel",))),
        ("Excel（按部门分sheet）", FORMATS, False, ChoiceAnswer(("Excel",), "按部门分sheet")),
        ("CSV或TXT均可", FORMATS, False, ChoiceAnswer(("CSV", "TXT"))),
        ("Word", FORMATS, False, ChoiceAnswer(("Word",))),
        ("☑Excel ☐CSV ☑TXT", FORMATS, False, ChoiceAnswer(("Excel", "TXT"))),
        ("机密（仅限本部门）", LEVELS, True, ChoiceAnswer(("机密",), "仅限本部门")),
        ("机密级", LEVELS, True, ChoiceAnswer(("机密",))),
        ("☐绝密 ☑机密 ☐保密", LEVELS, True, ChoiceAnswer(("机密",))),
    ],
)
def test_free_text_choices_keep_every_option(
    raw: str, choices: tuple[str, ...], single: bool, expected: ChoiceAnswer
) -> None:
    assert parse_choices_noted(raw, choices, single=single) == expected


@pytest.mark.parametrize(
    ("raw", "code"), [("公开", "not_a_choice"), ("绝密和机密", "several_choices")]
)
def test_a_single_choice_stays_strict(raw: str, code: str) -> None:
    with pytest.raises(ValueProblem) as caught:
        parse_choices_noted(raw, LEVELS, single=True)
    assert caught.value.code == code


ITEMS = CATALOG.get("minutes").fields[-1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1. 完成计费模块联调（负责人：吴九，11月28日前）",
         [("完成计费模块联调", "吴九", "11月28日前")]),
        ("1、完成联调（吴九，2026年11月28日）2、更新计划（陈七，11月30日）",
         [("完成联调", "吴九", "2026年11月28日"), ("更新计划", "陈七", "11月30日")]),
        ("1）完成联调，吴九，11月28日；2）更新计划，陈七，11月30日",
         [("完成联调", "吴九", "11月28日"), ("更新计划", "陈七", "11月30日")]),
        ("(1) 完成联调【吴九 / 2026-11-28】", [("完成联调", "吴九", "2026-11-28")]),
        ("1. 完成联调（吴九负责，11月28日前完成）", [("完成联调", "吴九", "11月28日前")]),
        ("1. 完成联调，由吴九负责，11月28日前完成", [("完成联调", "吴九", "11月28日前")]),
        ("1.完成1.5版本联调（吴九，11月28日）", [("完成1.5版本联调", "吴九", "11月28日")]),
        ("1. 完成联调 —— 吴九 —— 2026-11-28", [("完成联调", "吴九", "2026-11-28")]),
        ("1. 完成联调（责任人：吴九；完成时间：2026-11-28）", [("完成联调", "吴九", "2026-11-28")]),
        ("1. 完成联调 (Owner: 吴九, Due: 2026-11-28)", [("完成联调", "吴九", "2026-11-28")]),
        ("① 通知各部门，王五，2026/12/3", [("通知各部门", "王五", "2026/12/3")]),
        ("1. 吴九负责完成联调，11月28日前", [("完成联调", "吴九", "11月28日前")]),
        ("2. 由陈七牵头更新计划，2026-11-30", [("更新计划", "陈七", "2026-11-30")]),
        ("1. 完成联调 责任人 吴九 完成时间 11月28日", [("完成联调", "吴九", "11月28日")]),
        ("1. Finish integration - Wu Jiu - 2026-11-28",
         [("Finish integration", "Wu Jiu", "2026-11-28")]),
        ("1. 完成联调 吴九 2026.11.28", [("完成联调", "吴九", "2026.11.28")]),
        ("1. 完成计费模块联调，并输出测试报告\n（负责人：吴九，11月28日前）\n"
         "2. 更新计划，陈七，11月30日",
         [("完成计费模块联调，并输出测试报告", "吴九", "11月28日前"),
          ("更新计划", "陈七", "11月30日")]),
        ("- 完成联调，吴九，11月28日\n- 更新计划，陈七，11月30日",
         [("完成联调", "吴九", "11月28日"), ("更新计划", "陈七", "11月30日")]),
    ],
)
def test_action_items_in_paragraphs_r_mt_5(
    text: str, expected: list[tuple[str, str, str]]
) -> None:
    rows = prose_rows(ITEMS, [text])
    assert [(r.get("item"), r.get("owner"), r.get("due")) for r in rows] == expected


def test_a_bracket_without_a_date_is_part_of_the_item_r_mt_5() -> None:
    assert prose_rows(ITEMS, ["1. 完成联调（含计费模块）"]) == [{"item": "完成联调（含计费模块）"}]


def _change_form(window_label: str, window: str, **more: str) -> bytes:
    rows = {"变更名称": "扩容", "变更系统": "计费系统", "变更内容": "扩容", "变更原因": "容量",
            window_label: window, "是否影响现网用户": "通过", "受影响部门": "客服中心",
            "变更操作人员": "王五", "IT管理部现场联系人员": "赵六",
            "是否已在测试环境确认": "验证通过", "回退方案": "回滚", "影响范围": "无",
            "影响时间": "10分钟", "是否复杂变更": "否", **more}
    return make_docx(para("系统变更申请表"), table([[k, v] for k, v in rows.items()]))


@pytest.mark.parametrize(
    ("label", "window", "expected"),
    [
        ("计划变更时间", "2026年11月25日 23:30 至 次日 01:30", NIGHT),
        ("计划开始时间", "2026年11月25日 23:30 至 次日 01:30", NIGHT),  # range in the start field
        ("计划变更时间", "12月5日（周六）22:00-24:00", SAT),
    ],
)
def test_a_range_in_one_cell_fills_start_and_end(label: str, window: str,
                                                 expected: TimeRange) -> None:
    (reading,) = read_form(_change_form(label, window), "docx", CATALOG, default_year=2026)
    assert reading.values["planned_window"] == expected
    assert reading.values["affects_live_users"] is True
    assert reading.values["tested_in_test_env"] is True
    assert not reading.problems


def test_a_date_without_year_takes_the_forms_own_date() -> None:
    """The change date says 2027; the window written without a year is in 2027 too, though
    the mail was sent in December 2026."""
    data = _change_form("计划变更时间", "1月8日 23:00 至 次日 01:00", 变更日期="2027-01-08")
    (reading,) = read_form(data, "docx", CATALOG, default_year=date(2026, 12, 20))
    assert reading.values["planned_window"] == tr((2027, 1, 8, 23), (2027, 1, 9, 1))


def test_a_date_without_year_takes_the_mails_date_across_new_year() -> None:
    rows = [["申请人", "李四"], ["所属部门", "客服中心"], ["工号", "E1"], ["系统名称", "CRM"],
            ["申请类型", "新增帐号"], ["帐号名", "lisi"], ["申请原因", "入职"],
            ["生效日期", "1月4日起"]]
    data = make_docx(para("系统帐号申请表"), table(rows))
    (reading,) = read_form(data, "docx", CATALOG, default_year=date(2026, 12, 28))
    assert reading.values["effective_date"] == date(2027, 1, 4)


def test_a_period_in_its_first_date_fills_the_end_date() -> None:
    rows = [["申请人", "李四"], ["所属部门", "客服中心"], ["工号", "E1"], ["系统名称", "CRM"],
            ["申请类型", "新增帐号"], ["申请原因", "临时支援"],
            ["生效日期", "2026-12-01 至 2026-12-31"]]
    data = make_docx(para("系统帐号申请表"), table(rows))
    (reading,) = read_form(data, "docx", CATALOG, default_year=2026)
    assert reading.values["effective_date"] == date(2026, 12, 1)
    assert reading.values["end_date"] == date(2026, 12, 31)


def test_delivery_format_in_words_keeps_both_and_the_note() -> None:
    rows = [["申请人", "张三"], ["申请部门", "市场部"], ["数据需求", "清单"], ["使用目的", "分析"],
            ["使用范围", "内部"], ["数据密级", "机密"], ["交付格式", "PDF及Excel（按月分文件）"]]
    data = make_docx(para("业务数据提取申请表"), table(rows))
    (reading,) = read_form(data, "docx", CATALOG, default_year=2026)
    assert reading.values["delivery_format"] == ["PDF", "Excel"]
    assert reading.json_values()["_notes"] == {"delivery_format": "按月分文件"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("陈七 周八 吴九", ["陈七", "周八", "吴九"]),
        ("客服中心 市场部", ["客服中心", "市场部"]),
        ("财务部 钱敏 市场部 刘洋", ["财务部 钱敏", "市场部 刘洋"]),
        ("王军、财务部 钱敏", ["王军", "财务部 钱敏"]),
        ("IT 部、市场部", ["IT 部", "市场部"]),
        ("Zhang San、李四", ["Zhang San", "李四"]),
    ],
)
def test_names_apart_by_single_spaces_are_a_list(raw: str, expected: list[str]) -> None:
    assert parse_list(raw) == expected


def test_days_named_relative_to_the_mail_are_dates() -> None:
    """本周四 / 下周三 / 明天 count from the mail's date (Wednesday 2026-11-25 here); with only
    a year they stay unreadable (see test_not_dates_as_written)."""
    rows = [["会议名称", "周例会"], ["会议类型", "周例会"], ["会议时间", "本周四 16:00"],
            ["主持人", "陈七"], ["记录人", "周八"], ["参会人员", "陈七、周八"],
            ["会议议题", "进展"],
            ["行动项", "1. 完成联调（吴九，下周三前）\n2. 更新计划（陈七，明天）"]]
    data = make_docx(para("会议纪要"), table(rows))
    (reading,) = read_form(data, "docx", CATALOG, default_year=date(2026, 11, 25))
    assert reading.values["meeting_time"] == datetime(2026, 11, 26, 16, 0)
    items = reading.values["action_items"]
    assert isinstance(items, list)
    assert [r["due"] for r in items] == [date(2026, 12, 2), date(2026, 11, 26)]
    assert not reading.problems


def test_relative_days_in_free_text_are_left_as_written() -> None:
    rows = [["申请人", "李四"], ["所属部门", "客服中心"], ["工号", "E1"], ["系统名称", "CRM"],
            ["申请类型", "新增帐号"], ["申请原因", "明天入职，下周一开始接听"]]
    data = make_docx(para("系统帐号申请表"), table(rows))
    (reading,) = read_form(data, "docx", CATALOG, default_year=date(2026, 11, 25))
    assert reading.values["reason"] == "明天入职，下周一开始接听"
