"""One search document per request: what archive search (search.py) matches free text in.

Built from the request (reference, title, requester, kind, every form value), and the
subject and text of every mail its events name (mail bodies were extracted once at intake).
Rebuilt whenever an event naming the request is sealed (chain.py calls ``reindex``): so
whatever later processes record about a request (a decision, a notice) reaches its document
without this module knowing their tables. The facets an archivist filters by (department,
system, classification: R-DX-3) are read from the form values by key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Text, bindparam, delete, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from mailflow.store.models import AuditEvent, InboundMail, RecordSearch, Request

#: form value keys that fill a facet column (the forms in forms/*.toml name them so)
FACETS: Mapping[str, tuple[str, ...]] = {
    "department": ("department", "applicant_department", "affected_departments"),
    "system": ("system", "systems"),
    "classification": ("classification",),
}
_TEXT_ARRAY = ARRAY(Text)
#: characters of one request's document (its mails' text included)
MAX_DOCUMENT = 40_000


_RUN = re.compile(r"[^\W_]+")


def bigrams(document: str) -> list[str]:
    """Every two-character piece of the document's runs of letters and digits, lowercased,
    once each: what answers a two-character query (数据, 卡纸, OA), which a trigram index
    cannot hold."""
    found: set[str] = set()
    for run in _RUN.findall(document.lower()):
        found.update(run[i:i + 2] for i in range(len(run) - 1))
    return sorted(found)


def write_bigrams(session: Session, documents: Mapping[int, str]) -> None:
    """Store the bigrams of *documents* (request id → document) where the dialect keeps
    them: the FTS5 table ``record_bigrams`` (SQLite), ``record_search.bigrams`` (PostgreSQL,
    rows already inserted)."""
    if not documents:
        return
    dialect = session.get_bind().dialect.name
    grams = {rid: bigrams(doc) for rid, doc in documents.items()}
    if dialect == "sqlite":
        session.execute(text("INSERT INTO record_bigrams(rowid, bigrams) VALUES (:rid, :grams)"),
                        [{"rid": rid, "grams": " ".join(g)} for rid, g in grams.items()])
    elif dialect == "postgresql":
        session.execute(text("UPDATE record_search SET bigrams = :grams WHERE request_id = :rid")
                        .bindparams(bindparam("grams", type_=_TEXT_ARRAY)),
                        [{"rid": rid, "grams": g} for rid, g in grams.items()])


def drop_documents(session: Session, request_ids: list[int]) -> None:
    """Remove the documents (and their bigrams) of *request_ids*."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("DELETE FROM record_bigrams WHERE rowid = :rid"),
                        [{"rid": rid} for rid in request_ids])
    session.execute(delete(RecordSearch).where(RecordSearch.request_id.in_(request_ids)))


def flat_text(value: object) -> str:
    """A form value as words: lists and tables one item per line, dict values only."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return " ".join(flat_text(v) for v in value.values())
    if isinstance(value, list | tuple):
        return "\n".join(flat_text(v) for v in value)
    return str(value)


def facet(fields: Mapping[str, Any], name: str) -> str:
    for key in FACETS[name]:
        text = flat_text(fields.get(key)).strip()
        if text:
            return text
    return ""


def classification_of(fields: Mapping[str, Any]) -> str:
    """The record's classification level as the form gave it (R-DX-3), or ""."""
    return facet(fields, "classification")


def reindex(session: Session, request_ids: Iterable[int]) -> int:
    """Rebuild the documents of *request_ids* (in the caller's transaction); how many."""
    ids = sorted(set(request_ids))
    if not ids:
        return 0
    requests = session.execute(select(Request).where(Request.id.in_(ids))).scalars().all()
    mails_of: dict[int, set[int]] = {r.id: {r.source_mail_id} for r in requests}
    for request_id, mail_id in session.execute(
            select(AuditEvent.request_id, AuditEvent.mail_id)
            .where(AuditEvent.request_id.in_(ids), AuditEvent.mail_id.is_not(None))
            .distinct()):
        if request_id is not None and mail_id is not None:
            mails_of.setdefault(request_id, set()).add(mail_id)
    mail_ids = sorted({m for ms in mails_of.values() for m in ms})
    mails = {m.id: m for m in session.execute(
        select(InboundMail.id, InboundMail.subject, InboundMail.body_text, InboundMail.from_name)
        .where(or_(InboundMail.id.in_(mail_ids)))).all()} if mail_ids else {}
    drop_documents(session, ids)
    rows: list[dict[str, Any]] = []
    documents: dict[int, str] = {}
    for request in requests:
        if request.status == "deleted":
            continue  # retention deleted it: nothing left to find by its words
        fields = request.fields or {}
        parts = [request.reference, request.kind, request.title, request.requester_name,
                 request.requester_email]
        parts += [flat_text(v) for v in fields.values()]
        for mail_id in sorted(mails_of.get(request.id, ())):
            mail = mails.get(mail_id)
            if mail is not None:
                parts += [mail.subject, mail.from_name, mail.body_text]
        document = "\n".join(p for p in parts if p)[:MAX_DOCUMENT]
        rows.append({
            "request_id": request.id,
            "department": facet(fields, "department"),
            "system": facet(fields, "system"),
            "classification": classification_of(fields)[:40],
            "document": document,
        })
        documents[request.id] = document
    if rows:
        session.execute(insert(RecordSearch), rows)
        write_bigrams(session, documents)
    return len(rows)


def reindex_all(session: Session, batch: int = 500) -> int:
    """Every request's document again (after a restore, or a change of FACETS)."""
    done = 0
    last = 0
    while True:
        ids = list(session.execute(select(Request.id).where(Request.id > last)
                                   .order_by(Request.id).limit(batch)).scalars())
        if not ids:
            return done
        done += reindex(session, ids)
        last = ids[-1]


def backfill_bodies(session: Session, archive: Any, batch: int = 200) -> int:
    """Mails recorded before their text was kept (migration 0004): read it once from the
    archived original, as the intake now does. Returns how many were filled."""
    from mailflow.errors import MailflowError
    from mailflow.intake import searchable_text
    from mailflow.mail.parse import parse_mail

    done = 0
    last = 0
    while True:
        rows = session.execute(
            select(InboundMail.id, InboundMail.sha256)
            .where(InboundMail.id > last, InboundMail.body_text == "",
                   InboundMail.status != "quarantined")
            .order_by(InboundMail.id).limit(batch)).all()
        if not rows:
            return done
        for mail_id, digest in rows:
            last = mail_id
            try:
                body = searchable_text(parse_mail(archive.get(digest)))
            except MailflowError:
                continue  # not in the archive (verify reports it)
            if body:
                session.execute(update(InboundMail).where(InboundMail.id == mail_id)
                                .values(body_text=body))
                done += 1
