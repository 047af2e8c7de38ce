"""Data delivery (R-DX-3): the IT handler replies to an approved data-extraction request with
the data attached; the applicant gets it encrypted, the password in a separate mail.

- The files go into one AES-256 zip (pyzipper; opens in 7-Zip, WinRAR, Bandizip and
  macOS/WPS tools that read WinZip AES) with a random password; the classification
  level (绝密/机密/保密, from the form) is in the subject and the file name, the
  no-forwarding rule is in the notice (template notices/applicant_data_delivery).
- The password travels in its own mail (notices/applicant_data_password), so a forwarded
  delivery alone does not open.
- The handler's original mail and files are already in the archive (intake, R-GEN-3); the
  delivery notes which mail they came in.
- The request is then done, on time or late against R-DX-4 (notices/lifecycle.py records
  by how much).
"""

from __future__ import annotations

import io
import re
import secrets
from collections.abc import Sequence
from datetime import datetime

import pyzipper  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from mailflow.mail.compose import OutgoingAttachment
from mailflow.mail.parse import MailAttachment, ParsedMail
from mailflow.notices import deadlines
from mailflow.notices.lifecycle import Lifecycle
from mailflow.store import audit
from mailflow.store.models import Attachment, InboundMail, Request
from mailflow.workflow.matching import RequestMatch
from mailflow.workflow.states import Event, Status, advance

KIND = "data_extraction"
LEVELS = ("绝密", "机密", "保密")
#: no 0/O, 1/l/I: a password read out or typed from a phone screen
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


def new_password(length: int = 16) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def encrypted_zip(files: Sequence[tuple[str, bytes]], password: str) -> bytes:
    """One AES-256 zip of *files* (UTF-8 names, flagged so Chinese names survive)."""
    out = io.BytesIO()
    with pyzipper.AESZipFile(out, "w", compression=pyzipper.ZIP_DEFLATED,
                             encryption=pyzipper.WZ_AES) as archive:
        archive.setpassword(password.encode())
        seen: set[str] = set()
        for name, data in files:
            unique, n = name, 1
            while unique in seen:
                n += 1
                stem, dot, ext = name.rpartition(".")
                unique = f"{stem}({n}).{ext}" if dot else f"{name}({n})"
            seen.add(unique)
            archive.writestr(unique, data)
    return out.getvalue()


def level_of(fields: dict[str, object]) -> str:
    """The form's classification (R-DX-3); the strictest named, 保密 when none is."""
    value = fields.get("classification")
    text = " ".join(value) if isinstance(value, list | tuple) else str(value or "")
    return next((level for level in LEVELS if level in text), LEVELS[-1])


class DataDelivery:
    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self.settings = lifecycle.settings
        self.sender = lifecycle.sender

    def _may_deliver(self, address: str) -> bool:
        handler = self.settings.approvals.handlers.get(KIND) or self.settings.roles.it_manager
        directory = self.lifecycle.directory
        it = directory.it_department()
        person = directory.person(address)
        return address.lower() == (handler or "").lower() or bool(
            it and person and person.department == it.key)

    def handle_reply(self, session: Session, mail: InboundMail, parsed: ParsedMail,
                     match: RequestMatch, now: datetime) -> str | None:
        """The handler's reply carrying the data: deliver it. None: not a delivery."""
        request = match.request
        if request.kind != KIND or request.status != Status.WITH_HANDLER:
            return None
        sender = parsed.sender.addr if parsed.sender else ""
        if not sender or not self._may_deliver(sender):
            return None
        own = self._own_files(session, request)
        files = [a for a in parsed.attachments if a.sha256 not in own and a.data]
        if not files:
            return None
        self.deliver(session, request, files, now, actor=sender, mail_id=mail.id)
        return "data_delivered"

    @staticmethod
    def _own_files(session: Session, request: Request) -> set[str]:
        """The request's form (carried back in a reply) is not the data."""
        if request.attachment_id is None:
            return set()
        row = session.get(Attachment, request.attachment_id)
        return {row.sha256} if row is not None else set()

    def deliver(self, session: Session, request: Request, files: Sequence[MailAttachment],
                now: datetime, *, actor: str, mail_id: int | None = None) -> None:
        level = level_of(request.fields)
        title = _UNSAFE.sub("_", request.title or request.reference)[:60]
        filename = f"【{level}】{title}_{request.reference}.zip"
        password = new_password()
        data = encrypted_zip([(f"【{level}】{a.filename}", a.data) for a in files], password)
        deadline = self.lifecycle.stored_deadline(session, request) or \
            deadlines.data_delivery(self.lifecycle.calendar, now)
        lateness = deadlines.lateness(self.lifecycle.calendar, deadline, now)
        applicant = request.requester_email
        name = request.requester_name or self.lifecycle.directory.name_of(applicant)
        fields = request.fields
        context = {"reference": request.reference, "applicant_name": name, "level": level,
                   "filename": filename, "purpose": str(fields.get("purpose") or ""),
                   "scope": str(fields.get("scope_of_use") or ""),
                   "deadline": self.sender.deadline_context(deadline, lateness)}
        self.sender.queue(session, now, template="notices/applicant_data_delivery",
                          context=context, to=[applicant], request=request,
                          attachments=[OutgoingAttachment(filename, data, "application/zip")],
                          deadline=deadline, lateness=lateness)
        self.sender.queue(session, now, template="notices/applicant_data_password",
                          context={"reference": request.reference, "applicant_name": name,
                                   "level": level, "filename": filename,
                                   "password": password},
                          to=[applicant], request=request)
        audit.record(session, now, "data_delivered", actor=actor, mail_id=mail_id,
                     request_id=request.id, level=level, filename=filename,
                     files=[a.filename for a in files], sha256=[a.sha256 for a in files])
        advance(session, request, Event.DONE, now, rule="R-DX-3", actor=actor,
                mail_id=mail_id)
