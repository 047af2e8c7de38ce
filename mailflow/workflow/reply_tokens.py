"""Reply text folded for matching, cut into clauses, and scanned for the words of reply_words.

Why folding is one character for one character: the readers find a word in the folded text
and cut the reason out of the original at the same offsets, so the reason stays verbatim
(full-width commas, Traditional characters and all).  Folding: ASCII upper → lower, full-width
ASCII → ASCII, ideographic space → space, the Traditional characters the lexicon and the
quote headers need → Simplified.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from mailflow.workflow.reply_words import (
    NEGATION_GAP_CJK,
    NEGATION_GAP_WORDS,
    QUESTION_MARKERS,
    Entry,
    Kind,
    Mode,
)

_TRADITIONAL = (
    "駁迴絕決準許覈認贊對發寄寫於從傳來時間與題標閱審稱總裁經導領須幾確這個們為還沒無過當"
    "撤銷進狀態處辦關並聯繫電話號碼網郵寶貝請謝託應該單變數據資產運維後續遺備註項說問"
    "敗滾執試驗測環啟動結點預計劃範圍權帳戶開給讓長門業務統機構專員與統會議紀錄"
)
_SIMPLIFIED = (
    "驳回绝决准许核认赞对发寄写于从传来时间与题标阅审称总裁经导领须几确这个们为还没无过当"
    "撤销进状态处办关并联系电话号码网邮宝贝请谢托应该单变数据资产运维后续遗备注项说问"
    "败滚执试验测环启动结点预计划范围权帐户开给让长门业务统机构专员与统会议纪录"
)
_FOLD: dict[int, int] = {ord(t): ord(s) for t, s in zip(_TRADITIONAL, _SIMPLIFIED, strict=True)}
_FOLD.update({c: c + 0x20 for c in range(ord("A"), ord("Z") + 1)})
_FOLD.update({c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)})  # full-width ASCII
_FOLD.update({c: c - 0xFEE0 + 0x20 for c in range(0xFF21, 0xFF3B)})  # Ａ → a
_FOLD.update({0x3000: 0x20, 0xA0: 0x20, 0x2019: ord("'"), 0x2018: ord("'"), 0x3002: ord("."),
              0xFF61: ord("."), 0x3001: ord(","), 0xFE56: ord("?"), 0xFE57: ord("!")})  # fmt: skip


def fold(text: str) -> str:
    """*text* for matching; same length, same offsets (one character for one)."""
    return text.translate(_FOLD)


_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CLAUSE_BREAK = re.compile(rf"[,.;:?!\n…~、\u2014]+|(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
_PARTICLES = re.compile(r"[\s的了吧啊呀哈啦嘛哦喔哟呢噢~.!,\-—…]*")
_PUNCT_ONLY = re.compile(r"[\W_]*")
_IS_CJK = re.compile(rf"[{_CJK}]")


@dataclass(frozen=True)
class Clause:
    start: int
    end: int  # text[start:end] is the clause; the delimiter follows
    delimiter: str


def clauses(folded: str) -> list[Clause]:
    """The clauses of a folded line, split at punctuation and at spaces next to CJK text."""
    found: list[Clause] = []
    pos = 0
    for match in _CLAUSE_BREAK.finditer(folded):
        if match.start() > pos:
            found.append(Clause(pos, match.start(), match.group(0)))
        pos = match.end()
    if pos < len(folded):
        found.append(Clause(pos, len(folded), ""))
    return found


def is_question(folded: str, clause: Clause) -> bool:
    text = folded[clause.start : clause.end] + " "
    return "?" in clause.delimiter or any(marker in text for marker in QUESTION_MARKERS)


@dataclass(frozen=True)
class Token:
    kind: Kind
    start: int
    end: int
    phrase: str


def _is_latin(phrase: str) -> bool:
    return phrase[:1].isascii() and phrase[:1].isalnum()


@lru_cache(maxsize=16)
def _matcher(entries: tuple[Entry, ...]) -> tuple[re.Pattern[str], dict[str, list[Entry]]]:
    by_phrase: dict[str, list[Entry]] = {}
    for entry in entries:
        by_phrase.setdefault(entry[0], []).append(entry)
    parts = []
    for phrase in sorted(by_phrase, key=len, reverse=True):
        body = re.escape(phrase)
        if _is_latin(phrase):
            body = rf"(?<![a-z0-9']){body}"
        if phrase[-1:].isascii() and phrase[-1:].isalnum():
            body = rf"{body}(?![a-z0-9])"
        parts.append(body)
    return re.compile("|".join(parts)), by_phrase


def _alone(folded: str, start: int, end: int, fillers: frozenset[str]) -> bool:
    """The word is the whole line, give or take punctuation and polite filler clauses."""
    joined = folded[:start] + " " + folded[end:]
    rest = [joined[c.start : c.end].strip() for c in clauses(joined)]
    return all(
        _PUNCT_ONLY.fullmatch(r) or _PARTICLES.fullmatch(r) or r in fillers for r in rest if r
    )


def _clause_final(folded: str, end: int) -> bool:
    """Nothing but particles follows the word before the clause ends."""
    nxt = _CLAUSE_BREAK.search(folded, end)
    stop = nxt.start() if nxt else len(folded)
    tail = folded[end:stop]
    return _PARTICLES.fullmatch(tail) is not None


def scan(folded: str, entries: tuple[Entry, ...], fillers: frozenset[str]) -> list[Token]:
    """The lexicon's words in one folded line, longest first, with their modes honoured."""
    pattern, by_phrase = _matcher(entries)
    tokens: list[Token] = []
    for match in pattern.finditer(folded):
        phrase = match.group(0)
        chosen: Entry | None = None
        for entry in by_phrase[phrase]:
            mode = entry[2]
            if mode is Mode.ALONE and not _alone(folded, match.start(), match.end(), fillers):
                continue
            if mode is Mode.FINAL and not _clause_final(folded, match.end()):
                continue
            if chosen is None or (mode is Mode.ALONE and chosen[2] is not Mode.ALONE):
                chosen = entry
        if chosen is not None:
            tokens.append(Token(chosen[1], match.start(), match.end(), phrase))
    return tokens


