"""Find each field's raw value in a form's blocks, whatever the layout.

The rules, in the order they apply (first non-empty value of a field wins):
- a cell that *is* a label (after folding: "申 请 人：", "*申请人", aliases) takes the cells
  to its right up to the next label; with nothing to its right (next cell is a label or
  the row ends) it takes the cell(s) below it — the stacked layout;
- a row holding two or more column labels of a table field (事项 / 负责人 / 完成时间) is a
  header: the rows under it, up to the next labelled row, are that table's rows (blank
  rows skipped);
- any other text, in a cell or a paragraph, is searched for "label：value" pairs, several
  per line allowed ("申请人：张三    部门：IT部"); a paragraph that is only a label, or ends
  at "label：", continues on the following lines (multi-line fields);
- a content control titled or tagged with a label (or a field key) gives that field.
Nothing here parses values: that is validate.py's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from mailflow.documents.definitions import FieldDef, FieldType, FormDef
from mailflow.documents.layout import Block, Cell, Grid, Line, Pair, RawValue, raw_text
from mailflow.documents.lexicon import Lexicon
from mailflow.documents.matching import Assignment, Column, assign, label_forms
from mailflow.documents.prose_rows import looks_like_a_row, prose_rows
from mailflow.documents.text import clean_value, fold, label_alternation, label_key


@dataclass(frozen=True)
class Slot:
    """What a label names: a field, or one part (start/end) of a time-range field."""

    field: str
    part: str | None = None


@dataclass(frozen=True)
class FormIndex:
    form: FormDef
    labels: dict[str, Slot]
    columns: dict[str, dict[str, str]]  # table field → label key → column key
    inline: re.Pattern[str]
    types: dict[str, FieldType]
    tables: dict[str, FieldDef]  # table fields by key


_BOUNDARY = r"(?:^|(?<=[\s,;。、|)\]】>]))"
# Under a label in its own cell: a bracketed hint, a 请填写/如… hint or an English gloss
# ("申请人\nApplicant") is a note, not the value.
_NOTE_LINE = re.compile(
    r"^\s*(?:[(（【\[].*[)）】\]]|(?:请|如|例)[^\n]{0,40}|[A-Z][A-Za-z .&/'-]{1,40})\s*$")
_OTHER_LABEL = re.compile(r"^\s*[^\s:：]{2,12}\s*[:：]")


@lru_cache(maxsize=64)
def form_index(form: FormDef) -> FormIndex:
    labels: dict[str, Slot] = {}
    columns: dict[str, dict[str, str]] = {}
    for f in form.fields:
        for text in f.labels:
            labels[label_key(text)] = Slot(f.key)
        if f.type is FieldType.TIME_RANGE:
            for c in f.columns:
                for text in c.labels:
                    labels[label_key(text)] = Slot(f.key, c.key)
        if f.type is FieldType.TABLE:
            columns[f.key] = {label_key(t): c.key for c in f.columns for t in c.labels}
    body = label_alternation(labels)
    inline = re.compile(rf"{_BOUNDARY}(?:[*#]\s*)?(?P<label>{body})\s*(?:\([^()]{{0,20}}\)\s*)?:")
    return FormIndex(form, labels, columns, inline, {f.key: f.type for f in form.fields},
                     {f.key: f for f in form.fields if f.type is FieldType.TABLE})


# How much a source is trusted: a labelled table cell over "label：value" written inside a
# cell, over a loose paragraph (instructions above a table may mention labels too).
LINE, CELL_TEXT, CELL = 0, 1, 2


@dataclass
class Extracted:
    """Raw values found for one form: plain fields, time-range parts, table rows."""

    values: dict[str, RawValue] = field(default_factory=dict)
    parts: dict[str, dict[str, RawValue]] = field(default_factory=dict)
    tables: dict[str, list[dict[str, RawValue]]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)  # fields whose label appeared at all
    prose: dict[str, list[str]] = field(default_factory=dict)  # table field → its lines
    ranks: dict[Slot, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # field → its label as written
    labels: dict[str, RawValue | None] = field(default_factory=dict)  # every label candidate
    unmatched: dict[str, RawValue] = field(default_factory=dict)  # labelled values no field took
    assignment: Assignment | None = None

    def get(self, slot: Slot) -> RawValue | None:
        if slot.part is not None:
            return self.parts.get(slot.field, {}).get(slot.part)
        return self.values.get(slot.field)

    def put(self, slot: Slot, value: RawValue | None, rank: int, label: str = "") -> bool:
        """Record *value* unless the slot holds one from an equal or better source.

        True when it was taken. Empty values are never taken (but the label counts as seen).
        *label* is the label as the form writes it, kept for the record and for replies.
        """
        self.seen.add(slot.field)
        filled = value is not None and not (isinstance(value, str) and not value.strip())
        if label and not filled:
            self.sources.setdefault(slot.field, label)
        if not filled or self.ranks.get(slot, -1) >= rank:
            return False
        assert value is not None
        if label:
            self.sources[slot.field] = label
        self.replace(slot, value)
        self.ranks[slot] = rank
        return True

    def replace(self, slot: Slot, value: RawValue) -> None:
        if slot.part is not None:
            self.parts.setdefault(slot.field, {})[slot.part] = value
        else:
            self.values[slot.field] = value


def _fold_map(text: str) -> tuple[str, list[int]]:
    """*text* folded, with each folded index's original index (identity when lengths match)."""
    whole = fold(text)
    if len(whole) == len(text):
        return whole, list(range(len(text) + 1))
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        folded = fold(ch) if not ch.isascii() or ch.isupper() else ch
        out.append(folded)
        where.extend([i] * len(folded))
    where.append(len(text))
    return "".join(out), where


