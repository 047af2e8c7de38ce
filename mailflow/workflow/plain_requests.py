"""Requests that come as a plain mail, no form: a kind declares the path as data
(``[plain_mail]`` in forms/<kind>.toml; seed 002's urgent data processing, R-DP-2).

Why recognition is strict: such a mail skips the form and the approval chain and goes to the
handler at once, so it must be what the rule allows and nothing else: the sender is the
department manager (the supervisor) of exactly one person the mail names, and the mail's own
words say it is urgent (not "不紧急") and what it is about (the kind's topic words). A mail
that misses any of these is an ordinary mail, registered and answered as before.

Pure: the caller records the request and hands it over (reception.py, decisions.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mailflow.config import Person
from mailflow.documents.definitions import FormDef, PlainMailDef
from mailflow.workflow.directory import Directory

#: words that turn "紧急" round when written just before it ("不紧急", "并非紧急", "not urgent")
NEGATIONS = ("不", "非", "无需", "不是", "not ", "no ")
#: the longest text kept in the request's text field (the whole mail is archived anyway)
MAX_TEXT = 4000


@dataclass(frozen=True)
class PlainRequest:
    """A plain mail recognised as a request of *kind* under *rule*; *supervisor* is empty
    when anyone may send it (a fault report)."""

    kind: str
    rule: str
    applicant: Person
    supervisor: str
    department: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    handover_template: str = "urgent_handover"


def _holds(text: str, words: Iterable[str], *, negatable: bool = False) -> bool:
    folded = text.casefold()
    for word in words:
        wanted = word.casefold()
        start = folded.find(wanted)
        while start >= 0:
            before = folded[max(0, start - 4):start]
            if not (negatable and any(before.endswith(n) for n in NEGATIONS)):
                return True
            start = folded.find(wanted, start + 1)
    return False


def _named_reports(directory: Directory, supervisor: str, text: str) -> list[Person]:
    """The people the text names (display names of two characters or more) whose department
    *supervisor* manages, in the order the text names them; never the supervisor."""
    found: list[tuple[int, Person]] = []
    for person in directory.people():
        if person.email.lower() == supervisor.lower() or len(person.name.strip()) < 2:
            continue
        where = text.find(person.name.strip())
        if where < 0:  # or by address ("请处理 zhang.wei@… 的数据")
            where = text.casefold().find(person.email.casefold())
        if where < 0:
            continue
        department = directory.department_of(person.email)
        if department is not None and department.manager.lower() == supervisor.lower():
            found.append((where, person))
    return [p for _, p in sorted(found, key=lambda pair: pair[0])]


def recognise(forms: Iterable[FormDef], directory: Directory, sender: str, subject: str,
              text: str, sender_name: str = "") -> PlainRequest | None:
    """The plain-mail request *sender*'s mail is, or None when it is none."""
    whole = f"{subject}\n{text}"
    for form in forms:
        plain: PlainMailDef | None = form.plain_mail
        if plain is None:
            continue
        if plain.subject_words and not _holds(subject, plain.subject_words, negatable=True):
            continue
        if plain.urgent_words and not _holds(whole, plain.urgent_words, negatable=True):
            continue
        if plain.topic_words and not _holds(whole, plain.topic_words):
            continue
        if plain.sender == "anyone":
            applicant = directory.person(sender) or Person(email=sender,
                                                           name=sender_name or sender)
            supervisor = ""
        else:
            reports = _named_reports(directory, sender, whole)
            if len({p.email.lower() for p in reports}) != 1:
                continue  # nobody of the sender's own department named, or not one item
            applicant, supervisor = reports[0], sender
        department = directory.department_of(applicant.email)
        keys = {f.key for f in form.fields}
        fields: dict[str, Any] = {}
        if "applicant" in keys:
            fields["applicant"] = applicant.name
        if "department" in keys and department is not None:
            fields["department"] = department.name
        fields[plain.text_field] = text.strip()[:MAX_TEXT] or subject
        if plain.urgency_field:
            fields[plain.urgency_field] = plain.urgency_value
        return PlainRequest(form.kind, plain.rule, applicant, supervisor,
                            department.name if department else "", fields,
                            plain.handover_template)
    return None
