"""Value parsers: the text (or typed cell) a person wrote → a typed value, or a problem code.

Each parser is pure and raises ``ValueProblem(code)`` with one of the codes documented in
``reading.py``; the caller attaches the field. They accept the ways people in practice
write things on Chinese forms: 2026年11月25日, 11月25日 (year from the mail), Excel serial
numbers, "23:30 至 次日 01:30", ☑/■/√/[x] marks, lists separated by 、，；/ or new lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from mailflow.documents.layout import RawValue, raw_text
from mailflow.documents.text import clean_value, fold, squeeze


class ValueProblem(Exception):
    """A value could not be read; ``code`` is one of the FieldProblem codes."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class TimeRange:
    """A planned window; ``end`` may fall on the next day (changes cross midnight)."""

    start: datetime
    end: datetime

    def as_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


# --- dates and times ---------------------------------------------------------------------

_EXCEL_EPOCH = date(1899, 12, 30)
_SERIAL_RANGE = (10_000, 80_000)  # 1927 … 2119: a number outside is not meant as a date

_YMD = r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号]?"
_MD = r"(?P<m2>\d{1,2})\s*月\s*(?P<d2>\d{1,2})\s*[日号]?"
_DOM = r"(?P<d3>[0-3]?\d)\s*[日号]"  # "26日 01:30": a day of the start's month (range ends)
# "11-26 01:30", "11/26 01:30": a month and day with no year, only when a time follows (a
# bare "11/25" stays no date)
_MD_TIMED = r"(?P<m4>1[0-2]|0?[1-9])[-/.](?P<d4>[0-3]?\d)(?=\s+\d{1,2}\s*[:时点])"
_NEXT = r"(?P<next>次日|翌日|第二天|次晨)"
_WEEKDAY = r"(?:\s*\(?\s*(?:周|星期|礼拜)[一二三四五六日天]\s*\)?)?"
_PERIOD = r"(?P<ap>上午|下午|晚上|晚间|凌晨|中午|早上|早晨|傍晚|夜间|夜里|深夜|晚|早|am|pm)?"
_TIME = (
    _PERIOD
    + r"\s*(?P<h>\d{1,2})\s*(?:(?::\s*(?P<mi>\d{1,2})(?::\d{1,2})?)"
    + r"|(?:[时点]\s*(?:(?P<mi2>\d{1,2})\s*分?|(?P<half>半))?)|(?=\s*(?:am|pm)\b))"
    + r"\s*(?P<ap2>am|pm)?"
)
_MOMENT = re.compile(
    rf"(?:(?:{_YMD}|{_MD}|{_MD_TIMED}|{_DOM}|{_NEXT}){_WEEKDAY}[\s,，]*(?:t\s*)?)?"
    rf"(?:{_TIME})?{_WEEKDAY}",
)
# "2026年12月1日起", "自12月1日起生效", "截至11月30日前完成": the date is the date
_DATE_SUFFIX = re.compile(
    r"(?:(?:之前|以前|前|为止|止|起|开始|起生效|生效|当天|当日)(?:完成|提供|交付|执行)?|完成|之内|内)$"
)
_DATE_PREFIX = re.compile(r"^(?:自|从|于|在|截至|截止(?:到|至)?|不晚于|最晚|最迟|预计|计划)")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
         ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
         ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
         ("dec", "december")),
        start=1,
    )
    for name in names
}
_MONTH_NAME = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ORDINAL = r"(?:st|nd|rd|th)?"
# "30 Nov 2026", "30-Nov-2026", "Nov 30, 2026", "November 30th 2026", "Nov. 30" (folded text)
_DAY_MONTH = re.compile(
    rf"\b(?P<d>[0-3]?\d){_ORDINAL}[\s\-/.]*(?:of\s+)?(?P<mon>{_MONTH_NAME})\b\.?"
    rf"(?:,?[\s\-/.]*(?P<y>\d{{4}}))?"
)
_MONTH_DAY = re.compile(
    rf"\b(?P<mon>{_MONTH_NAME})\b\.?[\s\-/.]*(?P<d>[0-3]?\d){_ORDINAL}\b"
    rf"(?:,?[\s\-/.]*(?P<y>\d{{4}}))?"
)
# 30/11/2026 or 11/30/2026: read only when one number cannot be a month
_NUMERIC_DMY = re.compile(r"\b(?P<a>\d{1,2})(?P<s>[/.])(?P<b>\d{1,2})(?P=s)(?P<y>\d{4})\b")
_MONTH_END = re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?:底|末|最后一天)")
_TODAY = frozenset({"即日", "即日起", "即刻", "立即", "当日", "当天", "今日", "今天"})