# A label written inside a line: at its start or after a wide gap or a separator, up to a colon.
_LINE_LABEL = re.compile(r"(?:^|[\t\u3000]|\s\s|[,;，；。|])\s*([^:：\n,;，；。|]{1,40}?)\s*[:：]")
_NUMBER_ONLY = re.compile(
    r"^[\s(（]*(?:\d{1,2}(?:\.\d{1,2})*|[一二三四五六七八九十]{1,3}|[①-⑳])[\s)）.、．]*$")
_SEVERAL_LINES = (FieldType.MULTILINE, FieldType.LIST, FieldType.TABLE, FieldType.MULTICHOICE)
_MAX_CANDIDATES = 400  # distinct label texts scored per document (a data dump has thousands)
_MAX_CELL_LABEL = 60


def _filled(cell: Cell) -> bool:
    return cell.value is not None and bool(cell.text.strip())


def section_row(row: Sequence[Cell], lexicon: Lexicon) -> bool:
    """A row that only heads a section ("一、申请人信息" across the table): not a label."""
    filled = [c for c in row if _filled(c)]
    if len(filled) != 1:
        return False
    forms = label_forms(filled[0].text, lexicon.hints)
    return bool(forms) and forms[0].endswith(lexicon.sections)


@dataclass
class Candidates:
    """Every text of a document that could be a label, with the value beside or under it
    (evidence: a date under a label hints at a date field), and where table texts stand."""

    labels: dict[str, RawValue | None] = field(default_factory=dict)
    cells: list[tuple[str, Column, Column | None]] = field(default_factory=list)


