"""Read an .xlsx into layout blocks: one Part per worksheet, each one Grid.

Each sheet is streamed (the XML is parsed as it decompresses) and read only up to
MAX_ROWS × MAX_COLS — a form is small — at most MAX_SHEETS sheets; shared strings are read
lazily, only as far as the cells seen need them. So a 20 MB workbook costs bounded time
and memory. openpyxl's read-only mode was the first choice but is unbounded on two
counts: it loads every shared string before the first cell, and for a sheet without a
``<dimension>`` element it parses the whole sheet just to size it (a 23 MB data dump took
minutes). openpyxl still supplies the number-format rules (which formats are dates) and
the serial-date conversion. Merged cells are ignored: a merged value sits in its top-left
cell and the label rules look past the empty cells after it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH, from_excel

from mailflow.documents.layout import (
    MARKER_NAME,
    Block,
    Cell,
    Grid,
    Line,
    Marker,
    Part,
    RawDocument,
    RawValue,
    parse_marker,
)
from mailflow.documents.ooxml import (
    WHOLE_PART_BYTES,
    PackageError,
    custom_property,
    main_part,
    open_package,
    parse_xml,
    part_rels,
    read_part,
    stream_xml,
)

MAX_ROWS = 500
MAX_COLS = 50
MAX_SHEETS = 20
MAX_SHARED_STRINGS = 200_000  # strings kept in memory; a form's come early in the table
MAX_CELL_CHARS = 32_767  # Excel's own limit

_MAIN = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main",
         "http://purl.oclc.org/ooxml/spreadsheetml/main")  # fmt: skip
_REL_ID = ("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id",
           "{http://purl.oclc.org/ooxml/officeDocument/relationships}id")  # fmt: skip
_WORKSHEET = ("/relationships/worksheet",)
# East Asian Excel's built-in date formats (not in openpyxl's table): 27–36, 50–58.
_CJK_DATE_IDS = frozenset(range(27, 37)) | frozenset(range(50, 59))
_CELL_REF = re.compile(r"([A-Za-z]{1,3})(\d*)")


class _Names:
    def __init__(self, ns: str) -> None:
        def t(name: str) -> str:
            return f"{{{ns}}}{name}"

        self.sheets, self.sheet, self.defined_name = t("sheets"), t("sheet"), t("definedName")
        self.workbook_pr = t("workbookPr")
        self.row, self.c, self.v, self.is_, self.t, self.r = (
            t("row"), t("c"), t("v"), t("is"), t("t"), t("r"),
        )  # fmt: skip
        self.rph, self.si, self.sheet_data = t("rPh"), t("si"), t("sheetData")
        self.num_fmt, self.cell_xfs, self.xf = t("numFmt"), t("cellXfs"), t("xf")


def _rich_text(element: ET.Element, n: _Names) -> str:
    """The text of an ``<si>`` / ``<is>``: plain ``<t>`` or rich runs, phonetic hints dropped."""
    parts: list[str] = []
    for child in element:
        if child.tag == n.t:
            parts.append(child.text or "")
        elif child.tag == n.r:
            t = child.find(n.t)
            parts.append(t.text or "" if t is not None else "")
    return "".join(parts)[:MAX_CELL_CHARS]


class _SharedStrings:
    """The shared-string table, parsed only as far as the largest index asked for."""

    def __init__(self, package: zipfile.ZipFile, name: str | None, n: _Names) -> None:
        self._events: Iterator[tuple[str, ET.Element]] | None = (
            stream_xml(package, name) if name else None
        )
        self._n = n
        self._items: list[str] = []
        self._root: ET.Element | None = None

    def __getitem__(self, index: int) -> str:
        while len(self._items) <= index and self._events is not None:
            if len(self._items) >= MAX_SHARED_STRINGS:
                self._events = None
                break
            self._pull()
        return self._items[index] if 0 <= index < len(self._items) else ""

    def _pull(self) -> None:
        assert self._events is not None
        for event, element in self._events:
            if event == "start" and self._root is None:
                self._root = element
            elif event == "end" and element.tag == self._n.si:
                self._items.append(_rich_text(element, self._n))
                if self._root is not None:
                    self._root.clear()
                return
        self._events = None


def _date_styles(package: zipfile.ZipFile, name: str | None, n: _Names) -> list[bool]:
    """For each cell style (``s`` index), whether its number format shows a date."""
    data = read_part(package, name) if name else None
    if data is None:
        return []
    root = parse_xml(data, name or "styles")
    custom = {
        int(f.get("numFmtId") or -1): f.get("formatCode") or ""
        for f in root.iter(n.num_fmt)
    }  # fmt: skip
    xfs = root.find(n.cell_xfs)
    flags: list[bool] = []
    for xf in xfs.iter(n.xf) if xfs is not None else ():
        try:
            fmt_id = int(xf.get("numFmtId") or 0)
        except ValueError:
            fmt_id = 0
        code = custom.get(fmt_id) or BUILTIN_FORMATS.get(fmt_id) or ""
        flags.append(fmt_id in _CJK_DATE_IDS or (bool(code) and is_date_format(code)))
    return flags


def _column(ref: str | None, previous: int) -> int:
    if ref:
        m = _CELL_REF.match(ref)
        if m:
            index = 0
            for ch in m.group(1).upper():
                index = index * 26 + ord(ch) - 64
            return index - 1
    return previous + 1


@dataclass
class _Context:
    n: _Names
    strings: _SharedStrings
    dates: list[bool]
    epoch: datetime


def _value(c: ET.Element, ctx: _Context) -> RawValue | None:
    n = ctx.n
    kind = c.get("t") or "n"
    if kind == "inlineStr":
        inline = c.find(n.is_)
        text = _rich_text(inline, n) if inline is not None else ""
        return text if text.strip() else None
    v = c.find(n.v)
    raw = v.text if v is not None else None
    if raw is None:
        return None
    if kind == "s":
        try:
            text = ctx.strings[int(raw)]
        except ValueError:
            return None
        return text if text.strip() else None
    if kind in ("str", "e"):
        return raw[:MAX_CELL_CHARS] if kind == "str" and raw.strip() else None
    if kind == "b":
        return raw.strip() in ("1", "true")
    if kind == "d":
        try:
            return datetime.fromisoformat(raw.strip().rstrip("Z"))
        except ValueError:
            return raw
    try:
        number = float(raw)
    except ValueError:
        return raw
    style = int(c.get("s") or 0) if (c.get("s") or "0").isdigit() else 0
    if style < len(ctx.dates) and ctx.dates[style] and 0 <= number < 2_958_466:
        moment = from_excel(number, ctx.epoch)
        return moment if not isinstance(moment, timedelta) else raw
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _row_elements(package: zipfile.ZipFile, name: str, n: _Names) -> Iterator[ET.Element]:
    """The sheet's ``<row>`` elements in order: parsed whole when small, streamed when not."""
    if package.getinfo(name).file_size <= WHOLE_PART_BYTES:
        root = parse_xml(read_part(package, name) or b"", name)
        data = root.find(n.sheet_data)
        yield from data.findall(n.row) if data is not None else ()
        return
    container: ET.Element | None = None
    for event, element in stream_xml(package, name):
        if event == "start":
            if element.tag == n.sheet_data:
                container = element
        elif element.tag == n.row:
            yield element
            if container is not None:
                container.clear()  # rows already read are dropped
        elif element.tag == n.sheet_data:
            return


