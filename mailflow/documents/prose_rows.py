"""Rows of a table field written as prose: "1. 完成联调，负责人：吴九，完成时间：11月28日".

Why: the minutes' action items (R-MT-5) are a table in the blank form, but recorders often
type them as a numbered list under "行动项：" instead. Each line becomes one row: labelled
parts go to their columns ("负责人：", "完成时间：" and the aliases), the rest is the item; a
line without labels is split at commas when it ends in "owner, date" ("更新计划，陈七，
11月30日" or "更新计划（陈七，11月30日）"). Nothing is parsed into values here
(validate.py does that, and names a row's missing owner or date in its reply).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from mailflow.documents.definitions import FieldDef, FieldType
from mailflow.documents.layout import RawValue
from mailflow.documents.text import clean_value, fold, label_alternation, label_key

_NUMBERING = re.compile(
    r"^\s*(?:[(（]?\d{1,2}\s*[.、．:：)）]|[(（]\d{1,2}[)）]|[①-⑳]|[-*•·●◆▪]|第[一二三四五六七八九十\d]+[项条])\s*"
)
_SEPARATORS = "，,；;。、 \t"
_SPLIT = re.compile(r"\s*[，,；;]\s*|\s{2,}|\t")
_TRAILING = re.compile(r"^(?P<item>.+?)\s*[(（](?P<owner>[^()（）,，;；]{1,20})[,，;；\s]+"
                       r"(?P<due>[^()（）]{1,30})[)）]\s*[。.;；]?$")
_DATE_LIKE = re.compile(r"\d.{0,30}?(?:[年月日号/\-.]|前)|^(?:今天|明天|本周|下周|月底|年底)")
_MAX_OWNER = 12
#: a longer line is an item as written (and keeps every pattern here linear)
MAX_LINE = 500


@lru_cache(maxsize=32)
def _column_labels(table: FieldDef) -> tuple[re.Pattern[str], dict[str, str]]:
    keys = {label_key(text): c.key for c in table.columns for text in c.labels}
    return re.compile(rf"(?P<label>{label_alternation(keys)})\s*[:：︰]"), keys


def mentions_a_column(table: FieldDef, text: str) -> bool:
    """True when *text* has a "column label：" of *table* (so it is one of its rows)."""
    pattern, _ = _column_labels(table)
    return pattern.search(fold(text)) is not None


def looks_like_a_row(table: FieldDef, text: str) -> bool:
    """Whether the line *text* is one of *table*'s rows written out: numbered, with its
    column labels, or ending in "owner, date" (a help text or a flattened table is not)."""
    if _NUMBERING.match(text) is not None or mentions_a_column(table, text):
        return True
    row = _row(table, text.strip())
    return len(row) > 1


def prose_rows(table: FieldDef, texts: Sequence[str]) -> list[dict[str, RawValue]]:
    """One record (column key → text) per non-empty line of *texts*."""
    rows = []
    for text in texts:
        for line in clean_value(text).split("\n"):
            row = _row(table, _NUMBERING.sub("", line, count=1).strip())
            if row:
                rows.append(row)
    return rows


def _row(table: FieldDef, line: str) -> dict[str, RawValue]:
    if not line:
        return {}
    item_key = table.columns[0].key
    if len(line) > MAX_LINE:
        return {item_key: line}
    pattern, keys = _column_labels(table)
    folded = fold(line)
    matches = list(pattern.finditer(folded)) if len(folded) == len(line) else []
    row: dict[str, RawValue] = {}
    if matches:
        lead = line[: matches[0].start()].strip(_SEPARATORS)
        if lead:
            row[item_key] = lead
        for i, m in enumerate(matches):
            end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
            value = line[m.end():end].strip(_SEPARATORS)
            column = keys.get(label_key(m.group("label")))
            if column is not None and value and column not in row:
                row[column] = value
        return row
    owner_key, due_key = _column_of(table, FieldType.EMAIL_OR_PERSON), _column_of(
        table, FieldType.DATE)
    if owner_key and due_key:
        trailing = _TRAILING.match(line)
        if trailing and _DATE_LIKE.search(trailing.group("due")):
            return {item_key: trailing.group("item").strip(_SEPARATORS),
                    owner_key: trailing.group("owner").strip(),
                    due_key: trailing.group("due").strip()}
        parts = [p for p in _SPLIT.split(line.rstrip("。.;；")) if p]
        if (len(parts) >= 3 and _DATE_LIKE.search(parts[-1])
                and len(parts[-2]) <= _MAX_OWNER and not _DATE_LIKE.search(parts[-2])):
            return {item_key: "，".join(parts[:-2]), owner_key: parts[-2], due_key: parts[-1]}
    return {item_key: line}


def _column_of(table: FieldDef, kind: FieldType) -> str | None:
    return next((c.key for c in table.columns if c.type is kind), None)
