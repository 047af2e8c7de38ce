"""The working-day calendar (R-GEN-2), checked over whole real years and a year the library
does not know.

Two independent sources: chinese-calendar itself, and a table written by hand from the
State Council's holiday notices (国务院办公厅关于2025年/2026年部分节假日安排的通知). They must
agree with each other and with the calendar on every day of 2025 and 2026.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import structlog

from mailflow.config import load_settings
from mailflow.errors import ConfigError
from mailflow.workflow import calendar as calendar_module
from mailflow.workflow.calendar import WorkingCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")


def days(first: str, last: str) -> list[date]:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


# The official notices, by hand: (days off, make-up working days)
NOTICES: dict[int, tuple[list[date], list[date]]] = {
    2025: (
        days("2025-01-01", "2025-01-01")      # 元旦
        + days("2025-01-28", "2025-02-04")    # 春节 (除夕 to 初七)
        + days("2025-04-04", "2025-04-06")    # 清明节
        + days("2025-05-01", "2025-05-05")    # 劳动节
        + days("2025-05-31", "2025-06-02")    # 端午节
        + days("2025-10-01", "2025-10-08"),   # 国庆节、中秋节
        [date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27),
         date(2025, 9, 28), date(2025, 10, 11)],
    ),
    2026: (
        days("2026-01-01", "2026-01-03")      # 元旦
        + days("2026-02-15", "2026-02-23")    # 春节
        + days("2026-04-04", "2026-04-06")    # 清明节
        + days("2026-05-01", "2026-05-05")    # 劳动节
        + days("2026-06-19", "2026-06-21")    # 端午节
        + days("2026-09-25", "2026-09-27")    # 中秋节
        + days("2026-10-01", "2026-10-07"),   # 国庆节
        [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
         date(2026, 9, 20), date(2026, 10, 10)],
    ),
}


def by_notice(day: date) -> bool:
    off, on = NOTICES[day.year]
    if day in off:
        return False
    if day in on:
        return True
    return day.weekday() < 5


def calendar(**kw: object) -> WorkingCalendar:
    return WorkingCalendar(SHANGHAI, time(9), time(18), **kw)  # type: ignore[arg-type]


def at(text: str) -> datetime:
    """Local Shanghai wall-clock time."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.mark.parametrize("year", [2025, 2026])
def test_r_gen_2_every_day_of_a_real_year_matches_the_notice_and_the_library(year: int) -> None:
    cal = calendar()
    for day in days(f"{year}-01-01", f"{year}-12-31"):
        expected = by_notice(day)
        assert chinese_calendar.is_workday(day) is expected, f"library vs notice on {day}"
        assert cal.is_working_day(day) is expected, f"calendar on {day}"


@pytest.mark.parametrize("year", [2025, 2026])
def test_r_gen_2_working_day_count_of_the_year(year: int) -> None:
    cal = calendar()
    count = sum(cal.is_working_day(d) for d in days(f"{year}-01-01", f"{year}-12-31"))
    weekdays = sum(d.weekday() < 5 for d in days(f"{year}-01-01", f"{year}-12-31"))
    off, on = NOTICES[year]
    assert count == weekdays - sum(d.weekday() < 5 for d in off) + len(on)


