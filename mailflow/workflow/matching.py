"""Which request an incoming mail belongs to, if any: the thread it answers, or the number
its subject quotes.

Our receipts and "please correct" replies ask people to reply to them or keep the reference
number in the subject; a reply that instead opened a new request (new number, new receipt)
would break that promise, scatter one case over several records and answer every "收到，谢谢"
with another receipt. So a mail is matched, in order of trust:

1. ``In-Reply-To``, then ``References`` from the newest: a mail mailflow sent for a request
   (the outbox knows its Message-ID), or the mail that opened a request (a colleague's
   reply-all to the original submission);
2. a reference number in the subject (``[REQ-2026-000123]`` or typed without brackets).

A match says where a mail belongs, not that its sender may act on the request: who may change
what is decided by the caller (a resubmission only from the requester; approvals, later, only
from the designated approver — R-AC-2, R-DX-2, R-CH-3).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailflow.mail.parse import ParsedMail
from mailflow.store.models import InboundMail, OutboxMessage, Request

#: a References header can list a whole thread; only its newest entries are looked up
MAX_THREAD_IDS = 20
#: reference numbers looked up from one subject (the first one that exists wins)
MAX_SUBJECT_REFERENCES = 3


@dataclass(frozen=True)
class RequestMatch:
    request: Request
    by: str  # "in-reply-to", "references" or "subject"
    #: the Message-ID of the mail of ours that was answered (None: matched by the subject, or
    #: by the requester's own submission in the thread)
    answered: str | None = None


@lru_cache(maxsize=8)
def reference_pattern(prefix: str) -> re.Pattern[str]:
    """``REQ-2026-000123`` as people quote it, not inside a longer word or number."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(prefix)}-[0-9]{{4}}-[0-9]{{6,9}}(?![0-9])",
                      re.IGNORECASE)


def subject_references(subject: str, prefix: str) -> list[str]:
    """The reference numbers a subject quotes, upper-cased, first first, without repeats."""
    found: list[str] = []
    for match in reference_pattern(prefix).finditer(subject):
        reference = match.group(0).upper()
        if reference not in found:
            found.append(reference)
    return found[:MAX_SUBJECT_REFERENCES]


def thread_ids(parsed: ParsedMail) -> list[str]:
    """The Message-IDs a mail answers, most direct first: In-Reply-To, then References from
    the newest (a client that drops In-Reply-To still lists the parent last)."""
    ids: list[str] = []
    for candidate in (parsed.in_reply_to, *reversed(parsed.references)):
        if candidate and candidate not in ids and len(candidate) <= 998:
            ids.append(candidate)
    return ids[:MAX_THREAD_IDS]


def match_request(session: Session, parsed: ParsedMail, prefix: str) -> RequestMatch | None:
    """The request *parsed* belongs to, or None for a mail that starts something new.

    Costs nothing for a mail that answers nothing and quotes no number (most new requests).
    """
    ids = thread_ids(parsed)
    if ids:
        found = _by_thread(session, ids)
        if found is not None:
            request, position, ours = found
            by = "in-reply-to" if parsed.in_reply_to and position == 0 else "references"
            return RequestMatch(request, by, ids[position] if ours else None)
    references = subject_references(parsed.subject, prefix)
    if references:
        rows = session.scalars(select(Request).where(Request.reference.in_(references))).all()
        by_reference = {r.reference: r for r in rows}
        for reference in references:
            if reference in by_reference:
                return RequestMatch(by_reference[reference], "subject")
    return None


def _by_thread(session: Session, ids: Sequence[str]) -> tuple[Request, int, bool] | None:
    """The request of the most direct thread id that names one, with that id's position and
    whether the id is of a mail we sent."""
    owners: dict[str, int] = {}
    sent = session.execute(
        select(OutboxMessage.message_id, OutboxMessage.request_id)
        .where(OutboxMessage.message_id.in_(ids), OutboxMessage.request_id.is_not(None))
    ).all()
    for message_id, request_id in sent:
        if request_id is not None:
            owners.setdefault(message_id, request_id)
    opened = session.execute(
        select(InboundMail.message_id, Request.id)
        .join(Request, Request.source_mail_id == InboundMail.id)
        .where(InboundMail.message_id.in_(ids))
        .order_by(Request.id)
    ).all()
    ours = set(owners)
    for opening_id, opened_request in opened:
        if opening_id is not None:
            owners.setdefault(opening_id, opened_request)
    for position, message_id in enumerate(ids):
        request_id = owners.get(message_id)
        if request_id is not None:
            request = session.get(Request, request_id)
            if request is not None:
                return request, position, message_id in ours
    return None
