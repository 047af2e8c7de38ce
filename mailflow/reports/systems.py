"""Which system a request (a fault above all) is about, so faults on "the same system" are
counted together (R-FN-7) and a contract's systems find their requests.

Why by meaning and not by the field's exact text: a fault reported by plain mail has no
系统 field, and people write "CRM", "crm系统" or "客户关系管理系统" for one system. The
``[[systems]]`` directory (name and aliases) is the vocabulary: the 系统 field first, then
the subject and the symptom are searched for a known name; an unknown system keeps its
field's text, folded (spaces and case, a trailing 系统 dropped).
"""

from __future__ import annotations

from typing import Any

from mailflow.config import Settings
from mailflow.store.models import Request

#: fields that name the system, then the free text searched for a known system's name
SYSTEM_FIELDS = ("system", "systems", "system_name")
TEXT_FIELDS = ("symptom", "impact", "description", "content")


def fold(text: str) -> str:
    folded = "".join(text.split()).casefold()
    return folded.removesuffix("系统") or folded


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)


def known_system(settings: Settings, text: str) -> str:
    """The ``[[systems]]`` entry named in *text* (its name), longest name first; ""."""
    folded = "".join(text.split()).casefold()
    if not folded:
        return ""
    best = ("", 0)
    for entry in settings.systems:
        for name in (entry.name, *entry.aliases):
            word = "".join(name.split()).casefold()
            if word and word in folded and len(word) > best[1]:
                best = (entry.name, len(word))
    return best[0]


def fault_system(settings: Settings, request: Request) -> str:
    """The system *request* is about: a known system's name, else the folded 系统 field,
    else ""."""
    fields = request.fields or {}
    named = " ".join(_text(fields.get(f)) for f in SYSTEM_FIELDS).strip()
    for text in (named, request.title or "", " ".join(_text(fields.get(f))
                                                       for f in TEXT_FIELDS)):
        found = known_system(settings, text)
        if found:
            return found
    return fold(named)


def systems_named(settings: Settings, request: Request) -> set[str]:
    """Every system *request* names (a data extraction may list several): the known ones
    found in its system fields, subject and text, and the folded field text of an unknown
    one."""
    fields = request.fields or {}
    texts = [_text(fields.get(f)) for f in SYSTEM_FIELDS]
    texts += [request.title or "", *(_text(fields.get(f)) for f in TEXT_FIELDS)]
    found: set[str] = set()
    for text in texts:
        folded = "".join(text.split()).casefold()
        for entry in settings.systems:
            if any(w and w in folded for w in ("".join(n.split()).casefold()
                                                 for n in (entry.name, *entry.aliases))):
                found.add(entry.name)
    named = fold(" ".join(texts[:len(SYSTEM_FIELDS)]).strip())
    return found | ({named} if named and not found else set())
