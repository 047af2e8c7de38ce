"""When something happened, or is due, as people write it in a mail: "今天上午10点左右",
"12月3日 14:00", "昨天下午", "2小时前", "since yesterday", "明天18:00前", "3小时内".

Why our own reader: no date-parsing library is in the lock, and what customers write is a
small grammar — a day (absolute, or relative to the mail's date), a part of the day, a clock
time, or an offset — read here against the mail's local date. None when the text names no
time; the caller then uses the mail's own Date (R-PM-1: 问题出现时间).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from mailflow.tickets.words import folded

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}


def cn_number(text: str) -> int | None:
    """12, 十二, 二十三, 两 → int; None if not a number."""
    if text.isdigit():
        return int(text)
    if not text or any(c not in _CN_DIGITS and c != "十" for c in text):
        return None
    if "十" in text:
        tens, _, units = text.partition("十")
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[units] if units else 0)
    value = 0
    for c in text:
        value = value * 10 + _CN_DIGITS[c]
    return value


_NUM = r"(\d{1,2}|[零〇一二两三四五六七八九十]{1,3})"
_DAYS = {"今天": 0, "今日": 0, "今早": 0, "今晨": 0, "today": 0, "this morning": 0,
         "this afternoon": 0, "tonight": 0, "昨天": -1, "昨日": -1, "昨晚": -1,
         "yesterday": -1, "前天": -2, "明天": 1, "明日": 1, "明早": 1, "明晚": 1, "tomorrow": 1,
         "后天": 2}
_PARTS = {"凌晨": 3, "早上": 8, "早晨": 8, "今早": 8, "今晨": 8, "上午": 9, "中午": 12,
          "下午": 14, "下班": 18, "傍晚": 18, "晚上": 20, "昨晚": 20, "明晚": 20, "明早": 8,
          "夜里": 22, "半夜": 0,
          "this morning": 9, "morning": 9, "afternoon": 14, "this afternoon": 14,
          "evening": 19, "tonight": 20, "night": 22}
_PM_PARTS = {"下午", "傍晚", "晚上", "昨晚", "明晚", "夜里", "afternoon", "this afternoon",
             "evening", "tonight", "night"}
_NOW_WORDS = ("刚才", "刚刚", "just now", "right now")

#: a date; written with dots, dashes or slashes only when it is not part of a version or a
#: path ("V3.2", "2.5.1", "/v1/2")
_DATE = re.compile(r"(?:(\d{4})\s*[年\-/.]\s*)?(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*[日号]?")
_VERSION_LIKE = re.compile(r"[a-z\d./_-]")
_WEEKDAYS = "一二三四五六日天"
_WEEKDAY = re.compile(r"(上上|上|这|本|下)?\s*(?:个)?\s*(?:周|星期|礼拜)([一二三四五六日天1-7])")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_EN_DATE = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b|"
                      rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}")
_CLOCK = re.compile(r"(\d{1,2})\s*[:：]\s*(\d{2})(?:\s*(am|pm))?|"
                    + _NUM + r"\s*(?:点|時|时)\s*(?:(半)|" + _NUM + r"\s*分?)?|"
                    r"(\d{1,2})\s*(am|pm|o'clock)")
_AGO = re.compile(r"(半|" + _NUM[1:-1] + r")\s*(分钟|小时|个小时|个钟头|天|周|个星期|星期)\s*"
                  r"(?:以前|之前|前)|"
                  r"(\d+)\s*(minutes?|hours?|days?)\s+ago")
_WITHIN = re.compile(_NUM + r"\s*(分钟|小时|个小时|天|个工作日|工作日)\s*(?:以内|之内|内)|"
                     r"within\s+(\d+)\s*(minutes?|hours?|days?)|in\s+(\d+)\s*(hours?|days?)")
_UNITS = {"分钟": "minutes", "minute": "minutes", "minutes": "minutes", "小时": "hours",
          "个小时": "hours", "个钟头": "hours", "hour": "hours", "hours": "hours", "天": "days",
          "day": "days", "days": "days", "周": "weeks", "个星期": "weeks", "星期": "weeks",
          "个工作日": "days", "工作日": "days"}


@dataclass(frozen=True)
class Moment:
    at: datetime
    text: str  # the words it was read from


def _folded(text: str) -> str:
    """Folded, and 一刻/三刻 as minutes (九点一刻 is 9:15); one character for one."""
    return folded(text).replace("一刻", "15").replace("三刻", "45")


#: a time's parts stand in one sentence: a date in the signature is not the day of "昨晚"
_SENTENCE = re.compile(r"[^\n。！？；!?;]+")


def read_moment(text: str, base: datetime) -> Moment | None:
    """The first time *text* names, against *base* (aware, local); None when none. Read
    sentence by sentence, so parts of different sentences are not put together."""
    for sentence in _SENTENCE.finditer(text):
        found = _moment_in(sentence.group(0), base)
        if found is not None:
            return found
    return None


def _moment_in(text: str, base: datetime) -> Moment | None:
    low = _folded(text)
    for match in _AGO.finditer(low):
        written = match.group(1) or match.group(3) or ""
        number: float | None = 0.5 if written == "半" else cn_number(written)
        unit = _UNITS.get((match.group(2) or match.group(4) or "").rstrip("s") + "s"
                          if match.group(4) else match.group(2) or "")
        if number is not None and unit:
            return Moment(base - timedelta(**{unit: number}), match.group(0))
    if any(w in low for w in _NOW_WORDS):
        word = next(w for w in _NOW_WORDS if w in low)
        return Moment(base, word)
    found = _dated(low, base)
    if found is not None and len(low) == len(text):  # the words as written, not folded
        at = low.find(found.text)
        if at >= 0:
            return Moment(found.at, text[at:at + len(found.text)])
    return found


def read_within(text: str, base: datetime) -> Moment | None:
    """A due time: "3小时内", "2天内", "within 4 hours", or a named time ("明天18:00前")."""
    low = _folded(text)
    match = _WITHIN.search(low)
    if match:
        number = cn_number(match.group(1) or match.group(3) or match.group(5) or "")
        raw_unit = match.group(2) or match.group(4) or match.group(6) or ""
        unit = _UNITS.get(raw_unit) or _UNITS.get(raw_unit.rstrip("s"))
        if number is not None and unit:
            return Moment(base + timedelta(**{unit: number}), match.group(0))
    found = _dated(low, base, ahead=True)
    if found is not None and _CLOCK.search(found.text) is None and \
            not any(part in found.text for part in _PARTS):
        # "今天要解决", "周五前", "12月5日前": by the end of that day
        return Moment(found.at + timedelta(days=1), found.text)
    if found is not None and found.at <= base and found.at.date() == base.date() \
            and not any(w in found.text for w in _DAYS):
        # "18:00前" written after 18:00 means tomorrow's
        return Moment(found.at + timedelta(days=1), found.text)
    return found


def _dated(low: str, base: datetime, ahead: bool = False) -> Moment | None:
    """The day, part of day and clock time *low* names; a bare weekday is the last one
    (a problem's start) or, when *ahead*, the next one (a due time)."""
    day = base.date()
    start = end = -1
    words: list[str] = []
    date_match = _date_in(low)
    if date_match:
        year = int(date_match.group(1)) if date_match.group(1) else base.year
        try:
            day = day.replace(year=year, month=int(date_match.group(2)),
                              day=int(date_match.group(3)))
        except ValueError:
            date_match = None
        else:
            start, end = date_match.span()
    else:
        date_match = None
        english = _EN_DATE.search(low)
        if english is not None:
            month = _MONTHS.index(english.group(1) or english.group(4)) + 1
            try:
                day = day.replace(month=month, day=int(english.group(2) or english.group(3)))
            except ValueError:
                english = None
            else:
                start, end = english.span()
                date_match = english
    relative = None
    if date_match is None:
        for word, offset in sorted(_DAYS.items(), key=lambda kv: -len(kv[0])):
            at = low.find(word)
            if at >= 0:
                relative = word
                day = day + timedelta(days=offset)
                start, end = at, at + len(word)
                break
    if date_match is None and relative is None:
        weekday = _WEEKDAY.search(low)
        if weekday is not None:
            relative = weekday.group(0)
            day = _weekday(day, weekday.group(1) or "", weekday.group(2), ahead)
            start, end = weekday.span()
    part = None
    for word in sorted(_PARTS, key=len, reverse=True):
        at = low.find(word)
        if at >= 0:
            part = word
            start, end = (min(start, at), max(end, at + len(word))) if start >= 0 \
                else (at, at + len(word))
            break
    clock = _clock(low, date_match.end() if date_match else 0)
    if clock is None and part is None and date_match is None and relative is None:
        return None
    hour, minute = (_PARTS[part], 0) if part else (0, 0)
    if clock is not None:
        hour, minute, (cs, ce), meridiem = clock
        if (meridiem == "pm" or (part in _PM_PARTS)) and hour < 12:
            hour += 12
        start = cs if start < 0 else min(start, cs)
        end = max(end, ce)
    words.append(low[start:end])
    try:
        moment = datetime(day.year, day.month, day.day, hour % 24, minute, tzinfo=base.tzinfo)
    except ValueError:
        return None
    return Moment(moment, "".join(words).strip())


def _date_in(low: str) -> re.Match[str] | None:
    """The first plausible date; one written with marks only (3.2, 11/30) must not be part
    of a version, a path or a longer number."""
    for match in _DATE.finditer(low):
        if not _plausible_date(match):
            continue
        text = match.group(0)
        if not any(c in text for c in "年月日号") and match.group(1) is None:
            before = low[match.start() - 1] if match.start() else " "
            after = low[match.end():match.end() + 2]
            if _VERSION_LIKE.fullmatch(before) or re.match(r"[./-]\d|[a-z_]", after):
                continue
        return match
    return None


def _weekday(day: date, which: str, name: str, ahead: bool) -> date:
    """周五, 上周五, 下周一, 本周三 against *day*."""
    index = int(name) - 1 if name.isdigit() else min(_WEEKDAYS.index(name), 6)
    monday = day - timedelta(days=day.weekday())
    weeks = {"上上": -2, "上": -1, "这": 0, "本": 0, "下": 1}
    if which:
        return monday + timedelta(days=7 * weeks[which] + index)
    named = monday + timedelta(days=index)
    if ahead:
        return named if named >= day else named + timedelta(days=7)
    return named if named <= day else named - timedelta(days=7)


def _plausible_date(match: re.Match[str]) -> bool:
    """A month and a day (a phone number's digits are neither)."""
    return 1 <= int(match.group(2)) <= 12 and 1 <= int(match.group(3)) <= 31


def _clock(low: str, after: int) -> tuple[int, int, tuple[int, int], str] | None:
    for match in _CLOCK.finditer(low, after):
        if match.group(1):
            hour, minute, meridiem = int(match.group(1)), int(match.group(2)), \
                match.group(3) or ""
        elif match.group(4):
            hour_n = cn_number(match.group(4))
            if hour_n is None:
                continue
            minute_n = 30 if match.group(5) else cn_number(match.group(6) or "0")
            hour, minute, meridiem = hour_n, minute_n or 0, ""
        else:
            hour, minute = int(match.group(7)), 0
            meridiem = match.group(8) if match.group(8) in ("am", "pm") else ""
        if hour <= 24 and minute < 60:
            return hour, minute, match.span(), meridiem
    return None
