"""Turn a form's raw values into typed values, collecting a FieldProblem for each one wrong.

One pass per field (typed parse, then "required"), then the cross-field rules: an end
date not before its start (``not_before``), a time range whose times-only form takes its
day from a date field (``date_field``). The caller gets every problem at once so the
reply to the applicant lists all of them, not the first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from mailflow.documents.definitions import FieldDef, FieldType, FormDef
from mailflow.documents.extract import Extracted
from mailflow.documents.layout import RawValue, raw_text
from mailflow.documents.matching import TYPED_KINDS, targets, type_evidence, value_kind
from mailflow.documents.problems import FieldProblem
from mailflow.documents.values import (
    ValueProblem,
    YearHint,
    parse_choices_noted,
    parse_date,
    parse_datetime,
    parse_list,
    parse_person,
    parse_range_parts,
    parse_text,
    parse_time_range,
    parse_yesno,
    relative_days,
)

_SHOWN = 200  # characters of a wrong value quoted back in the reply


def parse_value(f: FieldDef, raw: RawValue, default_year: YearHint) -> object | None:
    """*raw* as *f*'s Python type; None when empty. Raises ValueProblem."""
    return parse_noted(f, raw, default_year)[0]


def parse_noted(f: FieldDef, raw: RawValue, default_year: YearHint) -> tuple[object | None, str]:
    """*raw* as *f*'s type, and the words beside a choice kept as a note ("" for none)."""
    kind = f.type
    if kind in (FieldType.CHOICE, FieldType.MULTICHOICE):
        answer = parse_choices_noted(raw, f.choices, single=kind is FieldType.CHOICE)
        if kind is FieldType.CHOICE:
            return (answer.chosen[0] if answer.chosen else None), answer.note
        return (list(answer.chosen) or None), answer.note
    value: object
    if kind is FieldType.TEXT:
        value = parse_text(raw, multiline=False)
    elif kind is FieldType.MULTILINE:
        value = parse_text(raw, multiline=True)
    elif kind is FieldType.DATE:
        value = parse_date(raw, default_year)
    elif kind is FieldType.DATETIME:
        value = parse_datetime(raw, default_year)
    elif kind is FieldType.YESNO:
        value = parse_yesno(raw)
    elif kind is FieldType.EMAIL_OR_PERSON:
        value = parse_person(raw)
    elif kind is FieldType.LIST:
        value = parse_list(raw)
    else:
        raise ValueError(f"{kind} is not a plain field type")
    return (None if value in ("", [], None) else value), ""