def _chinese_date(y: str | None, m: int, d: int) -> str:
    return f"{y}年{m}月{d}日" if y else f"{m}月{d}日"


def english_dates(text: str) -> str:
    """*text* (folded) with English and day-first dates rewritten as 2026年11月30日."""
    if not any(ch.isascii() and ch.isalpha() for ch in text) and not re.search(r"\d[/.]\d", text):
        return text

    def named(m: re.Match[str]) -> str:
        return _chinese_date(m.group("y"), _MONTHS[m.group("mon")], int(m.group("d")))

    def numeric(m: re.Match[str]) -> str:
        a, b = int(m.group("a")), int(m.group("b"))
        if a > 12 >= b:
            return _chinese_date(m.group("y"), b, a)
        if b > 12 >= a:
            return _chinese_date(m.group("y"), a, b)
        return m.group(0)

    text = _DAY_MONTH.sub(named, text)
    text = _MONTH_DAY.sub(named, text)
    return _NUMERIC_DMY.sub(numeric, text)


def _month_end(m: re.Match[str]) -> str:
    year, month = int(m.group("y")), int(m.group("m"))
    if not 1 <= month <= 12:
        return m.group(0)
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return f"{year}年{month}月{(first_of_next - timedelta(days=1)).day}日"


def _date_text(raw: str) -> str:
    """The folded text of a date value, English dates rewritten, with 自…起/前 words cut;
    "2026年11月底" is the month's last day."""
    text = _MONTH_END.sub(_month_end, squeeze(english_dates(fold(raw))))
    text = text.strip("。.,，;；")
    text = _DATE_PREFIX.sub("", text)
    return _DATE_SUFFIX.sub("", text)


_WEEKDAYS = "一二三四五六日"
_RELATIVE_WEEK = re.compile(
    r"(本周|这周|本星期|这星期|下周|下星期|上周|上星期)([一二三四五六日天])")
_RELATIVE_DAY = re.compile(r"(今天|今日|明天|明日|后天|昨天|昨日)")
_DAY_OFFSETS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "昨天": -1, "昨日": -1}


def relative_days(text: str, hint: object) -> str:
    """*text* with 本周四 / 下周三 / 明天 … rewritten as dates counted from *hint* (the form's or
    the mail's day); unchanged without a reference day (then they stay unreadable)."""
    if not isinstance(hint, date) or not any(w in text for w in ("周", "星期", "天", "日")):
        return text

    def week(m: re.Match[str]) -> str:
        shift = {"下": 7, "上": -7}.get(m.group(1)[0], 0)
        target = _WEEKDAYS.index("日" if m.group(2) == "天" else m.group(2))
        monday = hint - timedelta(days=hint.weekday())
        day = monday + timedelta(days=shift + target)
        return f"{day.year}年{day.month}月{day.day}日"

    def single(m: re.Match[str]) -> str:
        day = hint + timedelta(days=_DAY_OFFSETS[m.group(1)])
        return f"{day.year}年{day.month}月{day.day}日"

    return _RELATIVE_DAY.sub(single, _RELATIVE_WEEK.sub(week, text))


YearHint = int | date | None
"""What completes a date written without a year: a year, or a reference day (the form's own
date or the mail's), in which case the year that puts the date nearest to it is taken
("1月5日" in a mail of 20 December is next January)."""


def _year_for(hint: YearHint, month: int, day: int) -> int:
    if hint is None:
        raise ValueProblem("invalid_date")
    if isinstance(hint, int):
        return hint
    best: tuple[int, int] | None = None
    for year in (hint.year - 1, hint.year, hint.year + 1):
        try:
            distance = abs((date(year, month, day) - hint).days)
        except ValueError:
            continue
        if best is None or distance < best[0]:
            best = (distance, year)
    if best is None:
        raise ValueProblem("invalid_date")
    return best[1]
