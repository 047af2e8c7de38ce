"""Read a PDF with a text layer into layout blocks (pdfplumber): tables and loose lines.

Why: people print a filled form to PDF ("导出为 PDF", a form made in WPS and exported) and
mail that instead of the .docx. Its tables become ``Grid``s (merged cells keep their span),
the text outside them ``Line``s ("申请人：张三"), in reading order, so recognition and
extraction treat it exactly like a .docx. A cell's lines that only wrap (the line runs to
the cell's right edge) are joined back; real line breaks stay. A PDF whose pages hold no
characters is a scan or a photo: ``NoTextLayer``, and the sender is asked for the Office
file (we do no OCR).
"""

from __future__ import annotations

import io
import logging
import re
import zlib
from collections.abc import Sequence
from functools import partial
from typing import Any

import pdfplumber

from mailflow.documents.layout import Block, Cell, Grid, Line, Part, RawDocument

# pdfminer warns for every oddity of a damaged file; the reader's outcome says all we need
logging.getLogger("pdfminer").setLevel(logging.ERROR)

MAX_PAGES = 20  # a form is one to three pages; a long PDF is read no further than this
MAX_CELLS = 5000
_WRAP_SLACK = 1.6  # a line ending within this many character widths of the edge wraps


class NoTextLayer(Exception):
    """The PDF has no text to read: scanned pages or pictures only."""


Box = tuple[float, float, float, float]


def _box(bbox: Sequence[float]) -> Box:
    return float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3])


def _inside(obj: dict[str, Any], boxes: Sequence[Box]) -> bool:
    x = (float(obj["x0"]) + float(obj["x1"])) / 2
    y = (float(obj["top"]) + float(obj["bottom"])) / 2
    return any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)


def _outside(obj: dict[str, Any], boxes: Sequence[Box]) -> bool:
    return obj.get("object_type") != "char" or not _inside(obj, boxes)


def _joined(lines: Sequence[dict[str, Any]], right: float) -> str:
    """The text of a cell's lines: a line that reaches the right edge continues the next."""
    out = ""
    for i, line in enumerate(lines):
        text = str(line["text"]).strip()
        if i:
            previous = lines[i - 1]
            chars = previous.get("chars") or []
            width = float(chars[-1]["size"]) if chars else 10.0
            wrapped = float(previous["x1"]) >= right - _WRAP_SLACK * width
            if not wrapped:
                out += "\n"
            elif out[-1:].isascii() and out[-1:].isalnum() and text[:1].isascii():
                out += " "
        out += text
    return out


_GAP = 1.8  # a gap wider than this many character widths separates two cells
_ALIGNED_GAP = 0.9  # a narrower one does when other lines start a piece at the same x
_SPACE_GAP = 0.25  # a gap at least this wide is a space between words
_SAME_X = 2.0  # points


def _pieces(chars: list[dict[str, Any]]) -> list[tuple[float, float, str]]:
    """(gap before, x0, text) of each run of *chars* split at every gap wider than
    _ALIGNED_GAP character widths (the first piece has gap 0)."""
    pieces: list[tuple[float, float, str]] = []
    gap_before, x0, current = 0.0, float(chars[0]["x0"]) if chars else 0.0, ""
    for i, ch in enumerate(chars):
        if i:
            before = chars[i - 1]
            size = float(before.get("size") or 10.0)
            gap = (float(ch["x0"]) - float(before["x1"])) / size
            if gap > _ALIGNED_GAP and current.strip():
                pieces.append((gap_before, x0, current.strip()))
                gap_before, x0, current = gap, float(ch["x0"]), ""
            elif gap > _SPACE_GAP:
                current += " "
        current += str(ch.get("text") or "")
    if current.strip():
        pieces.append((gap_before, x0, current.strip()))
    return pieces


