"""Who gets an answer, and who may act on a request (issue 20: answers to forged senders).

From is never authenticated by SMTP itself. Every receipt repeats the sender's subject to the
address in From, so without a rule an attacker makes mailflow send official IT mail to any
address (backscatter, and phishing from a trusted sender), and by rotating addresses avoids
the per-address hourly cap. The rules, in the order the reception asks them:

* **Which domains are answered** (``[service] answer_domains``): by default the domains of the
  directory's people (a company answers its own staff); ``"*"`` answers everyone, as does an
  empty directory (a first installation, the demo). Mail from elsewhere is archived and
  recorded, and gets no receipt.
* **Authentication, when the receiving server reports it** (``trusted_authserv_ids``): only
  the ``Authentication-Results`` headers of those servers count (workflow/authentication.py,
  shared with approvals); with ``require_authentication = "auto"`` (the default) a receipt
  then needs a DMARC pass for the From domain or a DKIM signature of it.
* **A returned request is completed only by its requester, in its thread**: the From address
  alone is forgeable, so the corrected form must also answer a mail mailflow sent for that
  request (its Message-ID is known only to whoever received it), or be authenticated.
* **A cap per domain** besides the one per address: a forger rotating addresses of one
  domain still meets a limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailflow.config import Settings
from mailflow.mail.parse import ParsedMail
from mailflow.store.models import InboundMail, OutboxMessage, Request, db_time
from mailflow.workflow.authentication import authenticated
from mailflow.workflow.matching import thread_ids

_DOMAIN_COUNTS = "mailflow.domain_counts"


@dataclass(frozen=True)
class Verdict:
    """Whether a mail gets an answer; *reason* says why not (recorded in the audit trail)."""

    answer: bool
    authenticated: bool
    reason: str = ""


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def _within(domain: str, allowed: frozenset[str]) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in allowed)


@dataclass(frozen=True)
class AnswerPolicy:
    domains: frozenset[str] | None  # None: every domain
    trusted_authserv_ids: tuple[str, ...] = ()
    require_authentication: bool = False
    replies_per_domain_per_hour: int = 100
    #: the organisation's own domains (its people's, and the service's own address): the
    #: per-domain cap is for a forger rotating addresses elsewhere; the company's staff share
    #: one domain, and each of them still has the per-address cap
    own_domains: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> AnswerPolicy:
        service = settings.service
        configured = {d.strip().lower().lstrip("@").rstrip(".")
                      for d in service.answer_domains if d.strip()}
        if "*" in configured:
            domains: frozenset[str] | None = None
        elif configured:
            domains = frozenset(configured)
        else:
            domains = frozenset(domain_of(p.email) for p in settings.people) or None
        trusted = tuple(t for t in service.trusted_authserv_ids if t.strip())
        require = service.require_authentication == "always" or (
            service.require_authentication == "auto" and bool(trusted))
        own = frozenset({domain_of(p.email) for p in settings.people}
                        | {domain_of(settings.smtp.from_address)})
        return cls(domains, trusted, require, service.replies_per_domain_per_hour, own)

    def verdict(self, parsed: ParsedMail) -> Verdict:
        """May *parsed*'s sender get an answer at all?"""
        assert parsed.sender is not None
        sender = parsed.sender.addr
        proven = bool(self.trusted_authserv_ids) and authenticated(
            parsed, sender, self.trusted_authserv_ids)
        domain = domain_of(sender)
        if self.domains is not None and not _within(domain, self.domains):
            return Verdict(False, proven, f"sender domain {domain} is not answered "
                                          "(service.answer_domains)")
        if self.require_authentication and not proven:
            return Verdict(False, proven, "no DMARC/DKIM pass for the From domain from a "
                                          "trusted server (service.trusted_authserv_ids)")
        return Verdict(True, proven)

    def may_resubmit(self, session: Session, parsed: ParsedMail, request: Request,
                     verdict: Verdict) -> bool:
        """May this mail (From: the requester) complete *request*? Only when authenticated,
        or when it answers a mail of that very request's thread: one mailflow sent for it, or
        the mail that opened it (a reply to one's own submission). A forger who only knows
        the number and the address has neither Message-ID."""
        if verdict.authenticated:
            return True
        ids = thread_ids(parsed)
        if not ids:
            return False
        opened_by = session.execute(
            select(InboundMail.message_id).where(InboundMail.id == request.source_mail_id)
        ).scalar_one_or_none()
        if opened_by and opened_by in ids:
            return True
        return session.execute(
            select(OutboxMessage.id).where(OutboxMessage.message_id.in_(ids))
            .where(OutboxMessage.request_id == request.id).limit(1)
        ).first() is not None

    def domain_cap_reached(self, session: Session, address: str, since: datetime) -> bool:
        """True when the replies to *address*'s domain since *since* reached the cap.
        Counted once per session and domain, then kept up by ``note_reply``."""
        domain = domain_of(address)
        if _within(domain, self.own_domains):
            return False
        counts: dict[str, tuple[datetime, int]] = session.info.setdefault(_DOMAIN_COUNTS, {})
        known = counts.get(domain)
        if known is None or not 0 <= (since - known[0]).total_seconds() <= 10:
            count = session.execute(
                select(func.count()).select_from(OutboxMessage)
                .where(OutboxMessage.primary_recipient.like(f"%@{_like_escaped(domain)}",
                                                            escape="\\"))
                .where(OutboxMessage.created_at >= db_time(since))
            ).scalar_one()
            known = (since, int(count))
            counts[domain] = known
        return known[1] >= self.replies_per_domain_per_hour

    @staticmethod
    def note_reply(session: Session, address: str) -> None:
        counts: dict[str, tuple[datetime, int]] = session.info.setdefault(_DOMAIN_COUNTS, {})
        domain = domain_of(address)
        if domain in counts:
            since, count = counts[domain]
            counts[domain] = (since, count + 1)


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
