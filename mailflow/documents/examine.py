"""The forms desk: every attachment of a mail → accepted forms, reasons to refuse, or an
ordinary attachment received.

Order matters for safety: the guard (size, encryption, zip/XML bombs, macros, legacy formats)
sees the bytes before any reader does; readers only ever get clean .docx/.xlsx packages (and
PDFs under the size limit, read by pdfplumber).

Which files are forms: a .docx/.xlsx/.pdf the reader recognises. What else was *meant* as a
form is judged by ``intent.py`` from the file's name, the mail's subject and (for a .txt)
its text: a scanned PDF, a photo or a .txt meant as a form gets a reply asking for the
Office file with the blank of the kind meant; everything else (a price list, a contract,
screenshots and plans beside an accepted form) is an ordinary attachment, listed in the
receipt and never answered as a failed form.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import NamedTuple

import structlog

from mailflow.config import Settings
from mailflow.documents.definitions import FormCatalog, load_catalog
from mailflow.documents.docx_reader import read_docx
from mailflow.documents.intent import Intent, KindGuesser
from mailflow.documents.layout import Grid, Line, RawDocument
from mailflow.documents.legacy import LegacyConverter
from mailflow.documents.outcome import AcceptedForm, AttachmentProblem, FormsOutcome
from mailflow.documents.reading import (
    NotAForm,
    NoTextLayer,
    UnknownForm,
    UnreadableForm,
    read_form,
)
from mailflow.documents.safety import CheckedOffice as _Checked
from mailflow.documents.safety import (
    FileRefused,
    Refusal,
    SafetyLimits,
    check_office_file,
    office_kind,
)
from mailflow.documents.xlsx_reader import read_xlsx
from mailflow.mail.compose import OutgoingAttachment
from mailflow.mail.parse import MailAttachment, ParsedMail

log = structlog.get_logger(__name__)

OFFICE_SUFFIXES = (".docx", ".xlsx", ".docm", ".xlsm", ".doc", ".xls", ".dotx", ".xltx")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".webp")
TEXT_SUFFIXES = (".txt", ".text")
MAX_TEXT_BYTES = 256 * 1024  # a form typed as plain text is a few KB
# A photo or scan of a form is tens of KB at least; smaller pictures are logos, signature
# images and icons (Outlook sends them as image001.png with a file name), never forms.
MIN_PHOTO_BYTES = 20 * 1024
PDF_NOT_A_FORM = "pdf_not_a_form"  # internal: a readable PDF that holds no form
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

    def check(self, att: MailAttachment, deadline: float,
              checked: dict[str, _Checked | FileRefused]) -> _Checked:
        """The guard's verdict on *att*, once per distinct file of the mail (by hash: 20
        copies of one .doc convert once); a conversion gets at most what is left of the
        mail's budget (issue 20)."""
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

    def converts(self, mail: ParsedMail) -> bool:
        """Would examining *mail* start LibreOffice (a .doc/.xls, by its bytes, and a
        converter)? Such a mail is read in the background (conversions.py), off the pass."""
        return self.converter is not None and any(
            att.data.startswith(_OLE_MAGIC) for att in mail.attachments)

    def titles(self, language: str) -> dict[str, str]:
        return {
            kind: (form.title_zh if language == "zh" else form.title_en)
            for kind, form in self.catalog.forms.items()
        }

    def examine(self, mail: ParsedMail) -> FormsOutcome:
        desk = _Desk(self, mail)
        for att in mail.attachments:
            desk.attachment(att)
        return desk.finish()

    def read(self, att: MailAttachment, fmt: str, data: bytes, year: date | None,
             desk: _Desk) -> bool:
        """Read *data* as forms; True when the file held at least one (accepted or not).

        An Office file that cannot be read is a problem; a PDF that cannot be read is judged
        like one that holds no form (most PDFs in mail are not forms at all)."""
        try:
            readings = read_form(data, fmt, self.catalog,  # type: ignore[arg-type]
                                 source_name=att.filename, default_year=year)
        except NotAForm as exc:  # a notice, an invitation, a price list: an ordinary attachment
            log.info("attachment is no form", filename=att.filename, detail=exc.detail)
            desk.notes.append(("attachment", att.filename))
            return True
        except UnknownForm:
            return False
        except UnreadableForm as exc:
            if fmt == "pdf":
                log.info("pdf not readable", filename=att.filename, detail=exc.detail)
                return False
            desk.problems.append(AttachmentProblem(att.filename, "unreadable", str(exc)))
            return True
        for reading in readings:
            if reading.problems:
                desk.problems.append(AttachmentProblem(
                    att.filename, "field_problems", "", form_kind=reading.kind,
                    field_problems=reading.problems, reading=reading,
                ))
            else:
                desk.accepted.append(AcceptedForm(att.filename, att.sha256, reading))
                if fmt == "pdf":
                    desk.notes.append(("from_pdf", att.filename))
        return True

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


