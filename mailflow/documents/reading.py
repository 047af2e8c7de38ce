"""Public entry: the bytes of a (safety-checked) .docx or .xlsx → one reading per form in it.

Pipeline: reader (docx_reader / xlsx_reader: file → layout blocks) → recognise (which
forms, which blocks) → extract (labels → raw values) → validate (typed values, problems).
Everything is pure: bytes in, frozen records out, no clock, no I/O.

Problem codes are documented in ``problems.py`` (FieldProblem is re-exported here):
missing, invalid_date, invalid_datetime, invalid_time_range, not_a_choice,
several_choices, invalid_yesno, invalid_email, end_before_start, table_row_incomplete,
old_version.

Any failure inside the readers on a hostile or broken file (the guard lets through only
zip-safe, unencrypted, macro-free packages, but a package can still be malformed) becomes
``UnreadableForm`` with a reason here, at the boundary; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from mailflow.documents.definitions import FormCatalog
from mailflow.documents.docx_reader import read_docx
from mailflow.documents.extract import extract
from mailflow.documents.layout import RawDocument
from mailflow.documents.matching import not_a_form_title, title_kind
from mailflow.documents.pdf_reader import NoTextLayer, read_pdf
from mailflow.documents.problems import PROBLEM_CODES, FieldProblem
from mailflow.documents.recognise import Recogniser, Section, recognise
from mailflow.documents.validate import explain, json_safe, shown_label, validate_noted
from mailflow.documents.values import TimeRange, YearHint
from mailflow.documents.xlsx_reader import read_xlsx

__all__ = [
    "PROBLEM_CODES",
    "FieldProblem",
    "FormReading",
    "NoTextLayer",
    "NotAForm",
    "TimeRange",
    "UnknownForm",
    "UnreadableForm",
    "read_form",
]


class UnknownForm(Exception):
    """The file was read, but holds none of the catalog's forms (no marker, title or labels)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotAForm(UnknownForm):
    """The file is titled as something else — a notice, an invitation, a price list, a
    contract — and holds no form: an ordinary attachment, never a form to correct."""


class UnreadableForm(Exception):
    """The file passed the safety guard but the reader could not make sense of it."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class FormReading:
    """One form found in a file: its kind, typed values and problems.

    ``values`` holds only fields that are filled and valid: str (text, multiline, choice,
    email_or_person), date, datetime, bool (yesno), list[str] (list, multichoice),
    TimeRange, list[dict[str, object]] (table rows).
    """

    kind: str
    version: int | None
    title_zh: str
    source_name: str
    values: Mapping[str, object]
    problems: tuple[FieldProblem, ...]
    recognised_by: str  # "marker", "title" or "labels"
    part: str = ""  # "document" for a .docx, the sheet name for an .xlsx
    # words written beside a choice that are none of its options: (field key, note)
    notes: tuple[tuple[str, str], ...] = ()
    source_format: str = ""  # "docx", "xlsx" or "pdf": what the form was read from
    # the label each field was read from, as the sender's form writes it (for the record)
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # for missing fields, the values of labels we did not recognise that read as them: what
    # the requester's "确认" accepts (validate.explain)
    proposals: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def ok(self) -> bool:
        return not self.problems

    def json_values(self) -> dict[str, object]:
        """The values made JSON-safe (ISO dates, {start, end} ranges) for the database; the
        notes beside choices, when any, under ``_notes``."""
        out = {key: json_safe(value) for key, value in self.values.items()}
        if self.notes:
            out["_notes"] = dict(self.notes)
        return out

    @property
    def confirmable(self) -> bool:
        """Every problem is a missing field with a proposed value: "确认" completes it."""
        return bool(self.problems) and all(
            p.code == "missing" and p.field_key in self.proposals for p in self.problems
        )

    def json_confirmed(self) -> dict[str, object]:
        """The values with the proposals accepted, JSON-safe, in the form's field order."""
        merged = {**self.values, **self.proposals}
        return {key: json_safe(value) for key, value in merged.items()}


def _reading(
    section: Section, catalog: FormCatalog, source_name: str, default_year: YearHint,
    fmt: str = "",
) -> FormReading:
    form = catalog.get(section.kind)
    found = extract(form, section.blocks)
    values, problems, notes = validate_noted(form, found, default_year=default_year)
    problems, proposals = explain(form, found, problems, default_year=default_year,
                                  values=values)
    order = [f.key for f in form.fields]
    proposals = {k: proposals[k] for k in order if k in proposals}
    if problems and all(p.code == "missing" and p.field_key in proposals for p in problems):
        problems = [replace(p, confirm_by_reply=True) for p in problems]
    if section.version is not None and section.version < form.version:
        problems.insert(
            0,
            FieldProblem(
                field_key=None,
                label_zh=form.title_zh,
                label_en=form.title_en,
                code="old_version",
                value=str(section.version),
                help_zh=form.instructions_zh.strip(),
                help_en=form.instructions_en.strip(),
            ),
        )
    return FormReading(
        kind=form.kind,
        version=section.version,
        title_zh=form.title_zh,
        source_name=source_name,
        values=MappingProxyType(values),
        problems=tuple(problems),
        recognised_by=section.recognised_by,
        part=section.part,
        notes=tuple(notes.items()),
        source_format=fmt,
        labels=MappingProxyType({k: shown_label(v) for k, v in found.sources.items()}),
        proposals=MappingProxyType(proposals),
    )


def read_form(
    data: bytes,
    fmt: Literal["docx", "xlsx", "pdf"],
    catalog: FormCatalog,
    *,
    source_name: str = "",
    default_year: YearHint = None,
) -> list[FormReading]:
    """Every form in the file, in order. *default_year* completes dates like "11月25日": a
    year, or the mail's date (then the form's own date is preferred, see validate.form_day).

    Raises UnknownForm when no form is recognised, UnreadableForm when the file cannot be
    read at all, NoTextLayer for a PDF that is only pictures (a scan).
    """
    if fmt not in ("docx", "xlsx", "pdf"):
        raise ValueError(f"fmt must be 'docx', 'xlsx' or 'pdf', not {fmt!r}")
    try:
        doc: RawDocument = (read_docx(data) if fmt == "docx" else
                            read_xlsx(data) if fmt == "xlsx" else read_pdf(data))
        recogniser = Recogniser(catalog)
        sections = recognise(doc, catalog, recogniser)
        readings = [_reading(s, catalog, source_name, default_year, fmt) for s in sections]
    except NoTextLayer:
        raise
    except Exception as exc:  # the boundary: a broken file must never crash the caller
        reason = str(exc).strip() or type(exc).__name__
        raise UnreadableForm(f"{type(exc).__name__}: {reason}"[:300]) from exc
    if not readings and recogniser.refused is not None:
        raise NotAForm(f"titled as no form: {recogniser.refused[:80]}")
    stem = source_name.rsplit(".", 1)[0]
    if not readings and not_a_form_title(stem, catalog.lexicon) \
            and title_kind(stem, (), catalog.lexicon) is None:
        raise NotAForm(f"named as no form: {stem[:80]}")
    if not readings:
        where = f"{len(doc.parts)} sheet(s)" if fmt == "xlsx" else f"the {fmt} document"
        raise UnknownForm(f"no form marker, title or labels found in {where}")
    return readings
