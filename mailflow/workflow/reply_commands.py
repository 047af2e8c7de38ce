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
    has_cjk,
    is_question,
    negate,
    scan,
    strip_punct,
    substantial,
)
from mailflow.workflow.reply_words import (
    COMMAND_NOISE,
    COMMAND_REST_CJK,
    COMMAND_REST_WORDS,
    COMMAND_WORDS,
    COURTESY,
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
        tokens = negate(folded, scan(folded, COMMAND_WORDS + NEGATORS, COURTESY), turns)
        tokens = [t for t in tokens if t.kind is Kind.NEUTRAL or _commanding(folded, t)]
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


_REFERENCE = re.compile(r"[a-z]{2,5}-\d{4}-\d{4,9}")


@lru_cache(maxsize=1)
def _noise() -> re.Pattern[str]:
    words = sorted(COMMAND_NOISE, key=len, reverse=True)
    latin = [re.escape(w) for w in words if w.isascii()]
    cjk = [re.escape(w) for w in words if not w.isascii()]
    return re.compile(rf"(?<![a-z'])(?:{'|'.join(latin)})(?![a-z'])|{'|'.join(cjk)}")


def _commanding(folded: str, token: Token) -> bool:
    """The word is the point of its clause ("取消申请"), not part of another matter
    ("取消管理员权限"): little is left of the clause without it and COMMAND_NOISE."""
    parts = clauses(folded)
    clause = next((c for c in parts if c.start <= token.start < c.end), None)
    if clause is None:
        return False
    rest = folded[clause.start : token.start] + " " + folded[token.end : clause.end]
    rest = _noise().sub(" ", _REFERENCE.sub(" ", rest))
    if has_cjk(rest):
        return len(re.sub(r"[\W_]", "", rest)) <= COMMAND_REST_CJK
    return len(re.findall(r"[^\W_]+", rest)) <= COMMAND_REST_WORDS


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
    # a long Chinese label is a label wherever it stands ("但有2个遗留问题：…")
    distinct = "|".join(re.escape(w) for w, _ in words if has_cjk(w) and len(w) >= 4)
    return re.compile(
        rf"(?:(?:^|(?<=[,.;!\s、]))\s*(?:\d+\s*[.、)]\s*)?[*【\[]*(?P<label>{alternatives})"
        rf"|(?P<long>{distinct}))[】\]*]*\s*[:]\s*"
    )


_FIELD_OF = {w: field for field, ws in RESULT_LABELS.items() for w in ws}


def _sections(lines: list[str]) -> tuple[dict[str, list[str]], list[tuple[str, bool]]]:
    """Labelled values ("遗留问题：…", also inline) and the unlabelled lines, each with whether
    it is only the start of a line a label cut short ("变更完成，但有2个" of "…遗留问题：…")."""
    found: dict[str, list[str]] = {}
    body: list[tuple[str, bool]] = []
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
                body.append((line, False))
            continue
        head = line[: matches[0].start()]
        if matches[0].start() > 0 and strip_punct(head):
            body.append((head, not re.search(r"[。.!！;；]\s*$", head)))
        for index, match in enumerate(matches):
            current = _FIELD_OF[match.group("label") or match.group("long")]
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
    tokens = scan(folded, RESULT_WORDS + NEGATORS, COURTESY)
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
    sections, lines = _sections(evidence.split("\n"))
    lines = [(line, cut) for line, cut in lines if strip_punct(line)]
    body = [line for line, cut in lines if not cut]
    outcome = Outcome.UNCLEAR
    reason_parts: list[str] = []
    if sections.get("outcome"):
        outcome = _outcome([t for v in sections["outcome"] for t in _outcome_tokens(v)])
        reason_parts = body
    else:
        for index, (line, cut) in enumerate(lines[:OUTCOME_LINES]):
            tokens = _outcome_tokens(line)
            if tokens:
                outcome = _outcome(tokens)
                after = "" if cut else line[max(t.end for t in tokens) :]
                before = line[: tokens[0].start]
                reason_parts = [_courtesy_free(after)]
                reason_parts += [rest for rest, rest_cut in lines[index + 1 :] if not rest_cut]
                if outcome is Outcome.FAILURE and not strip_punct(after) and substantial(before):
                    reason_parts.insert(0, _without_subject(before))  # "锁表超时，变更失败"
                break
        else:
            reason_parts = body
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


def _without_subject(before: str) -> str:
    """"数据库锁表超时，变更" → "数据库锁表超时": the short clause naming what failed goes."""
    parts = clauses(fold(before))
    if len(parts) > 1 and parts[-1].end - parts[-1].start <= 6:
        return before[: parts[-1].start]
    return before


def _courtesy_free(text: str) -> str:
    text = strip_punct(text)
    return "" if fold(text).strip() in FILLER_CLAUSES else text
