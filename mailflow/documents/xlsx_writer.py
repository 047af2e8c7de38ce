"""Write a blank form as .xlsx (openpyxl), with reproducible bytes.

One sheet named after the form: title (merged A:D), instructions, then one row per field
— label in A, value merged over B:D — and for a table field a header row (序号, columns)
with empty rows under it. Choice cells hold "☐绝密　☐机密　☐保密" (edit ☐ to ☑) and a
drop-down of the choices that accepts other input, so both ways of answering work. Date
cells carry a date format so a typed date stays a date. The marker is a hidden,
sheet-scoped defined name ``_mailflow_form`` (it travels with the sheet when copied) and a
custom document property.
"""

from __future__ import annotations

import io
import re
import zipfile

import openpyxl
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from mailflow.documents.definitions import BlankLayout, FieldDef, FieldType, FormDef
from mailflow.documents.docx_writer import FIXED_ISO, write_zip
from mailflow.documents.layout import MARKER_NAME

LAST_COLUMN = 4  # A (labels) … D
_THIN = Side(style="thin", color="000000")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_LABEL_FILL = PatternFill("solid", fgColor="F2F2F2")
_WRAP = Alignment(wrap_text=True, vertical="center")
_WRAP_TOP = Alignment(wrap_text=True, vertical="top")
_NUMBER_FORMATS = {FieldType.DATE: "yyyy-mm-dd", FieldType.DATETIME: "yyyy-mm-dd hh:mm"}


def _box(ws: Worksheet, row: int, first: int, last: int) -> None:
    for col in range(first, last + 1):
        ws.cell(row=row, column=col).border = _BORDER


def _label_text(f: FieldDef, layout: BlankLayout) -> CellRichText:
    """Label (bold), a red required mark, and a small grey hint on a second line."""
    parts: list[str | TextBlock] = [TextBlock(InlineFont(b=True), f.label_zh)]
    if f.required:
        parts.append(TextBlock(InlineFont(b=True, color="C00000"), f" {layout.required_mark}"))
    hint = layout.hint(f)
    if hint:
        parts.append(TextBlock(InlineFont(sz=8, color="7F7F7F"), f"\n（{hint}）"))
    return CellRichText(*parts)


