"""The ticket's mails: one context for every template under ``templates/<lang>/tickets/``
(the ticket as recorded, its people by name, its times local), queued through the notice
sender in the caller's transaction, each with the rule it serves.

Why one context: the receipt, the 派单, the progress mail and the result all show the same
ticket; building it once keeps what the customer and the engineer read the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mailflow.config import Settings
from mailflow.notices.send import NoticeSender
from mailflow.store.models import Request, Ticket, utc
from mailflow.tickets.contracts import Contracts


class TicketMail:
    def __init__(self, settings: Settings, sender: NoticeSender, contracts: Contracts) -> None:
        self.settings = settings
        self.sender = sender
        self.contracts = contracts

    def context(self, request: Request, ticket: Ticket) -> dict[str, Any]:
        directory = self.contracts.directory
        customer = self.contracts.get(ticket.contract)

        def at(value: datetime | None) -> str:
            return self.sender.at(utc(value)) if value is not None else ""

        sla = customer.sla.of(ticket.severity or "normal") if customer else None
        return {
            "reference": request.reference, "title": request.title,
            "customer_name": ticket.customer_name,
            "contact_name": ticket.contact_name or ticket.contact_email,
            "contact_email": ticket.contact_email, "contact_phone": ticket.contact_phone,
            "channel": ticket.channel or "mail",
            "description": ticket.description, "occurred_at": at(ticket.occurred_at),
            "occurred_text": ticket.occurred_text, "opened_at": at(ticket.opened_at),
            "severity": ticket.severity, "category": ticket.category,
            "impact": ticket.impact, "requirement": ticket.requirement,
            "engineer_name": directory.name_of(ticket.engineer) if ticket.engineer else "",
            "due": at(ticket.due_at), "sla_due": at(ticket.sla_due_at),
            "result": ticket.result, "plan": ticket.plan, "summary": ticket.summary,
            "service_name": directory.name_of(self.contracts.customer_service())
            if self.contracts.customer_service() else "",
            "pm_name": directory.name_of(self.contracts.project_manager(customer))
            if self.contracts.project_manager(customer) else "",
            "engineers": [directory.name_of(a) for a in self.contracts.engineers(customer)],
            "progress_hours": _hours(sla.progress_hours) if sla else "",
            "resolution_hours": _hours(sla.resolution_hours) if sla else "",
            "response_hours": _hours(sla.response_hours) if sla else "",
        }

    def send(self, session: Session, now: datetime, name: str, request: Request,
             ticket: Ticket, *, to: Sequence[str], cc: Sequence[str] = (), rule: str,
             extra: Mapping[str, Any] | None = None) -> int | None:
        """Queue ``tickets/<name>`` to *to* (Cc *cc*, nobody twice); None when nobody."""
        to = _unique(to)
        taken = {a.lower() for a in to}
        cc = [a for a in _unique(cc) if a.lower() not in taken]
        if not to and cc:
            # nobody to write to (a phone report without the customer's address): 客服,
            # in Cc, gets the mail to pass on
            to, cc = cc, []
        if not to:
            return None
        context = {**self.context(request, ticket), "rule": rule, "now": self.sender.at(now),
                   "to_names": [self.name(a, ticket) for a in to], **(extra or {})}
        return self.sender.queue(session, now, template=f"tickets/{name}", context=context,
                                 to=to, cc=cc, request=request)

    def name(self, address: str, ticket: Ticket) -> str:
        if address.lower() == ticket.contact_email.lower():
            return ticket.contact_name or address
        return self.contracts.directory.name_of(address)


def _hours(value: float) -> str:
    return f"{value:g}"


def _unique(items: Sequence[str]) -> list[str]:
    seen: dict[str, str] = {}
    for item in items:
        if item and item.lower() not in seen:
            seen[item.lower()] = item
    return list(seen.values())
