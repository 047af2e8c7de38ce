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
from mailflow.tickets.words import (
    find,
    folded,
    foretold,
    lexicon,
    masked,
    negated,
    unasked,
    unoffered,
)

SEVERITIES = ("urgent", "normal")
CATEGORIES = ("technical", "functional", "usage")
#: a labelled value runs to the end of its line or sentence
_VALUE_END = re.compile(r"[\n;；。]|\.(?![a-z0-9.])")
#: mobile, landline with area code (in brackets, or after +86 without its 0), 400; read in
#: folded text, so full-width digits count
_PHONE = re.compile(
    r"(?<![\d(])(?:(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}"
    r"|(?:\+?86[\s-]?\(?0?|\(?0)\d{2,3}\)?[\s-]?\d{3,4}[\s-]?\d{4}"
    r"(?:[\s-]?(?:转|ext\.?|x)\s*\d{1,6})?"
    r"|400[\s-]?\d{3}[\s-]?\d{4})(?!\d)")
_RATING_NUMBER = re.compile(
    r"(?:(?:打|评|给|评分|打分|评价|满意度|rating|score|rate)\s*[:：为是了]?\s*"
    r"([1-5一二三四五])(?![\d般些点])"
    r"|(?<!\d)([1-5一二三四五])\s*(?:分|星|颗星|stars?|points?|/\s*5|out of 5))")
_BARE_RATING = re.compile(r"^\W*([1-5])\W*$")
#: the scale, not the rating: "满分5分", "5分制", "(5分最满意)"
_SCALE = re.compile(r"[1-5一]\s*(?:[-–~～]|到|至)\s*[2-5五]\s*分?"
                    r"|满分\s*[:：是为]?\s*[1-5一二三四五十]{1,2}\s*分?|[1-5五十]{1,2}\s*分制"
                    r"|[1-5五]\s*分\s*(?:为|是)?\s*最满意")
#: a rating out of ten ("9/10", "8 out of 10", "十分制打8分" is not ours): halved, rounded up
_OUT_OF_TEN = re.compile(r"(?<![\d.])(10|[1-9])\s*(?:/\s*10|out of 10)(?!\d)")
#: stars as drawn: ★★★★☆ is a 4
_STARS = re.compile(r"(★{1,5})☆*")


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
        sep = re.match(r"\s*(?:[】\]]\s*[:：]?|[:：为是])\s*|\s+", rest)
        if sep is None and label != "engineer":
            continue
        start = hit.end + (sep.end() if sep else 0)
        end_match = _VALUE_END.search(low, start)
        end = end_match.start() if end_match else len(low)
        for other in find(low[start:end], lexicon().labels, negatable=False):
            # "影响范围：全部营业厅，工程师：林芳": the next labelled part ends this one
            if other.start > 0 and low[start + other.start - 1] in ",，、 \t【[":
                end = start + other.start - 1
                break
        end = _next_field(low, start, end)
        value = text[start:end].strip(" ，,。.【[")
        if value:
            return value, [(hit.start, end)]
    return "", []


def _next_field(low: str, start: int, end: int) -> int:
    """Where a labelled value ends at a comma after which a level or a category is written
    ("影响范围：全部营业厅无法缴费，紧急，技术问题")."""
    lex = lexicon()
    for comma in re.finditer(r"[,，、]\s*", low[start:end]):
        after = start + comma.end()
        for table in (lex.severity, lex.category):
            hits = find(low[after:after + 12], table, negatable=False)
            if hits and hits[0].start == 0:
                return start + comma.start()
    return end


def read_triage(text: str, people: Sequence[Person], preferred: Sequence[str],
                base: datetime, sender: str = "") -> Triage:
    """客服's triage reply (R-PM-2/3): severity, category, engineer, due time, impact and
    the handling requirement. *people* are the directory's; an engineer of the contract
    (*preferred*) wins over anyone else named, and the *sender* (客服 signing the mail) is
    never the engineer."""
    lex = lexicon()
    text = unasked(text)
    impact, impact_spans = labelled(text, "impact")
    requirement, req_spans = labelled(text, "requirement")
    due_text, _ = labelled(text, "due")
    levels = [(h.start, h.end) for h in find(folded(text), lex.severity, negatable=False)]
    names = [(h.start, h.end) for h in find(folded(text), lex.labels, negatable=False)
             if h.value == "field" and not any(s <= h.start and h.end <= e for s, e in levels)]
    low = unoffered(unoffered(masked(folded(text), [*impact_spans, *req_spans, *names]),
                              lex.severity), lex.category)
    severity = _severity(low, _field_levels(folded(text)))
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
        ("severity", severity), ("category", category),
        ("engineer", engineer)) if not value)
    return Triage(severity=severity, category=category,
                  engineer=engineer, due=due, impact=impact, requirement=requirement,
                  missing=missing)


def _field_levels(low: str) -> list[str]:
    """Levels written as a grade after a severity field's name ("优先级：高", "严重程度：低")."""
    lex = lexicon()
    levels: list[str] = []
    for field_name in lex.severity_fields:
        for match in re.finditer(re.escape(field_name) + r"\s*[】\]]?\s*[:：为是]?\s*", low):
            for grade, value in lex.severity_grades.items():
                if low.startswith(grade, match.end()) and _bounded_word(low, match.end(), grade):
                    levels.append(value)
                    break
    return levels


def _bounded_word(low: str, at: int, word: str) -> bool:
    after = low[at + len(word):at + len(word) + 1]
    return not (word.isascii() and after.isascii() and after.isalnum())


