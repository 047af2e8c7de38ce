"""What 客服's own mail says when it registers a customer's phone or online report (R-PM-1)
and when it changes a dispatched ticket (R-PM-2 re-triage). Pure functions over the words of
words.toml's ``[register]`` and ``[retriage]`` sections.

Why scoring: 客服 writes such mails in many ways ("刚接到华东电力陈静来电…", "代客户登记：
客户：…\\n联系人：…", "online report from …"); every report word, channel word and field label
found adds to a score, and a mail counts as a report at the threshold — with a known
customer named in it. 客服's other mail (a form of their own, a question) scores too low and
goes on through the reception.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from mailflow.tickets.reading import Person, phone_in
from mailflow.tickets.settings import Customer
from mailflow.tickets.words import WORDS_FILE, find, folded, lexicon, masked

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: company suffixes a 客服 may leave out ("华东电力" for 华东电力公司)
_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团公司", "集团", "公司")
CHANNELS = ("mail", "phone", "online")


@dataclass(frozen=True)
class RegisterWords:
    threshold: int
    report: Mapping[str, str]
    channel: Mapping[str, str]
    labels: Mapping[str, str]
    retriage: Mapping[str, str]


@lru_cache(maxsize=1)
def register_words() -> RegisterWords:
    data: dict[str, Any] = tomllib.loads(WORDS_FILE.read_text(encoding="utf-8"))
    reg = data["register"]

    def inverted(table: Mapping[str, Iterable[str]]) -> dict[str, str]:
        return {folded(w): k for k, words in table.items() for w in words}

    return RegisterWords(
        threshold=int(reg["threshold"]), report=inverted(reg["report"]),
        channel=inverted(reg["channel"]), labels=inverted(reg["labels"]),
        retriage=inverted(data["retriage"]))


@dataclass(frozen=True)
class Report:
    score: int
    channel: str
    customer: Customer | None
    contact_email: str = ""
    contact_name: str = ""
    phone: str = ""
    description: str = ""
    occurred: str = ""   # the labelled 出现时间, or "" (then read from the whole text)

    def is_report(self, threshold: int) -> bool:
        return self.score >= threshold


def _fields(text: str) -> tuple[dict[str, str], list[tuple[int, int]]]:
    """``字段：值`` parts (on their own lines or one after another on a line), and the
    spans of their labels."""
    words = register_words()
    low = folded(text)
    alternatives = "|".join(re.escape(w) for w in sorted(words.labels, key=len, reverse=True))
    pattern = re.compile(rf"(?:^|(?<=[\s，,；;。]))({alternatives})\s*[:：]\s*", re.MULTILINE)
    found = list(pattern.finditer(low))
    values: dict[str, str] = {}
    spans: list[tuple[int, int]] = []
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(low)
        line_end = low.find("\n", m.end())
        if 0 <= line_end < end:
            end = line_end
        value = text[m.end():end].strip(" \t，,；;。")
        spans.append((m.start(), m.end()))
        key = words.labels[m.group(1)]
        if value and key not in values:
            values[key] = value
    return values, spans


def _customer(text: str, label: str, customers: Sequence[Customer],
              of_address: Callable[[str], Customer | None]) -> Customer | None:
    """The contract named: by its name (with or without 公司), key, or a customer's
    address; the longest name found wins."""
    low = folded(text)
    best: tuple[int, Customer] | None = None
    for customer in customers:
        name = folded(customer.name)
        needles = {name, customer.key.lower()}
        for suffix in _SUFFIXES:
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                needles.add(name[:-len(suffix)])
        size = max((len(n) for n in needles if n and re.search(
            re.escape(n) if not n.isascii() else rf"(?<![\w-]){re.escape(n)}(?![\w-])", low)),
            default=0)
        wanted = folded(label).strip()
        if not size and len(wanted) >= 2 and wanted in name:
            size = len(wanted)
        if size and (best is None or size > best[0]):
            best = (size, customer)
    if best is not None:
        return best[1]
    for address in _EMAIL.findall(text):
        found = of_address(address)
        if found is not None:
            return found
    return None


def read_report(text: str, customers: Sequence[Customer],
                of_address: Callable[[str], Customer | None]) -> Report:
    """客服's mail as a customer's report (R-PM-1): its score, channel, customer, contact,
    phone and description. *of_address* is the contract a customer address belongs to."""
    words = register_words()
    fields, label_spans = _fields(text)
    low = masked(folded(text), label_spans)
    reports = {h.word for h in find(low, words.report)}
    channels: dict[str, int] = {}
    for hit in find(low, words.channel):
        channels[hit.value] = channels.get(hit.value, 0) + 1
    labels = {words.labels[folded(text)[a:b].rstrip(":： \t")] for a, b in label_spans
              if folded(text)[a:b].rstrip(":： \t") in words.labels}
    customer = _customer(text, fields.get("customer", ""), customers, of_address)
    # a known customer named counts too: "华东电力来电，…" is a report
    score = 2 * len(reports) + sum(channels.values()) + len(labels) + (customer is not None)
    channel = max(channels, key=lambda k: channels[k]) if channels else "phone"
    contact_email = next((a for a in _EMAIL.findall(text) if customer is not None
                          and of_address(a) is not None
                          and of_address(a) == customer), "")
    phone = phone_in(fields.get("phone", "")) or phone_in(text)
    name = fields.get("contact", "")
    for noise in (phone, contact_email):
        if noise:
            name = name.replace(noise, " ")
    name = re.split(r"[\s，,（(<]", name.strip(), maxsplit=1)[0] if name.strip() else ""
    return Report(score=score, channel=channel, customer=customer,
                  contact_email=contact_email, contact_name=name, phone=phone,
                  description=fields.get("description", "") or text.strip(),
                  occurred=fields.get("occurred", ""))


def retriage_asked(text: str) -> bool:
    """客服's reply asks to change a dispatched ticket ("改为紧急", "转派给马超")."""
    return bool(find(folded(text), register_words().retriage))


_CLAUSE = re.compile(r"[^，,。.；;、\n!！?？]+")  # on folded text: 。 is "."


def change_clauses(text: str) -> str:
    """The clauses of 客服's re-triage reply that set a value: from the first change word
    on, those with a change word or a field name ("改为紧急", "类别：功能问题"), and anywhere
    a clause that is nothing but a value ("技术问题"). A remark such as "他熟悉网络" is left
    out, so a word in it changes nothing."""
    words = register_words()
    lex = lexicon()
    low = folded(text)
    cues = find(low, words.retriage)
    start = cues[0].start if cues else len(low)
    kept: list[str] = []
    for clause in _CLAUSE.finditer(low):
        part = clause.group(0)
        values = find(part, {**lex.severity, **lex.category}, negatable=False)
        if not values:
            continue
        rest = masked(part, [(h.start, h.end) for h in values])
        bare = len(re.sub(r"[\s的为是:：]", "", rest)) == 0
        said = clause.end() > start and (
            find(part, words.retriage) or any(v == "field" for v in (
                h.value for h in find(part, lex.labels, negatable=False))))
        if bare or said:
            kept.append(text[clause.start():clause.end()])
    return "\n".join(kept)


def other_people(people: Sequence[Person], *addresses: str) -> list[Person]:
    gone = {a.lower() for a in addresses if a}
    return [p for p in people if p.email.lower() not in gone]

