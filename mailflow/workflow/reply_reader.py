"""Interim reply reader (the replies branch owns this module and replaces it on merge).

Same interface: read_decision, read_command, authored_text. Reads only the lines the sender
wrote above the first quote header; a negation is a rejection; both or neither is unclear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from mailflow.mail.htmlbody import html_text


class Verdict(Enum):
    APPROVE = "approve"
    REJECT = "reject"
    UNCLEAR = "unclear"


class Command(Enum):
    WITHDRAW = "withdraw"
    STATUS = "status"
    CONFIRM = "confirm"
    NONE = "none"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    evidence: str
    escalate_to: str | None = None


_QUOTE_START = re.compile(
    r"^\s*(?:>|-{2,}\s*(?:原始邮件|Original Message)|发件人[:：]|From:|在.{0,80}写道[:：]|"
    r"On .{0,200}wrote:|.{0,80}于.{0,80}写道[:：]|_{5,})", re.IGNORECASE)
_NEGATIONS = re.compile(r"不同意|不批准|不予批准|暂不同意|不予同意|not approved|do not approve|"
                        r"don't approve|disapprove", re.IGNORECASE)
_REJECT = re.compile(r"驳回|駁回|拒绝|reject(?:ed)?", re.IGNORECASE)
_APPROVE = re.compile(r"同意|批准|approved?\b|^\s*ok\s*$", re.IGNORECASE | re.MULTILINE)
_PRESIDENT = re.compile(r"总裁|總裁|president", re.IGNORECASE)
_LEADER = re.compile(r"分管领导|分管領導|leader in charge", re.IGNORECASE)
_WITHDRAW = re.compile(r"撤回|取消申请|^\s*取消\s*$|withdraw", re.IGNORECASE | re.MULTILINE)
_STATUS = re.compile(r"进度|状态|進度|狀態|status", re.IGNORECASE)


def _html(html: str) -> str:
    found = html_text(html)
    return found if isinstance(found, str) else str(found[0] or "")


def authored_text(text: str, html: str | None = None) -> str:
    source = text if text.strip() else (_html(html) if html else "")
    lines: list[str] = []
    for line in source.splitlines():
        if _QUOTE_START.match(line):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def read_decision(text: str, html: str | None = None) -> Decision:
    own = authored_text(text, html)
    negated = bool(_NEGATIONS.search(own))
    rejected = negated or bool(_REJECT.search(own))
    approved = bool(_APPROVE.search(_NEGATIONS.sub("", own)))
    if rejected == approved:
        return Decision(Verdict.UNCLEAR, "", own)
    verdict = Verdict.REJECT if rejected else Verdict.APPROVE
    first = own.splitlines()[0] if own else ""
    words = r"(?:不同意|同意|驳回|駁回|批准|approved?|rejected?|ok)"
    reason = re.sub(rf"^\s*{words}[\s,，。.!！:：;；]*", "", own, flags=re.IGNORECASE).strip()
    escalate = None
    if verdict is Verdict.APPROVE:
        if _PRESIDENT.search(own):
            escalate = "president"
        elif _LEADER.search(own):
            escalate = "leader_in_charge"
    return Decision(verdict, reason or "", own or first, escalate)


def read_command(text: str, html: str | None = None) -> Command:
    own = authored_text(text, html)
    if _WITHDRAW.search(own):
        return Command.WITHDRAW
    if _STATUS.search(own):
        return Command.STATUS
    return Command.NONE
