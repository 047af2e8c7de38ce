"""Who is who on a ticket: which contract a sender belongs to, the contract's PM and
engineers, and 客服 (``[roles] customer_service``) with their delegates.

Why from config only: only mail from a contract's domains or contact addresses opens a
ticket (other outside mail stays recorded and unanswered, issue 20), and only the configured
客服 may triage (R-PM-2) — both decided by data, not by what a mail claims.
"""

from __future__ import annotations

from datetime import date

from mailflow.config import Settings
from mailflow.errors import ConfigError
from mailflow.tickets.settings import Customer
from mailflow.workflow.answering import domain_of
from mailflow.workflow.chains import delegates
from mailflow.workflow.directory import Directory, DirectoryError

ROLE = "customer_service"


class Contracts:
    def __init__(self, settings: Settings, directory: Directory | None = None) -> None:
        self.settings = settings
        self.directory = directory or Directory(settings)
        self.customers = {c.key: c for c in settings.customers}
        for customer in settings.customers:  # a typo must fail at start, not at 2 a.m.
            for who in (customer.project_manager, *customer.engineers):
                if who and self._address(who) is None:
                    raise ConfigError(f"customers: {customer.key} names {who!r}, who is not "
                                      "in [[people]]; add them or fix the name")

    def _address(self, who: str) -> str | None:
        """A directory person named by address, name or employee id."""
        person = self.directory.find_by_name(who)
        if person is None:
            wanted = who.strip().lower()
            person = next((p for p in self.directory.people()
                           if p.employee_id and p.employee_id.lower() == wanted), None)
        return person.email if person is not None else None

    def of_sender(self, address: str) -> Customer | None:
        """The contract *address* writes for: a listed contact first, then its domain (the
        longest configured domain that covers it)."""
        wanted = address.strip().lower()
        if not wanted or self.directory.is_known(wanted):
            return None  # our own staff never open customer tickets
        for customer in self.customers.values():
            if wanted in (c.lower() for c in customer.contacts):
                return customer
        domain = domain_of(wanted)
        best: tuple[int, Customer] | None = None
        for customer in self.customers.values():
            for d in customer.domains:
                d = d.strip().lower().lstrip("@")
                if d and (domain == d or domain.endswith("." + d)) and \
                        (best is None or len(d) > best[0]):
                    best = (len(d), customer)
        return best[1] if best else None

    def get(self, key: str) -> Customer | None:
        return self.customers.get(key)

    def project_manager(self, customer: Customer | None) -> str:
        pm = self._address(customer.project_manager) if customer and \
            customer.project_manager else None
        if pm:
            return pm
        try:
            return self.directory.role("project_manager") or ""
        except DirectoryError:
            return ""

    def engineers(self, customer: Customer | None) -> list[str]:
        if customer is None:
            return []
        return [a for a in (self._address(e) for e in customer.engineers) if a]

    def customer_service(self) -> str:
        try:
            return self.directory.role(ROLE) or ""
        except DirectoryError:
            return ""

    def is_customer_service(self, address: str, day: date) -> bool:
        """客服, or their delegate on *day* ([[delegations]])."""
        desk = self.customer_service()
        wanted = address.lower()
        return bool(desk) and (wanted == desk.lower() or wanted in (
            d.lower() for d in delegates(self.settings, desk, day)))

    def belongs_to(self, address: str, customer: Customer) -> bool:
        found = self.of_sender(address)
        return found is not None and found.key == customer.key
