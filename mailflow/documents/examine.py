"""The forms desk: every office attachment of a mail → accepted forms or reasons to refuse.

Order matters for safety: the guard (size, encryption, zip/XML bombs, macros, legacy formats)
sees the bytes before any reader does; readers only ever get clean .docx/.xlsx packages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from mailflow.config import Settings
from mailflow.documents.definitions import FormCatalog, load_catalog
from mailflow.documents.legacy import LegacyConverter
from mailflow.documents.outcome import AcceptedForm, AttachmentProblem, FormsOutcome
from mailflow.documents.reading import NotAForm, UnknownForm, UnreadableForm, read_form
from mailflow.documents.safety import FileRefused, SafetyLimits, check_office_file, office_kind
from mailflow.mail.compose import OutgoingAttachment
from mailflow.mail.parse import MailAttachment, ParsedMail

log = structlog.get_logger(__name__)

OFFICE_SUFFIXES = (".docx", ".xlsx", ".docm", ".xlsm", ".doc", ".xls", ".dotx", ".xltx")
MIME = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass
class FormDesk:
    catalog: FormCatalog
    limits: SafetyLimits
    converter: LegacyConverter | None
    blank_dir: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> FormDesk:
        forms = settings.forms
        converter: LegacyConverter | None = None
        if forms.libreoffice == "auto":
            found = LegacyConverter.find()
            if found is not None:
                converter = LegacyConverter(found.soffice, forms.conversion_timeout_seconds)
        elif forms.libreoffice:
            converter = LegacyConverter(forms.libreoffice, forms.conversion_timeout_seconds)
        return cls(
            catalog=load_catalog(forms.definitions_dir),
            limits=SafetyLimits(max_file_bytes=forms.max_attachment_bytes),
            converter=converter,
            blank_dir=forms.definitions_dir / "blank",
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
        for att in mail.attachments:
            kind = office_kind(att.filename, att.content_type, att.data)
            if kind is None:
                if att.filename.lower().endswith(OFFICE_SUFFIXES):
                    # named like a form but is something else (a PDF renamed .docx…): say so
                    problems.append(AttachmentProblem(att.filename, "unsupported",
                                                      "not an Office file despite its name"))
                continue  # pictures, PDFs, signatures: archived, not forms
            self._examine_one(att, year, accepted, problems, notes)
        return FormsOutcome(tuple(accepted), tuple(problems), tuple(notes))

    def _examine_one(
        self,
        att: MailAttachment,
        year: int | None,
        accepted: list[AcceptedForm],
        problems: list[AttachmentProblem],
        notes: list[tuple[str, str]],
    ) -> None:
        try:
            checked = check_office_file(att.data, att.filename, att.content_type,
                                        limits=self.limits, converter=self.converter)
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
        except NotAForm as exc:  # a notice, an invitation, a price list: an ordinary attachment
            log.info("attachment is no form", filename=att.filename, detail=exc.detail)
            return
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
                    field_problems=reading.problems, reading=reading,
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
