"""Archive search: requests by reference, kind, status, requester, facets, period and words.

Chinese is written without spaces, so free text is matched as a substring: 数据提取 inside
业务数据提取申请. SQLite: the FTS5 trigram index (``record_fts``) answers terms of three
characters or more; one- and two-character terms fall back to LIKE over the documents
(a trigram index cannot hold them) and two-character ones to a bigram index. PostgreSQL:
ILIKE over ``record_search.document``, which the pg_trgm GIN index answers for three
characters or more, and a GIN index over the document's bigrams for two. One-character terms
scan the documents (LIKE). Several words (split on spaces) must all occur.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from mailflow.requests_export import Period
from mailflow.store.models import RecordSearch, Request, utc

from .index import bigrams, classification_of

#: results per search unless asked otherwise
DEFAULT_LIMIT = 50
#: shortest term the trigram indexes can answer
TRIGRAM = 3


@dataclass(frozen=True)
class Query:
    reference: str = ""
    kind: str = ""
    status: str = ""
    requester: str = ""
    department: str = ""
    system: str = ""
    classification: str = ""
    first: date | None = None
    last: date | None = None
    text: str = ""
    limit: int = DEFAULT_LIMIT
    #: classification levels the asker may not see (web roles); those records are left out
    hidden: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    request_id: int
    reference: str
    kind: str
    status: str
    title: str
    requester_email: str
    requester_name: str
    created_at: datetime
    classification: str

    def as_json(self) -> dict[str, Any]:
        return {"reference": self.reference, "kind": self.kind, "status": self.status,
                "title": self.title, "requester_email": self.requester_email,
                "requester_name": self.requester_name,
                "created_at": self.created_at.isoformat(),
                "classification": self.classification}


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def statement(query: Query, zone: ZoneInfo, dialect: str) -> Select[Any]:
    """The SELECT for *query* on *dialect* ("sqlite" or "postgresql")."""
    stmt = select(Request.id, Request.reference, Request.kind, Request.status, Request.title,
                  Request.requester_email, Request.requester_name, Request.created_at,
                  Request.fields)
    needs_doc = bool(query.department or query.system or query.classification or query.hidden
                     or query.text.strip())
    if needs_doc:
        stmt = stmt.outerjoin(RecordSearch, RecordSearch.request_id == Request.id)
    conditions: list[Any] = []
    if query.reference:
        ref = query.reference.strip().upper()
        conditions.append(Request.reference == ref if len(ref) >= 12
                          else Request.reference.like(_like(ref), escape="\\"))
    if query.kind:
        conditions.append(Request.kind == query.kind)
    if query.status:
        conditions.append(Request.status == query.status)
    if query.requester:
        who = _like(query.requester.strip().lower())
        conditions.append(or_(func.lower(Request.requester_email).like(who, escape="\\"),
                              func.lower(Request.requester_name).like(who, escape="\\")))
    for column, value in ((RecordSearch.department, query.department),
                          (RecordSearch.system, query.system)):
        if value:
            conditions.append(column.like(_like(value.strip()), escape="\\"))
    if query.classification:
        conditions.append(RecordSearch.classification == query.classification.strip())
    if query.hidden:
        conditions.append(or_(RecordSearch.classification.is_(None),
                              RecordSearch.classification.not_in(list(query.hidden))))
    start, end = Period(query.first, query.last).bounds(zone)
    if start is not None:
        conditions.append(Request.created_at >= start)
    if end is not None:
        conditions.append(Request.created_at < end)
    for number, term in enumerate(query.text.split()):
        conditions.append(_text_condition(term, dialect, f"phrase{number}"))
    if conditions:
        stmt = stmt.where(and_(*conditions))
    return stmt.order_by(Request.created_at.desc(), Request.id.desc()).limit(query.limit)


def _text_condition(term: str, dialect: str, name: str) -> Any:
    if dialect == "sqlite" and len(term) >= TRIGRAM:
        return Request.id.in_(_fts("record_fts", term, name))
    if len(term) == 2 and bigrams(term) == [term.lower()]:
        # two characters: the bigram index (records/index.py), not a scan of every document
        if dialect == "sqlite":
            return Request.id.in_(_fts("record_bigrams", term.lower(), name))
        if dialect == "postgresql":
            return text(f"record_search.bigrams @> ARRAY[:{name}]::text[]").bindparams(
                **{name: term.lower()})
    if dialect == "postgresql":
        return RecordSearch.document.ilike(_like(term), escape="\\")
    return RecordSearch.document.like(_like(term), escape="\\")  # SQLite LIKE: ASCII nocase


def _fts(table: str, term: str, name: str) -> Select[Any]:
    return (select(literal_column("rowid")).select_from(text(table))
            .where(text(f"{table} MATCH :{name}").bindparams(**{name: _fts_phrase(term)})))


def search(session: Session, query: Query, zone: ZoneInfo) -> list[Hit]:
    dialect = session.get_bind().dialect.name
    hits = []
    for row in session.execute(statement(query, zone, dialect)):
        level = classification_of(row.fields or {})
        if level and level in query.hidden:
            continue  # not indexed yet, but its form says so
        hits.append(Hit(row.id, row.reference, row.kind, row.status, row.title or "",
                        row.requester_email, row.requester_name or "", utc(row.created_at),
                        level))
    return hits
