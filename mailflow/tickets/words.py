"""The ticket words (words.toml) loaded once, folded, and a finder that matches them by
meaning: longest entry first at each position, a negation just before a word voids it.

Why longest first: 不紧急 is a *normal* ticket and 不满意 a rating of 1, while 紧急 and 满意
sit inside them; scanning left to right and taking the longest entry that starts at each
position reads both right without special cases.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mailflow.workflow.reply_tokens import fold

WORDS_FILE = Path(__file__).with_name("words.toml")
#: what negates the word that follows it (within a few characters)
NEGATIONS = ("不", "没", "未", "非", "无", "别", "不能", "无法", "未能", "没能", "不可",
             "not ", "no ", "n't ", "cannot ", "can't ")


@dataclass(frozen=True)
class Hit:
    start: int
    end: int
    value: Any
    word: str


@dataclass(frozen=True)
class Lexicon:
    severity: Mapping[str, str]      # folded word → "urgent" | "normal"
    category: Mapping[str, str]      # folded word → "technical" | "functional" | "usage"
    labels: Mapping[str, str]        # folded word → "engineer" | "due" | "impact" | …
    engineer: Mapping[str, str]      # folded word → "escalate" | "resolved" | "recovered"
    check: Mapping[str, str]         # folded word → "confirm" | "reject"
    satisfaction: Mapping[str, int]  # folded word → 1..5
    satisfaction_labels: tuple[str, ...]  # folded words naming the rating, not giving one


def _inverted(table: Mapping[str, Any]) -> dict[str, str]:
    return {folded(word): value for value, words in table.items() for word in words}


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    data = tomllib.loads(WORDS_FILE.read_text(encoding="utf-8"))
    return Lexicon(
        severity=_inverted(data["severity"]), category=_inverted(data["category"]),
        labels=_inverted(data["labels"]), engineer=_inverted(data["engineer"]),
        check=_inverted(data["check"]),
        satisfaction={folded(w): int(v) for w, v in data["satisfaction"].items()},
        satisfaction_labels=tuple(folded(w) for w in data["satisfaction_labels"]["words"]))


#: Traditional characters of the ticket words that reply_tokens.fold does not map itself
_TRADITIONAL = ("緊滿術題護應驗證總結級協請啟統處錄復報單問聯點鐘時間後臺據庫網絡與負責務維"
                "見號嚴較還樣師電話錯誤資訊這麼會說沒為無須給評價們個轉幫決線機開發關門從來數"
                "設備讓調異執經歷難態現規範圍響級養實際")
_SIMPLIFIED = ("紧满术题护应验证总结级协请启统处录复报单问联点钟时间后台据库网络与负责务维"
               "见号严较还样师电话错误资讯这么会说没为无须给评价们个转帮决线机开发关门从来数"
               "设备让调异执经历难态现规范围响级养实际")
_EXTRA = str.maketrans(_TRADITIONAL, _SIMPLIFIED)


def folded(text: str) -> str:
    """*text* for matching, one character for one (offsets stay valid)."""
    return fold(text).translate(_EXTRA).lower()


def negated(text: str, start: int) -> bool:
    before = text[max(0, start - 4):start]
    return any(before.endswith(n) or before.endswith(n + "太") or before.endswith(n + "是")
               for n in NEGATIONS)


def find(text: str, table: Mapping[str, Any], *, negatable: bool = True) -> list[Hit]:
    """Every entry of *table* in folded *text*, longest first at each position; an entry a
    negation precedes is dropped when *negatable* (the table lists the negated forms it
    means, such as 不紧急, as entries of their own)."""
    if not table:
        return []
    longest = max(len(w) for w in table)
    hits: list[Hit] = []
    pos = 0
    while pos < len(text):
        for size in range(min(longest, len(text) - pos), 0, -1):
            word = text[pos:pos + size]
            if word in table and _bounded(text, pos, pos + size):
                if not (negatable and negated(text, pos)):
                    hits.append(Hit(pos, pos + size, table[word], word))
                pos += size - 1
                break
        pos += 1
    return hits


def masked(text: str, spans: list[tuple[int, int]]) -> str:
    """*text* with *spans* blanked (same length: offsets stay valid)."""
    chars = list(text)
    for start, end in spans:
        for i in range(max(0, start), min(end, len(chars))):
            chars[i] = " "
    return "".join(chars)


def _bounded(text: str, start: int, end: int) -> bool:
    """An ASCII word is a whole word (``ok`` not inside ``book``); CJK needs no bounds."""
    word = text[start:end]
    if not word[0].isascii() or not word[-1].isascii():
        return True
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return not (before.isascii() and before.isalnum()) and \
        not (after.isascii() and after.isalnum())
