"""The ticket words (words.toml) loaded once, folded, and a finder that matches them by
meaning: longest entry first at each position, a negation just before a word voids it
(softeners may stand between: 不是很满意, 暂不需要升级), an entry with "…" matches its parts
with a few words between (需要网络组协助).

Why longest first: 不紧急 is a *normal* ticket and 不满意 a rating of 1, while 紧急 and 满意
sit inside them; scanning left to right and taking the longest entry that starts at each
position reads both right without special cases.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from mailflow.workflow.reply_tokens import fold

WORDS_FILE = Path(__file__).with_name("words.toml")
#: an entry's "…" stands for this many characters at most, none of them ending a clause
GAP = 8
_GAP_CHARS = r"[^\n,，。.;；!！?？:：]"


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
    negations: tuple[str, ...] = ()       # folded words negating what follows
    softeners: tuple[str, ...] = ()       # words between a negation and its word (很, very)
    not_negations: tuple[str, ...] = ()   # words ending like a negation that are none (特别)
    severity_weak: frozenset[str] = frozenset()      # severity words that only describe
    satisfaction_weak: frozenset[str] = frozenset()  # praise or blame of one part
    severity_negated: Mapping[str, str] | None = None  # 不算紧急 → normal
    person_titles: tuple[str, ...] = ()   # 林工: a surname and a title
    severity_fields: tuple[str, ...] = ()  # 优先级, 紧急程度: a grade may follow
    severity_grades: Mapping[str, str] = field(default_factory=dict)  # 高 → urgent
    instruction_verbs: tuple[str, ...] = ()  # 回复“确认”: what asks for a word
    conditions: tuple[str, ...] = ()      # 如有, 如果, if: a supposition to the clause end
    examples: tuple[str, ...] = ()        # 例如: a quoted example follows
    foretellers: tuple[str, ...] = ()     # 将, will: what follows has not happened


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
        satisfaction_labels=tuple(folded(w) for w in data["satisfaction_labels"]["words"]),
        negations=_words(data["negation"]["words"]),
        softeners=_words(data["negation"]["between"]),
        not_negations=_words(data["negation"]["not_negation"]),
        severity_weak=frozenset(_words(data["severity_weak"]["words"])),
        satisfaction_weak=frozenset(_words(data["satisfaction_weak"]["words"])),
        severity_negated=dict(data["negated_means"]["severity"]),
        person_titles=_words(data["person_titles"]["words"]),
        severity_fields=_words(data["severity_grades"]["fields"]),
        severity_grades={folded(w): v for v, ws in data["severity_grades"].items()
                         if v != "fields" for w in ws},
        instruction_verbs=_words(data["instruction"]["verbs"]),
        conditions=_words(data["instruction"]["conditions"]),
        examples=_words(data["instruction"]["examples"]),
        foretellers=_words(data["instruction"]["foretellers"]))


def _words(words: list[str]) -> tuple[str, ...]:
    """Folded, longest first (so 不能 is tried before 不)."""
    return tuple(sorted({folded(w).strip() for w in words}, key=len, reverse=True))


#: Traditional characters of the ticket words that reply_tokens.fold does not map itself
_TRADITIONAL = ("緊滿術題護應驗證總結級協請啟統處錄復報單問聯點鐘時間後臺據庫網絡與負責務維"
                "見號嚴較還樣師電話錯誤資訊這麼會說沒為無須給評價們個轉幫決線機開發關門從來數"
                "設備讓調異執經歷難態現規範圍響級養實際")
_SIMPLIFIED = ("紧满术题护应验证总结级协请启统处录复报单问联点钟时间后台据库网络与负责务维"
               "见号严较还样师电话错误资讯这么会说没为无须给评价们个转帮决线机开发关门从来数"
               "设备让调异执经历难态现规范围响级养实际")
#: more of them, as pairs: the words colleagues write around the ticket words (跟進, 馬工…)
_PAIRS = ("馬马 暫暂 談谈 類类 進进 週周 過过 產产 將将 對对 東东 車车 "
          "讀读 寫写 議议 專专 業业 麼么 舊旧 條条 輸输 購购 買买 賣卖 "
          "員员 質质 嗎吗 當当 遞递 層层 雲云 萬万 區区 係系 陳陈 靜静 "
          "劉刘 張张 楊杨 黃黄 趙赵 吳吴 鄭郑 孫孙 錢钱 鄧邓 蕭萧 葉叶 "
          "頁页 顯显 載载 傳传 續续 繼继 檢检 測测 試试 認认 確确 導导 "
          "選选 擇择 計计 劃划 歸归 檔档 環环 連连 斷断 啟启 動动 遲迟 "
          "滯滞 頓顿 閃闪 鬆松 擊击 戶户 帳账 號号 碼码 費费 廳厅 營营 "
          "終终 結结 衛卫 優优 慮虑 詢询 讚赞 謝谢 給给 錶表 級级 "
          "極极 勁劲 壞坏 嚴严 煩烦 盡尽 於于 閱阅 覽览 頭头 腦脑 體体 "
          "裝装 軟软 憑凭 證证 書书 標标 準准 須须 術术 據据 擴扩 顧顾 "
          "滿满 鐘钟 兩两 幾几 刪删 夠够 難难 訊讯 統统")
_EXTRA = str.maketrans(_TRADITIONAL + "".join(p[0] for p in _PAIRS.split()),
                       _SIMPLIFIED + "".join(p[1] for p in _PAIRS.split()))


def folded(text: str) -> str:
    """*text* for matching, one character for one (offsets stay valid)."""
    return fold(text).translate(_EXTRA).lower()


def negated(text: str, start: int) -> bool:
    """Whether a negation stands just before *start* in folded *text*, at most two softeners
    between ("不是很", "暂不需要", "not very")."""
    return _ends_negated(text[max(0, start - 16):start].rstrip(), 2)


def foretold(text: str, start: int) -> bool:
    """Whether what starts at *start* is only announced ("工单将退回工程师", "will be")."""
    before = text[max(0, start - 12):start].rstrip()
    return any(before.endswith(w) and _starts_word(before, len(before) - len(w))
               for w in lexicon().foretellers)


def voided(text: str, start: int) -> bool:
    """Negated or only announced: the word does not say what happened."""
    return negated(text, start) or foretold(text, start)


def _ends_negated(before: str, softeners: int) -> bool:
    lex = lexicon()
    for word in lex.negations:
        if before.endswith(word) and _starts_word(before, len(before) - len(word)) and \
                not any(before.endswith(other) for other in lex.not_negations):
            return True
    if softeners:
        for word in lex.softeners:
            if before.endswith(word) and _starts_word(before, len(before) - len(word)) and \
                    _ends_negated(before[:-len(word)].rstrip(), softeners - 1):
                return True
    return False


def _starts_word(text: str, at: int) -> bool:
    """An ASCII word starts at *at* (``no`` is not the end of ``piano``); CJK always."""
    if at <= 0 or not text[at].isascii() or not text[at].isalpha():
        return True
    return not (text[at - 1].isascii() and text[at - 1].isalnum())


def find(text: str, table: Mapping[str, Any], *, negatable: bool = True) -> list[Hit]:
    """Every entry of *table* in folded *text*, longest first at each position; an entry a
    negation precedes is dropped when *negatable* (the table lists the negated forms it
    means, such as 不紧急, as entries of their own). An entry with "…" ("需要…协助")
    matches its parts with up to GAP characters of one clause between them."""
    if not table:
        return []
    spans = _gapped(text, table)
    plain = {w: v for w, v in table.items() if "…" not in w}
    longest = max((len(w) for w in plain), default=0)
    hits: list[Hit] = []
    pos = 0
    while pos < len(text):
        if pos in spans:
            end, word = spans[pos]
            if not (negatable and voided(text, pos)):
                hits.append(Hit(pos, end, table[word], text[pos:end]))
            pos = end
            continue
        for size in range(min(longest, len(text) - pos), 0, -1):
            word = text[pos:pos + size]
            if word in plain and _bounded(text, pos, pos + size):
                if not (negatable and voided(text, pos)):
                    hits.append(Hit(pos, pos + size, plain[word], word))
                pos += size - 1
                break
        pos += 1
    return hits


def _gapped(text: str, table: Mapping[str, Any]) -> dict[int, tuple[int, str]]:
    """Where the "…" entries of *table* match: start → (end, entry)."""
    found: dict[int, tuple[int, str]] = {}
    for word in table:
        if "…" not in word:
            continue
        pattern = f"{_GAP_CHARS}{{0,{GAP}}}?".join(re.escape(p) for p in word.split("…"))
        for match in re.finditer(pattern, text):
            middle = text[match.start() + len(word.split("…")[0]):match.end()]
            if any(n in middle for n in lexicon().negations if not n.isascii()):
                continue    # "已无法解决" is no "已…解决"
            if match.start() not in found or found[match.start()][0] < match.end():
                found[match.start()] = (match.end(), word)
    return found


#: what joins the options of an instruction: "紧急 或 一般", "“满意”“一般”或“不满意”"
_QUOTES = "\\s\"“”‘’'「」『』"
_OPTION_GAP = re.compile(rf"[{_QUOTES}]*(?:或者|或是|或|还是|or|、|/)[{_QUOTES}]*"
                         r"|\s*[”\"」』]\s*[“\"「『]\s*")
_CLAUSE_END = re.compile(r"[,，;；。!！?？\n]")
#: "确认无误后回复", "升级后恢复正常": a deed followed by 后 is a time, not a report of it
#: (后天 and 后台 are no "after")
_AFTER = re.compile(r"([^\s,，;；。!！?？\n“”\"]{1,8}?)(?:之|以)?后(?![天台端续])")
#: "遇到困难或需要配合，请回复“升级”": the clause before an ask for a quoted word is its case
_ASKED_IF = re.compile(r"([^,，;；。!！?？\n]+)[,，]\s*请(?:直接)?回复\s*[“\"「]")
_ASIDE = re.compile(r"[\s”\"」』]*[(（][^)）\n]*[)）]")
_EXAMPLE = re.compile(r"[:：,，]?\s*[“\"「『]([^”\"」』\n]*)[”\"」』]")
_OPEN, _CLOSE = "“\"「『‘'", "”\"」』’'"


def unoffered(text: str, table: Mapping[str, Any]) -> str:
    """*text* with the words it only mentions blanked: options (two or more different
    values of *table* joined by 或/、/or, or quoted one after another) and a quoted word
    after an instruction verb (回复“确认”, 写“满意”) are an instruction — ours, quoted back
    without a quote header — never an answer."""
    hits = find(text, table, negatable=False)
    verbs = lexicon().instruction_verbs
    spans: list[tuple[int, int]] = []
    for hit in hits:
        before = text[:hit.start].rstrip()
        if _quoted(text, hit) and before[:-1].rstrip().endswith(verbs):
            spans.append((hit.start, hit.end))
    for a, b in pairwise(hits):
        quoted = _quoted(text, a) and _quoted(text, b)
        if (a.value != b.value or quoted) and _OPTION_GAP.fullmatch(text[a.end:b.start]):
            spans += [(a.start, a.end), (b.start, b.end)]
            # "紧急 或 一般（紧急问题将立即启动应急处理流程）": the options' explanation
            aside = _ASIDE.match(text, b.end)
            if aside:
                spans.append(aside.span())
    return masked(text, spans)


def _quoted(text: str, hit: Hit) -> bool:
    before = text[:hit.start].rstrip()
    after = text[hit.end:hit.end + 1]
    return bool(before) and before[-1] in _OPEN and bool(after) and after in _CLOSE


def unasked(text: str) -> str:
    """*text* with what only asks or supposes blanked: a condition's clause ("如有问题，",
    "确认无误后", "升级后") and a quoted example ("例如：“紧急，技术问题…”"). Same length:
    offsets stay valid, and the caller's unfolded text can be blanked alike."""
    lex = lexicon()
    low = folded(text)
    spans: list[tuple[int, int]] = []
    for word in lex.conditions:
        for match in re.finditer(re.escape(word), low):
            if not _starts_word(low, match.start()):
                continue
            end = _CLAUSE_END.search(low, match.end())
            spans.append((match.start(), end.start() if end else len(low)))
    for match in _ASKED_IF.finditer(low):
        spans.append(match.span(1))
    for match in _AFTER.finditer(low):
        spans.append(match.span(1))
    for word in lex.examples:
        for match in re.finditer(re.escape(word), low):
            quote = _EXAMPLE.match(low, match.end())
            if quote:
                spans.append(quote.span(1))
    return masked(text, spans)


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