def _sheet(package: zipfile.ZipFile, name: str, ctx: _Context) -> Grid:
    n = ctx.n
    rows: list[tuple[Cell, ...]] = []
    row_number = 0
    for row in _row_elements(package, name, n):
        r = row.get("r") or ""
        row_number = int(r) if r.isdigit() else row_number + 1
        if row_number > MAX_ROWS:
            break
        cells: list[Cell] = []
        col = -1
        for c in row:
            if c.tag != n.c:
                continue
            col = _column(c.get("r"), col)
            if col < MAX_COLS:
                value = _value(c, ctx)
                if value is not None:
                    cells.append(Cell(col, 1, value))
        while len(rows) < row_number - 1:
            rows.append(())
        rows.append(tuple(cells))
    while rows and not rows[-1]:
        rows.pop()
    return Grid(tuple(rows))


def read_xlsx(data: bytes) -> RawDocument:
    """Each worksheet (up to MAX_SHEETS) as a Part holding its marker (if any) and one Grid."""
    package = open_package(data)
    with package:
        book = main_part(package, "xl/workbook.xml")
        xml = read_part(package, book)
        if xml is None:
            raise PackageError(f"no workbook part ({book})")
        root = parse_xml(xml, book)
        ns = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
        if ns not in _MAIN:
            raise PackageError(f"{book} is not a SpreadsheetML workbook")
        n = _Names(ns)
        rels = part_rels(package, book)
        by_type = {kind.rsplit("/", 1)[-1]: target for kind, target in rels.values()}
        pr = root.find(n.workbook_pr)
        epoch = MAC_EPOCH if pr is not None and pr.get("date1904") in ("1", "true") else None
        ctx = _Context(
            n,
            _SharedStrings(package, by_type.get("sharedStrings"), n),
            _date_styles(package, by_type.get("styles"), n),
            epoch or WINDOWS_EPOCH,
        )
        markers = _sheet_markers(root, n)
        parts: list[Part] = []
        sheets = root.find(n.sheets)
        for index, sheet in enumerate(sheets.findall(n.sheet) if sheets is not None else ()):
            rel_id = next((sheet.get(a) for a in _REL_ID if sheet.get(a)), None)
            kind, target = rels.get(rel_id or "", ("", ""))
            if not kind.endswith(_WORKSHEET) or target not in package.NameToInfo:
                continue
            grid = _sheet(package, target, ctx)
            marker = markers.get(index)
            blocks: tuple[Block, ...] = (marker, grid) if marker else (grid,)
            parts.append(Part(sheet.get("name") or "", blocks + _text_boxes(package, target)))
            if len(parts) >= MAX_SHEETS:
                break
        value = custom_property(package, MARKER_NAME)
    return RawDocument(tuple(parts), parse_marker(value) if value else None)


