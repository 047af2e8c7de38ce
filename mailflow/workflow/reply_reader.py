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

import re
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
    Clause,
    Token,
    clause_of,
    clauses,
    close,
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
    COURTESY,
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
MAX_LINE_SCAN = 500  # characters of a line scanned at once (decisions are short)


_WORDY = re.compile(r"[^\W_]")


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
    return _line_tokens(line)[0]


def _line_tokens(line: str) -> tuple[list[Token], bool]:
    """The tokens of :func:`decision_tokens`, and whether a decision word in a question came
    before them ("Approved? I thought it was rejected")."""
    folded = fold(line[:MAX_LINE_SCAN])
    masked = _mask(folded, [span for span, _target in escalations(folded)])
    tokens = negate(masked, scan(masked, _WORDS, COURTESY), {Kind.APPROVE: Kind.REJECT})
    tokens = _merge_rejections(masked, tokens)
    parts = clauses(masked)
    asked = [is_question(masked, part) for part in parts]
    kept: list[Token] = []
    asked_first = False
    for token in tokens:
        if token.kind not in (Kind.APPROVE, Kind.REJECT):
            continue
        if parts and asked[clause_of(parts, token.start)]:
            asked_first = asked_first or not kept
            continue
        kept.append(token)
    return kept, asked_first


def _merge_rejections(folded: str, tokens: list[Token]) -> list[Token]:
    """A rejection word right before an approval word rejects it: "不予以批准", "拒绝批准"."""
    out: list[Token] = []
    for token in tokens:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.kind is Kind.REJECT
            and token.kind is Kind.APPROVE
            and close(folded, prev.end, token.start)
        ):
            out[-1] = Token(Kind.REJECT, prev.start, token.end, folded[prev.start : token.end])
        else:
            out.append(token)
    return out


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


_BREAK = re.compile(r"[,.;:!?\n、…]")


def _escalation_span(folded: str, start: int, end: int) -> tuple[int, int] | None:
    latin = not has_cjk(folded[start:end])
    if latin and (folded[start - 1 : start].isalnum() or folded[end : end + 1].isalnum()):
        return None  # "ceo" inside another word
    window = 3 * ESCALATION_WINDOW if latin else ESCALATION_WINDOW
    before = folded[max(0, start - window) : start]
    before = before[max((m.end() for m in _BREAK.finditer(before)), default=0) :]
    after = folded[end : end + window]
    cut = _BREAK.search(after)
    after = after[: cut.start()] if cut else after
    if any(c in before for c in ESCALATION_CANCELLERS):
        return None
    verb_at = max((before.rfind(v) for v in ESCALATION_VERBS), default=-1)
    noun_end = -1
    for noun in ESCALATION_NOUNS:
        at = after.find(noun)
        if 0 <= at <= 6 and "已" not in after[:at] and "already" not in after[:at]:
            noun_end = max(noun_end, at + len(noun))
    if verb_at < 0 and (noun_end < 0 or "已" in before or "already" in before):
        return None  # "总裁已同意", "已经总裁批准": done by someone else, not sent up
    span_start = start - len(before) + verb_at if verb_at >= 0 else start
    return span_start, end + max(noun_end, 0)


def read_decision(text: str, html: str | None = None) -> Decision:
    """The approver's decision in a reply (see the module docstring)."""
    evidence = authored_text(text, html)
    lines = [line for line in evidence.split("\n") if strip_punct(line)]
    folded_all = fold(evidence)
    vetoed = any(phrase in folded_all for phrase in VETO_PHRASES) or any(
        t.kind is Kind.REJECT
        for line in lines
        for at in range(0, len(line), MAX_LINE_SCAN)
        for t in decision_tokens(line[at : at + MAX_LINE_SCAN])
    )
    region = lines[:DECISION_LINES]
    for index, line in enumerate(region):
        tokens, asked_first = _line_tokens(line)
        if not tokens and not escalations(fold(line[:MAX_LINE_SCAN])):
            if asked_first:
                break  # a question about the decision decides nothing
            continue
        escalation = _escalation_in(region[index:])
        verdict = Verdict.UNCLEAR if asked_first else _verdict(line, tokens, vetoed)
        reason = _reason(line, tokens, lines[index + 1 :], verdict)
        return Decision(
            verdict, reason, evidence, escalation if verdict is Verdict.APPROVE else None
        )
    return Decision(Verdict.UNCLEAR, "", evidence, None)


def _escalation_in(lines: list[str]) -> str | None:
    for line in lines[:DECISION_LINES]:
        found = escalations(fold(line[:MAX_LINE_SCAN]))
        if found:
            return found[0][1]
    return None


def _verdict(line: str, tokens: list[Token], vetoed: bool) -> Verdict:
    if not tokens:  # an escalation alone: the approver sends it up ("报总裁审批")
        return Verdict.UNCLEAR if vetoed else Verdict.APPROVE
    folded = fold(line)
    parts = clauses(folded)
    head = clause_of(parts, tokens[0].start)
    head_kinds = {t.kind for t in tokens if clause_of(parts, t.start) == head}
    if len(head_kinds) > 1:
        return Verdict.UNCLEAR  # "同意 驳回", "同意或驳回"
    if tokens[0].kind is Kind.REJECT:
        # "驳回 同意": an approval standing as a clause of its own is a second decision
        bare = any(t.kind is Kind.APPROVE and _bare(folded, parts, t) for t in tokens)
        return Verdict.UNCLEAR if bare else Verdict.REJECT
    return Verdict.UNCLEAR if vetoed else Verdict.APPROVE


def _bare(folded: str, parts: list[Clause], token: Token) -> bool:
    clause = parts[clause_of(parts, token.start)]
    rest = folded[clause.start : token.start] + folded[token.end : clause.end]
    return not strip_punct(rest) or _is_filler(rest)


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
    if not parts[0] and verdict is Verdict.REJECT and _substantial(before):  # "太贵了，驳回"
        parts = [_clean(before)]
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
    if fold(before).rstrip().endswith(":"):
        return False  # a label ("审批意见：同意"), not a reason
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
    kept = strip_punct(text[parts[0].start : parts[-1].end + len(parts[-1].delimiter)])
    return kept if _WORDY.search(kept) else ""  # "👍", "~~": no words, no reason


def _is_filler(folded_clause: str) -> bool:
    return strip_punct(folded_clause).strip() in FILLER_CLAUSES
