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
_DATE_LIKE = re.compile(r"\d.{0,30}?(?:[年月日号/\-.]|前)|^(?:今天|明天|本周|下周|月底|年底)")
_MAX_OWNER = 12
#: a longer line is an item as written (and keeps every pattern here linear)
MAX_LINE = 500


@lru_cache(maxsize=32)
def _column_labels(table: FieldDef) -> tuple[re.Pattern[str], dict[str, str]]:
    keys = {label_key(text): c.key for c in table.columns for text in c.labels}
    # "负责人：吴九", or "负责人 吴九" (a label and a space, not inside a word)
    return re.compile(rf"(?P<label>{label_alternation(keys)})(?:\s*[:：︰]|\s+(?=\S))"), keys


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


# A new numbered item inside a line: "…（吴九，11月28日）2、更新计划…" (not "1.5版本").
_INNER_NUMBER = re.compile(
    r"(?<=[。；;）)】\]\s])\s*(?=(?:\d{1,2}\s*[、.．)）](?!\d)|[(（]\d{1,2}[)）]|[①-⑳])\s*\S)"
)
_BRACKET_TAIL = re.compile(r"^(?P<item>.+?)\s*[(（【\[](?P<inner>[^()（）【】\[\]]{1,60})[)）】\]]"
                           r"\s*[。.;；]?$")
_PART_SPLIT = re.compile(r"\s*(?:[，,；;、|｜]|\s+/\s+|\s+-\s+|—{1,2}|-{2,}|\s{2,}|\t)\s*")
_OWNER_LEADS = re.compile(r"^(?:由)?(?P<owner>[\u4e00-\u9fff]{2,4})(?:负责|牵头)(?P<item>.{2,})$")
_SPACED_TAIL = re.compile(
    r"^(?P<item>\S.*?\S)\s+(?P<owner>[\u4e00-\u9fff]{2,4}|[A-Za-z]+(?: [A-Za-z]+)?)"
    r"\s+(?P<due>\S*\d\S*)$")
_OWNER_WORDS = re.compile(
    r"^(?:由|请|责任人|负责人|owner|执行人)\s*[:：]?\s*|\s*(?:负责|牵头|跟进|落实)$", re.IGNORECASE)
_DUE_WORDS = re.compile(
    r"^(?:完成时间|截止|due|deadline|by)\s*[:：]?\s*|\s*(?:完成|完毕|提交|落实)$", re.IGNORECASE)


def _items(line: str) -> list[str]:
    """A line split where a new numbered item starts inside it."""
    starts = [0] + [m.end() for m in _INNER_NUMBER.finditer(line) if m.end() > 0]
    pieces = [line[a:b] for a, b in zip(starts, [*starts[1:], len(line)], strict=True)]
    return [p.strip() for p in pieces if p.strip()]


def prose_rows(table: FieldDef, texts: Sequence[str]) -> list[dict[str, RawValue]]:
    """One record (column key → text) per item of *texts*: a line, or each numbered item
    where several are written on one line."""
    rows = []
    for text in texts:
        for line in _logical_lines(clean_value(text).split("\n")):
            for item in _items(line) if len(line) <= MAX_LINE else [line]:
                row = _row(table, _NUMBERING.sub("", item, count=1).strip())
                if row:
                    rows.append(row)
    return rows


def _logical_lines(lines: Sequence[str]) -> list[str]:
    """Lines with an item's wrapped continuation joined back: once the items are numbered,
    an unnumbered line continues the item above it ("1. 完成联调，并输出报告" / "（负责人：
    吴九，11月28日前）" is one item)."""
    out: list[str] = []
    numbered = False
    for line in lines:
        if not line.strip():
            continue
        starts = _NUMBERING.match(line) is not None and not line.lstrip().startswith(("(", "（"))
        starts = starts or bool(re.match(r"^\s*[(（]\d{1,2}[)）]", line))
        if starts:
            numbered = True
            out.append(line)
        elif numbered and out and len(out[-1]) + len(line) <= MAX_LINE:
            out[-1] = out[-1].rstrip() + line.strip()
        else:
            out.append(line)
    return out