def _severity(low: str, graded: Sequence[str] = ()) -> str:
    """The one level named: a negated level means the other (不算紧急 is normal, R-PM-2);
    words that only describe the problem (严重) count when no level is named; two levels
    named ("紧急…不紧急") is no reading."""
    lex = lexicon()
    flips = lex.severity_negated or {}
    strong: list[str] = []
    weak: list[str] = []
    for hit in find(low, lex.severity, negatable=False):
        value = hit.value
        if foretold(low, hit.start):
            continue
        if negated(low, hit.start):
            if value not in flips:
                continue
            value = flips[value]
        (weak if hit.word in lex.severity_weak else strong).append(value)
    levels = set(strong) or set(graded) or set(weak)
    return levels.pop() if len(levels) == 1 else ""


def _engineer(text: str, people: Sequence[Person], preferred: Sequence[str]) -> str:
    """The person named: by address, by name, by the address's local part ("ma.chao"), or
    by a surname and a title ("林工", "马经理") when one person has that surname."""
    low = folded(text)
    named: list[tuple[int, str]] = []
    surnames: dict[str, list[Person]] = {}
    for person in people:
        name = folded(person.name)
        if 2 <= len(name) <= 4 and not name.isascii():
            surnames.setdefault(name[0], []).append(person)
    for person in people:
        local = person.email.lower().partition("@")[0]
        spoken = re.sub(r"[._-]+", " ", local)    # ma.chao → "Ma Chao"
        for needle in (person.email.lower(), folded(person.name), local, spoken):
            if len(needle) >= 2 and (needle not in (local, spoken) or len(local) >= 4):
                at = _whole(low, needle)
                if at >= 0:
                    named.append((at, person.email))
                    break
        else:
            name = folded(person.name)
            if name and len(surnames.get(name[0], [])) == 1:
                for title in lexicon().person_titles:
                    at = low.find(name[0] + title)
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


def names_someone(text: str, people: Sequence[Person]) -> bool:
    """Whether *text* names one of *people* (the way a triage names its engineer)."""
    return bool(_engineer(text, people, ()))


def _whole(low: str, needle: str) -> int:
    """Where *needle* stands in *low* as a whole word if it is ASCII ("ma.chao" not inside
    "emma.chao"); -1 when it does not."""
    for match in re.finditer(re.escape(needle), low):
        before = low[match.start() - 1] if match.start() else " "
        after = low[match.end()] if match.end() < len(low) else " "
        if not needle.isascii() or not (
                (before.isascii() and (before.isalnum() or before in "._-")) or
                (after.isascii() and after.isalnum())):
            return match.start()
    return -1


def engineer_says(text: str) -> set[str]:
    """"escalate", "resolved", "recovered" in an engineer's reply (negated words do not
    count: 未解决 is no result)."""
    low = unoffered(folded(unasked(text)), lexicon().engineer)
    return {h.value for h in find(low, lexicon().engineer)}


def check_says(text: str) -> str:
    """客服's answer to a check or verification: "confirm", "reject" or "" (unclear). A
    rejection anywhere outweighs a confirmation (不通过 is never a pass)."""
    low = unoffered(folded(unasked(text)), lexicon().check)
    hits = {h.value for h in find(low, lexicon().check)}
    if "reject" in hits:
        return "reject"
    if any(negated(low, h.start) and not foretold(low, h.start) for h in
           find(low, lexicon().check, negatable=False) if h.value == "confirm"):
        return "reject"
    return "confirm" if "confirm" in hits else ""


def read_rating(text: str) -> int | None:
    """A customer's satisfaction, 1–5 (R-PM-5, R-PM-14): a number ("5分", "打4分", "评分：3",
    "4/5", "★★★★", a bare "5") wins over words; the scale ("满分5分") is no rating. Verdict
    words (非常满意 5, 满意 5, 一般 3, 不满意 1, …) win over praise or blame of one part
    ("态度很好"); a positive word negated ("不是很满意", "谈不上满意") is a 2; verdicts that
    disagree ("满意也不满意") are no rating. None when the reply gives none."""
    lex = lexicon()
    low = folded(unasked(text))
    scaled = unoffered(masked(low, [m.span() for m in _SCALE.finditer(low)]),
                       lex.satisfaction)
    ten = _OUT_OF_TEN.search(scaled)
    if ten:
        return (int(ten.group(1)) + 1) // 2
    number = _RATING_NUMBER.search(scaled)
    if number:
        value = cn_number(number.group(1) or number.group(2))
        if value is not None and 1 <= value <= 5:
            return value
    stars = _STARS.search(low)
    if stars:
        return len(stars.group(1))
    for line in low.splitlines():
        bare = _BARE_RATING.match(line)
        if bare:
            return int(bare.group(1))
        if line.strip():
            break
    labels = [(m.start(), m.end()) for word in lex.satisfaction_labels
              for m in re.finditer(re.escape(word), low)]
    verdicts: list[int] = []
    weak: list[int] = []
    for hit in find(masked(scaled, labels), lex.satisfaction, negatable=False):
        value = int(hit.value)
        if foretold(low, hit.start):
            continue
        if negated(low, hit.start):
            if value == 3:
                continue
            value = 2 if value >= 4 else 4    # 没有不满意: no complaint
        (weak if hit.word in lex.satisfaction_weak else verdicts).append(value)
    said = verdicts or weak
    if not said or (max(said) >= 4 and min(said) <= 2):
        return None
    return said[0]


def phone_in(text: str) -> str:
    """The first phone number in *text* (mobile, landline with area code, 400), as written."""
    match = _PHONE.search(folded(text))
    return text[match.start():match.end()].strip() if match else ""
