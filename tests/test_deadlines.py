"""The rulebook's deadlines on the real calendar (R-GEN-2), table by table, each naming its
rule: around National Day 2025 (the working day before it, the make-up Saturday after it),
Spring Festival 2026, and 2031 through the config's overrides."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailflow.notices import deadlines
from mailflow.workflow.calendar import WorkingCalendar

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar(SH, time(9), time(18))
CAL_2031 = WorkingCalendar(
    SH, time(9), time(18),
    holidays=[date(2031, 10, d) for d in range(1, 8)],
    workdays=[date(2031, 9, 28), date(2031, 10, 11)],
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


R_CH_4 = [  # change start → notice due (2 h before the end of the previous working day)
    ("2025-09-29 23:30", "2025-09-28 16:00"),  # the day before is the make-up Sunday
    ("2025-10-01 00:30", "2025-09-30 16:00"),  # on National Day itself
    ("2025-10-09 00:30", "2025-09-30 16:00"),  # first day after: the day before National Day
    ("2025-09-30 23:30", "2025-09-29 16:00"),  # on the working day before National Day
    ("2025-10-11 00:30", "2025-10-10 16:00"),  # on the make-up working Saturday
    ("2025-10-13 00:30", "2025-10-11 16:00"),  # Monday after: the make-up Saturday before it
    ("2026-02-24 01:00", "2026-02-14 16:00"),  # after Spring Festival 2026
    ("2026-10-10 02:00", "2026-10-09 16:00"),  # 2026's make-up Saturday
]


@pytest.mark.parametrize(("start", "due"), R_CH_4)
def test_r_ch_4_change_notice_due(start: str, due: str) -> None:
    deadline = deadlines.change_notice(CAL, at(start))
    assert (deadline.rule, deadline.due_at) == ("R-CH-4", at(due))


R_CH_5 = [
    ("2025-09-30 01:30", "2025-09-30 13:30"),
    ("2025-09-30 23:00", "2025-10-01 11:00"),  # into the holiday: clock hours
    ("2025-10-11 02:00", "2025-10-11 14:00"),
]


@pytest.mark.parametrize(("end", "due"), R_CH_5)
def test_r_ch_5_result_notice_within_12_hours(end: str, due: str) -> None:
    deadline = deadlines.result_notice(CAL, at(end))
    assert (deadline.rule, deadline.due_at) == ("R-CH-5", at(due))


R_CH_6 = [
    ("2025-09-26 14:00", "2025-09-30 14:00"),  # Fri → Sun(make-up), Mon, Tue
    ("2025-09-30 01:30", "2025-10-11 09:00"),  # ends before hours on the day before the holiday
    ("2025-10-10 16:00", "2025-10-14 16:00"),  # via the make-up Saturday
    ("2025-10-11 03:00", "2025-10-15 09:00"),  # ends at night on the make-up Saturday
]


@pytest.mark.parametrize(("end", "due"), R_CH_6)
def test_r_ch_6_summary_report_in_3_working_days(end: str, due: str) -> None:
    deadline = deadlines.summary_report(CAL, at(end))
    assert (deadline.rule, deadline.due_at, deadline.working_days) == ("R-CH-6", at(due), 3)


ACCOUNTS = [
    ("2025-09-30 11:00", "2025-10-09 11:00"),  # received the day before National Day
    ("2025-10-10 17:00", "2025-10-11 17:00"),  # → the make-up Saturday
    ("2025-10-11 10:00", "2025-10-13 10:00"),  # received on the make-up Saturday
    ("2025-10-03 10:00", "2025-10-10 09:00"),  # received during the holiday
]


@pytest.mark.parametrize(("received", "due"), ACCOUNTS)
def test_r_ac_4_account_done_in_1_working_day(received: str, due: str) -> None:
    deadline = deadlines.account_done(CAL, at(received))
    assert (deadline.rule, deadline.due_at) == ("R-AC-4", at(due))


DATA = [
    ("2025-09-26 15:00", "2025-09-30 15:00"),
    ("2025-09-29 15:00", "2025-10-10 15:00"),  # over National Day
    ("2025-09-30 15:00", "2025-10-11 15:00"),  # the third day is the make-up Saturday
    ("2026-02-12 10:00", "2026-02-24 10:00"),  # Thu, make-up Sat 02-14, then after the holiday
]


@pytest.mark.parametrize(("approved", "due"), DATA)
def test_r_dx_4_data_delivered_in_3_working_days(approved: str, due: str) -> None:
    deadline = deadlines.data_delivery(CAL, at(approved))
    assert (deadline.rule, deadline.due_at) == ("R-DX-4", at(due))


LEAD = [  # change start, R-CH-2 announced by, R-CH-3 announced by
    ("2025-10-09 00:30", "2025-09-28 18:00", "2025-09-25 18:00"),
    ("2025-10-13 00:30", "2025-10-09 18:00", "2025-09-29 18:00"),
    ("2025-10-16 02:00", "2025-10-13 18:00", "2025-10-10 18:00"),  # make-up Sat counts
]


@pytest.mark.parametrize(("start", "live", "coop"), LEAD)
def test_r_ch_2_and_r_ch_3_lead_times(start: str, live: str, coop: str) -> None:
    assert deadlines.live_users_notice(CAL, at(start)).due_at == at(live)
    assert deadlines.cooperation_request(CAL, at(start)).due_at == at(coop)
    assert deadlines.live_users_notice(CAL, at(start)).rule == "R-CH-2"
    assert deadlines.cooperation_request(CAL, at(start)).rule == "R-CH-3"


def test_r_ch_2_r_ch_3_lead_time_problems_and_the_emergency_exception() -> None:
    start = at("2025-10-13 00:30")
    late = at("2025-10-10 10:00")
    problems = deadlines.lead_time_problems(CAL, submitted_at=late, change_start=start,
                                            affects_live_users=True, cooperating=True)
    assert [(p.rule, p.required_by, p.working_days) for p in problems] == [
        ("R-CH-2", at("2025-10-09 18:00"), 3), ("R-CH-3", at("2025-09-29 18:00"), 5)]
    early = at("2025-10-09 17:59")
    assert [p.rule for p in deadlines.lead_time_problems(
        CAL, submitted_at=early, change_start=start, affects_live_users=True,
        cooperating=True)] == ["R-CH-3"]
    assert deadlines.lead_time_problems(CAL, submitted_at=early, change_start=start,
                                        affects_live_users=False, cooperating=False) == []
    assert deadlines.lead_time_problems(CAL, submitted_at=late, change_start=start,
                                        affects_live_users=True, cooperating=True,
                                        emergency=True) == []


@pytest.mark.parametrize(("start", "ok"), [
    ("2025-10-13 00:00", True), ("2025-10-13 00:30", True), ("2025-10-13 08:59", True),
    ("2025-10-12 23:30", False), ("2025-10-13 14:00", False),
])
def test_r_ch_2_live_changes_start_after_midnight(start: str, ok: bool) -> None:
    assert deadlines.starts_after_midnight(CAL, at(start)) is ok


def test_r_ch_4_5_6_in_a_year_the_library_does_not_know() -> None:
    assert deadlines.change_notice(CAL_2031, at("2031-10-08 00:30")).due_at == \
        at("2031-09-30 16:00")
    assert deadlines.change_notice(CAL_2031, at("2031-09-29 00:30")).due_at == \
        at("2031-09-28 16:00")  # the overrides' make-up Sunday
    assert deadlines.summary_report(CAL_2031, at("2031-09-30 10:00")).due_at == \
        at("2031-10-10 10:00")
    assert deadlines.account_done(CAL_2031, at("2031-10-10 10:00")).due_at == \
        at("2031-10-11 10:00")


def test_r_mt_5_action_items_and_reminders() -> None:
    due = deadlines.action_item(CAL, date(2025, 10, 5))  # a holiday: the last working day
    assert (due.rule, due.due_at) == ("R-MT-5", at("2025-09-30 18:00"))
    assert deadlines.reminder_time(CAL, due) == at("2025-09-29 18:00")
    sat = deadlines.action_item(CAL, date(2025, 10, 11))
    assert sat.due_at == at("2025-10-11 18:00")
    assert deadlines.reminder_time(CAL, sat) == at("2025-10-10 18:00")
    assert deadlines.reminder_time(CAL, deadlines.data_delivery(
        CAL, at("2025-09-30 07:00")), 2) == at("2025-10-09 09:00")


def test_lateness_in_working_days_names_the_rule() -> None:
    deadline = deadlines.account_done(CAL, at("2025-09-30 11:00"))  # due 10-09 11:00
    on_time = deadlines.lateness(CAL, deadline, at("2025-10-09 10:59"))
    assert not on_time.late and on_time.by == timedelta(0)
    late = deadlines.lateness(CAL, deadline, at("2025-10-11 15:30"))  # make-up Saturday
    assert late.rule == "R-AC-4" and late.late
    assert late.by == timedelta(days=2, hours=4, minutes=30)
    assert late.working_days == pytest.approx((7 + 9 + 6.5) / 9)
