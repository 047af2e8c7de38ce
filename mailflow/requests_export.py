"""The request list as a spreadsheet (.xlsx) or CSV: what the IT desk opens in Excel or WPS
to count, sort and report on requests of a period.

One row per request: reference, kind, status, requester, when it came in, title, then one
column per form field (fields that several kinds share, such as 申请人, share a column).
What people typed reaches this sheet unchanged from their forms, so every cell goes through
export_safety.safe_row right before it is written (issue 7: no formula from a form ever
runs on the desk's PC). Column and status words come from templates/<lang>/requests_export.j2.
CSV is written with a byte-order mark, which Excel on Chinese Windows needs to read UTF-8.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

from mailflow.documents.definitions import FormCatalog
from mailflow.errors import MailflowError
from mailflow.export_safety import safe_csv_row, safe_row
from mailflow.intake import Progress
from mailflow.private import private_file
from mailflow.store.models import Request
from mailflow.templates import Templates

FORMATS = (".csv", ".xlsx")
FIXED = ("reference", "kind", "status", "requester", "email", "received_at", "title")
BATCH = 500  # requests read per round trip


class ExportError(MailflowError):
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


def cell_text(value: object) -> object:
    """A stored field value as one cell: lists joined with "; ", a table's rows one per
    line, "key=value" within a row; text and numbers as they are."""
    if isinstance(value, list):
        if all(isinstance(v, dict) for v in value):
            return "\n".join(str(cell_text(v)) for v in value)
        return "; ".join(str(cell_text(v)) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell_text(v)}" for k, v in value.items())
    return value


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
        self._statuses = templates.labels("requests_export", "statuses")
        self._other_kinds = templates.labels("requests_export", "kinds")  # mail without a form
        self._english = templates.language == "en"
        forms = [catalog.get(kind)] if kind else list(catalog.forms.values())
        self._fields: dict[str, str] = {}
        for form in forms:
            for f in form.fields:
                self._fields.setdefault(f.key, f.label_en if self._english else f.label_zh)

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
        return [self._words.get(key, key) for key in FIXED] + list(self._fields.values())

    def rows(self, session: Session) -> Iterator[list[object]]:
        stmt = self._query().order_by(Request.id).execution_options(yield_per=BATCH)
        for request in session.scalars(stmt):
            yield self._row(request)

    def _row(self, request: Request) -> list[object]:
        form = self._catalog.forms.get(request.kind)
        if form is not None:
            kind = form.title_en if self._english else form.title_zh
        else:
            kind = self._other_kinds.get(request.kind, request.kind)
        received = request.created_at.replace(tzinfo=UTC).astimezone(self._zone)
        fields = request.fields if isinstance(request.fields, dict) else {}
        return [
            request.reference, kind, self._statuses.get(request.status, request.status),
            request.requester_name, request.requester_email,
            received.strftime("%Y-%m-%d %H:%M"), request.title,
            *(cell_text(fields.get(key, "")) for key in self._fields),
        ]


def export_requests(factory: sessionmaker[Session], sheet: RequestSheet, path: Path,
                    progress: Progress | None = None) -> int:
    """Write the request list to *path* (.csv or .xlsx); the number of requests written."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(f"{path.name}: the file name must end in .csv or .xlsx")
    with factory() as session:
        total = sheet.count(session)
        rows = _counted(sheet.rows(session), total, progress)
        write = _write_csv if suffix == ".csv" else _write_xlsx
        written = write(path, sheet.header(), rows)
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


def _write_xlsx(path: Path, header: Sequence[str], rows: Iterator[list[Any]]) -> int:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("requests")
    sheet.append(safe_row(header))
    written = 0
    for row in rows:
        sheet.append(safe_row(row))
        written += 1
    workbook.save(path)
    return written