_FULL_DATE = re.compile(r"(20\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_RANGE_WORD = re.compile(r"\s*(?:至|到|~|～|—{1,2}|–|－|\bto\b|\s-\s)\s*")


def form_day(found: Extracted, fallback: YearHint) -> YearHint:
    """The day a form speaks from, to complete dates written without a year: the first full
    date written on the form (申请日期, the change date…), else *fallback* (the mail's)."""
    for raw in found.values.values():
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        if isinstance(raw, str):
            m = _FULL_DATE.search(raw)
            if m:
                try:
                    return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                except ValueError:
                    continue
    return fallback


class _Validator:
    def __init__(self, form: FormDef, found: Extracted, default_year: YearHint) -> None:
        self.form = form
        self.found = found
        self.year = form_day(found, default_year) if not isinstance(default_year, int) \
            else default_year
        self.notes: dict[str, str] = {}
        self.written = default_year  # the mail's date (or a year): what 明天/下周三 count from
        self.values: dict[str, object] = {}
        self.problems: list[FieldProblem] = []
        self.flagged: set[str] = set()

    def problem(
        self,
        f: FieldDef,
        code: str,
        raw: RawValue | None = None,
        *,
        row: int | None = None,
        column: FieldDef | None = None,
    ) -> None:
        helper = column or f
        self.flagged.add(f.key)
        self.problems.append(
            FieldProblem(
                field_key=f.key,
                label_zh=f.label_zh,
                label_en=f.label_en,
                code=code,
                value=raw_text(raw)[:_SHOWN] if raw is not None else "",
                help_zh=helper.help_zh or f.help_zh,
                help_en=helper.help_en or f.help_en,
                rule=f.rule,
                row=row,
                column_key=column.key if column else None,
                column_label_zh=column.label_zh if column else "",
                column_label_en=column.label_en if column else "",
            )
        )

    def run(self) -> tuple[dict[str, object], list[FieldProblem]]:
        self.split_periods()
        later = []
        for f in self.form.fields:
            if f.type is FieldType.TIME_RANGE:
                later.append(f)
            elif f.type is FieldType.TABLE:
                self.table(f)
            else:
                self.plain(f)
        for f in later:
            self.time_range(f)
        self.order_rules()
        for f in self.form.fields:
            if f.required and f.key not in self.values and f.key not in self.flagged:
                self.problem(f, "missing")
        ordered = {f.key: self.values[f.key] for f in self.form.fields if f.key in self.values}
        order = {f.key: i for i, f in enumerate(self.form.fields)}
        self.problems.sort(key=lambda p: (order.get(p.field_key or "", -1), p.row or 0))
        return ordered, self.problems

    def relative(self, raw: RawValue | None, f: FieldDef | None = None) -> RawValue | None:
        """本周四, 下周三, 明天 … in a date or time field (never in free text) as dates
        counted from the day the mail was written."""
        moment = f is None or f.type in (FieldType.DATE, FieldType.DATETIME)
        if moment and isinstance(raw, str) and isinstance(self.written, date):
            return relative_days(raw, self.written)
        return raw

    def split_periods(self) -> None:
        """A period written in its first field ("生效日期：2026-12-01 至 2026-12-31") fills the
        field that may not be before it (临时帐号截止日期) when that one is empty."""
        for f in self.form.fields:
            if not f.not_before or f.key in self.found.values:
                continue
            raw = self.found.values.get(f.not_before)
            if not isinstance(raw, str):
                continue
            pieces = [p for p in _RANGE_WORD.split(raw.strip()) if p.strip()]
            if len(pieces) == 2:
                self.found.values[f.not_before] = pieces[0]
                self.found.values[f.key] = pieces[1]

    def plain(self, f: FieldDef) -> None:
        raw = self.relative(self.found.values.get(f.key), f)
        if raw is None:
            return
        try:
            value, note = parse_noted(f, raw, self.year)
        except ValueProblem as exc:
            self.problem(f, exc.code, raw)
            return
        if value is not None:
            self.values[f.key] = value
        if note:
            self.notes[f.key] = note

    def time_range(self, f: FieldDef) -> None:
        base = self.values.get(f.date_field) if f.date_field else None
        base_day = base if isinstance(base, date) and not isinstance(base, datetime) else None
        whole = self.relative(self.found.values.get(f.key))
        parts = {k: self.relative(v) for k, v in self.found.parts.get(f.key, {}).items()}
        start_def, end_def = (f.columns[0], f.columns[1]) if len(f.columns) == 2 else (f, f)
        try:
            if whole is not None:
                self.values[f.key] = parse_time_range(raw_text(whole), self.year, base_day)
                return
            start, end = parts.get(start_def.key), parts.get(end_def.key)
            if start is not None and end is None and isinstance(start, str):
                try:  # the whole range written into the start cell
                    self.values[f.key] = parse_time_range(start, self.year, base_day)
                    return
                except ValueProblem:
                    pass
            if start is None and end is None:
                return
            for part, raw in ((start_def, start), (end_def, end)):
                if raw is None:
                    self.problem(f, "missing", column=part)
            if start is None or end is None:
                return
            self.values[f.key] = parse_range_parts(start, end, self.year, base_day)
        except ValueProblem as exc:
            shown = whole if whole is not None else " 至 ".join(raw_text(v) for v in parts.values())
            column = end_def if exc.code == "end_before_start" and whole is None else None
            self.problem(f, exc.code, shown, column=column)

    def table(self, f: FieldDef) -> None:
        rows: list[dict[str, object]] = []
        for number, raw_row in enumerate(self.found.tables.get(f.key, []), start=1):
            row: dict[str, object] = {}
            for column in f.columns:
                raw = self.relative(raw_row.get(column.key), column)
                value: object | None = None
                if raw is not None:
                    try:
                        value = parse_value(column, raw, self.year)
                    except ValueProblem as exc:
                        self.problem(f, exc.code, raw, row=number, column=column)
                        continue
                if value is None:
                    if column.required:
                        self.problem(f, "table_row_incomplete", row=number, column=column)
                    continue
                row[column.key] = value
            rows.append(row)
        if rows:
            self.values[f.key] = rows

    def order_rules(self) -> None:
        for f in self.form.fields:
            if not f.not_before:
                continue
            later, earlier = self.values.get(f.key), self.values.get(f.not_before)
            if _comparable(later, earlier) and later < earlier:  # type: ignore[operator]
                self.problem(f, "end_before_start", self.found.values.get(f.key))


def _comparable(a: object, b: object) -> bool:
    if isinstance(a, datetime) or isinstance(b, datetime):
        return isinstance(a, datetime) and isinstance(b, datetime)
    return isinstance(a, date) and isinstance(b, date)


def validate(
    form: FormDef, found: Extracted, *, default_year: YearHint = None
) -> tuple[dict[str, object], list[FieldProblem]]:
    """Typed values of the fields that are filled and valid, and every problem found."""
    return _Validator(form, found, default_year).run()


def validate_noted(
    form: FormDef, found: Extracted, *, default_year: YearHint = None
) -> tuple[dict[str, object], list[FieldProblem], dict[str, str]]:
    """``validate``, plus the notes written beside choices (field key → words)."""
    validator = _Validator(form, found, default_year)
    values, problems = validator.run()
    return values, problems, validator.notes


def json_safe(value: Any) -> Any:
    """A typed value as JSON: dates and times as ISO strings, TimeRange as {start, end}."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "as_json"):
        return value.as_json()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def shown_label(text: str) -> str:
    """A label as the sender's form writes it, for a reply: its first line, without the
    required mark, colon or hint."""
    first = text.strip().split("\n", 1)[0].strip()
    return first.strip("*＊:：#★ \u3000").strip()


def explain(
    form: FormDef,
    found: Extracted,
    problems: list[FieldProblem],
    *,
    default_year: YearHint = None,
    values: Mapping[str, object] | None = None,
) -> tuple[list[FieldProblem], dict[str, object]]:
    """*problems* told in the sender's words, and the readings a "确认" would accept.

    A problem names the field by the label on the sender's form, else by the blank's labels
    (never a name on neither). A required field whose label is nowhere on the form is "not
    found", not "not filled"; when the form holds a labelled value no field took and that
    value reads as the field, the problem quotes it ("表中「是否影响在线用户：是」是否即此项？")
    and the typed value is returned as a proposal, keyed by field.
    """
    proposals: dict[str, object] = {}
    unmatched = dict(found.unmatched)
    used: set[str] = set()
    by_slot = {(t.field, t.part): t for t in targets(form)}
    base = (values or {})
    out: list[FieldProblem] = []
    for p in problems:
        if p.field_key is None:
            out.append(p)
            continue
        f = form.field(p.field_key)
        if f.key in found.sources and shown_label(found.sources[f.key]):
            shown: tuple[str, ...] = (shown_label(found.sources[f.key]),)
        elif f.type is FieldType.TIME_RANGE and f.columns:
            shown = tuple(c.label_zh for c in f.columns)
        else:
            shown = (f.label_zh,)
        if p.code != "missing" or p.column_key is not None or p.row is not None:
            out.append(replace(p, shown_zh=shown if p.column_key is None else ()))
            continue
        seen = f.key in found.seen
        label, raw, typed = "", None, None
        target = by_slot.get((f.key, None))
        if not seen and target is not None and found.assignment is not None:
            best = found.assignment.best_for(target, [t for t in unmatched if t not in used])
            if best is not None:
                label, raw = best[0], unmatched[best[0]]
                typed = _typed(f, raw, default_year, base)
            else:  # the value's type as the evidence: the one date under an unknown label
                label, raw, typed = _by_type(f, {t: v for t, v in unmatched.items()
                                                 if t not in used}, default_year, base)
        if typed is None:
            out.append(replace(p, shown_zh=shown, label_seen=seen))
            continue
        used.add(label)
        proposals[f.key] = typed
        out.append(replace(p, shown_zh=shown, label_seen=seen,
                           candidate_label=shown_label(label),
                           candidate_value=raw_text(raw)[:_SHOWN]))
    return out, proposals


def _by_type(f: FieldDef, unmatched: Mapping[str, RawValue], year: YearHint,
             values: Mapping[str, object]) -> tuple[str, RawValue | None, object | None]:
    """The only unknown label whose value is of *f*'s (date, time, range or yes/no) type."""
    fitting = [(t, v) for t, v in unmatched.items()
               if type_evidence(value_kind(v), f.type) > 0 and value_kind(v) in TYPED_KINDS]
    if len(fitting) != 1:
        return "", None, None
    label, raw = fitting[0]
    typed = _typed(f, raw, year, values)
    return (label, raw, typed) if typed is not None else ("", None, None)


def _typed(f: FieldDef, raw: RawValue | None, year: YearHint,
           values: Mapping[str, object]) -> object | None:
    """*raw* read as *f*'s type, or None when it does not read as one."""
    if raw is None:
        return None
    try:
        if f.type is FieldType.TIME_RANGE:
            day = values.get(f.date_field) if f.date_field else None
            base_day = day if isinstance(day, date) and not isinstance(day, datetime) else None
            return parse_time_range(raw_text(raw), year, base_day)
        if f.type is FieldType.TABLE:
            return None
        return parse_value(f, raw, year)
    except ValueProblem:
        return None
