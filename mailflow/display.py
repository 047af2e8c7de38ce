"""Field values the way an office worker writes them: 是/否, "2026-11-25 23:30 至 次日 01:30",
an action-item table as rows — one module for the demo, the export and the mails, so a value
never shows up as a Python repr (``True``, ``start=…``, ``item=…, owner=…``) anywhere.

Values arrive as the database stores them (documents/validate.py ``json_safe``: ISO strings,
``{start, end}``, lists of row dicts); the field's definition says what they are. The words
(是/否, 至, 次日) come from templates/<lang>/display.j2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from mailflow.documents.definitions import FieldDef, FieldType
from mailflow.templates import Templates

DATE = "%Y-%m-%d"
MINUTE = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class TableValue:
    """A table field's value: column headings and one row of texts per filled row."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


class ValueDisplay:
    def __init__(self, templates: Templates) -> None:
        words = templates.labels("display", "words")
        self._yes = words.get("yes", "是")
        self._no = words.get("no", "否")
        self._to = words.get("range_to", "至")
        self._next_day = words.get("next_day", "次日")
        separator = words.get("list_separator", "、")
        self._separator = f"{separator} " if separator in (",", ";") else separator
        self._english = templates.language == "en"

    def label(self, f: FieldDef) -> str:
        return f.label_en if self._english else f.label_zh

    # -- one value as text -------------------------------------------------------------
    def text(self, value: Any, f: FieldDef | None = None) -> str:
        """*value* as one text (a table: one line per row, cells separated by " · ")."""
        kind = f.type if f is not None else None
        if value is None or value == "" or value == []:
            return ""
        if isinstance(value, bool):
            return self.yes_no(value)
        if kind is FieldType.TIME_RANGE or _is_range(value):
            start, end = _range(value)
            if start is not None and end is not None:
                return self.time_range(start, end)
        if kind is FieldType.TABLE or (isinstance(value, list) and value
                                      and all(isinstance(v, Mapping) for v in value)):
            table = self.table(value, f)
            return "\n".join(" · ".join(cell for cell in row if cell) for row in table.rows)
        if kind is FieldType.DATE:
            parsed = _date(value)
            if parsed is not None:
                return parsed.strftime(DATE)
        if kind is FieldType.DATETIME or (isinstance(value, str) and _looks_like_instant(value)):
            moment = _datetime(value)
            if moment is not None:
                return moment.strftime(MINUTE)
        if isinstance(value, list | tuple):
            return self._separator.join(self.text(v) for v in value)
        if isinstance(value, Mapping):
            return " · ".join(self.text(v) for v in value.values() if v not in (None, ""))
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    def yes_no(self, value: bool) -> str:
        return self._yes if value else self._no

    def time_range(self, start: datetime, end: datetime) -> str:
        """"2026-11-25 23:30 至 次日 01:30"; the same day: "… 至 23:50"; else in full."""
        if end.date() == start.date():
            tail = end.strftime("%H:%M")
        elif (end.date() - start.date()).days == 1:
            tail = f"{self._next_day} {end:%H:%M}"
        else:
            tail = end.strftime(MINUTE)
        return f"{start:{MINUTE}} {self._to} {tail}"

    def table(self, value: Any, f: FieldDef | None = None) -> TableValue:
        rows = [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
        columns = list(f.columns) if f is not None and f.columns else []
        keys = [c.key for c in columns] or list(dict.fromkeys(k for r in rows for k in r))
        by_key = {c.key: c for c in columns}
        header = tuple(self.label(by_key[k]) if k in by_key else k for k in keys)
        body = tuple(tuple(self.text(r.get(k), by_key.get(k)) for k in keys) for r in rows)
        return TableValue(header, body)

    def shown(self, value: Any, f: FieldDef | None = None) -> str | dict[str, Any]:
        """*value* for a mail template: its text, or for a table field a small table
        ({header, rows, lines}: the cells for HTML, aligned lines for plain text), so action
        items read as 事项 | 负责人 | 完成时间 rather than run together."""
        kind = f.type if f is not None else None
        if kind is FieldType.TABLE or (isinstance(value, list) and value
                                      and all(isinstance(v, Mapping) for v in value)):
            table = self.table(value, f)
            if table.rows:
                return {"header": list(table.header), "rows": [list(r) for r in table.rows],
                        "lines": aligned(table)}
        return self.text(value, f)

    # -- one value as a spreadsheet cell -------------------------------------------------
    def cell(self, value: Any, f: FieldDef | None = None) -> object:
        """A typed cell: dates and times as dates (Excel shows and sorts them as such),
        numbers as numbers, yes/no as 是/否, everything else as its text."""
        kind = f.type if f is not None else None
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return self.yes_no(value)
        if isinstance(value, int | float):
            return value
        if kind is FieldType.DATE:
            parsed = _date(value)
            if parsed is not None:
                return parsed
        if kind is FieldType.DATETIME:
            moment = _datetime(value)
            if moment is not None:
                return moment.replace(tzinfo=None)
        return self.text(value, f)


def aligned(table: TableValue, gap: int = 2) -> list[str]:
    """A table as plain-text lines, columns padded to a common width (a CJK character counts
    as two, as mail clients show them in a monospaced font); one line per cell line."""
    rows = [table.header, *table.rows]
    widths = [max(display_width(line) for row in rows if i < len(row)
                  for line in (row[i].splitlines() or [""])) for i in range(len(table.header))]
    lines: list[str] = []
    for row in rows:
        cells = [cell.splitlines() or [""] for cell in row]
        for n in range(max((len(c) for c in cells), default=1)):
            parts = [(c[n] if n < len(c) else "") for c in cells]
            padded = [part + " " * (widths[i] - display_width(part))
                      for i, part in enumerate(parts)]
            lines.append((" " * gap).join(padded).rstrip())
    return lines


def _is_range(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"start", "end"}


def _range(value: Any) -> tuple[datetime | None, datetime | None]:
    if not isinstance(value, Mapping):
        return None, None
    return _datetime(value.get("start")), _datetime(value.get("end"))


def _looks_like_instant(text: str) -> bool:
    return len(text) >= 16 and text[4] == "-" and text[10] == "T"


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


#: a Date header this far ahead of our clock is a wrong clock on the sender's PC, not a time
CLOCK_SKEW = timedelta(minutes=15)
#: and one older than this is a wrong clock (or a resent old mail): our own time is closer
OLDEST_PLAUSIBLE = timedelta(days=30)


def sent_time(header: datetime | None, now: datetime) -> datetime:
    """When the person sent the mail: its Date header when plausible, else *now*."""
    if header is None or header.tzinfo is None:
        return now
    if header > now + CLOCK_SKEW or header < now - OLDEST_PLAUSIBLE:
        return now
    return header


def column_widths(rows: Sequence[Sequence[object]], *, most: int = 50) -> list[float]:
    """Spreadsheet column widths from the longest line of each column, counting a CJK
    character as two (Excel's width unit is about one Latin character)."""
    widths: list[float] = []
    for row in rows:
        for i, value in enumerate(row):
            text = value.strftime(MINUTE) if isinstance(value, datetime) else str(
                "" if value is None else value)
            longest = max((display_width(line) for line in text.splitlines() or [""]),
                          default=0)
            if i >= len(widths):
                widths.append(0)
            widths[i] = max(widths[i], longest)
    return [min(max(w + 2, 8), most) for w in widths]


def display_width(text: str) -> int:
    """Columns *text* takes in a monospaced font: a CJK (wide) character counts as two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