class _Pending(NamedTuple):
    """A file whose fate waits for the rest of the mail (was any form accepted?)."""

    att: MailAttachment
    code: str  # the problem to tell if it was meant as a form
    content_kind: str | None = None  # the kind its text is a form of (a .txt)
    named: str | None = None  # the kind its first lines name
    detail: str = ""
    refused: bool = False  # the safety guard refused it (an Office file by its bytes)


class _Desk:
    """One mail's attachments being sorted; files whose fate depends on the rest of the mail
    (was any form accepted?) wait in ``undecided`` until ``finish``."""

    def __init__(self, forms: FormDesk, mail: ParsedMail) -> None:
        self.forms = forms
        self.mail = mail
        self.year = mail.date.date() if mail.date else None
        self.accepted: list[AcceptedForm] = []
        self.problems: list[AttachmentProblem] = []
        self.notes: list[tuple[str, str]] = []
        self.undecided: list[_Pending] = []
        self.guess = KindGuesser.of(forms.catalog)
        self.office_files = 0
        self.deadline = time.monotonic() + forms.budget.conversion_seconds
        self.checked: dict[str, _Checked | FileRefused] = {}

    def attachment(self, att: MailAttachment) -> None:
        name = att.filename.lower()
        kind = office_kind(att.filename, att.content_type, att.data)
        if kind is not None:
            self.office(att)
        elif att.data.startswith(b"%PDF") or name.endswith(".pdf"):
            self.pdf(att)
        elif name.endswith(OFFICE_SUFFIXES):
            # named like a form but is something else (a picture renamed .docx…): say so
            self.problems.append(AttachmentProblem(att.filename, "unsupported",
                                                   "not an Office file despite its name"))
        elif att.content_type.startswith("image/") or name.endswith(IMAGE_SUFFIXES):
            if att.original_filename and len(att.data) >= MIN_PHOTO_BYTES:
                self.undecided.append(_Pending(att, "image_form"))
            else:
                self.notes.append(("attachment", att.filename))
        elif name.endswith(TEXT_SUFFIXES) and att.original_filename:
            self.undecided.append(_Pending(att, "text_form", self.text_kind(att.data)))
        else:
            self.notes.append(("attachment", att.filename))  # signatures, archives…

    def office(self, att: MailAttachment) -> None:
        self.office_files += 1
        if self.office_files > self.forms.budget.max_files:  # never opened (issue 20)
            # told about like a refused file: when no form was accepted, or when its name
            # says it is one; supporting documents beside an accepted form are only listed
            self.undecided.append(_Pending(
                att, "too_many_files",
                detail=f"only the first {self.forms.budget.max_files} office files of a mail "
                       "are read", refused=True))
            return
        try:
            checked = self.forms.check(att, self.deadline, self.checked)
        except FileRefused as exc:
            log.info("attachment refused", filename=att.filename, refusal=exc.refusal.value,
                     detail=exc.detail)
            # a refused file is told about only when it was meant as a form: an encrypted
            # contract or an old .xls budget beside an accepted form is just archived
            self.undecided.append(_Pending(att, exc.refusal.value, detail=exc.detail,
                                           refused=True))
            return
        if checked.macros_removed:
            self.notes.append(("macros_removed", att.filename))
        if checked.converted_from:
            self.notes.append(("converted", att.filename))
        if not self.forms.read(att, checked.fmt, checked.data, self.year, self):
            self.undecided.append(_Pending(
                att, "unknown_form", named=self.named_kind(checked.data, checked.fmt)))

    def pdf(self, att: MailAttachment) -> None:
        if len(att.data) > self.forms.limits.max_file_bytes:
            self.undecided.append(_Pending(att, "too_large"))
            return
        try:
            if self.forms.read(att, "pdf", att.data, self.year, self):
                return
        except NoTextLayer:
            self.undecided.append(_Pending(att, "scanned_pdf"))
            return
        # a PDF with text that is no form (a plan, a report, a broken file) is a document
        # like any other, unless its very name says it is a form
        self.undecided.append(_Pending(att, PDF_NOT_A_FORM))

    def text_kind(self, data: bytes) -> str | None:
        """The form kind a .txt holds, read as lines of text (it is not accepted as a form:
        the sender is asked for the Office file, with this kind's blank)."""
        text = decode_text(data[:MAX_TEXT_BYTES])
        return self.guess.content_kind(text.splitlines())

    def supporting(self, problem: AttachmentProblem) -> bool:
        """Beside an accepted form, a document that only looked like a form by some of its
        labels (no title, no marker: a test report, a plan with a table) and whose name does
        not say "申请表" is a supporting document, not a second form to correct."""
        reading = problem.reading
        if problem.code != "field_problems" or reading is None:
            return False
        if reading.recognised_by != "labels":
            return False
        if self.guess.intent(problem.filename, "", None, beside_a_form=True) is Intent.FORM:
            return False
        self.notes.append(("attachment", problem.filename))
        return True

    def named_kind(self, data: bytes, fmt: str) -> str | None:
        """The kind the first lines of an unrecognised document name ("XX部门权限开通单"):
        which blank to send back when neither its file name nor the subject says."""
        try:
            doc = read_docx(data) if fmt == "docx" else read_xlsx(data)
        except Exception:  # it was read once already; a second failure just means no hint
            return None
        for text in first_texts(doc, FIRST_LINES):
            kind = self.guess.kind_in(text)
            if kind is not None:
                return kind
        return None

    def finish(self) -> FormsOutcome:
        if self.accepted:
            self.problems = [p for p in self.problems if not self.supporting(p)]
        any_form = bool(self.accepted) or any(
            p.code == "field_problems" for p in self.problems)
        for att, code, content_kind, named, detail, refused in self.undecided:
            if refused and not any_form:  # an Office file that cannot be opened: say why
                self.problems.append(AttachmentProblem(
                    att.filename, code, detail,
                    form_kind=self.guess.kind(att.filename, self.mail.subject)))
                continue
            strict = any_form or code == PDF_NOT_A_FORM
            # a .txt is read: when its text is no form, only its name may still say it is one
            subject = "" if code == "text_form" else self.mail.subject
            intent = self.guess.intent(att.filename, subject, content_kind,
                                       beside_a_form=strict)
            code = "unknown_form" if code == PDF_NOT_A_FORM else code
            if intent is Intent.NONE:
                self.notes.append(("attachment", att.filename))
                continue
            kind = content_kind or self.guess.kind(att.filename, self.mail.subject) or named
            self.problems.append(AttachmentProblem(att.filename, code, detail, form_kind=kind))
        return FormsOutcome(tuple(self.accepted), tuple(self.problems), tuple(self.notes))


FIRST_LINES = 5


def first_texts(doc: RawDocument, count: int) -> list[str]:
    """The first *count* non-empty texts of a document: its lines and table cells in order."""
    out: list[str] = []
    for part in doc.parts:
        for block in part.blocks:
            texts = [block.text] if isinstance(block, Line) else (
                [c.text for row in block.rows for c in row] if isinstance(block, Grid) else [])
            out.extend(t.strip() for t in texts if t.strip())
            if len(out) >= count:
                return out[:count]
    return out


def decode_text(data: bytes) -> str:
    """A .txt as text: UTF-8 (with or without BOM), UTF-16 with a BOM, else GB18030."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")
