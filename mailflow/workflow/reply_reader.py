"""Reading an approver's decision from the text they wrote (issue 15, part 5).

Pure functions over text: no I/O, no database, nothing but the mail's body.  The rules:

- only the authored text counts (quotes.py, htmlquotes.py): quoted originals hold both
  keywords ("请回复 同意 或 驳回") and must never decide anything;
- the decision is read from the first meaningful lines (DECISION_LINES), by tokens with a
  meaning (reply_words.py), never by substring: 同意 is inside 不同意;
- a negated approval is a rejection ("不同意", "暂不予批准", "will not approve"), and any
  rejection or negation phrase anywhere in the authored text (VETO_PHRASES) makes an approval
  impossible: the reply is then a rejection if it opens with one, else unclear;
- a question decides nothing ("同意吗？"); both kinds in the deciding clause, or none, is
  unclear (the approver is asked again: "请回复 同意 或 驳回");
- the reason is what surrounds the keyword ("同意，但仅限本季度" → "但仅限本季度") and the
  lines after it, less courtesy; an escalation ("同意，需分管领导审批", "报总裁审批") is
  read along (R-AC-2 leader in charge, R-DX-2 president).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mailflow.workflow.authored import authored_text
from mailflow.workflow.reply_commands import (
    Command,
    Outcome,
    ResultReport,
    read_command,
    read_result,
)
from mailflow.workflow.reply_tokens import (
    Token,
    clause_of,
    clauses,
    fold,
    has_cjk,
    is_question,
    negate,
    scan,
    strip_punct,
    substantial,
)
from mailflow.workflow.reply_words import (
    APPROVAL_COMPLEMENTS,
    CONDITION_OPENERS,
    DECISION_WORDS,
    ESCALATION_CANCELLERS,
    ESCALATION_NOUNS,
    ESCALATION_TARGETS,
    ESCALATION_VERBS,
    ESCALATION_WINDOW,
    FILLER_CLAUSES,
    NEGATORS,
    VETO_PHRASES,
    Kind,
)

__all__ = [
    "Command",
    "Decision",
    "Outcome",
    "ResultReport",
    "Verdict",
    "authored_text",
    "read_command",
    "read_decision",
    "read_result",
]

DECISION_LINES = 5  # meaningful lines of the authored text a decision is looked for in
MAX_REASON = 1000


class Verdict(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str  # the text around the keyword, and the lines after it; "" if none
    evidence: str  # the verbatim authored text the decision was read from
    escalate_to: str | None  # "president" | "leader_in_charge" | None


_WORDS = DECISION_WORDS + NEGATORS


def decision_tokens(line: str) -> list[Token]:
    """APPROVE / REJECT tokens of one line: negations applied, questions and escalation
    phrases (whose 批准 belongs to someone else) taken out."""
    folded = fold(line)
    masked = _mask(folded, [span for span, _target in escalations(folded)])
    tokens = negate(masked, scan(masked, _WORDS, FILLER_CLAUSES), {Kind.APPROVE: Kind.REJECT})
    parts = clauses(masked)
    return [
        t
        for t in tokens
        if t.kind in (Kind.APPROVE, Kind.REJECT)
        and not (parts and is_question(masked, parts[clause_of(parts, t.start)]))
    ]


def _mask(folded: str, spans: list[tuple[int, int]]) -> str:
    for start, end in spans:
        folded = folded[:start] + "\u3007" * (end - start) + folded[end:]
    return folded


def escalations(folded: str) -> list[tuple[tuple[int, int], str]]:
    """Escalation phrases in a folded line: ((start, end), target).  A target counts with a
    sending verb before it ("报总裁", "escalate to the president") or a deciding noun after
    it ("总裁审批"), and not after a canceller ("不需要总裁审批")."""
    found: list[tuple[tuple[int, int], str]] = []
    taken: list[tuple[int, int]] = []
    for word, target in ESCALATION_TARGETS:
        start = folded.find(word)
        while start >= 0:
            end = start + len(word)
            if not any(s < end and start < e for s, e in taken):
                span = _escalation_span(folded, start, end)
                if span is not None:
                    found.append((span, target))
                    taken.append((start, end))
            start = folded.find(word, end)
    return sorted(found)


def _escalation_span(folded: str, start: int, end: int) -> tuple[int, int] | None:
    window = ESCALATION_WINDOW if has_cjk(folded[start:end]) else 3 * ESCALATION_WINDOW
    before = folded[max(0, start - window) : start]
    after = folded[end : end + window]
    if any(c in before for c in ESCALATION_CANCELLERS):
        return None
    verb_at = max((before.rfind(v) for v in ESCALATION_VERBS), default=-1)
    noun_end = -1
    for noun in ESCALATION_NOUNS:
        at = after.find(noun)
        if 0 <= at <= 6 and "已" not in after[:at] and "already" not in after[:at]:
            noun_end = max(noun_end, at + len(noun))
    if verb_at < 0 and noun_end < 0:
        return None
    span_start = start - len(before) + verb_at if verb_at >= 0 else start
    return span_start, end + max(noun_end, 0)


def read_decision(text: str, html: str | None = None) -> Decision:
    """The approver's decision in a reply (see the module docstring)."""
    evidence = authored_text(text, html)
    lines = [line for line in evidence.split("\n") if strip_punct(line)]
    folded_all = fold(evidence)
    vetoed = any(phrase in folded_all for phrase in VETO_PHRASES) or any(
        t.kind is Kind.REJECT for line in lines for t in decision_tokens(line)
    )
    region = lines[:DECISION_LINES]
    for index, line in enumerate(region):
        tokens = decision_tokens(line)
        escalation = _escalation_in(region[index:])
        if not tokens and escalation is None:
            continue
        verdict = _verdict(line, tokens, vetoed, escalation is not None)
        reason = _reason(line, tokens, lines[index + 1 :], verdict)
        return Decision(
            verdict, reason, evidence, escalation if verdict is Verdict.APPROVE else None
        )
    return Decision(Verdict.UNCLEAR, "", evidence, None)