def close(folded: str, start: int, end: int) -> bool:
    """Whether a word ending at *start* reaches a word starting at *end*: same clause, at
    most NEGATION_GAP_CJK characters or NEGATION_GAP_WORDS words apart."""
    if _CLAUSE_BREAK.search(folded, start, end):
        return False
    between = folded[start:end]
    if _IS_CJK.search(between):
        return len(between.strip()) <= NEGATION_GAP_CJK
    return len(between.split()) <= NEGATION_GAP_WORDS


def negate(folded: str, tokens: Sequence[Token], turns: Mapping[Kind, Kind]) -> list[Token]:
    """Tokens with each word of a kind in *turns* that follows a negator closely turned into
    the mapped kind (its span then starts at the negator); negators and neutral words are
    dropped."""
    out: list[Token] = []
    last_negator: Token | None = None
    for token in tokens:
        if token.kind is Kind.NEGATOR:
            last_negator = token
            continue
        if token.kind is Kind.NEUTRAL:
            last_negator = None
            continue
        turned = turns.get(token.kind)
        if (
            turned is not None
            and last_negator is not None
            and close(folded, last_negator.end, token.start)
        ):
            phrase = folded[last_negator.start : token.end]
            out.append(Token(turned, last_negator.start, token.end, phrase))
        else:
            out.append(token)
        last_negator = None
    return out


def clause_of(clause_list: Sequence[Clause], pos: int) -> int:
    """Index of the clause holding offset *pos* (the next clause if *pos* is a delimiter)."""
    for index, clause in enumerate(clause_list):
        if pos < clause.end:
            return index
    return len(clause_list) - 1


def has_cjk(text: str) -> bool:
    return _IS_CJK.search(text) is not None


def strip_punct(text: str) -> str:
    """*text* without leading or trailing punctuation and spaces (CJK ones included)."""
    return text.strip(" \t\r\n,，.。、;；:：!！?？~～-—–…·|/\\\"'“”‘’()（）[]【】<>《》")


def substantial(text: str) -> bool:
    """Enough words to be a reason of its own: four CJK characters or four Latin words."""
    text = strip_punct(text)
    return len(text) >= 4 if has_cjk(text) else len(text.split()) >= 4