_DRAWING = "/drawing"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
MAX_BOX_LINES = 200


def _text_boxes(package: zipfile.ZipFile, sheet: str) -> tuple[Line, ...]:
    """The text of the shapes (text boxes) drawn on *sheet*, one Line per paragraph: people
    type notes and sometimes values ("补充说明：…") into a text box over the sheet."""
    lines: list[Line] = []
    for kind, target in part_rels(package, sheet).values():
        if not kind.endswith(_DRAWING) or target not in package.NameToInfo:
            continue
        root = parse_xml(read_part(package, target) or b"", target)
        for p in root.iter(f"{{{_A}}}p"):
            text = "".join(t.text or "" for t in p.iter(f"{{{_A}}}t"))
            if text.strip():
                lines.append(Line(text))
            if len(lines) >= MAX_BOX_LINES:
                return tuple(lines)
    return tuple(lines)


def _sheet_markers(root: ET.Element, n: _Names) -> dict[int, Marker]:
    """Sheet index → our marker, from sheet-scoped defined names ``_mailflow_form``."""
    found: dict[int, Marker] = {}
    for name in root.iter(n.defined_name):
        local = name.get("localSheetId") or ""
        if name.get("name") == MARKER_NAME and local.isdigit():
            marker = parse_marker(name.text or "")
            if marker is not None:
                found[int(local)] = marker
    return found
