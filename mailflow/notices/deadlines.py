"""The rulebook's deadlines, computed on the working-day calendar (R-GEN-2). Pure.

Every function returns a ``Deadline`` that names the rule it comes from, so a notice, a
reminder or a "done late" record can say which rule set the time (auditors check these).
Times in, times out: aware datetimes; results in the calendar's zone.

Readings of the rulebook (PROCESS_RULES.md) taken here:
- "within N working days" (R-AC-4, R-DX-4, R-CH-6): the same time of day N working days
  later, counted from the next working hours when the event falls outside them
  (``WorkingCalendar.add_working_days``).
- "announced N working days ahead" (R-CH-2: 3, R-CH-3: 5): by the end of the N-th working
  day before the change's day (a change on Thursday with 3 days' notice: by Monday's end).
- R-CH-4: the change notice no later than 2 hours before the end of the working day before
  the change's day (a change on the Thursday after National Day: the working day before the
  holiday).
- R-CH-5: the result notice within 12 hours (clock hours: it is the night after a change) of
  the change's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from mailflow.workflow.calendar import WorkingCalendar

ACCOUNT_DONE_DAYS = 1          # R-AC-4
DATA_DELIVERY_DAYS = 3         # R-DX-4
LIVE_CHANGE_LEAD_DAYS = 3      # R-CH-2
COOPERATION_LEAD_DAYS = 5      # R-CH-3
NOTICE_BEFORE_DAY_END = timedelta(hours=2)   # R-CH-4
RESULT_NOTICE_WITHIN = timedelta(hours=12)   # R-CH-5
SUMMARY_REPORT_DAYS = 3        # R-CH-6


@dataclass(frozen=True)
class Deadline:
    """When something is due, and the rule that says so."""

    rule: str
    due_at: datetime
    #: working days (or None where the rule counts clock hours) behind the deadline
    working_days: int | None = None


@dataclass(frozen=True)
class Lateness:
    """How a piece of work met its deadline: late or not, and by how much."""

    rule: str
    late: bool
    by: timedelta            # clock time after the deadline (zero when on time)
    working_days: float      # working time after the deadline, in working days


@dataclass(frozen=True)
class LeadTimeProblem:
    """A change submitted too late for a lead time: the rule, and by when it was due."""

    rule: str
    required_by: datetime
    working_days: int


def account_done(cal: WorkingCalendar, received_at: datetime) -> Deadline:
    """R-AC-4: the account is done and the applicant told within 1 working day of receipt."""
    return Deadline("R-AC-4", cal.add_working_days(received_at, ACCOUNT_DONE_DAYS),
                    ACCOUNT_DONE_DAYS)


def data_delivery(cal: WorkingCalendar, approved_at: datetime) -> Deadline:
    """R-DX-4: the data is delivered within 3 working days of the (final) approval; when the
    president approved too, *approved_at* is the president's approval (R-GEN-1: time spent
    approving does not count)."""
    return Deadline("R-DX-4", cal.add_working_days(approved_at, DATA_DELIVERY_DAYS),
                    DATA_DELIVERY_DAYS)


def declared(cal: WorkingCalendar, start: datetime, *, rule: str,
             working_days: int | None = None, hours: float | None = None) -> Deadline:
    """A deadline a form kind declares as data (``[[deadlines]]`` in forms/<kind>.toml:
    R-AC-4, R-DX-4 and the rulebook's other kinds): *working_days* on the calendar, or
    *hours* of clock time, from *start*."""
    if working_days is not None:
        return Deadline(rule, cal.add_working_days(start, working_days), working_days)
    if hours is None:
        raise ValueError(f"{rule}: a deadline needs working_days or hours")
    return Deadline(rule, cal.local(start) + timedelta(hours=hours))


def announced_ahead(cal: WorkingCalendar, change_start: datetime, days: int) -> datetime:
    """The end of the *days*-th working day before the change's (local) day."""
    day: date = cal.local(change_start).date()
    for _ in range(days):
        day = cal.previous_working_day(day)
    return cal.end_of_working_day(day)


def live_users_notice(cal: WorkingCalendar, change_start: datetime) -> Deadline:
    """R-CH-2: a change affecting live users is announced 3 working days ahead."""
    return Deadline("R-CH-2", announced_ahead(cal, change_start, LIVE_CHANGE_LEAD_DAYS),
                    LIVE_CHANGE_LEAD_DAYS)


def cooperation_request(cal: WorkingCalendar, change_start: datetime) -> Deadline:
    """R-CH-3: the change request and plan reach a cooperating department 5 working days
    ahead."""
    return Deadline("R-CH-3", announced_ahead(cal, change_start, COOPERATION_LEAD_DAYS),
                    COOPERATION_LEAD_DAYS)


def starts_after_midnight(cal: WorkingCalendar, change_start: datetime) -> bool:
    """R-CH-2: a change affecting live users runs after midnight: between 00:00 and the
    start of working hours, local time."""
    return cal.local(change_start).time() < cal.work_start


def lead_time_problems(
    cal: WorkingCalendar,
    *,
    submitted_at: datetime,
    change_start: datetime,
    affects_live_users: bool,
    cooperating: bool,
    emergency: bool = False,
) -> list[LeadTimeProblem]:
    """The lead times (R-CH-2, R-CH-3) a change submitted at *submitted_at* misses, for the
    warning to the requester and the IT manager. An emergency change (R-CH-4) may be
    notified afterwards: no lead time applies."""
    if emergency:
        return []
    wanted: list[Deadline] = []
    if affects_live_users:
        wanted.append(live_users_notice(cal, change_start))
    if cooperating:
        wanted.append(cooperation_request(cal, change_start))
    return [LeadTimeProblem(d.rule, d.due_at, d.working_days or 0)
            for d in wanted if submitted_at > d.due_at]


def change_notice(cal: WorkingCalendar, change_start: datetime) -> Deadline:
    """R-CH-4: the change notice no later than 2 hours before the end of the working day
    before the change's day."""
    day = cal.previous_working_day(cal.local(change_start).date())
    return Deadline("R-CH-4", cal.end_of_working_day(day) - NOTICE_BEFORE_DAY_END)


def result_notice(cal: WorkingCalendar, change_end: datetime) -> Deadline:
    """R-CH-5: the result notice within 12 hours of the change's end."""
    return Deadline("R-CH-5", cal.local(change_end) + RESULT_NOTICE_WITHIN)


def summary_report(cal: WorkingCalendar, change_end: datetime) -> Deadline:
    """R-CH-6: the summary report of a complex change within 3 working days of its end."""
    return Deadline("R-CH-6", cal.add_working_days(change_end, SUMMARY_REPORT_DAYS),
                    SUMMARY_REPORT_DAYS)


def action_item(cal: WorkingCalendar, due_day: date, rule: str = "R-MT-5") -> Deadline:
    """R-MT-5 (and R-PM-13, a quality measure): an action item is due by the end of its due
    day (the last working day up to it, when the day given is not one)."""
    day = due_day if cal.is_working_day(due_day) else cal.previous_working_day(due_day)
    return Deadline(rule, cal.end_of_working_day(day))


def reminder_time(cal: WorkingCalendar, deadline: Deadline, working_days_before: int = 1
                  ) -> datetime:
    """When to remind the owner of *deadline*: the same time of day (kept inside working
    hours) *working_days_before* working days before the deadline's day."""
    here = cal.local(deadline.due_at)
    day = here.date()
    for _ in range(working_days_before):
        day = cal.previous_working_day(day)
    clock = min(max(here.time(), cal.work_start), cal.work_end)
    return datetime.combine(day, clock, tzinfo=cal.tz)


def lateness(cal: WorkingCalendar, deadline: Deadline, done_at: datetime) -> Lateness:
    """Whether work done at *done_at* met *deadline*, and by how much it missed it."""
    by = cal.local(done_at) - deadline.due_at
    if by <= timedelta(0):
        return Lateness(deadline.rule, False, timedelta(0), 0.0)
    return Lateness(deadline.rule, True, by,
                    cal.working_days_between(deadline.due_at, done_at))
