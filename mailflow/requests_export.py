"""The request list as a spreadsheet (.xlsx) or CSV: what the IT desk opens in Excel or WPS
to count, sort and report on requests of a period.

One row per request: reference, kind, status, requester, when it came in, title, then one
column per form field (fields that several kinds share, such as 申请人, share a column).
What people typed reaches this sheet unchanged from their forms, so every cell goes through
export_safety.safe_row right before it is written (issue 7: no formula from a form ever
runs on the desk's PC). Column and status words come from templates/<lang>/requests_export.j2.
CSV is written with a byte-order mark, which Excel on Chinese Windows needs to read UTF-8.
Values are shown through display.py (是/否, "23:30 至 次日 01:30", tables as rows); the .xlsx
has typed cells (dates as Excel dates, numbers as numbers), column widths, a frozen header row
and an autofilter.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain, islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

from mailflow.display import ValueDisplay, column_widths
from mailflow.documents.definitions import FieldDef, FormCatalog
from mailflow.errors import OperatorError, explain_os_error
from mailflow.export_safety import safe_csv_row, safe_row
from mailflow.intake import Progress
from mailflow.private import private_file
from mailflow.store.models import Request
from mailflow.templates import Templates

FORMATS = (".csv", ".xlsx")
FIXED = ("reference", "kind", "status", "requester", "email", "received_at", "title")
BATCH = 500  # requests read per round trip
WRAP = Alignment(wrap_text=True, vertical="top")


class ExportError(OperatorError):
    """The export cannot be written as asked (an unknown format or kind)."""


@dataclass(frozen=True)
class Period:
    """Days in the service's time zone, both ends included; None is open."""

    first: date | None = None
    last: date | None = None

    def bounds(self, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """The period as naive UTC instants, as the database stores them."""
        def utc(day: date) -> datetime:
            local = datetime.combine(day, time(0), zone)
            return local.astimezone(UTC).replace(tzinfo=None)

        start = utc(self.first) if self.first else None
        end = utc(self.last + timedelta(days=1)) if self.last else None
        return start, end


def check_target(path: Path) -> None:
    """Refuse, before any work, a file that cannot be written: wrong suffix, a missing
    directory, a directory in its place."""
    if path.suffix.lower() not in FORMATS:
        raise ExportError(f"{path}: the file name must end in .csv or .xlsx")
    if path.is_dir():
        raise ExportError(f"{path} is a directory; name the file to write, e.g. "
                          f"{path / 'requests.xlsx'}")
    parent = path.parent
    if not parent.is_dir():
        raise ExportError(f"cannot write {path}: the directory {parent} does not exist; "
                          "create it or choose another path")


class RequestSheet:
    """The header and rows of the request list for one period and (optionally) one kind."""

    def __init__(self, catalog: FormCatalog, templates: Templates, zone: ZoneInfo,
                 period: Period, kind: str | None = None) -> None:
        if kind is not None and kind not in catalog.forms:
            raise ExportError(f"unknown kind {kind!r}; known: {', '.join(sorted(catalog.forms))}")
        self._catalog = catalog
        self._zone = zone
        self._period = period
        self._kind = kind
        self._words = templates.labels("requests_export", "columns")
        self._statuses = templates.labels("words", "statuses")  # shared with mails, demo
        self._other_kinds = templates.labels("requests_export", "kinds")  # mail without a form
        self._english = templates.language == "en"
        self.display = ValueDisplay(templates)
        forms = [catalog.get(kind)] if kind else list(catalog.forms.values())
        self._fields: dict[str, FieldDef] = {}
        for form in forms:
            for f in form.fields:
                self._fields.setdefault(f.key, f)

    def _query(self) -> Select[Request]:
        stmt = select(Request)
        start, end = self._period.bounds(self._zone)
        if start is not None:
            stmt = stmt.where(Request.created_at >= start)
        if end is not None:
            stmt = stmt.where(Request.created_at < end)
        if self._kind is not None:
            stmt = stmt.where(Request.kind == self._kind)
        return stmt

    def count(self, session: Session) -> int:
        subquery = self._query().subquery()
        return int(session.execute(select(func.count()).select_from(subquery)).scalar_one())

    def header(self) -> list[str]:
        return [self._words.get(key, key) for key in FIXED] + [
            self.display.label(f) for f in self._fields.values()]

    def rows(self, session: Session, typed: bool = True) -> Iterator[list[object]]:
        """Rows of typed cells (.xlsx) or of texts (*typed* False: CSV)."""
        stmt = self._query().order_by(Request.id).execution_options(yield_per=BATCH)
        for request in session.scalars(stmt):
            yield self._row(request, typed)

    def _row(self, request: Request, typed: bool) -> list[object]:
        form = self._catalog.forms.get(request.kind)
        if form is not None:
            kind = form.title_en if self._english else form.title_zh
        else:
            kind = self._other_kinds.get(request.kind, request.kind)
        received = request.created_at.replace(tzinfo=UTC).astimezone(self._zone)
        fields = request.fields if isinstance(request.fields, dict) else {}
        show = self.display.cell if typed else self.display.text
        return [
            request.reference, kind, self._statuses.get(request.status, request.status),
            request.requester_name, request.requester_email,
            received.replace(tzinfo=None) if typed else received.strftime("%Y-%m-%d %H:%M"),
            request.title,
            *(show(fields.get(key), f) for key, f in self._fields.items()),
        ]


def export_requests(factory: sessionmaker[Session], sheet: RequestSheet, path: Path,
                    progress: Progress | None = None) -> int:
    """Write the request list to *path* (.csv or .xlsx); the number of requests written."""
    check_target(path)
    suffix = path.suffix.lower()
    with factory() as session:
        total = sheet.count(session)
        rows = _counted(sheet.rows(session, typed=suffix == ".xlsx"), total, progress)
        write = _write_csv if suffix == ".csv" else _write_xlsx
        try:
            written = write(path, sheet.header(), rows)
        except OSError as exc:
            raise ExportError(explain_os_error(exc, "cannot write")) from exc
    private_file(path)  # the request list is not for other accounts (issue 20)
    return written


def _counted(rows: Iterator[list[object]], total: int, progress: Progress | None
             ) -> Iterator[list[object]]:
    for done, row in enumerate(rows, 1):
        yield row
        if progress is not None and (done % 100 == 0 or done == total):
            progress("exporting", done, total)


def _write_csv(path: Path, header: Sequence[str], rows: Iterator[list[Any]]) -> int:
    written = 0
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(safe_csv_row(header))
        for row in rows:
            writer.writerow(safe_csv_row(row))
            written += 1
    return written


#: rows looked at to size the columns (the rest stream through: a year's list stays small)
WIDTH_SAMPLE = 1000
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "yyyy-mm-dd hh:mm"


def _write_xlsx(path: Path, header: Sequence[str], rows: Iterator[list[Any]]) -> int:
    """Typed cells, widths from the first rows, a frozen header row and an autofilter."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("requests")
    sample = list(islice(rows, WIDTH_SAMPLE))
    for index, width in enumerate(column_widths([header, *sample]), 1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    heading = []
    for text in safe_row(header):
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        heading.append(cell)
    sheet.append(heading)
    written = 0
    for row in chain(sample, rows):
        sheet.append([_typed_cell(sheet, value) for value in safe_row(row)])
        written += 1
    last = get_column_letter(max(len(header), 1))
    sheet.auto_filter.ref = f"A1:{last}{written + 1}"
    workbook.save(path)
    return written


def _typed_cell(sheet: Any, value: object) -> object:
    """Dates and times with a date format (Excel shows a bare date as a serial number);
    several lines wrapped."""
    if isinstance(value, datetime | date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = TIME_FORMAT if isinstance(value, datetime) else DATE_FORMAT
        return cell
    if isinstance(value, str) and "\n" in value:
        cell = WriteOnlyCell(sheet, value=value)
        cell.alignment = WRAP
        return cell
    return value