# (start local, working days, expected local): R-AC-4 1 day, R-DX-4 3 days, and the holidays
ADD_DAYS = [
    ("2025-09-26 10:00", 1, "2025-09-28 10:00"),  # Friday → make-up working Sunday
    ("2025-09-28 10:00", 1, "2025-09-29 10:00"),  # from the make-up Sunday
    ("2025-09-30 15:30", 1, "2025-10-09 15:30"),  # the working day before National Day
    ("2025-09-30 15:30", 3, "2025-10-11 15:30"),  # R-DX-4 over National Day: make-up Saturday
    ("2025-10-11 09:00", 1, "2025-10-13 09:00"),  # make-up Saturday → Monday
    ("2025-01-27 11:00", 1, "2025-02-05 11:00"),  # Spring Festival
    ("2025-04-03 17:59", 1, "2025-04-07 17:59"),  # Qingming
    ("2025-04-30 09:00", 1, "2025-05-06 09:00"),  # Labour Day
    ("2025-04-25 12:00", 1, "2025-04-27 12:00"),  # Friday → make-up Sunday before Labour Day
    ("2025-05-30 16:00", 1, "2025-06-03 16:00"),  # Dragon Boat
    ("2026-02-13 10:00", 1, "2026-02-14 10:00"),  # make-up Saturday before Spring Festival
    ("2026-02-14 10:00", 1, "2026-02-24 10:00"),  # over Spring Festival 2026
    ("2026-02-27 10:00", 1, "2026-02-28 10:00"),  # make-up Saturday after it
    ("2026-09-24 10:00", 1, "2026-09-28 10:00"),  # Mid-Autumn 2026 (alone)
    ("2026-09-30 10:00", 3, "2026-10-10 10:00"),  # National Day 2026: 10-08, 10-09, make-up 10-10
    ("2026-05-08 10:00", 1, "2026-05-09 10:00"),  # make-up Saturday after Labour Day
    ("2025-10-04 10:00", 1, "2025-10-10 09:00"),  # start on a holiday: next working start
    ("2025-09-27 10:00", 1, "2025-09-29 09:00"),  # start on an ordinary Saturday
    ("2025-09-26 20:00", 1, "2025-09-29 09:00"),  # after hours: from the next working start
    ("2025-09-26 07:00", 1, "2025-09-28 09:00"),  # before hours: from that day's start
    ("2025-10-09 10:00", -1, "2025-09-30 10:00"),  # backwards over National Day
    ("2025-12-31 14:00", 1, "2026-01-04 14:00"),  # across the year: 元旦, make-up Sunday
]


@pytest.mark.parametrize(("start", "n", "expected"), ADD_DAYS)
def test_r_gen_2_add_working_days(start: str, n: int, expected: str) -> None:
    cal = calendar()
    got = cal.add_working_days(at(start), n)
    assert got == at(expected)
    assert got.tzinfo == SHANGHAI


def test_r_gen_2_results_are_in_the_calendar_zone_whatever_the_input_zone() -> None:
    cal = calendar()
    start = datetime(2025, 9, 30, 7, 30, tzinfo=UTC)  # 15:30 in Shanghai
    got = cal.add_working_days(start, 1)
    assert got == at("2025-10-09 15:30")
    assert got.utcoffset() == timedelta(hours=8)
    with pytest.raises(ValueError, match="time zone"):
        cal.add_working_days(datetime(2025, 9, 30, 7, 30), 1)


ADD_HOURS = [
    ("2025-09-26 10:00", 4, "2025-09-26 14:00"),
    ("2025-09-26 10:00", 9, "2025-09-28 10:00"),    # 9 h spills into the make-up Sunday
    ("2025-09-26 10:00", 17, "2025-09-28 18:00"),   # ends exactly at work_end: stays there
    ("2025-09-30 16:00", 4, "2025-10-09 11:00"),    # over National Day
    ("2025-10-03 12:00", 1, "2025-10-09 10:00"),    # started on a holiday
    ("2025-10-10 17:30", 1.5, "2025-10-11 10:00"),  # into the make-up Saturday
    ("2026-02-13 17:00", 2, "2026-02-14 10:00"),
    ("2026-02-14 17:00", 2, "2026-02-24 10:00"),
    ("2025-09-26 10:00", 0, "2025-09-26 10:00"),
]


@pytest.mark.parametrize(("start", "hours", "expected"), ADD_HOURS)
def test_r_gen_2_add_working_hours(start: str, hours: float, expected: str) -> None:
    assert calendar().add_working_hours(at(start), hours) == at(expected)


def test_r_gen_2_next_and_previous_working_day_and_end_of_day() -> None:
    cal = calendar()
    assert cal.next_working_day(date(2025, 9, 30)) == date(2025, 10, 9)
    assert cal.previous_working_day(date(2025, 10, 9)) == date(2025, 9, 30)
    assert cal.previous_working_day(date(2025, 9, 29)) == date(2025, 9, 28)
    assert cal.next_working_day(date(2025, 10, 10)) == date(2025, 10, 11)
    assert cal.next_working_day(date(2026, 2, 13)) == date(2026, 2, 14)
    assert cal.previous_working_day(date(2026, 2, 24)) == date(2026, 2, 14)
    assert cal.end_of_working_day(date(2025, 10, 11)) == at("2025-10-11 18:00")