_RANGE_SEPARATOR = re.compile(
    r"^\s*(?:起|开始)?\s*(?:至|到|~|～|-{1,2}|—{1,2}|–|－|—|to|/)\s*$")
_END_WORD = re.compile(r"\s*(?:止|为止|结束|完成)$")
_TRAILING_NOTE = re.compile(r"\s*\(([^()]*)\)$")


@dataclass(frozen=True)
class _Moment:
    day: date | None
    next_day: bool
    clock: time | None
    span: tuple[int, int]
    month_day: int | None = None  # "26日": only the day of the month was written


def _moments(text: str, default_year: YearHint) -> list[_Moment]:
    """Every date/time mention in *text* (already folded), in order."""
    found: list[_Moment] = []
    for m in _MOMENT.finditer(text):
        if m.end() == m.start():
            continue
        groups = m.groupdict()
        day: date | None = None
        if groups["y"]:
            day = _make_date(int(groups["y"]), int(groups["m"]), int(groups["d"]))
        elif groups["m2"] or groups["m4"]:
            month = int(groups["m2"] or groups["m4"] or 0)
            dom = int(groups["d2"] or groups["d4"] or 0)
            day = _make_date(_year_for(default_year, month, dom), month, dom)
        month_day = int(groups["d3"]) if groups["d3"] else None
        clock = _make_time(groups) if groups["h"] is not None else None
        if day is None and clock is None and not groups["next"] and month_day is None:
            continue
        found.append(_Moment(day, bool(groups["next"]), clock, m.span(), month_day))
    return found


def _make_date(y: int, m: int, d: int) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise ValueProblem("invalid_date") from None


def _make_time(groups: dict[str, str | None]) -> time:
    hour = int(groups["h"] or 0)
    minute = int(groups["mi"] or groups["mi2"] or 0) + (30 if groups["half"] else 0)
    period = groups["ap"] or groups["ap2"] or ""
    afternoon = period in ("下午", "晚上", "晚间", "晚", "傍晚", "夜间", "pm")
    if (afternoon and hour < 12) or (period == "中午" and hour < 11):
        hour += 12
    if hour == 24 and minute == 0:
        hour = 0  # "24:00" is the next midnight; callers see it via end <= start
    if hour > 23 or minute > 59:
        raise ValueProblem("invalid_datetime")
    return time(hour, minute)


def _leftover(text: str, moments: Sequence[_Moment]) -> str:
    """What remains of *text* once the date mentions are cut out (to reject "下周三前")."""
    pieces, last = [], 0
    for m in moments:
        pieces.append(text[last : m.span[0]])
        last = m.span[1]
    pieces.append(text[last:])
    return squeeze("".join(pieces))


def _serial(value: float) -> datetime | None:
    if not _SERIAL_RANGE[0] <= value < _SERIAL_RANGE[1]:
        return None
    return datetime.combine(_EXCEL_EPOCH, time()) + timedelta(days=value)


