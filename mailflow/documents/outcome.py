"""What reading a mail's attachments produced: accepted forms and problems to tell the sender."""

from __future__ import annotations

from dataclasses import dataclass

from mailflow.documents.reading import FieldProblem, FormReading


@dataclass(frozen=True)
class AcceptedForm:
    filename: str
    attachment_sha256: str
    reading: FormReading


@dataclass(frozen=True)
class AttachmentProblem:
    """One attachment we could not accept; ``code`` selects the sentence in the reply template.

    Codes: the safety guard's refusals (too_large, encrypted, zip_bomb, xml_bomb, corrupt,
    legacy_format, unsupported), ``unknown_form``, ``unreadable``, ``field_problems``, and
    for a form sent in a format we do not read: ``scanned_pdf`` (no text layer),
    ``image_form`` (a photo), ``text_form`` (a .txt). ``form_kind`` is the kind read or meant
    (from the file's name, text or the subject): its blank is the one attached to the reply.
    """

    filename: str
    code: str
    detail: str
    form_kind: str | None = None
    field_problems: tuple[FieldProblem, ...] = ()
    macros_removed: bool = False
    # the form as read (field_problems only): a requester's "确认" may accept its proposals
    reading: FormReading | None = None


@dataclass(frozen=True)
class FormsOutcome:
    accepted: tuple[AcceptedForm, ...] = ()
    problems: tuple[AttachmentProblem, ...] = ()
    # (code, filename): "macros_removed", "converted", "from_pdf" (a form read from a PDF),
    # "attachment" (an ordinary attachment received: no form, listed in the receipt)
    notes: tuple[tuple[str, str], ...] = ()

    @property
    def kinds_involved(self) -> tuple[str, ...]:
        kinds = [p.form_kind for p in self.problems if p.form_kind]
        return tuple(dict.fromkeys(k for k in kinds if k))


NO_FORMS = FormsOutcome()
