"""Who a notice goes to, by rule, from the directory; names written on forms resolved to people.

Forms name people the way colleagues write them: "张伟", "财务部 刘洋", "刘洋（财务部）",
"zhang.wei@example.com", "张伟 <zhang.wei@example.com>", an employee number. Each is resolved
to exactly one directory person, or reported with the likely candidates. A notice with an
unresolved name is held and the sender asked (template notices/sender_unresolved_names):
a recipient is never silently dropped, and never guessed.

The rules (PROCESS_RULES.md):
- R-CH-4 / R-CH-5: To the interface persons and heads of the affected departments, in the
  form's order of relevance; Cc the leader in charge and those departments' managers.
- R-CH-6: To the business departments' managers; Cc the leader in charge.
- R-MT-3: the minutes go to every attendee.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from mailflow.config import Department, Person, Settings
from mailflow.workflow.directory import Directory, DirectoryError

#: how alike a written name must be to a directory name to be offered as a candidate
CANDIDATE_SCORE = 50
_EMAIL = re.compile(r"[^\s<>@,;，；、()（）]+@[^\s<>@,;，；、()（）]+")
_SPLIT = re.compile(r"[\s,，、;；/()（）<>《》\[\]【】:：·]+")


@dataclass(frozen=True)
class Unresolved:
    """A name on a form that is not exactly one directory entry."""

    field: str                  # the form field's label ("参会人员")
    written: str                # as written
    candidates: tuple[str, ...]  # "刘洋 liu.yang@example.com", most alike first


@dataclass(frozen=True)
class RecipientPlan:
    """To and Cc by rule, and what could not be resolved (then nothing is sent yet)."""

    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    unresolved: tuple[Unresolved, ...] = field(default=())

    @property
    def complete(self) -> bool:
        return not self.unresolved and bool(self.to)


def _norm(text: str) -> str:
    return "".join(text.split()).casefold()


class NameResolver:
    """Resolves names written on forms against the directory ([[people]], [[departments]])."""

    def __init__(self, settings: Settings) -> None:
        self.directory = Directory(settings)
        self._people = settings.people
        self._departments = settings.departments
        self._by_email = {p.email.lower(): p for p in settings.people}

    def _department(self, token: str) -> Department | None:
        try:
            return self.directory.department(token)
        except DirectoryError:
            return None

    def person(self, written: str) -> Person | list[Person]:
        """The one person *written* means, or the candidates (possibly none)."""
        text = written.strip()
        address = _EMAIL.search(text)
        if address is not None:  # an address, bare or with a display name: it decides
            found = self._by_email.get(address.group(0).lower())
            return found if found is not None else []
        departments: list[Department] = []
        names: list[str] = []
        for token in (t for t in _SPLIT.split(text) if t):
            dept = self._department(token)
            if dept is not None:
                departments.append(dept)
                continue
            glued = self._glued_department(token)  # "财务部刘洋"
            if glued is not None:
                departments.append(glued[0])
                token = glued[1]
            names.append(token)
        wanted = _norm("".join(names))
        pool = [p for p in self._people
                if not departments or p.department in {d.key for d in departments}]
        exact = [p for p in pool if _norm(p.name) == wanted
                 or (p.employee_id and _norm(p.employee_id) == wanted)]
        if len(exact) == 1:
            return exact[0]
        if exact:
            return exact  # two people of one name: ask which
        return self._alike(wanted, pool)

    def _glued_department(self, token: str) -> tuple[Department, str] | None:
        folded = _norm(token)
        for dept in self._departments:
            for prefix in (_norm(dept.name),):
                if folded.startswith(prefix) and len(folded) > len(prefix):
                    return dept, folded[len(prefix):]
        return None

    def _alike(self, wanted: str, pool: Sequence[Person]) -> list[Person]:
        if not wanted:
            return []
        scored = process.extract(wanted, [_norm(p.name) for p in pool], scorer=fuzz.ratio,
                                 score_cutoff=CANDIDATE_SCORE, limit=5)
        return [pool[index] for _choice, _score, index in scored]

    def resolve(self, field_label: str, written: Iterable[str]
                ) -> tuple[list[str], list[Unresolved]]:
        """Addresses of the names in *written* (order kept, no repeats), and the rest."""
        found: list[str] = []
        missing: list[Unresolved] = []
        for name in written:
            if not name.strip():
                continue
            result = self.person(name)
            if isinstance(result, list):
                missing.append(Unresolved(field_label, name.strip(),
                                          tuple(f"{p.name} {p.email}" for p in result)))
            elif result.email not in found:
                found.append(result.email)
        return found, missing

    def departments(self, field_label: str, written: Iterable[str]
                    ) -> tuple[list[Department], list[Unresolved]]:
        """Departments named on a form, in the order written (the order of relevance)."""
        found: list[Department] = []
        missing: list[Unresolved] = []
        for name in written:
            if not name.strip():
                continue
            dept = self._department(name.strip())
            if dept is None:
                scored = process.extract(_norm(name), [_norm(d.name) for d in
                                                       self._departments],
                                         scorer=fuzz.partial_ratio, score_cutoff=60, limit=3)
                missing.append(Unresolved(field_label, name.strip(), tuple(
                    self._departments[i].name for _c, _s, i in scored)))
            elif dept not in found:
                found.append(dept)
        return found, missing


def change_notice_plan(resolver: NameResolver, field_label: str,
                       affected_departments: Sequence[str]) -> RecipientPlan:
    """R-CH-4 (and R-CH-5, the same people): To the interface persons and heads of the
    affected departments, most relevant first; Cc the leader in charge and their managers."""
    departments, missing = resolver.departments(field_label, affected_departments)
    rule = resolver.directory.change_notice_recipients([d.key for d in departments])
    return RecipientPlan(rule.to, rule.cc, tuple(missing))


def summary_report_plan(resolver: NameResolver, field_label: str,
                        departments_written: Sequence[str]) -> RecipientPlan:
    """R-CH-6: To the business departments' managers; Cc the leader in charge."""
    departments, missing = resolver.departments(field_label, departments_written)
    rule = resolver.directory.summary_report_recipients([d.key for d in departments])
    return RecipientPlan(rule.to, rule.cc, tuple(missing))


def minutes_plan(resolver: NameResolver, field_label: str, attendees: Sequence[str]
                 ) -> RecipientPlan:
    """R-MT-3: the minutes go to every attendee, each once."""
    to, missing = resolver.resolve(field_label, attendees)
    return RecipientPlan(tuple(to), (), tuple(missing))
