"""The forms desk: every office attachment of a mail → accepted forms or reasons to refuse.

Order matters for safety: the guard (size, encryption, zip/XML bombs, macros, legacy formats)
sees the bytes before any reader does; readers only ever get clean .docx/.xlsx packages.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import structlog

from mailflow.config import Settings
from mailflow.documents.definitions import FormCatalog, load_catalog
from mailflow.documents.legacy import LegacyConverter
from mailflow.documents.outcome import AcceptedForm, AttachmentProblem, FormsOutcome
from mailflow.documents.reading import UnknownForm, UnreadableForm, read_form
from mailflow.documents.safety import CheckedOffice as _Checked
from mailflow.documents.safety import (
    FileRefused,
    Refusal,
    SafetyLimits,
    check_office_file,
    office_kind,
)
from mailflow.mail.compose import OutgoingAttachment
from mailflow.mail.parse import MailAttachment, ParsedMail

log = structlog.get_logger(__name__)

OFFICE_SUFFIXES = (".docx", ".xlsx", ".docm", ".xlsm", ".doc", ".xls", ".dotx", ".xltx")
MIME = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Budget:
    """What one mail may cost the desk (issue 20): office files examined, seconds converted."""

    max_files: int = 10
    conversion_seconds: float = 60.0


@dataclass
class FormDesk:
    catalog: FormCatalog
    limits: SafetyLimits
    converter: LegacyConverter | None
    blank_dir: Path
    budget: Budget = Budget()

    @classmethod
    def from_settings(cls, settings: Settings) -> FormDesk:
        forms = settings.forms
        soffice = ""
        if forms.libreoffice == "auto":
            found = LegacyConverter.find()
            soffice = found.soffice if found is not None else ""
        elif forms.libreoffice:
            soffice = forms.libreoffice
        converter = LegacyConverter(
            soffice, forms.conversion_timeout_seconds,
            memory_bytes=forms.conversion_memory_mb * 1024 * 1024,
            isolate_network=forms.conversion_network_sandbox,
        ) if soffice else None
        return cls(
            catalog=load_catalog(forms.definitions_dir),
            limits=SafetyLimits(max_file_bytes=forms.max_attachment_bytes),
            converter=converter,
            blank_dir=forms.definitions_dir / "blank",
            budget=Budget(forms.max_office_attachments, forms.conversion_budget_seconds),
        )

    def titles(self, language: str) -> dict[str, str]:
        return {
            kind: (form.title_zh if language == "zh" else form.title_en)
            for kind, form in self.catalog.forms.items()
        }

    def examine(self, mail: ParsedMail) -> FormsOutcome:
        accepted: list[AcceptedForm] = []
        problems: list[AttachmentProblem] = []
        notes: list[tuple[str, str]] = []
        year = mail.date.year if mail.date else None
        files = 0
        deadline = time.monotonic() + self.budget.conversion_seconds
        # the guard's verdicts by file hash: a mail with 20 copies of one .doc converts it once
        checked: dict[str, _Checked | FileRefused] = {}
        for att in mail.attachments:
            kind = office_kind(att.filename, att.content_type, att.data)
            if kind is None:
                if att.filename.lower().endswith(OFFICE_SUFFIXES):
                    # named like a form but is something else (a PDF renamed .docx…): say so
                    problems.append(AttachmentProblem(att.filename, "unsupported",
                                                      "not an Office file despite its name"))
                continue  # pictures, PDFs, signatures: archived, not forms
            files += 1
            if files > self.budget.max_files:  # named in the reply, never opened
                problems.append(AttachmentProblem(
                    att.filename, "too_many_files",
                    f"only the first {self.budget.max_files} office files of a mail are read"))
                continue
            self._examine_one(att, year, accepted, problems, notes, deadline, checked)
        return FormsOutcome(tuple(accepted), tuple(problems), tuple(notes))

    def _check(self, att: MailAttachment, deadline: float,
               checked: dict[str, _Checked | FileRefused]) -> _Checked:
        """The guard's verdict on *att*, once per distinct file of the mail (by hash); a
        conversion gets at most what is left of the mail's budget."""
        known = checked.get(att.sha256)
        if known is None:
            converter = self.converter
            if converter is not None and att.data.startswith(_OLE_MAGIC):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise FileRefused(Refusal.LEGACY_FORMAT,
                                      "this mail's conversion time budget is used up")
                converter = replace(converter, timeout_s=min(converter.timeout_s, left))
            try:
                known = check_office_file(att.data, att.filename, att.content_type,
                                          limits=self.limits, converter=converter)
            except FileRefused as exc:
                known = exc
            checked[att.sha256] = known
        if isinstance(known, FileRefused):
            raise known
        return known

    def _examine_one(
        self,
        att: MailAttachment,
        year: int | None,
        accepted: list[AcceptedForm],
        problems: list[AttachmentProblem],
        notes: list[tuple[str, str]],
        deadline: float,
        verdicts: dict[str, _Checked | FileRefused],
    ) -> None:
        try:
            checked = self._check(att, deadline, verdicts)
        except FileRefused as exc:
            log.info("attachment refused", filename=att.filename, refusal=exc.refusal.value,
                     detail=exc.detail)
            problems.append(AttachmentProblem(att.filename, exc.refusal.value, exc.detail))
            return
        if checked.macros_removed:
            notes.append(("macros_removed", att.filename))
        if checked.converted_from:
            notes.append(("converted", att.filename))
        try:
            readings = read_form(checked.data, checked.fmt, self.catalog,
                                 source_name=att.filename, default_year=year)
        except UnknownForm as exc:
            problems.append(AttachmentProblem(att.filename, "unknown_form", str(exc)))
            return
        except UnreadableForm as exc:
            problems.append(AttachmentProblem(att.filename, "unreadable", str(exc)))
            return
        for reading in readings:
            if reading.problems:
                problems.append(AttachmentProblem(
                    att.filename, "field_problems", "", form_kind=reading.kind,
                    field_problems=reading.problems,
                ))
            else:
                accepted.append(AcceptedForm(att.filename, att.sha256, reading))

    def blank_forms(self, kinds: Sequence[str]) -> list[OutgoingAttachment]:
        """The blank forms to attach to a "please correct" reply, Word and Excel."""
        wanted = [k for k in kinds if k in self.catalog.forms] or list(self.catalog.forms)
        out: list[OutgoingAttachment] = []
        for kind in wanted:
            title = self.catalog.forms[kind].title_zh
            for fmt in ("docx", "xlsx"):
                path = self.blank_dir / f"{kind}.{fmt}"
                if path.exists():
                    out.append(OutgoingAttachment(f"{title}.{fmt}", path.read_bytes(), MIME[fmt]))
        return out
