"""Value parsers, table-driven: what people write → typed value or problem code."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from mailflow.documents.layout import RawValue
from mailflow.documents.values import (
    TimeRange,
    ValueProblem,
    parse_choice,
    parse_choices,
    parse_date,
    parse_datetime,
    parse_list,
    parse_person,
    parse_range_parts,
    parse_time_range,
    parse_yesno,
)

D = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-25", D),
        ("2026/11/25", D),
        ("2026.11.25", D),
        ("2026年11月25日", D),
        ("2026 年 11 月 25 日", D),
        ("11月25日", D),
        ("11月25号", D),
        ("20261125", D),
        ("2026-11-25 00:00:00", D),
        ("2026年11月25日前", D),
        ("２０２６年１１月２５日", D),
        (46351, D),
        (46351.0, D),
        ("46351", D),
        (datetime(2026, 11, 25, 9, 0), D),
        (D, D),
        ("2026-1-5", date(2026, 1, 5)),
    ],
)
def test_dates(raw: RawValue, expected: date) -> None:
    assert parse_date(raw, default_year=2026) == expected


@pytest.mark.parametrize(
    "raw", ["下周三", "2026-13-01", "25", 25, True, "11/25", "2026-11-25至2026-11-26"]
)
def test_not_dates(raw: RawValue) -> None:
    with pytest.raises(ValueProblem) as caught:
        parse_date(raw, default_year=2026)
    assert caught.value.code == "invalid_date"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-25 23:30", datetime(2026, 11, 25, 23, 30)),
        ("2026/11/25 23:30:00", datetime(2026, 11, 25, 23, 30)),
        ("2026年11月25日23时30分", datetime(2026, 11, 25, 23, 30)),
        ("11月25日 晚上11点半", datetime(2026, 11, 25, 23, 30)),
        ("2026年11月26日（周四）下午4点", datetime(2026, 11, 26, 16, 0)),
        ("2026-11-26 16:00-18:00", datetime(2026, 11, 26, 16, 0)),
        (46351.979166666664, datetime(2026, 11, 25, 23, 30)),
        (datetime(2026, 11, 25, 23, 30, 12), datetime(2026, 11, 25, 23, 30)),
    ],
)
def test_datetimes(raw: RawValue, expected: datetime) -> None:
    assert parse_datetime(raw, default_year=2026) == expected


@pytest.mark.parametrize(
    "raw", ["2026-11-25", "23:30", "明天晚上", "2026-11-25 25:00", time(23, 30)]
)
def test_not_datetimes(raw: RawValue) -> None:
    with pytest.raises(ValueProblem) as caught:
        parse_datetime(raw, default_year=2026)
    assert caught.value.code == "invalid_datetime"


NIGHT = TimeRange(datetime(2026, 11, 25, 23, 30), datetime(2026, 11, 26, 1, 30))


@pytest.mark.parametrize(
    ("raw", "base", "expected"),
    [
        ("2026-11-25 23:30 至 2026-11-26 01:30", None, NIGHT),
        ("11月25日 23:30 至 次日 01:30", None, NIGHT),
        ("2026-11-25 23:30-01:30", None, NIGHT),
        ("23:30-01:30", D, NIGHT),
        ("23:30～次日01:30", D, NIGHT),
        ("2026年11月25日23:30到2026年11月26日1:30", None, NIGHT),
        (
            "2026-11-25 22:00 — 23:00",
            None,
            TimeRange(datetime(2026, 11, 25, 22), datetime(2026, 11, 25, 23)),
        ),
    ],
)
def test_time_ranges(raw: str, base: date | None, expected: TimeRange) -> None:
    assert parse_time_range(raw, default_year=2026, base_day=base) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("23:30-01:30", "invalid_time_range"),
        ("2026-11-25 23:30", "invalid_time_range"),
        ("今晚", "invalid_time_range"),
        ("2026-11-26 01:30 至 2026-11-25 23:30", "end_before_start"),
    ],
)
def test_not_time_ranges(raw: str, code: str) -> None:
    with pytest.raises(ValueProblem) as caught:
        parse_time_range(raw, default_year=2026)
    assert caught.value.code == code


def test_range_parts_next_day_and_cells() -> None:
    assert parse_range_parts("2026-11-25 23:30", "次日 01:30") == NIGHT
    assert parse_range_parts("2026-11-25 23:30", "01:30") == NIGHT
    assert parse_range_parts(NIGHT.start, NIGHT.end) == NIGHT
    assert parse_range_parts("23:30", time(1, 30), base_day=D) == NIGHT


CLASSES = ("绝密", "机密", "保密")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("☐绝密 ☑机密 ☐保密", "机密"),
        ("□绝密 ■机密 □保密", "机密"),
        ("绝密□ 机密☑ 保密□", "机密"),
        ("[ ]绝密 [x]机密 [ ]保密", "机密"),
        ("[ ]绝密 [X]机密", "机密"),
        ("( )绝密 (√)机密", "机密"),
        ("☐绝密 ☐机密√ ☐保密", "机密"),
        ("√机密", "机密"),
        ("机密", "机密"),
        ("机密级", "机密"),
        ("☐绝密 ☐机密 ☐保密", None),
        ("", None),
        ("○绝密 ●机密 ○保密", "机密"),
    ],
)
def test_choice(raw: str, expected: str | None) -> None:
    assert parse_choice(raw, CLASSES) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("公开", "not_a_choice"),
        ("☑其他", "not_a_choice"),
        ("☑绝密☑机密", "several_choices"),
        ("绝密、机密", "several_choices"),
    ],
)
def test_not_a_choice(raw: str, code: str) -> None:
    with pytest.raises(ValueProblem) as caught:
        parse_choice(raw, CLASSES)
    assert caught.value.code == code


def test_multichoice_keeps_choice_order() -> None:
    formats = ("Excel", "CSV", "TXT")
    assert parse_choices("☑CSV ☐TXT ☑Excel", formats) == ["Excel", "CSV"]
    assert parse_choices("excel表格、csv", formats) == ["Excel", "CSV"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("是", True),
        ("否", False),
        ("Y", True),
        ("n", False),
        ("yes", True),
        ("√", True),
        ("×", False),
        ("☑是 ☐否", True),
        ("☐是 ☑否", False),
        ("是☐ 否☑", False),
        ("否（不涉及）", False),
        (True, True),
        ("无", False),
        ("", None),
        ("☐是 ☐否", None),
    ],
)
def test_yesno(raw: RawValue, expected: bool | None) -> None:
    assert parse_yesno(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"), [("待定", "invalid_yesno"), ("☑是 ☑否", "several_choices")]
)
def test_not_yesno(raw: str, code: str) -> None:
    with pytest.raises(ValueProblem) as caught:
        parse_yesno(raw)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("客服中心、市场部", ["客服中心", "市场部"]),
        ("客服中心，市场部;财务部", ["客服中心", "市场部", "财务部"]),
        ("客服中心/市场部", ["客服中心", "市场部"]),
        ("客服中心\n\n市场部\n", ["客服中心", "市场部"]),
        ("1. 客服中心\n2. 市场部", ["客服中心", "市场部"]),
        ("(1)客服中心 (2)市场部", ["客服中心", "市场部"]),
        ("张三　李四", ["张三", "李四"]),
        ("无", []),
        ("N/A", []),
        ("市场部、市场部", ["市场部"]),
        ("财务部、客服中心、市场部", ["财务部", "客服中心", "市场部"]),
    ],
)
def test_lists_keep_order(raw: str, expected: list[str]) -> None:
    assert parse_list(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["张三", "zhangsan@example.com", "张三 <zhangsan@example.com>", "张三（zhangsan@example.cn）"],
)
def test_people(raw: str) -> None:
    assert parse_person(raw) == raw


@pytest.mark.parametrize("raw", ["张三 <zhangsan@>", "zhangsan@example", "a@@b.com", "张三@公司"])
def test_bad_addresses(raw: str) -> None:
    with pytest.raises(ValueProblem) as caught:
        parse_person(raw)
    assert caught.value.code == "invalid_email"
