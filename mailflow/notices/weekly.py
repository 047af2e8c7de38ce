"""The weekly meeting's notice (R-MT-6, R-MT-1): the next meeting computed with APScheduler's
CronTrigger, its notice stored as due work (one row, moved on after each send), so no
scheduler thread fires in any process and several processes send it once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session

from mailflow.notices.send import NoticeSender
from mailflow.store import audit
from mailflow.store.models import DueWork
from mailflow.workflow import due

KIND = "notice.weekly_meeting"


class WeeklyMeeting:
    def __init__(self, sender: NoticeSender) -> None:
        self.sender = sender
        self.settings = sender.settings.weekly_meeting
        self.calendar = sender.calendar
        start = self.settings.start_time
        self.trigger = CronTrigger(day_of_week=self.settings.day_of_week, hour=start.hour,
                                   minute=start.minute, timezone=self.calendar.tz)

    def next_meeting(self, after: datetime) -> datetime:
        """The next meeting starting after *after* on a working day (R-GEN-2)."""
        moment = after
        for _ in range(60):
            fire = self.trigger.get_next_fire_time(None, moment)
            assert fire is not None
            if self.calendar.is_working_day(fire.date()):
                return self.calendar.local(fire)
            moment = fire + timedelta(minutes=1)
        raise ValueError("no working day for the weekly meeting within 60 weeks")

    def _notice_time(self, meeting: datetime) -> datetime:
        return meeting - timedelta(hours=self.settings.notice_hours_before)

    def ensure_scheduled(self, session: Session, now: datetime) -> None:
        """At start: the next notice is due work (a no-op when it already is)."""
        if not self.settings.enabled or not self.settings.attendees:
            due.cancel(session, kind=KIND)
            return
        if due.pending(session, kind=KIND):
            return
        # the next meeting still ahead: its notice now if its notice time has passed
        meeting = self.next_meeting(now)
        due.schedule(session, kind=KIND, due_at=max(self._notice_time(meeting), now),
                     payload={"meeting": meeting.isoformat()})

    def send(self, session: Session, work: DueWork, now: datetime) -> None:
        meeting = datetime.fromisoformat(str((work.payload or {}).get("meeting")))
        s = self.settings
        if s.enabled and s.attendees and meeting > now:
            end = datetime.combine(meeting.date(), s.end_time, tzinfo=self.calendar.tz)
            self.sender.queue(session, now, template="notices/attendees_meeting_notice",
                              context={"weekly": True,
                                       "to_names": self.sender.names(s.attendees),
                                       "meeting": {"title": s.title,
                                                   "start": self.sender.at(meeting),
                                                   "end": self.sender.at(end),
                                                   "place": s.place,
                                                   "host": self.sender.directory.name_of(
                                                       s.host) if s.host else "",
                                                   "agenda": s.agenda}},
                              to=list(s.attendees))
            audit.record(session, now, "weekly_meeting_notified", meeting=meeting.isoformat())
        following = self.next_meeting(max(meeting + timedelta(minutes=1), now))
        due.schedule(session, kind=KIND, due_at=max(self._notice_time(following), now),
                     payload={"meeting": following.isoformat()})