def _escalation_in(lines: list[str]) -> str | None:
    for line in lines[:DECISION_LINES]:
        found = escalations(fold(line))
        if found:
            return found[0][1]
    return None


def _verdict(line: str, tokens: list[Token], vetoed: bool, escalated: bool) -> Verdict:
    if not tokens:  # an escalation alone: the approver sends it up ("报总裁审批")
        return Verdict.UNCLEAR if vetoed else Verdict.APPROVE
    folded = fold(line)
    parts = clauses(folded)
    head = clause_of(parts, tokens[0].start)
    head_kinds = {t.kind for t in tokens if clause_of(parts, t.start) == head}
    if len(head_kinds) > 1:
        return Verdict.UNCLEAR  # "同意 驳回", "同意或驳回"
    if tokens[0].kind is Kind.REJECT:
        return Verdict.REJECT
    return Verdict.UNCLEAR if vetoed else Verdict.APPROVE


def _reason(line: str, tokens: list[Token], after_lines: list[str], verdict: Verdict) -> str:
    """The text around the deciding keyword, then the lines after it, less courtesy."""
    if verdict is Verdict.UNCLEAR:
        return ""
    if tokens:
        first = tokens[0]
        last = max(
            (t for t in tokens if t.kind is first.kind and _adjacent(line, first, t)),
            key=lambda t: t.end,
        )
        before, after = line[: first.start], line[last.end :]
        after = _drop_complement(after, verdict is Verdict.APPROVE)
    else:
        before, after = "", line
    parts = [_clean(after)]
    if _substantial(before):
        parts.insert(0, _clean(before))
    parts += [_clean(extra) for extra in after_lines]
    reason = "\n".join(p for p in parts if p)
    return reason[:MAX_REASON]


def _adjacent(line: str, first: Token, other: Token) -> bool:
    """*other* continues the keyword *first* opened ("同意、批准", "已阅同意")."""
    between = strip_punct(fold(line[first.end : other.start]))
    return other.start >= first.start and not between


def _drop_complement(after: str, approval: bool) -> str:
    """The object right after an approval repeats the request: "同意开通，但仅限…" → "，但仅限…"."""
    folded = fold(after)
    parts = clauses(folded)
    if not parts or parts[0].start != 0:
        return after
    head = folded[: parts[0].end].strip()
    if any(head.startswith(c) for c in CONDITION_OPENERS):
        return after
    short_object = approval and has_cjk(head) and len(head) <= 6 and " " not in head
    if head in APPROVAL_COMPLEMENTS or short_object:
        return after[parts[0].end :]
    return after


def _substantial(before: str) -> bool:
    text = strip_punct(before)
    return bool(text) and not _is_filler(fold(text)) and substantial(text)


def _clean(text: str) -> str:
    """*text* without edge punctuation and without leading or trailing courtesy clauses."""
    text = strip_punct(text)
    folded = fold(text)
    parts = clauses(folded)
    while parts and _is_filler(folded[parts[0].start : parts[0].end]):
        parts = parts[1:]
    while parts and _is_filler(folded[parts[-1].start : parts[-1].end]):
        parts = parts[:-1]
    if not parts:
        return ""
    return strip_punct(text[parts[0].start : parts[-1].end + len(parts[-1].delimiter)])


def _is_filler(folded_clause: str) -> bool:
    return strip_punct(folded_clause).strip() in FILLER_CLAUSES