class _Sheet:
    def __init__(self, ws: Worksheet, layout: BlankLayout) -> None:
        self.ws = ws
        self.layout = layout
        self.row = 1
        self.validations: dict[tuple[str, ...], DataValidation] = {}

    def merged(self, text: str, *, font: Font, height: float, align: Alignment) -> None:
        ws = self.ws
        ws.merge_cells(start_row=self.row, start_column=1, end_row=self.row, end_column=LAST_COLUMN)
        cell = ws.cell(row=self.row, column=1, value=text)
        cell.font = font
        cell.alignment = align
        ws.row_dimensions[self.row].height = height
        self.row += 1

    def field(self, f: FieldDef) -> None:
        if f.type is FieldType.TIME_RANGE and f.columns:
            for part in f.columns:
                self.labelled(part, _label_text(part, self.layout))
        elif f.type is FieldType.TABLE:
            self.table(f)
        else:
            self.labelled(f, _label_text(f, self.layout))

    def labelled(self, f: FieldDef, label: CellRichText) -> None:
        ws, r = self.ws, self.row
        cell = ws.cell(row=r, column=1, value=label)
        cell.fill = _LABEL_FILL
        cell.alignment = _WRAP
        ws.merge_cells(start_row=r, start_column=2, end_row=r, end_column=LAST_COLUMN)
        value = ws.cell(row=r, column=2)
        value.alignment = _WRAP_TOP if f.type is FieldType.MULTILINE else _WRAP
        if f.type in _NUMBER_FORMATS:
            value.number_format = _NUMBER_FORMATS[f.type]
        options = ("是", "否") if f.type is FieldType.YESNO else f.choices
        if options:
            value.value = "\u3000".join(f"☐{option}" for option in options)
            if f.type is not FieldType.MULTICHOICE:
                self.validation(options).add(value.coordinate)
        _box(ws, r, 1, LAST_COLUMN)
        lines = str(label).count("\n") + 1
        ws.row_dimensions[r].height = 66 if f.type is FieldType.MULTILINE else 15 + 13 * lines
        self.row += 1

    def validation(self, options: tuple[str, ...]) -> DataValidation:
        found = self.validations.get(options)
        if found is None:
            found = DataValidation(
                type="list",
                formula1='"' + ",".join(options) + '"',
                allow_blank=True,
                showErrorMessage=False,
                showDropDown=False,
            )
            self.ws.add_data_validation(found)
            self.validations[options] = found
        return found

    def table(self, f: FieldDef) -> None:
        ws = self.ws
        self.merged(
            f"{f.label_zh}（{f.help_zh}）" if f.help_zh else f.label_zh,
            font=Font(bold=True),
            height=20,
            align=_WRAP,
        )
        headers = [self.layout.number_column, *(c.label_zh for c in f.columns)]
        # a table wider than the form (R-PM-13's four columns) runs on past column D
        last = max(LAST_COLUMN, len(headers))
        if last > LAST_COLUMN:
            ws.column_dimensions[get_column_letter(last)].width = 16
        for col, text in enumerate(headers[:last], start=1):
            cell = ws.cell(row=self.row, column=col, value=text)
            cell.font = Font(bold=True)
            cell.fill = _LABEL_FILL
            cell.alignment = Alignment(horizontal="center", vertical="center")
        _box(ws, self.row, 1, last)
        self.row += 1
        for n in range(1, self.layout.table_rows + 1):
            ws.cell(row=self.row, column=1, value=n).alignment = Alignment(horizontal="center")
            for col, column in enumerate(f.columns[: last - 1], start=2):
                cell = ws.cell(row=self.row, column=col)
                cell.alignment = _WRAP
                if column.type in _NUMBER_FORMATS:
                    cell.number_format = _NUMBER_FORMATS[column.type]
            _box(ws, self.row, 1, last)
            ws.row_dimensions[self.row].height = 22
            self.row += 1


def blank_workbook(form: FormDef, layout: BlankLayout) -> openpyxl.Workbook:
    """The blank form as an openpyxl workbook (tests fill it the way a person does)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = form.title_zh[:31]
    for letter, width in zip("ABCD", (24, 30, 16, 18), strict=True):
        ws.column_dimensions[letter].width = width
    sheet = _Sheet(ws, layout)
    sheet.merged(
        form.title_zh,
        font=Font(bold=True, size=16),
        height=32,
        align=Alignment(horizontal="center", vertical="center"),
    )
    instructions = form.instructions_zh.strip()
    sheet.merged(
        instructions,
        font=Font(size=9, color="595959"),
        height=13 * (instructions.count("\n") + 1) + 6,
        align=_WRAP,
    )
    for f in form.fields:
        if f.type is not FieldType.TABLE:
            sheet.field(f)
    for f in form.fields:
        if f.type is FieldType.TABLE:
            sheet.row += 1
            sheet.field(f)
    ws.defined_names[MARKER_NAME] = DefinedName(
        MARKER_NAME, attr_text=f'"{form.kind}:{form.version}"', hidden=True
    )
    wb.custom_doc_props.append(
        StringProperty(name=MARKER_NAME, value=f"{form.kind}:{form.version}")
    )
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    wb.properties.creator = "mailflow"
    wb.properties.title = form.title_zh
    return wb


_W3CDTF = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def workbook_bytes(wb: openpyxl.Workbook) -> bytes:
    """Save *wb* with fixed timestamps (zip entries and core properties)."""
    raw = io.BytesIO()
    wb.save(raw)
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as package:
        parts: list[tuple[str, str | bytes]] = []
        for info in package.infolist():
            data = package.read(info)
            if info.filename == "docProps/core.xml":
                data = _W3CDTF.sub(rb"\g<1>" + FIXED_ISO.encode() + rb"\g<2>", data)
            parts.append((info.filename, data))
    return write_zip(parts)


def blank_xlsx(form: FormDef, layout: BlankLayout) -> bytes:
    """The blank form *form* as .xlsx bytes (same bytes every time)."""
    return workbook_bytes(blank_workbook(form, layout))
