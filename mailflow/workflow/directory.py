"""The organisation directory: who is who, so routes and recipient lists come from data.

Pure lookups over the validated ``[[people]]``, ``[[departments]]``, ``[roles]`` and
``[[systems]]`` configuration. Approval routes and notice recipients (PROCESS_RULES R-DX-2,
R-AC-2, R-CH-4, R-CH-6, R-MT-3) are computed here, never typed into code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mailflow.config import Department, Person, Settings, SystemEntry


class DirectoryError(LookupError):
    """A name, department or system the directory does not know."""


@dataclass(frozen=True)
class Recipients:
    to: tuple[str, ...]
    cc: tuple[str, ...]


def _norm(text: str) -> str:
    return "".join(text.split()).casefold()


class Directory:
    def __init__(self, settings: Settings) -> None:
        self._people = {p.email.lower(): p for p in settings.people}
        self._departments = {d.key: d for d in settings.departments}
        self._roles = settings.roles
        self._systems = settings.systems

    # people ---------------------------------------------------------------------------
    def person(self, email: str) -> Person | None:
        return self._people.get(email.lower())

    def people(self) -> tuple[Person, ...]:
        return tuple(self._people.values())

    def is_known(self, email: str) -> bool:
        return email.lower() in self._people

    def name_of(self, email: str) -> str:
        person = self.person(email)
        return person.name if person else email

    def find_by_name(self, name: str) -> Person | None:
        """Forms name people ("张伟"); match a unique display name or an address."""
        if "@" in name:
            return self.person(name.strip())
        matches = [p for p in self._people.values() if _norm(p.name) == _norm(name)]
        return matches[0] if len(matches) == 1 else None

    # departments ----------------------------------------------------------------------
    def department(self, key_or_name: str) -> Department:
        if key_or_name in self._departments:
            return self._departments[key_or_name]
        for dept in self._departments.values():
            if _norm(dept.name) == _norm(key_or_name):
                return dept
        raise DirectoryError(f"unknown department {key_or_name!r}")

    def department_of(self, email: str) -> Department | None:
        person = self.person(email)
        if person is None or not person.department:
            return None
        return self._departments[person.department]

    def manager_of(self, email: str) -> str | None:
        """The requester's department manager: first approver of R-DX-2 and R-AC-2."""
        dept = self.department_of(email)
        return dept.manager or None if dept else None

    def it_department(self) -> Department | None:
        return next((d for d in self._departments.values() if d.is_it), None)

    # roles ----------------------------------------------------------------------------
    def role(self, name: str) -> str | None:
        value = getattr(self._roles, name, None)
        if value is None:
            raise DirectoryError(f"unknown role {name!r}")
        return str(value) or None

    # systems --------------------------------------------------------------------------
    def system(self, name: str) -> SystemEntry:
        wanted = _norm(name)
        for system in self._systems:
            if wanted in (_norm(system.name), *(_norm(a) for a in system.aliases)):
                return system
        raise DirectoryError(f"unknown system {name!r}")

    def owner_of_system(self, name: str) -> Department:
        """The business department owning a system's permissions (R-AC-2)."""
        return self._departments[self.system(name).owner_department]

    # notice recipients ----------------------------------------------------------------
    def change_notice_recipients(self, departments_by_relevance: Sequence[str]) -> Recipients:
        """R-CH-4 / R-CH-5: To (主送) the interface persons and persons in charge of the
        affected departments, most relevant department first; Cc (抄送) the leader in charge
        and the managers of the To departments. Nobody appears twice.
        """
        to: list[str] = []
        managers: list[str] = []
        for name in departments_by_relevance:
            dept = self.department(name)
            to.extend((*dept.interface_persons, *dept.heads))
            if dept.manager:
                managers.append(dept.manager)
        to_unique = _unique(to)
        taken = {a.lower() for a in to_unique}
        cc = [a for a in _unique([self.role("leader_in_charge") or "", *managers])
              if a.lower() not in taken]
        return Recipients(to=to_unique, cc=tuple(cc))

    def summary_report_recipients(self, departments: Sequence[str]) -> Recipients:
        """R-CH-6: To the business departments' managers; Cc the leader in charge."""
        to = _unique(self.department(d).manager for d in departments if self.department(d).manager)
        leader = self.role("leader_in_charge")
        return Recipients(to=to, cc=(leader,) if leader else ())


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for item in items:
        if item and item.lower() not in seen:
            seen[item.lower()] = item
    return tuple(seen.values())
