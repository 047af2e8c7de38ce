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
    legacy_format, unsupported), ``unknown_form``, ``unreadable``, ``field_problems``.
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
    notes: tuple[tuple[str, str], ...] = ()  # (code, filename): "macros_removed", "converted"

    @property
    def kinds_involved(self) -> tuple[str, ...]:
        kinds = [p.form_kind for p in self.problems if p.form_kind]
        return tuple(dict.fromkeys(k for k in kinds if k))


NO_FORMS = FormsOutcome()
