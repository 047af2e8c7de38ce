"""Commands in a reply (撤回 / 进度? / 确认) and a change result reported by reply (R-CH-5).

Why the same reading as decisions: only the authored text counts (a quoted "请回复 撤回"
withdraws nothing), words are tokens with a meaning (reply_words.py), and a negated word is
not the word ("不要撤回", "未成功").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from mailflow.workflow.authored import authored_text
from mailflow.workflow.reply_tokens import (
    Token,
    clauses,
    fold,
    is_question,
    negate,
    scan,
    strip_punct,
    substantial,
)
from mailflow.workflow.reply_words import (
    COMMAND_WORDS,
    EMPTY_VALUES,
    FILLER_CLAUSES,
    NEGATORS,
    RESULT_LABELS,
    RESULT_WORDS,
    Kind,
)

COMMAND_LINES = 3  # meaningful lines a command is looked for in
OUTCOME_LINES = 3  # meaningful unlabelled lines an outcome is looked for in
MAX_FIELD = 2000


class Command(StrEnum):
    WITHDRAW = "withdraw"
    STATUS = "status"
    CONFIRM = "confirm"
    NONE = "none"


_COMMAND_OF = {Kind.WITHDRAW: Command.WITHDRAW, Kind.STATUS: Command.STATUS}


def read_command(text: str, html: str | None = None) -> Command:
    """The command in the first meaningful lines: WITHDRAW or STATUS when exactly one of them
    is asked for (both: NONE), else CONFIRM when confirmed, else NONE."""
    lines = [line for line in authored_text(text, html).split("\n") if strip_punct(line)]
    turns = {Kind.WITHDRAW: Kind.NEUTRAL, Kind.STATUS: Kind.NEUTRAL, Kind.CONFIRM: Kind.NEUTRAL}
    for line in lines[:COMMAND_LINES]:
        folded = fold(line)
        tokens = negate(folded, scan(folded, COMMAND_WORDS + NEGATORS, FILLER_CLAUSES), turns)
        kinds = {t.kind for t in tokens}
        if Kind.NEUTRAL in kinds and not kinds - {Kind.NEUTRAL}:
            return Command.NONE  # "不撤回了", "不用确认": a command declined
        specific = {_COMMAND_OF[k] for k in kinds if k in _COMMAND_OF}
        if len(specific) == 1:
            return specific.pop()
        if specific:
            return Command.NONE
        if Kind.CONFIRM in kinds and not _asked(folded, tokens):
            return Command.CONFIRM
    return Command.NONE


def _asked(folded: str, tokens: list[Token]) -> bool:
    parts = clauses(folded)
    return any(
        is_question(folded, c) for c in parts for t in tokens if c.start <= t.start < c.end
    )


# --- change results (R-CH-5) ----------------------------------------------------------------
class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNCLEAR = "unclear"


@dataclass(frozen=True)
class ResultReport:
    outcome: Outcome
    reason: str  # why it failed, or what the operator said about the outcome (window kept?)
    remaining_issues: str  # "遗留问题：…" ("" when none)
    notes: str  # "备注/注意事项：…"
    evidence: str  # the verbatim authored text the report was read from


@lru_cache(maxsize=1)
def _label_pattern() -> re.Pattern[str]:
    words = sorted(
        ((w, field) for field, ws in RESULT_LABELS.items() for w in ws),
        key=lambda item: len(item[0]),
        reverse=True,
    )
    alternatives = "|".join(re.escape(w) for w, _ in words)
    return re.compile(
        rf"(?:^|(?<=[,.;!\s、]))\s*(?:\d+\s*[.、)]\s*)?[*【\[]*({alternatives})[】\]*]*\s*[:]\s*"
    )


_FIELD_OF = {w: field for field, ws in RESULT_LABELS.items() for w in ws}


def _sections(lines: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Labelled values ("遗留问题：…", also inline after "。") and the unlabelled lines."""
    found: dict[str, list[str]] = {}
    body: list[str] = []
    current: str | None = None
    for line in lines:
        folded = fold(line)
        if not folded.strip():
            if current is not None and found.get(current):
                current = None
            continue
        matches = list(_label_pattern().finditer(folded))
        if not matches:
            if current is not None:
                found.setdefault(current, []).append(line.strip())
            else:
                body.append(line)
            continue
        if matches[0].start() > 0 and strip_punct(line[: matches[0].start()]):
            body.append(line[: matches[0].start()])
        for index, match in enumerate(matches):
            current = _FIELD_OF[match.group(1)]
            stop = matches[index + 1].start() if index + 1 < len(matches) else len(line)
            value = line[match.end() : stop].strip()
            found.setdefault(current, [])
            if value:
                found[current].append(value)
    return found, body


def _value(parts: list[str]) -> str:
    text = strip_punct("\n".join(parts))
    if fold(text).strip() in EMPTY_VALUES:
        return ""
    return text[:MAX_FIELD]


def _outcome_tokens(line: str) -> list[Token]:
    folded = fold(line)
    tokens = scan(folded, RESULT_WORDS + NEGATORS, FILLER_CLAUSES)
    turned = negate(folded, tokens, {Kind.SUCCESS: Kind.FAILURE, Kind.FAILURE: Kind.NEUTRAL})
    return [t for t in turned if t.kind in (Kind.SUCCESS, Kind.FAILURE)]


def _outcome(tokens: list[Token]) -> Outcome:
    kinds = {t.kind for t in tokens}
    if Kind.FAILURE in kinds:  # "回退成功" is a failed change
        return Outcome.FAILURE
    if Kind.SUCCESS in kinds:
        return Outcome.SUCCESS
    return Outcome.UNCLEAR


def read_result(text: str, html: str | None = None) -> ResultReport:
    """The change result an operator reported by reply: outcome from a "结果：" label or the
    first unlabelled lines, reason, remaining issues and notes from their labels."""
    evidence = authored_text(text, html)
    sections, body = _sections(evidence.split("\n"))
    body = [line for line in body if strip_punct(line)]
    outcome = Outcome.UNCLEAR
    reason_parts: list[str] = []
    if sections.get("outcome"):
        outcome = _outcome([t for v in sections["outcome"] for t in _outcome_tokens(v)])
        reason_parts = list(body)
    else:
        for index, line in enumerate(body[:OUTCOME_LINES]):
            tokens = _outcome_tokens(line)
            if tokens:
                outcome = _outcome(tokens)
                after = line[max(t.end for t in tokens) :]
                before = line[: tokens[0].start]
                reason_parts = [_courtesy_free(after), *body[index + 1 :]]
                if not strip_punct(after) and substantial(before):
                    reason_parts.insert(0, before)
                break
        else:
            reason_parts = list(body)
    if sections.get("reason"):
        reason_parts = sections["reason"]
    reason = _value([p for p in (_courtesy_free(p) for p in reason_parts) if p])
    return ResultReport(
        outcome,
        reason,
        _value(sections.get("remaining_issues", [])),
        _value(sections.get("notes", [])),
        evidence,
    )


def _courtesy_free(text: str) -> str:
    text = strip_punct(text)
    return "" if fold(text).strip() in FILLER_CLAUSES else text
