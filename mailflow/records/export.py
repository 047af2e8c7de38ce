"""A record (or every record of a period) as one self-contained zip bundle.

Each record's folder holds every original byte for byte (mails received and sent as .eml,
every attachment as it arrived), the record's audit extract with its chain hashes
(audit.jsonl: the very fields chain.canonical hashes, so anyone can recompute the chain),
the request as JSON, and a human-readable summary as HTML and as PDF (weasyprint, with the
CJK font embedded so it reads the same on any machine). manifest.json at the top lists every
file with its SHA-256 and size; MANIFEST.sha256 says the same in ``sha256sum -c`` form.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.errors import MailflowError
from mailflow.store.archive import Archive
from mailflow.store.models import OutboxMessage

from .chain import canonical
from .timeline import Entry, Record
from .words import FormLabels, Words, html_environment, page_context

Progress = Callable[[str, int, int | None], None]
_UNSAFE = re.compile(r'[\x00-\x1f\\/:*?"<>|]+')


class ExportError(MailflowError):
    """A record cannot be exported (an original is missing from the archive)."""


@dataclass
class _Bundle:
    zf: zipfile.ZipFile
    files: list[dict[str, Any]] = field(default_factory=list)

    def add(self, path: str, data: bytes, **about: Any) -> None:
        info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        self.zf.writestr(info, data)
        self.files.append({"path": path, "sha256": hashlib.sha256(data).hexdigest(),
                           "size": len(data), **about})


def safe_name(name: str, fallback: str) -> str:
    """A file name that stays one path part inside the zip, whatever the mail called it."""
    cleaned = _UNSAFE.sub("_", name).strip(" .")
    return cleaned[:150] or fallback


def audit_line(entry: Entry) -> dict[str, Any]:
    values = {"id": entry.id, "seq": entry.seq, "at": entry.at.replace(tzinfo=None),
              "actor": entry.actor, "action": entry.action, "request_id": None,
              "mail_id": entry.mail_id, "outbox_id": entry.outbox_id, "detail": entry.detail}
    return values


class Exporter:
    def __init__(self, archive: Archive, words: Words, templates_root: Path, zone: ZoneInfo,
                 language: str, now: datetime, labels: FormLabels | None = None) -> None:
        self._archive = archive
        self._words = words
        self._env = html_environment(templates_root, zone, labels)
        self._language = language
        self._now = now

    def summary_html(self, record: Record) -> str:
        return self._env.get_template("summary.html").render(
            page_context(self._words, self._language, r=record, generated_at=self._now))

    def write(self, session: Session, records: Sequence[Record], target: Path,
              progress: Progress | None = None) -> list[dict[str, Any]]:
        """Write *records* into the zip at *target*; the manifest's file list."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        with zipfile.ZipFile(tmp, "w") as zf:
            bundle = _Bundle(zf)
            for number, record in enumerate(records, start=1):
                prefix = f"{record.reference}/" if len(records) > 1 else ""
                self._add_record(session, bundle, record, prefix)
                if progress is not None:
                    progress("exporting", number, len(records))
            manifest = {
                "generated_at": self._now.isoformat(),
                "references": [r.reference for r in records],
                "hash_chain": "sha256(prev_hash + '\\n' + canonical JSON of the event)",
                "files": bundle.files,
            }
            files = list(bundle.files)
            data = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
            bundle.add("manifest.json", data)
            lines = "".join(f"{f['sha256']}  {f['path']}\n" for f in files)
            bundle.add("MANIFEST.sha256", lines.encode("utf-8"))
        tmp.replace(target)
        return files

    def _add_record(self, session: Session, bundle: _Bundle, record: Record, prefix: str
                    ) -> None:
        raws: dict[int, bytes] = {row.id: row.raw for row in session.execute(
            select(OutboxMessage.id, OutboxMessage.raw)
            .where(OutboxMessage.id.in_([m.id for m in record.mails_out])))}
        for mail in record.mails_in:
            bundle.add(f"{prefix}mails/received-{mail.id}.eml", self._original(mail.sha256),
                       original_sha256=mail.sha256, mail_id=mail.id)
            for number, att in enumerate(mail.attachments, start=1):
                name = safe_name(att.filename, f"attachment-{number}")
                bundle.add(f"{prefix}mails/received-{mail.id}/{number}-{name}",
                           self._original(att.sha256), original_sha256=att.sha256,
                           mail_id=mail.id)
        for mail in record.mails_out:
            data = self._original(mail.sha256) if mail.sha256 else raws.get(mail.id, b"")
            bundle.add(f"{prefix}mails/sent-{mail.id}.eml", data,
                       original_sha256=mail.sha256 or None, outbox_id=mail.id)
        audit = "".join(
            json.dumps({**json.loads(canonical(audit_line(e) | {"request_id": record.request_id})),
                        "prev_hash": e.prev_hash, "hash": e.hash},
                       ensure_ascii=False, sort_keys=True) + "\n"
            for e in record.entries)
        bundle.add(f"{prefix}audit.jsonl", audit.encode("utf-8"))
        about = {"reference": record.reference, "kind": record.kind, "status": record.status,
                 "title": record.title, "requester_email": record.requester_email,
                 "requester_name": record.requester_name,
                 "created_at": record.created_at.isoformat(),
                 "updated_at": record.updated_at.isoformat(), "fields": record.fields,
                 "problems": record.problems, "classification": record.classification}
        bundle.add(f"{prefix}record.json",
                   json.dumps(about, ensure_ascii=False, indent=2, default=str).encode("utf-8"))
        html = self.summary_html(record)
        bundle.add(f"{prefix}summary.html", html.encode("utf-8"))
        bundle.add(f"{prefix}summary.pdf", pdf_of(html))

    def _original(self, digest: str) -> bytes:
        try:
            data = self._archive.get(digest)
        except MailflowError as exc:
            raise ExportError(f"original {digest} is missing from the archive: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != digest:
            raise ExportError(f"original {digest} in the archive no longer matches its hash "
                              "(run `mailflow archive verify`)")
        return data


def pdf_of(html: str) -> bytes:
    """The summary as PDF; fonts are embedded (subset) by weasyprint."""
    import logging

    # a heavy import (pango): only when a PDF is made
    from weasyprint import HTML  # type: ignore[import-untyped]

    for name in ("weasyprint", "fontTools"):  # their progress chatter is not ours to show
        logging.getLogger(name).setLevel(logging.WARNING)
    return bytes(HTML(string=html).write_pdf())