def parse_date(raw: RawValue, default_year: YearHint = None) -> date:
    """2026-11-25, 2026/11/25, 2026.11.25, 2026年11月25日, 11月25日, 20261125, Excel serial,
    30 Nov 2026, Nov 30, 2026, and the same with 自/起/前/止 around it."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, bool | time):
        raise ValueProblem("invalid_date")
    if isinstance(raw, int | float):
        moment = _serial(float(raw))
        if moment is None:
            raise ValueProblem("invalid_date")
        return moment.date()
    text = _date_text(raw)
    if text in _TODAY and isinstance(default_year, date):
        return default_year  # "即日起": from the day of the form (or of the mail)
    if re.fullmatch(r"\d{5}(?:\.\d+)?", text):
        moment = _serial(float(text))
        if moment is not None:
            return moment.date()
    if re.fullmatch(r"\d{8}", text):
        return _make_date(int(text[:4]), int(text[4:6]), int(text[6:]))
    try:
        moments = _moments(text, default_year)
    except ValueProblem:
        raise ValueProblem("invalid_date") from None
    if len(moments) != 1 or moments[0].day is None or _leftover(text, moments):
        raise ValueProblem("invalid_date")
    return moments[0].day


def parse_datetime(raw: RawValue, default_year: YearHint = None) -> datetime:
    """A date with a time of day: "2026-11-25 23:30", "11月25日 23时30分", an Excel datetime.

    A range written where one moment is asked ("16:00-18:00") reads as its start.
    """
    if isinstance(raw, datetime):
        return raw.replace(second=0, microsecond=0)
    if isinstance(raw, bool | date | time):
        raise ValueProblem("invalid_datetime")
    if isinstance(raw, int | float):
        moment = _serial(float(raw))
        if moment is None:
            raise ValueProblem("invalid_datetime")
        return (moment + timedelta(seconds=30)).replace(second=0, microsecond=0)
    text = _moment_text(raw)
    try:
        moments = _moments(text, default_year)
    except ValueProblem:
        raise ValueProblem("invalid_datetime") from None
    if not moments or _leftover_range(text, moments):
        raise ValueProblem("invalid_datetime")
    first = moments[0]
    if first.day is None or first.clock is None:
        raise ValueProblem("invalid_datetime")
    return datetime.combine(first.day, first.clock)


def _moment_text(raw: str) -> str:
    """The folded text of a moment or a range, English dates rewritten, end stops cut."""
    text = english_dates(fold(clean_value(raw))).strip().strip("。.,，;；")
    note = _TRAILING_NOTE.search(text)
    if note and not re.search(r"周|星期|礼拜", note.group(1)):
        text = text[: note.start()]  # "（共2小时）", "(北京时间)"
    return _END_WORD.sub("", _DATE_PREFIX.sub("", text).strip()).strip()


def _leftover_range(text: str, moments: Sequence[_Moment]) -> bool:
    """True when *text* holds more than moments joined by a range word (至, 到, -, ~)."""
    if len(moments) > 2:
        return True
    pieces = [text[: moments[0].span[0]], text[moments[-1].span[1] :]]
    if squeeze("".join(pieces)):
        return True
    if len(moments) == 2:
        between = text[moments[0].span[1] : moments[1].span[0]]
        return not _RANGE_SEPARATOR.match(between)
    return False


def parse_time_range(
    raw: RawValue, default_year: YearHint = None, base_day: date | None = None
) -> TimeRange:
    """ "2026-11-25 23:30 至 2026-11-26 01:30", "11月25日 23:30 至 次日 01:30", "23:30-01:30".

    A range given as times only takes its day from *base_day* (the form's change date). An
    end without a date is on the start's day, or the next day when it is not after the
    start (the change crosses midnight). Explicit dates the wrong way round are
    ``end_before_start``.
    """
    if not isinstance(raw, str):
        raise ValueProblem("invalid_time_range")
    text = _moment_text(raw)
    try:
        moments = _moments(text, default_year)
    except ValueProblem:
        raise ValueProblem("invalid_time_range") from None
    if len(moments) != 2 or _leftover_range(text, moments):
        raise ValueProblem("invalid_time_range")
    start = moment_start(moments[0], base_day)
    return TimeRange(start, moment_end(moments[1], start))


def moment_start(m: _Moment, base_day: date | None) -> datetime:
    day = m.day or base_day
    if day is not None and m.day is None and m.month_day is not None:
        day = _make_date(day.year, day.month, m.month_day)
    if day is None or m.clock is None or m.next_day:
        raise ValueProblem("invalid_time_range")
    return datetime.combine(day, m.clock)


def moment_end(m: _Moment, start: datetime) -> datetime:
    if m.clock is None:
        raise ValueProblem("invalid_time_range")
    if m.day is not None:
        end = datetime.combine(m.day, m.clock)
        if end < start:
            raise ValueProblem("end_before_start")
        return end
    if m.month_day is not None:  # "至 26日 01:30": the start's month (or the next one)
        month = start.date().replace(day=1)
        if m.month_day < start.day:
            month = (month + timedelta(days=32)).replace(day=1)
        end = datetime.combine(_make_date(month.year, month.month, m.month_day), m.clock)
        if end < start:
            raise ValueProblem("end_before_start")
        return end
    day = start.date() + timedelta(days=1) if m.next_day else start.date()
    end = datetime.combine(day, m.clock)
    if end <= start and not m.next_day:
        end += timedelta(days=1)
    if end < start:
        raise ValueProblem("end_before_start")
    return end


def parse_range_parts(
    start_raw: RawValue,
    end_raw: RawValue,
    default_year: YearHint = None,
    base_day: date | None = None,
) -> TimeRange:
    """A range given in two cells (计划开始时间 / 计划结束时间); the end may say 次日 01:30."""
    start = _one_moment(start_raw, default_year, base_day, None)
    end = _one_moment(end_raw, default_year, base_day, start)
    return TimeRange(start, end)


def _one_moment(
    raw: RawValue, default_year: YearHint, base_day: date | None, start: datetime | None
) -> datetime:
    if isinstance(raw, datetime):
        moment = raw.replace(second=0, microsecond=0)
        if start is not None and moment < start:
            raise ValueProblem("end_before_start")
        return moment
    if isinstance(raw, time):
        raw = raw.strftime("%H:%M")
    if not isinstance(raw, str):
        try:
            return _one_moment(parse_datetime(raw), default_year, base_day, start)
        except ValueProblem:
            raise ValueProblem("invalid_datetime") from None
    text = _moment_text(raw)
    try:
        moments = _moments(text, default_year)
    except ValueProblem:
        raise ValueProblem("invalid_datetime") from None
    if len(moments) != 1 or _leftover(text, moments):
        raise ValueProblem("invalid_datetime")
    try:
        if start is None:
            return moment_start(moments[0], base_day)
        return moment_end(moments[0], start)
    except ValueProblem as exc:
        raise ValueProblem(
            "end_before_start" if exc.code == "end_before_start" else "invalid_datetime"
        ) from None


# --- choices, yes/no ---------------------------------------------------------------------

MARKED = frozenset("☑☒■√✓✔●◉▣✅▪⊠")
UNMARKED = frozenset("☐□○◯▢")
TICKS = frozenset("√✓✔✅")
_BRACKET_MARKED = re.compile(r"[\[(]\s*[x√✓✔v*]\s*[\])]")
_BRACKET_EMPTY = re.compile(r"[\[(]\s*[\])]")


def _mark_text(text: str) -> str:
    """Fold and turn "[x]", "(√)" into ☑ and "[ ]", "( )" into ☐ (one character each)."""
    folded = fold(text)
    folded = _BRACKET_MARKED.sub("☑", folded)
    return _BRACKET_EMPTY.sub("☐", folded)


def _occurrences(text: str, choices: Sequence[str]) -> list[tuple[int, int, int]]:
    """(start, end, choice index) of each choice in *text*, longest choices first, no overlap."""
    taken = [False] * len(text)
    found: list[tuple[int, int, int]] = []
    order = sorted(range(len(choices)), key=lambda i: -len(choices[i]))
    for i in order:
        needle = fold(choices[i])
        start = text.find(needle)
        while start >= 0:
            end = start + len(needle)
            if not any(taken[start:end]):
                found.append((start, end, i))
                for k in range(start, end):
                    taken[k] = True
            start = text.find(needle, end)
    return sorted(found)


def _neighbour(text: str, pos: int, step: int) -> tuple[str, int]:
    """The first non-space character from *pos* going *step* (+1/-1), and its index."""
    while 0 <= pos < len(text):
        if not text[pos].isspace():
            return text[pos], pos
        pos += step
    return "", -1


def marked_choices(text: str, choices: Sequence[str]) -> tuple[list[int], bool]:
    """Indices of the choices marked in *text*, and whether *text* used marks at all.

    The side the boxes sit on (☐绝密 or 绝密☐) is taken from the majority; a tick written on
    the other side of an unticked box ("☐机密√") still counts unless it is the next choice's
    own box.
    """
    occ = _occurrences(text, choices)
    marks = MARKED | UNMARKED
    used = any(ch in marks for ch in text)
    if not occ:
        return [], used
    before = [_neighbour(text, s - 1, -1) for s, _, _ in occ]
    after = [_neighbour(text, e, 1) for _, e, _ in occ]
    boxes_before = sum(ch in marks and ch not in TICKS for ch, _ in before)
    boxes_after = sum(ch in marks and ch not in TICKS for ch, _ in after)
    ticks_only = boxes_before == boxes_after == 0
    if ticks_only:
        boxes_before = sum(ch in marks for ch, _ in before)
        boxes_after = sum(ch in marks for ch, _ in after)
    # a box sits before its word (☐机密); a tick written by hand follows it ("是√ 否")
    before_wins = boxes_before > boxes_after or (boxes_before == boxes_after and not ticks_only)
    own, other = (before, after) if before_wins else (after, before)
    owned = {pos for _, pos in own if pos >= 0}
    chosen: list[int] = []
    for k, (_, _, index) in enumerate(occ):
        ch_own, _ = own[k]
        ch_other, pos_other = other[k]
        ticked = ch_own in MARKED or (ch_other in MARKED and pos_other not in owned)
        if ticked and index not in chosen:
            chosen.append(index)
    return chosen, used


def parse_choices(raw: RawValue, choices: Sequence[str]) -> list[str]:
    """All choices selected in *raw*: marked ones if marks are used, else the ones written.

    Returns [] for an empty value or boxes left unticked. Raises ``not_a_choice`` when
    something is written or ticked that is none of the choices.
    """
    text = _mark_text(raw_text(raw))
    if not squeeze(text):
        return []
    chosen, used_marks = marked_choices(text, choices)
    if used_marks:
        leftover = _strip_choices(text, choices)
        if not chosen and any(ch in MARKED for ch in leftover):
            raise ValueProblem("not_a_choice")
        return [choices[i] for i in sorted(chosen)]
    written = sorted({i for _, _, i in _occurrences(text, choices)})
    if not written:
        raise ValueProblem("not_a_choice")
    return [choices[i] for i in written]


@dataclass(frozen=True)
class ChoiceAnswer:
    """A choice field answered in words: the options named, and the rest kept as a note."""

    chosen: tuple[str, ...]
    note: str = ""


_CONNECTORS = re.compile(
    r"\s*(?:以及|及|和|与|或者|或|跟|加|\+|&|、|，|,|;|；|/|\band\b|\bor\b|\s)\s*"
)
_BRACKETED = re.compile(r"[(（\[【]([^()（）\[\]【】]*)[)）\]】]")
_FILLER = re.compile(
    r"^(?:格式|文件|表格|形式|方式|均可|都要|都可以|皆可|各一份|两种|两份|版本|版|的|等)+$"
)


def parse_choices_noted(raw: RawValue, choices: Sequence[str], *, single: bool) -> ChoiceAnswer:
    """Like parse_choices, but free text keeps every option the person named ("PDF及Excel"
    → PDF and Excel, even where PDF is not one of *choices*: a multi-choice only) and what is
    not an option ("Excel（按部门分开）") as the note. Marked boxes are read as before."""
    text = _mark_text(raw_text(raw))
    if not squeeze(text):
        return ChoiceAnswer(())
    if any(ch in MARKED | UNMARKED for ch in text):
        chosen = parse_choices(raw, choices)
        if single and len(chosen) > 1:
            raise ValueProblem("several_choices")
        return ChoiceAnswer(tuple(chosen))
    notes = [m.group(1).strip() for m in _BRACKETED.finditer(text) if m.group(1).strip()]
    body = _BRACKETED.sub(" ", text)
    named: list[str] = []  # options in the order written
    count = 0
    ascii_options = all(c.isascii() for c in choices)
    longest = max((len(c) for c in choices), default=4)
    original = clean_value(raw_text(raw))
    for token in _CONNECTORS.split(body):
        token = token.strip(" 。.")
        if not token:
            continue
        hits = _occurrences(token, choices)
        if hits:
            count += len({i for _, _, i in hits})
            named.extend(choices[i] for _, _, i in hits if choices[i] not in named)
            rest = _strip_choices(token, choices).strip()
            if rest and not _FILLER.match(rest) and len(rest) > 2:
                notes.append(rest)
        elif _FILLER.match(token):
            continue
        elif len(inside := _choices_holding(token, choices)) == 1:
            # "新增" for 新增帐号, "注销" for 帐号注销: a shortened option
            count += 1
            if choices[inside[0]] not in named:
                named.append(choices[inside[0]])
        elif (not single and len(token) <= longest + 2
              and (token.isascii() or not ascii_options)):
            written = _as_written(token, original)
            if written not in named:
                named.append(written)
        else:
            notes.append(token)
    if not named:
        raise ValueProblem("not_a_choice")
    if single and count > 1:
        raise ValueProblem("several_choices")
    return ChoiceAnswer(tuple(named), "；".join(dict.fromkeys(notes)))


def _choices_holding(token: str, choices: Sequence[str]) -> list[int]:
    """The choices that contain *token* (two characters or more) as a part of them."""
    if len(token) < 2:
        return []
    return [i for i, c in enumerate(choices) if token in fold(c)]


def _as_written(token: str, original: str) -> str:
    """*token* (folded) as the person typed it ("pdf" stays "PDF" when written so)."""
    folded, at = fold(original), fold(original).find(token)
    if at >= 0 and len(folded) == len(original):
        return original[at : at + len(token)]
    return token


def _strip_choices(text: str, choices: Sequence[str]) -> str:
    for c in sorted(choices, key=len, reverse=True):
        text = text.replace(fold(c), " ")
    return text


def parse_choice(raw: RawValue, choices: Sequence[str]) -> str | None:
    """Exactly one choice (None when nothing is chosen); two or more is ``several_choices``."""
    chosen = parse_choices(raw, choices)
    if len(chosen) > 1:
        raise ValueProblem("several_choices")
    return chosen[0] if chosen else None


# Yes/no is read by polarity, not from a list of whole answers: the first clause of the
# answer ("已在测试环境验证通过，未发现问题" → its first clause) is negative when it holds
# a negation (不/未/没/无/否/非/×, "not", "fail"), positive when it holds an affirming word
# (是/有/已/通过/需要/确认/√/yes/pass…). Ticked boxes on 是/否 are read as choices first.
_NEGATION = re.compile(
    r"^(?:否|无|非|n|no|none|false|0|nil)$|不|未|没|無|[×✗✘]|^否|^无|^非|\bnot?\b|\bfail|\bnone\b"
    r"|\bfalse\b|\bn/?a\b|失败"
)
_AFFIRMATION = re.compile(
    r"^(?:y|1|true|ok)$|是|有|已|通过|需要|需|要|确认|完成|测试|验证|影响|涉及|对|好|可以|同意"
    r"|[√✓✔]|\byes\b|\bpass|\bok(?:ay)?\b|\btrue\b|\bdone\b|\btested\b|\bconfirmed\b"
)
_YESNO_CHOICES = ("是", "否")
_CLAUSE_END = re.compile(r"[,，。;；:：、\n(（\[【]")


def _polarity(text: str) -> bool | None:
    """True/False for an affirming/negating phrase, None when it says neither."""
    clause = _CLAUSE_END.split(text.strip(), maxsplit=1)[0].strip() or text.strip()
    if _NEGATION.search(clause):
        return False
    if _AFFIRMATION.search(clause):
        return True
    return None


def parse_yesno(raw: RawValue) -> bool | None:
    """是/否, 有/无, Y/N, yes/no, √/×, 通过/不通过, 已测试/未测试, 验证通过, a ticked ☑ on 是
    or 否, or a lone ☑/☐ (None when empty or left unticked)."""
    if isinstance(raw, bool):
        return raw
    text = _mark_text(raw_text(raw))
    word = squeeze(text).strip("。.!！")
    if not word:
        return None
    boxes = [ch for ch in word if ch in (MARKED | UNMARKED) - TICKS]
    if boxes and len(word) == len(boxes):  # a lone box: ticked or not
        return None if all(ch in UNMARKED for ch in boxes) else True
    ticked_word = any(ch in TICKS for ch in word) and "是" in word and "否" in word
    if boxes or ticked_word:  # "☑是 ☐否", or "是 否√" (a tick beside one of the two words)
        try:
            chosen = parse_choice(text.replace("不是", "否"), _YESNO_CHOICES)
        except ValueProblem as exc:
            if exc.code == "several_choices":
                raise
            chosen = None
            if not any(ch in MARKED for ch in word):
                return None
        if chosen is not None:
            return chosen == "是"
        ticked = [ch for ch in boxes if ch in MARKED]
        if not ticked:
            return None
        # "☑已测试 ☐未测试": the phrase after the ticked box
        after = text[text.index(ticked[0]) + 1 :]
        polarity = _polarity(re.split(r"[☐□○◯▢☑☒■●◉▣✅▪⊠]", after)[0])
        if polarity is None:
            raise ValueProblem("invalid_yesno")
        return polarity
    polarity = _polarity(text.casefold())
    if polarity is None:
        raise ValueProblem("invalid_yesno")
    return polarity


# --- lists, people -----------------------------------------------------------------------

_LIST_SPLIT = re.compile(r"[、，,;；/\n\t|｜]|\u3000+| {2,}|\s+(?=\(\d{1,2}\)|\d{1,2}[.、)．])")
_ITEM_NUMBER = re.compile(
    r"^(?:\(?\d{1,2}[.、)．]|\(\d{1,2}\)|[①-⑳]|[一二三四五六七八九十]{1,2}、)\s*"
)
_NONE_WORDS = frozenset(
    {"无", "没有", "暂无", "不涉及", "不需要", "无需", "否", "n/a", "na", "none", "-", "—", "/"}
)


def parse_list(raw: RawValue) -> list[str]:
    """Items separated by 、，,;；/ | new lines (or wide gaps), order kept, empties dropped."""
    text = clean_value(raw_text(raw))
    if squeeze(fold(text)).strip("。.") in _NONE_WORDS:
        return []
    items: list[str] = []
    for piece in _LIST_SPLIT.split(text):
        words = piece.split()
        # "陈七 周八 吴九", "客服中心 市场部": Chinese names apart by single spaces
        apart = len(words) > 1 and all(_CJK_WORD.fullmatch(w) for w in words)
        for part in _with_units(words) if apart else [piece]:
            item = _ITEM_NUMBER.sub("", part.strip()).strip(" 。.")
            if item and item not in items:
                items.append(item)
    return items


_CJK_WORD = re.compile(r"[\u4e00-\u9fff]{2,8}")
#: the last character of an organisational unit's name (财务部, 客服中心, 信息科, 项目组)
_UNIT_ENDINGS = (*"部处科室组院所局厅办司队", "中心", "公司", "分行", "支行")


def _with_units(words: list[str]) -> list[str]:
    """Names apart by single spaces, a unit kept with the person after it: "财务部 钱敏
    市场部 刘洋" is two people named with their departments, "陈七 周八" two people,
    "客服中心 市场部" two departments."""
    out: list[str] = []
    for word in words:
        if out and out[-1].endswith(_UNIT_ENDINGS) and " " not in out[-1] \
                and not word.endswith(_UNIT_ENDINGS):
            out[-1] = f"{out[-1]} {word}"
        else:
            out.append(word)
    return out


_ADDRESS = re.compile(r"[^\s<>()（）\[\]【】,;，；:：\"'“”]+@[^\s<>()（）\[\]【】,;，；:：\"'“”]+")
_VALID_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9\u00a1-\uffff-]+(?:\.[A-Za-z0-9\u00a1-\uffff-]+)+"
)


def parse_person(raw: RawValue) -> str:
    """A name, an address or "Name <address>": kept as written; any address must be valid."""
    text = " ".join(clean_value(raw_text(raw)).split())
    for address in _ADDRESS.findall(text):
        address = address.strip(".。")
        if not _VALID_ADDRESS.fullmatch(address) or ".." in address:
            raise ValueProblem("invalid_email")
    if "@" in text and not _ADDRESS.search(text):
        raise ValueProblem("invalid_email")
    return text


def parse_text(raw: RawValue, *, multiline: bool) -> str:
    """Free text: trimmed; a one-line field joins stray line breaks with a space."""
    text = clean_value(raw_text(raw))
    return text if multiline else " ".join(line for line in text.split("\n") if line)