def _line_blocks(lines: list[dict[str, Any]]) -> list[Block]:
    """Lines outside any ruled table. A sheet printed without grid lines puts label and value
    on one line apart ("申请人     李四"): a line is a row of cells where a gap is wide, or
    where other lines start a piece at the same x (the value column)."""
    split = [_pieces(line.get("chars") or []) for line in lines]
    starts = [round(x0 / _SAME_X) for pieces in split for gap, x0, _ in pieces if gap]
    blocks: list[Block] = []
    for line, pieces in zip(lines, split, strict=True):
        cells: list[str] = []
        for gap, x0, text in pieces:
            aligned = starts.count(round(x0 / _SAME_X)) >= 3
            if cells and not (gap > _GAP or aligned):
                cells[-1] += " " + text
            else:
                cells.append(text)
        if len(cells) < 2:
            blocks.append(Line(str(line["text"])))
        else:
            blocks.append(Grid((tuple(Cell(col, 1, text) for col, text in enumerate(cells)),)))
    return blocks


def _cell_text(page: Any, box: Box) -> str:
    lines = page.crop(box, strict=False).extract_text_lines(strip=True)
    return _joined(lines, box[2] - 2.0)


def _grid(page: Any, table: Any, budget: list[int]) -> Grid:
    rows: list[tuple[Cell, ...]] = []
    for row in table.rows:
        cells: list[Cell] = []
        boxes = list(row.cells)
        for col, box in enumerate(boxes):
            if box is None:
                continue
            span = 1
            while col + span < len(boxes) and boxes[col + span] is None:
                span += 1
            text = _cell_text(page, box) if budget[0] > 0 else ""
            budget[0] -= 1
            cells.append(Cell(col, span, text if text.strip() else None))
        rows.append(tuple(cells))
    return Grid(tuple(rows))


MAX_INFLATED = 64 * 1024 * 1024  # all streams together, decompressed: a form is < 5 MB
_STREAM = re.compile(rb"stream\r?\n")


class PdfRefused(Exception):
    """The PDF would decompress to far more than any form (a decompression bomb)."""


def check_streams(data: bytes, limit: int = MAX_INFLATED) -> None:
    """Inflate every Flate stream with a running budget before pdfminer (which inflates in
    memory, unbounded) sees the file; raise PdfRefused when the total passes *limit*."""
    budget = limit
    for m in _STREAM.finditer(data):
        inflater = zlib.decompressobj()
        chunk = data[m.end() : m.end() + 1024 * 1024]
        try:
            out = inflater.decompress(chunk, budget + 1)
            while inflater.unconsumed_tail and len(out) <= budget:
                out += inflater.decompress(inflater.unconsumed_tail, budget + 1 - len(out))
        except zlib.error:
            continue  # not Flate (or not a stream at all): pdfminer judges it
        budget -= len(out)
        if budget < 0:
            raise PdfRefused(f"the PDF's streams inflate to more than {limit} bytes")


def read_pdf(data: bytes) -> RawDocument:
    """The PDF's pages as one part of blocks; NoTextLayer when no page has any text."""
    check_streams(data)
    blocks: list[Block] = []
    characters = 0
    budget = [MAX_CELLS]
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages[:MAX_PAGES]:
            characters += len(page.chars)
            if not page.chars:
                continue
            tables = page.find_tables()
            boxes: list[Box] = [_box(t.bbox) for t in tables]
            placed: list[tuple[float, int, Block]] = []
            for t in tables:
                placed.append((float(t.bbox[1]), len(placed), _grid(page, t, budget)))
            outside = page.filter(partial(_outside, boxes=tuple(boxes)))
            lines = outside.extract_text_lines(strip=True, return_chars=True)
            for line, block in zip(lines, _line_blocks(lines), strict=True):
                placed.append((float(line["top"]), len(placed), block))
            blocks.extend(block for _, _, block in sorted(placed, key=lambda p: (p[0], p[1])))
    if characters == 0:
        raise NoTextLayer("the PDF has no text layer (scanned pages or pictures)")
    return RawDocument((Part("document", tuple(blocks)),))