LATE = [
    ("2025-09-29 10:00", "2025-09-29 14:30", 0.5),
    ("2025-09-30 09:00", "2025-10-09 18:00", 2.0),   # the whole holiday counts nothing
    ("2025-09-30 18:00", "2025-10-11 09:00", 2.0),
    ("2025-10-09 10:00", "2025-09-30 10:00", -1.0),
    ("2025-10-04 10:00", "2025-10-05 10:00", 0.0),
]


@pytest.mark.parametrize(("a", "b", "expected"), LATE)
def test_r_gen_2_working_days_between(a: str, b: str, expected: float) -> None:
    assert calendar().working_days_between(at(a), at(b)) == pytest.approx(expected)


# 2031: the library raises NotImplementedError; the organisation lists the year's notice
OVERRIDE_2031_OFF = days("2031-01-01", "2031-01-01") + days("2031-01-22", "2031-01-28") \
    + days("2031-10-01", "2031-10-07")
OVERRIDE_2031_ON = [date(2031, 1, 19), date(2031, 2, 8), date(2031, 9, 28), date(2031, 10, 11)]


def test_r_gen_2_the_library_does_not_know_2031() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2031, 3, 3))


def test_r_gen_2_a_year_the_library_does_not_know_uses_the_override_table() -> None:
    cal = calendar(holidays=OVERRIDE_2031_OFF, workdays=OVERRIDE_2031_ON)
    for day in days("2031-01-01", "2031-12-31"):
        if day in OVERRIDE_2031_OFF:
            expected = False
        elif day in OVERRIDE_2031_ON:
            expected = True
        else:
            expected = day.weekday() < 5
        assert cal.is_working_day(day) is expected, day
    assert cal.add_working_days(at("2031-09-30 11:00"), 1) == at("2031-10-08 11:00")
    assert cal.add_working_days(at("2031-09-26 11:00"), 1) == at("2031-09-28 11:00")
    assert cal.add_working_days(at("2031-10-10 11:00"), 1) == at("2031-10-11 11:00")
    assert cal.add_working_hours(at("2031-01-21 17:00"), 2) == at("2031-01-29 10:00")


def test_r_gen_2_overrides_win_over_the_library_in_a_known_year() -> None:
    cal = calendar(holidays=[date(2025, 9, 29)], workdays=[date(2025, 10, 8)])
    assert not cal.is_working_day(date(2025, 9, 29))
    assert cal.is_working_day(date(2025, 10, 8))
    assert cal.next_working_day(date(2025, 9, 28)) == date(2025, 9, 30)


@pytest.fixture
def captured_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    calendar_module._warned_years.discard(2032)
    with structlog.testing.capture_logs() as logs:
        yield logs


def test_r_gen_2_a_year_nobody_knows_is_monday_to_friday_with_one_warning(
    captured_logs: list[MutableMapping[str, Any]],
) -> None:
    cal = calendar()
    for day in days("2032-01-01", "2032-12-31"):
        assert cal.is_working_day(day) is (day.weekday() < 5)
    warnings = [e for e in captured_logs if e["log_level"] == "warning"]
    assert len(warnings) == 1
    assert warnings[0]["year"] == 2032


def test_r_gen_2_calendar_from_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[service]\ntimezone = "Asia/Shanghai"\n'
        '[calendar]\nwork_start = "08:30"\nwork_end = "17:30"\n'
        'holidays = [2031-10-01, "2031-10-02"]\nworkdays = [2031-09-28]\n',
        encoding="utf-8",
    )
    cal = WorkingCalendar.from_settings(load_settings(path, environ={}))
    assert cal.end_of_working_day(date(2031, 9, 30)) == at("2031-09-30 17:30")
    assert not cal.is_working_day(date(2031, 10, 2))
    assert cal.is_working_day(date(2031, 9, 28))
    assert cal.add_working_days(at("2031-09-27 12:00"), 0) == at("2031-09-28 08:30")


@pytest.mark.parametrize("body", [
    'work_start = "9am"',
    'work_start = "18:00"\nwork_end = "09:00"',
    'holidays = [2031-10-01]\nworkdays = [2031-10-01]',
    'holidays = ["not a date"]',
])
def test_r_gen_2_bad_calendar_config_is_refused(tmp_path: Path, body: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[calendar]\n{body}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="calendar"):
        load_settings(path, environ={})
