"""Service-desk times for plain requests (seed 002; R-SD-1 first reply within 2 hours, R-SD-2
solution or progress within 24 hours), over the real Dovecot and SMTP with the clock set per
step: both times are due work from the moment the mail is registered; a time that passes
unanswered tells the desk (the IT manager in Cc); the desk's replies in the request's thread
are recorded as met or missed. Working time by default (24 hours = one working day), clock
time when configured."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from mailflow.config import Settings
from mailflow.notices.lifecycle import Lifecycle
from mailflow.notices.service_desk import ServiceDesk
from mailflow_testing import mailbuild
from tests.approvals_desk import LIN, WANG, ZHANG, Desk, directory, reply, text_of
from tests.stack import SERVICE

SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def ask(desk: Desk, when: datetime) -> Any:
    got = desk.send(mailbuild.human_mail(sender=f"张伟 <{ZHANG}>", to=SERVICE,
                                         subject="打印机连不上", body="三楼打印机无法打印。"),
                    when)
    return got[ZHANG][0]


def test_first_reply_missed_is_chased_then_progress_is_met_r_sd_1_r_sd_2(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = Desk(mailstack, database_url, tmp_path,
                approvals={"handlers": {"general": LIN}})
    ack = ask(desk, at("2026-12-01T10:00"))          # Tuesday
    request = desk.request()
    assert (request.kind, request.status) == ("general", "received")
    (times,) = desk.actions("deadlines_set")
    due = {rule: datetime.fromisoformat(when) for rule, when in times.detail["deadlines"].items()}
    # 2 working hours; 24 hours read as one working day (R-GEN-2)
    assert due == {"R-SD-1": at("2026-12-01T12:00"), "R-SD-2": at("2026-12-02T10:00")}

    assert desk.tick(at("2026-12-01T11:59")) == {}
    got = desk.tick(at("2026-12-01T12:00"))         # on the minute
    (overdue,) = got[LIN]
    assert "尚未首次回复" in str(overdue["Subject"]) and "R-SD-1" in text_of(overdue)
    assert WANG in got                                # the IT manager in Cc
    assert [e.detail["rule"] for e in desk.actions("service_desk_missed")] == ["R-SD-1"]

    desk.send(reply(ack, sender=LIN, body="正在处理，预计今天下班前修复。"),
              at("2026-12-01T12:30"))
    (met,) = desk.actions("service_desk_met")
    assert met.detail["rule"] == "R-SD-2"
    assert desk.tick(at("2026-12-02T10:01")) == {}    # the progress report came in time


def test_clock_time_counts_around_the_clock_and_a_bare_reply_is_only_the_first_r_sd_1(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = Desk(mailstack, database_url, tmp_path,
                approvals={"handlers": {"general": LIN}},
                service_desk={"measure": "clock"})
    ack = ask(desk, at("2026-12-05T10:00"))          # Saturday
    desk.send(reply(ack, sender=LIN, body="收到，马上安排人看。"), at("2026-12-05T11:00"))
    (met,) = desk.actions("service_desk_met")
    assert met.detail["rule"] == "R-SD-1"
    assert desk.tick(at("2026-12-06T09:59")) == {}
    got = desk.tick(at("2026-12-06T10:01"))          # Sunday: 24 clock hours
    assert "尚未给出解决方案或进展" in str(got[LIN][0]["Subject"])


def test_a_reply_from_outside_it_is_no_reply_of_the_desk_r_sd_1(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = Desk(mailstack, database_url, tmp_path)
    ack = ask(desk, at("2026-12-01T10:00"))
    desk.send(reply(ack, sender=ZHANG, body="补充：是三楼东侧那台，进展如何？"),
              at("2026-12-01T10:30"))
    assert not desk.actions("service_desk_met")
    got = desk.tick(at("2026-12-01T12:01"))
    assert "尚未首次回复" in str(got[WANG][0]["Subject"])  # no handler named: the IT manager


def test_working_measure_spans_the_night_and_the_weekend() -> None:
    settings = Settings.model_validate(directory())
    desk = ServiceDesk(settings, Lifecycle(settings, settings.templates()))
    times = desk.due_times(at("2026-12-04T17:30"))   # Friday 17:30
    assert times["R-SD-1"] == at("2026-12-07T10:30")  # Monday 10:30
    assert times["R-SD-2"] == at("2026-12-07T17:30")  # one working day later
