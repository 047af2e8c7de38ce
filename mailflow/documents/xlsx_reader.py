"""Read an .xlsx into layout blocks: one Part per worksheet, each one Grid.

openpyxl in ``read_only=True, data_only=True`` mode streams each sheet and gives cached
formula results; it does not report merged cells, so a merged value simply sits in its
top-left cell and the label rules look right past the empty cells after it. A form is
small: each sheet is scanned up to MAX_ROWS × MAX_COLS and at most MAX_SHEETS sheets, so a
20 MB workbook costs bounded time and memory.
"""

from __future__ import annotations

import io
import warnings
from datetime import date, datetime, time, timedelta

import openpyxl

from mailflow.documents.layout import (
    MARKER_NAME,
    Cell,
    Grid,
    Marker,
    Part,
    RawDocument,
    RawValue,
    parse_marker,
)

MAX_ROWS = 500
MAX_COLS = 50
MAX_SHEETS = 20


def _value(value: object) -> RawValue | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool | int | float | datetime | date | time):
        return value
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _sheet_marker(ws: object) -> Marker | None:
    names = getattr(ws, "defined_names", None)
    if names is None:
        return None
    defn = names.get(MARKER_NAME)
    text = getattr(defn, "attr_text", None)
    return parse_marker(text) if isinstance(text, str) else None


def _file_marker(wb: object) -> Marker | None:
    for prop in getattr(wb, "custom_doc_props", None) or ():
        if getattr(prop, "name", None) == MARKER_NAME and isinstance(prop.value, str):
            return parse_marker(prop.value)
    return None


def read_xlsx(data: bytes) -> RawDocument:
    """Each worksheet (up to MAX_SHEETS) as a Part holding its marker (if any) and one Grid."""
    with warnings.catch_warnings():
        # openpyxl warns about features it drops (data validation extensions, …): not ours.
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True, keep_links=False
        )
        try:
            parts: list[Part] = []
            for ws in wb.worksheets[:MAX_SHEETS]:
                rows: list[tuple[Cell, ...]] = []
                for row in ws.iter_rows(
                    min_row=1, max_row=MAX_ROWS, max_col=MAX_COLS, values_only=True
                ):
                    cells = []
                    for col, raw in enumerate(row):
                        value = _value(raw)
                        if value is not None:
                            cells.append(Cell(col, 1, value))
                    rows.append(tuple(cells))
                while rows and not rows[-1]:
                    rows.pop()
                marker = _sheet_marker(ws)
                blocks = (marker, Grid(tuple(rows))) if marker else (Grid(tuple(rows)),)
                parts.append(Part(str(ws.title), blocks))
            file_marker = _file_marker(wb)
        finally:
            wb.close()
    return RawDocument(tuple(parts), file_marker)
