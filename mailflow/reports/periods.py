"""A report's period (R-SP-7: 「客户报告周期按合同约定设置」): a month, a quarter, a half-year or
a year, always aligned to the calendar (quarters begin in January, April, July, October;
half-years in January and July), so that "the previous period of the same length" — the trend
— and "the day after the period ends" — when it is sent — are unambiguous.

A period is named by its first month and its length; its label (``2026-11``, ``2026Q4``,
``2026H2``, ``2026``) names it in the Message-ID, the sent record and ``mailflow report``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["month", "quarter", "half-year", "year"]
MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "half-year": 6, "year": 12}


def add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    start: date  # the first day of its first month

    @classmethod
    def containing(cls, kind: PeriodKind, day: date) -> Period:
        """The period of *kind* that *day* falls in."""
        length = MONTHS[kind]
        month = (day.month - 1) // length * length + 1
        return cls(kind, date(day.year, month, 1))

    @property
    def months(self) -> int:
        return MONTHS[self.kind]

    @property
    def end(self) -> date:
        """The first day after the period."""
        return add_months(self.start, self.months)

    def next(self) -> Period:
        return Period(self.kind, self.end)

    def previous(self) -> Period:
        return Period(self.kind, add_months(self.start, -self.months))

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as local midnights, [its first day, the first day after it)."""
        return (datetime.combine(self.start, time(0), tzinfo=zone),
                datetime.combine(self.end, time(0), tzinfo=zone))

    @property
    def label(self) -> str:
        """``2026-11``, ``2026Q4``, ``2026H2`` or ``2026``: what names it in records."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "year":
            return f"{self.start.year}"
        letter = "Q" if self.kind == "quarter" else "H"
        return f"{self.start.year}{letter}{(self.start.month - 1) // self.months + 1}"

    @property
    def number(self) -> int:
        """Which month, quarter or half of its year it is (1-based; 1 for a year)."""
        return (self.start.month - 1) // self.months + 1


_LABEL = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})|\s*([QqHh])([1-4]))?\s*$")


def parse_period(text: str) -> Period:
    """A label back into its period: ``2026-11`` a month, ``2026Q4`` a quarter, ``2026H2`` a
    half-year, ``2026`` a year."""
    match = _LABEL.match(text)
    if match is None:
        raise ValueError(f"{text!r} is no period (YYYY-MM, YYYYQn, YYYYHn or YYYY)")
    year, month, letter, number = match.groups()
    if month is not None:
        if not 1 <= int(month) <= 12:
            raise ValueError(f"{text!r}: month {month} is not 1-12")
        return Period("month", date(int(year), int(month), 1))
    if letter is None:
        return Period("year", date(int(year), 1, 1))
    kind: PeriodKind = "quarter" if letter.upper() == "Q" else "half-year"
    if int(number) > 12 // MONTHS[kind]:
        raise ValueError(f"{text!r}: a year has {12 // MONTHS[kind]} {kind}s")
    return Period(kind, date(int(year), (int(number) - 1) * MONTHS[kind] + 1, 1))