def label_candidates(blocks: Iterable[Block], lexicon: Lexicon) -> Candidates:
    """The texts in *blocks* that could be labels (see ``Candidates``)."""
    out = Candidates()
    found = out.labels
    hints = lexicon.hints

    def add(text: str, value: RawValue | None) -> None:
        text = text.strip()
        if len(found) >= _MAX_CANDIDATES or not text or not label_forms(text, hints):
            return
        if found.get(text) is None:
            found[text] = value

    def inline(text: str, cell_value: bool = False) -> None:
        if ":" not in text and "：" not in text:
            return
        for line in text.split("\n"):
            matches = list(_LINE_LABEL.finditer(line))
            for i, m in enumerate(matches):
                end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
                add(m.group(1), clean_value(line[m.end() : end]) or None)

    grids = 0
    for block in blocks:
        if len(found) >= _MAX_CANDIDATES:
            break
        if isinstance(block, Line):
            inline(block.text)
            if len(block.text.strip()) <= _MAX_CELL_LABEL:
                add(block.text, None)
        elif isinstance(block, Pair):
            add(block.label, block.value)
        elif isinstance(block, Grid):
            grids += 1
            rows = block.rows
            for r, row in enumerate(rows):
                if section_row(row, lexicon):
                    continue
                for i, cell in enumerate(row):
                    if not _filled(cell):
                        continue
                    text = cell.text
                    inline(text, True)
                    first = text.strip().split("\n", 1)[0]
                    if len(first) > _MAX_CELL_LABEL:
                        continue
                    beside = next((c.value for c in row[i + 1 :] if _filled(c)), None)
                    if beside is None and r + 1 < len(rows):
                        beside = next((c.value for c in rows[r + 1]
                                       if c.overlaps(cell.col, cell.span) and _filled(c)), None)
                    add(first, beside)
                    left = next((c.col for c in reversed(row[:i]) if _filled(c)), None)
                    out.cells.append((first.strip(), (grids, cell.col),
                                      None if left is None else (grids, left)))
    return out


