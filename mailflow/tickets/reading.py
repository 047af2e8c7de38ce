"""What a ticket mail says, read by pure functions over the sender's own words (quotes and
signatures removed by the caller): 客服's triage (R-PM-2), an engineer's escalation, result
or recovery (R-PM-4/5/10), 客服's check, a customer's satisfaction (R-PM-5/14), a phone
number (R-PM-1). The words are data (words.toml); here is only how they are found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from mailflow.tickets.moments import Moment, cn_number, read_within
from mailflow.tickets.words import find, folded, lexicon, masked, negated

SEVERITIES = ("urgent", "normal")
CATEGORIES = ("technical", "functional", "usage")
#: a labelled value runs to the end of its line or sentence
_VALUE_END = re.compile(r"[\n;；。]")
_PHONE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(?:1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|"
                    r"0\d{2,3}[\s-]?\d{7,8}(?:[\s-]?转\d{1,6})?|400[\s-]?\d{3}[\s-]?\d{4})(?!\d)")
_RATING_NUMBER = re.compile(
    r"(?:(?:打|评|给|评分|打分|评价|满意度|rating|score|rate)\s*[:：为是了]?\s*"
    r"([1-5一二三四五])(?![\d般些点])"
    r"|(?<!\d)([1-5一二三四五])\s*(?:分|星|颗星|stars?|points?|/\s*5|out of 5))")
_BARE_RATING = re.compile(r"^\W*([1-5])\W*$")


@dataclass(frozen=True)
class Triage:
    severity: str = ""        # "urgent" | "normal" | ""
    category: str = ""        # "technical" | "functional" | "usage" | ""
    engineer: str = ""        # the engineer's address
    due: Moment | None = None
    impact: str = ""
    requirement: str = ""
    missing: tuple[str, ...] = field(default=())  # what could not be read

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class Person:
    email: str
    name: str


def labelled(text: str, label: str) -> tuple[str, list[tuple[int, int]]]:
    """The value written after one of *label*'s words ("影响范围：全部营业厅"), and the
    spans the labelled parts take in folded *text*."""
    low = folded(text)
    for hit in find(low, {w: v for w, v in lexicon().labels.items() if v == label},
                    negatable=False):
        rest = low[hit.end:]
        sep = re.match(r"\s*[:：为是]\s*|\s+", rest)
        if sep is None and label != "engineer":
            continue
        start = hit.end + (sep.end() if sep else 0)
        end_match = _VALUE_END.search(low, start)
        end = end_match.start() if end_match else len(low)
        for other in find(low[start:end], lexicon().labels, negatable=False):
            # "影响范围：全部营业厅，工程师：林芳": the next labelled part ends this one
            if other.start > 0 and low[start + other.start - 1] in ",，、 \t":
                end = start + other.start - 1
                break
        value = text[start:end].strip(" ，,")
        if value:
            return value, [(hit.start, end)]
    return "", []


def read_triage(text: str, people: Sequence[Person], preferred: Sequence[str],
                base: datetime, sender: str = "") -> Triage:
    """客服's triage reply (R-PM-2/3): severity, category, engineer, due time, impact and
    the handling requirement. *people* are the directory's; an engineer of the contract
    (*preferred*) wins over anyone else named, and the *sender* (客服 signing the mail) is
    never the engineer."""
    lex = lexicon()
    impact, impact_spans = labelled(text, "impact")
    requirement, req_spans = labelled(text, "requirement")
    due_text, _ = labelled(text, "due")
    names = [(h.start, h.end) for h in find(folded(text), lex.labels, negatable=False)
             if h.value == "field"]
    low = masked(folded(text), [*impact_spans, *req_spans, *names])
    severities = [h.value for h in find(low, lex.severity)]
    scores: dict[str, int] = {}
    for hit in find(low, lex.category):
        scores[hit.value] = scores.get(hit.value, 0) + (hit.end - hit.start)
    category = max(scores, key=lambda k: scores[k]) if scores else ""
    engineer = _engineer(text, [p for p in people if p.email.lower() != sender.lower()],
                         preferred)
    due = read_within(due_text, base) if due_text else None
    if due is None:
        due = read_within(masked(text, [*impact_spans, *req_spans]), base)
    missing = tuple(name for name, value in (
        ("severity", severities[0] if severities else ""), ("category", category),
        ("engineer", engineer)) if not value)
    return Triage(severity=severities[0] if severities else "", category=category,
                  engineer=engineer, due=due, impact=impact, requirement=requirement,
                  missing=missing)


def _engineer(text: str, people: Sequence[Person], preferred: Sequence[str]) -> str:
    low = folded(text)
    named: list[tuple[int, str]] = []
    for person in people:
        for needle in (person.email.lower(), folded(person.name)):
            if len(needle) >= 2:
                at = low.find(needle)
                if at >= 0:
                    named.append((at, person.email))
                    break
    if not named:
        return ""
    wanted = {p.lower() for p in preferred}
    named.sort()
    for _, email in named:
        if email.lower() in wanted:
            return email
    return named[0][1]


def engineer_says(text: str) -> set[str]:
    """"escalate", "resolved", "recovered" in an engineer's reply (negated words do not
    count: 未解决 is no result)."""
    return {h.value for h in find(folded(text), lexicon().engineer)}


def check_says(text: str) -> str:
    """客服's answer to a check or verification: "confirm", "reject" or "" (unclear). A
    rejection anywhere outweighs a confirmation (不通过 is never a pass)."""
    hits = {h.value for h in find(folded(text), lexicon().check)}
    if "reject" in hits:
        return "reject"
    if any(negated(folded(text), h.start) for h in
           find(folded(text), lexicon().check, negatable=False) if h.value == "confirm"):
        return "reject"
    return "confirm" if "confirm" in hits else ""


def read_rating(text: str) -> int | None:
    """A customer's satisfaction, 1–5 (R-PM-5, R-PM-14): a number ("5分", "打4分", "评分：3",
    "4/5", a bare "5") wins over words (非常满意 5, 满意 5, 一般 3, 不满意 1, …). A positive
    word negated ("不是很满意") is a 2. None when the reply gives no rating."""
    lex = lexicon()
    low = folded(text)
    number = _RATING_NUMBER.search(low)
    if number:
        value = cn_number(number.group(1) or number.group(2))
        if value is not None and 1 <= value <= 5:
            return value
    for line in low.splitlines():
        bare = _BARE_RATING.match(line)
        if bare:
            return int(bare.group(1))
        if line.strip():
            break
    labels = [(m.start(), m.end()) for word in lex.satisfaction_labels
              for m in re.finditer(re.escape(word), low)]
    hits = find(masked(low, labels), lex.satisfaction, negatable=False)
    for hit in hits:
        value = int(hit.value)
        if value >= 4 and negated(low, hit.start):
            return 2
        return value
    return None


def phone_in(text: str) -> str:
    """The first phone number in *text* (mobile, landline with area code, 400), as written."""
    match = _PHONE.search(text)
    return match.group(0).strip() if match else ""
