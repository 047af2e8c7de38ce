"""What the two readers hand on: a document flattened into blocks, format no longer visible.

A .docx body and an .xlsx sheet look very different but hold the same things: tables of
cells (``Grid``), loose lines of text (``Line``, e.g. "申请人：张三"), our hidden form
marker (``Marker``) and values named by their container (``Pair``, a content control
titled "使用目的"). Recognition and extraction work on these alone, so the label rules are
written once for both formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

# A cell's value as the file holds it: text, or a number / date / bool an .xlsx cell typed.
RawValue = str | int | float | bool | datetime | date | time


def raw_text(value: RawValue | None) -> str:
    """A raw value as the text a person sees in the cell."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of a table: first grid column, columns covered, value (None when empty)."""

    col: int
    span: int
    value: RawValue | None

    @property
    def text(self) -> str:
        return raw_text(self.value)

    def overlaps(self, col: int, span: int) -> bool:
        return self.col < col + span and col < self.col + self.span


@dataclass(frozen=True, slots=True)
class Grid:
    """A table: rows of cells in column order (a row may be empty)."""

    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True, slots=True)
class Line:
    """A paragraph (or a text box line) outside any table."""

    text: str


@dataclass(frozen=True, slots=True)
class Marker:
    """Our hidden "this is form <kind>, version <n>" mark, written by the blank generator."""

    kind: str
    version: int


@dataclass(frozen=True, slots=True)
class Pair:
    """A value whose container names it: a content control's title (alias) or tag."""

    label: str
    value: str


Block = Grid | Line | Marker | Pair


@dataclass(frozen=True, slots=True)
class Part:
    """One independent piece of a file: the .docx body, or one .xlsx sheet."""

    name: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class RawDocument:
    """A whole file as blocks, plus the file-wide marker from its custom properties."""

    parts: tuple[Part, ...]
    file_marker: Marker | None = None


MARKER_PREFIX = "mailflow-form"
MARKER_NAME = "_mailflow_form"  # xlsx defined name, docx custom property


def marker_text(kind: str, version: int) -> str:
    return f"{MARKER_PREFIX}:{kind}:{version}"


def parse_marker(text: str) -> Marker | None:
    """Read ``mailflow-form:<kind>:<version>`` (or ``<kind>:<version>``), quotes allowed."""
    body = text.strip().strip('"').strip()
    if body.startswith(MARKER_PREFIX + ":"):
        body = body[len(MARKER_PREFIX) + 1 :]
    kind, _, version = body.partition(":")
    if not kind.replace("_", "").isalnum() or not kind.isascii() or not version.isdigit():
        return None
    return Marker(kind, int(version))