def _row(table: FieldDef, line: str) -> dict[str, RawValue]:
    if not line:
        return {}
    item_key = table.columns[0].key
    if len(line) > MAX_LINE:
        return {item_key: line}
    owner_key = _column_of(table, FieldType.EMAIL_OR_PERSON)
    due_key = _column_of(table, FieldType.DATE)
    bracket = _BRACKET_TAIL.match(line)
    if bracket and owner_key and due_key:
        # "完成联调（负责人：吴九，11月28日前）": the bracket holds the owner and the date
        inner = _parts(table, bracket.group("inner"), owner_key, due_key)
        if inner:
            return {item_key: bracket.group("item").strip(_SEPARATORS), **inner}
    labelled = _labelled(table, line)
    if labelled:
        return labelled
    if owner_key and due_key:
        parts = [p for p in _PART_SPLIT.split(line.rstrip("。.;；")) if p]
        if len(parts) >= 3:
            tail = _parts(table, "，".join(parts[-2:]), owner_key, due_key)
            if len(tail) == 2:
                return {item_key: "，".join(parts[:-2]), **tail}
        led = _OWNER_LEADS.match(parts[0]) if parts else None
        if led and len(parts) == 2 and _DATE_LIKE.search(parts[1]):
            # "吴九负责完成联调，11月28日前"
            return {item_key: led.group("item"), owner_key: led.group("owner"),
                    due_key: _DUE_WORDS.sub("", parts[1]).strip()}
        spaced = _SPACED_TAIL.match(line.rstrip("。.;；"))
        if spaced and _DATE_LIKE.search(spaced.group("due")):
            # "完成联调 吴九 11/28": item, owner and date apart by single spaces
            return {item_key: spaced.group("item"), owner_key: spaced.group("owner"),
                    due_key: spaced.group("due")}
    return {item_key: line}


def _labelled(table: FieldDef, line: str) -> dict[str, RawValue]:
    """"完成联调，负责人：吴九，完成时间：11月28日": parts after column labels."""
    pattern, keys = _column_labels(table)
    folded = fold(line)
    matches = list(pattern.finditer(folded)) if len(folded) == len(line) else []
    row: dict[str, RawValue] = {}
    if not matches:
        return row
    lead = line[: matches[0].start()].strip(_SEPARATORS + "（(【[")
    if lead:
        row[table.columns[0].key] = lead
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        value = line[m.end():end].strip(_SEPARATORS + "）)】]")
        column = keys.get(label_key(m.group("label")))
        if column is not None and value and column not in row:
            row[column] = value
    return row


def _parts(table: FieldDef, text: str, owner_key: str, due_key: str) -> dict[str, RawValue]:
    """Owner and due date from "吴九，11月28日前" / "负责人：吴九；完成时间：2026-11-28" /
    "Owner: 吴九, Due: 2026-11-28" / "吴九负责，11月28日前完成" ({} when it is not that)."""
    found: dict[str, RawValue] = {}
    labelled_any = False
    for part in _PART_SPLIT.split(text.strip()):
        part = part.strip()
        if not part:
            continue
        labelled = _labelled(table, part)
        column = next((k for k in labelled if k in (owner_key, due_key)), None)
        if column is not None:
            found.setdefault(column, labelled[column])
            labelled_any = True
            continue
        if _DATE_LIKE.search(part):
            due = _DUE_WORDS.sub("", part).strip()
            found.setdefault(due_key, _DUE_WORDS.sub("", due).strip())
        else:
            owner = _OWNER_WORDS.sub("", part).strip()
            owner = _OWNER_WORDS.sub("", owner).strip()
            if 0 < len(owner) <= _MAX_OWNER and owner_key not in found:
                found[owner_key] = owner
            else:
                return {}
    # "（含计费模块）" is part of the item: only a date or a column label makes it a row's
    return found if due_key in found or (labelled_any and found) else {}


def _column_of(table: FieldDef, kind: FieldType) -> str | None:
    return next((c.key for c in table.columns if c.type is kind), None)
