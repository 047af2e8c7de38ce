"""The mainland-China working-day calendar every deadline is counted on (R-GEN-2).

Why one pure module: approvals, reminders, notices and the "late by N working days" record
all count working days and working hours; if each counted them its own way, a reminder and
the deadline it reminds of would disagree on the day before National Day or on a make-up
working Saturday (调休). Nothing here reads the clock or the database.

Which days are working days, in order of precedence:
1. the config's override table ([calendar] holidays = days off, workdays = make-up working
   days): an organisation's own extra day off, or a year the library does not know yet;
2. chinese-calendar's table of the State Council's notices (holidays and 调休 working days);
3. for a year neither knows: Monday to Friday, with a warning logged once per year, so an
   administrator adds the year's notice to the config before its deadlines matter.

Times: every datetime given in must be aware; every result is in the calendar's time zone.
Working hours are [work_start, work_end) of each working day, in wall-clock time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import chinese_calendar
import structlog

if TYPE_CHECKING:
    from mailflow.config import Settings

log = structlog.get_logger(__name__)

#: no real calendar has this many days off in a row; a longer search means a broken override
_MAX_SEARCH_DAYS = 366
_warned_years: set[int] = set()
_warn_lock = threading.Lock()


@lru_cache(maxsize=4096)
def official_working_day(day: date) -> bool | None:
    """The library's answer (holidays and 调休 included), or None for a year it does not know."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def _warn_unknown_year(year: int) -> None:
    with _warn_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    log.warning(
        "working-day calendar: no holiday data for this year; counting Monday to Friday. "
        "Add the year's official holidays and make-up working days to [calendar] holidays "
        "and workdays (R-GEN-2)",
        year=year,
    )


class WorkingCalendar:
    """Working days and working hours in one time zone (R-GEN-2)."""

    def __init__(
        self,
        tz: ZoneInfo,
        work_start: time,
        work_end: time,
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
    ) -> None:
        if work_start.tzinfo is not None or work_end.tzinfo is not None:
            raise ValueError("working hours are wall-clock times without a zone")
        if not work_start < work_end:
            raise ValueError(f"work_start {work_start} must be before work_end {work_end}")
        self.tz = tz
        self.work_start = work_start
        self.work_end = work_end
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        both = self.holidays & self.workdays
        if both:
            raise ValueError(
                "dates both holidays and workdays: " + ", ".join(sorted(map(str, both)))
            )
        self._override_years = {d.year for d in self.holidays | self.workdays}
        day_length = datetime.combine(date(2000, 1, 3), work_end) - datetime.combine(
            date(2000, 1, 3), work_start
        )
        self.day_seconds = day_length.total_seconds()

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkingCalendar:
        cal = settings.calendar
        return cls(
            ZoneInfo(settings.service.timezone),
            cal.start_time,
            cal.end_time,
            cal.holidays,
            cal.workdays,
        )

    # -- days ---------------------------------------------------------------------------
    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        official = official_working_day(day)
        if official is not None:
            return official
        if day.year not in self._override_years:
            _warn_unknown_year(day.year)
        return day.weekday() < 5

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after *day*."""
        return self._step(day, 1)

    def previous_working_day(self, day: date) -> date:
        """The last working day strictly before *day*."""
        return self._step(day, -1)

    def _step(self, day: date, direction: int) -> date:
        current = day
        for _ in range(_MAX_SEARCH_DAYS):
            current += timedelta(days=direction)
            if self.is_working_day(current):
                return current
        raise ValueError(f"no working day within {_MAX_SEARCH_DAYS} days of {day}")

    # -- instants -----------------------------------------------------------------------
    def start_of_working_day(self, day: date) -> datetime:
        return datetime.combine(day, self.work_start, tzinfo=self.tz)

    def end_of_working_day(self, day: date) -> datetime:
        """*day* at work_end, aware, in the calendar's zone."""
        return datetime.combine(day, self.work_end, tzinfo=self.tz)

    def local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError(f"{moment!r} has no time zone; the calendar needs aware times")
        return moment.astimezone(self.tz)

    def working_moment(self, moment: datetime) -> datetime:
        """*moment* itself inside working hours of a working day; otherwise the start of the
        next working hours (a mail received on Saturday counts from Monday 09:00)."""
        here = self.local(moment)
        day = here.date()
        if self.is_working_day(day):
            if here.time() < self.work_start:
                return self.start_of_working_day(day)
            if here.time() < self.work_end:
                return here
        return self.start_of_working_day(self.next_working_day(day))

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same local time of day, *days* working days later (R-AC-4: 1, R-DX-4: 3).

        A start outside working hours counts from the next working hours' start (Saturday
        10:00 + 1 → Tuesday 09:00; Friday 20:00 + 1 → Tuesday 09:00 after a normal weekend).
        A negative count goes back the same way."""
        begin = self.working_moment(start)
        day = begin.date()
        step = self.next_working_day if days >= 0 else self.previous_working_day
        for _ in range(abs(days)):
            day = step(day)
        return datetime.combine(day, begin.time(), tzinfo=self.tz)

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """*hours* of working time after *start*, counting only working hours on working days
        (reminders: "after 8 working hours"). An amount that ends exactly at work_end ends
        there, not at the next morning."""
        if hours < 0:
            raise ValueError("hours must not be negative")
        if hours == 0:
            return self.local(start)
        remaining = timedelta(hours=hours)
        here = self.working_moment(start)
        while True:
            available = self.end_of_working_day(here.date()) - here
            if remaining <= available:
                return here + remaining
            remaining -= available
            here = self.start_of_working_day(self.next_working_day(here.date()))

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Working time from *a* to *b* in seconds; negative when *b* is before *a*."""
        first, last = self.local(a), self.local(b)
        if last < first:
            return -self.working_seconds_between(b, a)
        total = 0.0
        day = first.date()
        while day <= last.date():
            if self.is_working_day(day):
                lo = max(first, self.start_of_working_day(day))
                hi = min(last, self.end_of_working_day(day))
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    def working_days_between(self, a: datetime, b: datetime) -> float:
        """Working time from *a* to *b* in working days (a full working day = 1.0): "late by
        1.5 working days". Negative when *b* is before *a*."""
        return self.working_seconds_between(a, b) / self.day_seconds