class _Extractor:
    def __init__(self, index: FormIndex, blocks: Sequence[Block]) -> None:
        self.ix = index
        self.out = Extracted()
        self.pending: Slot | None = None  # a field still taking continuation lines
        self.labels: dict[str, Slot] = dict(index.labels)
        self.columns: dict[str, dict[str, str]] = {k: dict(v) for k, v in index.columns.items()}
        found = label_candidates(blocks, index.form.lexicon)
        candidates = found.labels
        assignment = assign(index.form, candidates, found.cells)
        extra: list[str] = []
        for text, match in assignment.matches.items():
            key = label_key(text)
            if match.part is not None and match.part.startswith("column:"):
                self.columns.setdefault(match.field, {}).setdefault(key, match.part[7:])
            elif key not in self.labels:
                self.labels[key] = Slot(match.field, match.part)
                extra.append(key)
        self.inline = index.inline
        if extra:
            body = label_alternation([*index.labels, *extra])
            self.inline = re.compile(
                rf"{_BOUNDARY}(?:[*#]\s*)?(?P<label>{body})\s*(?:\([^()]{{0,20}}\)\s*)?:")
        self.out.labels = candidates
        self.out.assignment = assignment
        self.label_columns: set[int] = set()

    # -- labels -------------------------------------------------------------------------
    def label_of(self, text: str) -> tuple[Slot, str] | None:
        """The slot a label cell names, and any value written under the label in that cell."""
        if not text or len(text) > 80:
            return None
        slot = self.labels.get(label_key(text))
        if slot is not None:
            return slot, ""
        if "\n" in text:
            first, rest = text.split("\n", 1)
            slot = self.labels.get(label_key(first))
            if slot is not None:
                lines = [ln for ln in rest.split("\n") if not _NOTE_LINE.match(ln)]
                return slot, clean_value("\n".join(lines))
        return None

    def header_of(self, row: Sequence[Cell]) -> tuple[str, list[tuple[str, Cell]]] | None:
        """(table field, [(column key, header cell)]) when *row* is a table's header row."""
        for table, columns in self.columns.items():
            found = [(columns[k], c) for c in row if (k := label_key(c.text)) in columns]
            if len({key for key, _ in found}) >= 2:
                return table, found
        return None

    def inline_pairs(self, text: str) -> list[tuple[Slot, str, int, str]]:
        """(slot, value, start, label) for each "label：value" in *text*."""
        if ":" not in text and "：" not in text and "︰" not in text:
            return []
        folded, where = _fold_map(text)
        matches = [
            (m, self.labels.get(label_key(m.group("label"))))
            for m in self.inline.finditer(folded)
        ]
        pairs: list[tuple[Slot, str, int, str]] = []
        for i, (m, slot) in enumerate(matches):
            if slot is None:
                continue
            end = matches[i + 1][0].start() if i + 1 < len(matches) else len(folded)
            value = clean_value(text[where[m.end()] : where[end]])
            if self.ix.types[slot.field] not in _SEVERAL_LINES:
                value = self.own_lines(value)
            pairs.append((slot, value, where[m.start()], m.group("label")))
        return pairs

    # -- blocks -------------------------------------------------------------------------
    def blocks(self, blocks: Iterable[Block]) -> Extracted:
        for block in blocks:
            if isinstance(block, Line):
                self.line(block.text)
            elif isinstance(block, Grid):
                self.pending = None
                self.grid(block)
            elif isinstance(block, Pair):
                self.pair(block)
        for table, lines in self.out.prose.items():
            # a real table wins; prose rows only where no table row was found
            if not self.out.tables.get(table):
                self.out.tables[table] = prose_rows(self.ix.tables[table], lines)
        self.unmatched()
        return self.out

    def prose_list(self, slot: Slot, text: str) -> bool:
        """Whether *text* is written as a list of the table's rows (numbered lines, or lines
        with its column labels)."""
        table = self.ix.tables[slot.field]
        return any(looks_like_a_row(table, line) for line in text.split("\n") if line.strip())

    def take(self, slot: Slot, value: str, rank: int, label: str = "") -> bool:
        """``out.put``, except that a table field's text is kept as prose rows."""
        if self.ix.types[slot.field] is not FieldType.TABLE:
            return self.out.put(slot, value, rank, label)
        self.out.seen.add(slot.field)
        if value.strip():
            self.out.prose.setdefault(slot.field, []).append(value)
        return True

    def pair(self, pair: Pair) -> None:
        slot = self.labels.get(label_key(pair.label))
        if slot is None and pair.label in self.ix.types:
            slot = Slot(pair.label)
        if slot is not None and self.ix.types[slot.field] is not FieldType.TABLE:
            self.out.put(slot, clean_value(pair.value), CELL, pair.label)

    def line(self, text: str) -> None:
        pairs = self.inline_pairs(text)
        if pairs:
            head = clean_value(text[: pairs[0][2]])
            if head and not _NUMBER_ONLY.match(head):
                self.continue_pending(head)
            self.pending = None
            for slot, value, _, written in pairs:
                taken = self.take(slot, value, LINE, written)
                owned = taken or (not value and self.out.get(slot) is None)
                self.pending = slot if owned and self.takes_more(slot, value) else None
            return
        label = self.label_of(text.strip())
        if label is not None:
            slot, value = label
            taken = self.take(slot, value, LINE, text.strip())
            self.pending = slot if taken or self.out.get(slot) is None else None
            return
        if self.pending is not None and self.ix.types[self.pending.field] is FieldType.TABLE:
            if self.prose_list(self.pending, text):
                self.continue_pending(clean_value(text))
                return
            self.pending = None  # help text, a note: the list (if any) has ended
        if _OTHER_LABEL.match(text):
            self.pending = None  # "审批意见：…" — some label we do not know ends the value
            return
        self.continue_pending(clean_value(text))

    def takes_more(self, slot: Slot, value: str) -> bool:
        kind = self.ix.types[slot.field]
        return not value or kind in (FieldType.MULTILINE, FieldType.LIST, FieldType.TABLE)

    def continue_pending(self, text: str) -> None:
        """Add a following paragraph to the field a previous paragraph's label opened."""
        slot = self.pending
        if slot is None or not text:
            return
        if self.ix.types[slot.field] is FieldType.TABLE:
            self.take(slot, text, LINE)
            return
        current = self.out.get(slot)
        if current is None:
            self.out.put(slot, text, LINE)
        elif self.out.ranks.get(slot) == LINE and self.takes_more(slot, ""):
            self.out.replace(slot, f"{raw_text(current)}\n{text}")
        else:
            self.pending = None

    # -- tables -------------------------------------------------------------------------
    def grid(self, grid: Grid) -> None:
        rows = grid.rows
        lexicon = self.ix.form.lexicon
        labels = [[None if section_row(row, lexicon) and label_key(c.text) not in self.ix.labels
                   else self.label_of(c.text) for c in row] for row in rows]
        self.label_columns = {c.col for row, found in zip(rows, labels, strict=True)
                              for c, x in zip(row, found, strict=True) if x is not None}
        used = [[False] * len(row) for row in rows]
        r = 0
        while r < len(rows):
            header = self.header_of(rows[r])
            if header is not None:
                r = self.table_rows(rows, labels, used, r, header)
                continue
            self.label_row(rows, labels, used, r)
            r += 1
        for r, row in enumerate(rows):
            for i, cell in enumerate(row):
                if not used[r][i] and labels[r][i] is None and cell.value is not None:
                    for slot, value, _, label in self.inline_pairs(cell.text):
                        self.out.put(slot, value, CELL_TEXT, label)

    def own_lines(self, value: str) -> str:
        """*value* up to a line that opens with a label no field took ("岗位：客服专员" under
        "申请人：李四" in one cell): that line is a row of its own, never part of the value."""
        lines = value.split("\n")
        for n, line in enumerate(lines[1:], start=1):
            m = _OTHER_LABEL.match(line)
            if m is None:
                continue
            label = line[: m.end()].strip()
            if label_forms(label, self.ix.form.lexicon.hints) and \
                    label_key(label) not in self.labels:
                return clean_value("\n".join(lines[:n]))
        return value

    def other_label(self, row: Sequence[Cell], j: int, i: int) -> bool:
        """Whether cell *j* (right of label *i*'s value) is a label no field took ("岗位",
        "手机"): it ends the value, never joins it. A label says so by its colon, or by
        standing in a column where the table's labels stand, with a value after it."""
        if j <= i + 1 or not _filled(row[j]):
            return False
        text = row[j].text.strip()
        if text not in self.out.labels or "\n" in text:
            return False
        if text.endswith((":", "：")):
            return True
        return row[j].col in self.label_columns and any(_filled(c) for c in row[j + 1 :])

    def row_of_its_own(self, labels: Sequence[tuple[Slot, str] | None],
                       below: Sequence[Cell], under: Sequence[int]) -> bool:
        """Whether the row under a lone, empty label is a "label | value" row of its own
        (an unknown "岗位 | 工程师" under an empty "申请人"): never the label's value. A row
        of several labels over a row of values (the stacked layout) is not one."""
        if sum(x is not None for x in labels) != 1:
            return False
        first = min(under)
        return below[first].text.strip() in self.out.labels and any(
            _filled(c) for c in below[first + 1 :])

    def unmatched(self) -> None:
        """The labelled values no field took, for "表中「…：…」是否即此项？"."""
        taken = {raw_text(v).strip() for v in self.out.values.values()}
        taken |= {raw_text(v).strip() for p in self.out.parts.values() for v in p.values()}
        in_values = self.out.assignment.values if self.out.assignment else frozenset()
        for text, value in self.out.labels.items():
            if value is None or label_key(text) in self.labels or text.strip() in taken \
                    or text in in_values:
                continue
            shown = raw_text(value).strip()
            if shown and label_key(shown) not in self.labels:
                self.out.unmatched[text] = value

    def label_row(
        self,
        rows: Sequence[Sequence[Cell]],
        labels: Sequence[Sequence[tuple[Slot, str] | None]],
        used: list[list[bool]],
        r: int,
    ) -> None:
        row = rows[r]
        # A row of labels with no value anywhere is the top half of a stacked layout.
        values_in_row = any(
            labels[r][i] is None and c.value is not None and c.text.strip()
            for i, c in enumerate(row)
        )
        for i, cell in enumerate(row):
            found = labels[r][i]
            if found is None or used[r][i]:
                continue
            used[r][i] = True
            slot, inline = found
            if self.ix.types[slot.field] is FieldType.TABLE:
                # "行动项 | 1. 完成联调，负责人：吴九…": rows written as a list beside the label
                # (text under the label in its own cell is the blank form's help; a cell
                # holding the table itself is read as a table)
                self.out.seen.add(slot.field)
                j = i + 1
                while j < len(row) and labels[r][j] is None:
                    if self.prose_list(slot, row[j].text):
                        used[r][j] = True
                        self.take(slot, row[j].text, CELL)
                    j += 1
                continue
            if inline:
                self.out.put(slot, inline, CELL, cell.text)
                continue
            j = i + 1
            while j < len(row) and labels[r][j] is None and not self.other_label(row, j, i):
                j += 1
            beside = _join(row[i + 1 : j])
            if beside is not None or (j > i + 1 and values_in_row):
                for k in range(i + 1, j):
                    used[r][k] = True
                self.out.put(slot, beside, CELL, cell.text)
            elif r + 1 < len(rows):
                under = [k for k, c in enumerate(rows[r + 1]) if c.overlaps(cell.col, cell.span)]
                below = [k for k in under if labels[r + 1][k] is None]
                # a heading row ("一、变更内容" across the table) over labelled rows is a
                # section heading, not a label whose value is below it
                heading = len(below) < len(under)
                if below and not heading and self.header_of(rows[r + 1]) is None \
                        and not self.row_of_its_own(labels[r], rows[r + 1], below):
                    for k in below:
                        used[r + 1][k] = True
                    self.out.put(slot, _join([rows[r + 1][k] for k in below]), CELL, cell.text)
                else:
                    self.out.put(slot, None, CELL, cell.text)
            else:
                self.out.put(slot, None, CELL, cell.text)

    def table_rows(
        self,
        rows: Sequence[Sequence[Cell]],
        labels: Sequence[Sequence[tuple[Slot, str] | None]],
        used: list[list[bool]],
        h: int,
        header: tuple[str, list[tuple[str, Cell]]],
    ) -> int:
        table, columns = header
        self.out.seen.add(table)
        used[h] = [True] * len(rows[h])
        found = self.out.tables.setdefault(table, [])
        r = h + 1
        while r < len(rows):
            row = rows[r]
            if any(x is not None for x in labels[r]) or self.header_of(row) is not None:
                break
            used[r] = [True] * len(row)
            record: dict[str, RawValue] = {}
            for key, head in columns:
                value = _join([c for c in row if c.overlaps(head.col, head.span)])
                if value is not None and key not in record:
                    record[key] = value
            if record:
                found.append(record)
            r += 1
        return r


def _join(cells: Sequence[Cell]) -> RawValue | None:
    """One cell's own value (keeps an .xlsx date a date), or the texts of several joined."""
    filled = [c for c in cells if c.value is not None and c.text.strip()]
    if not filled:
        return None
    if len(filled) == 1:
        return filled[0].value
    return "\n".join(c.text for c in filled)


def extract(form: FormDef, blocks: Iterable[Block]) -> Extracted:
    """The raw values of *form*'s fields found in *blocks*: labels matched by meaning
    (matching.py) over the whole document first, then read layout by layout."""
    listed = tuple(blocks)
    return _Extractor(form_index(form), listed).blocks(listed)
