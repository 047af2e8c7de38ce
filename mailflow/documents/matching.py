"""Matching a form's labels and titles by meaning: one scoring, its weights in one place.

A department's own form says "经办人" where ours says 申请人, "是否影响在线用户" for
是否影响现网用户, "部门/科室", "（10）实施人", "部门 Department". A list of aliases that
grows with each form seen cannot keep up, so a label is scored against every field:

1. the label is normalised (``label_forms``): width, 帐/账, spaces, colons, asterisks,
   numbering (一、 1. (1) （10） ①), bracketed notes, 请填写/请选择 hints and English glosses
   go; a combined label ("部门/科室") becomes its alternatives;
2. each alternative is compared with the field's labels (label_zh, aliases, label_en), both
   folded to canonical words by the synonym lexicon (``forms/_lexicon.toml``): equal keys,
   equal canonical keys, one containing the other, character similarity (rapidfuzz);
3. the value written under the label is evidence too: a date under an unknown label fits a
   date field and clashes with a yes/no one.

``assign`` then gives labels to fields as a whole — the best pairs first, one label to at
most one field — above ``WEIGHTS.accept``. Exact labels (the blank's own and the aliases)
always keep their field, so a form we printed reads exactly as before. ``title_kind`` uses
the same normalisation and the lexicon for titles, and ``not_a_form_title`` spots the
documents that are something else (通知, 邀请函, 报价单 …).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from mailflow.documents.definitions import FieldType, FormDef
from mailflow.documents.layout import RawValue, raw_text
from mailflow.documents.lexicon import Lexicon
from mailflow.documents.text import fold, squeeze


@dataclass(frozen=True)
class Weights:
    """Every number the matching uses. Scores run from 0 (unrelated) to 1 (the same label)."""

    exact: float = 1.0  # the normalised label is one of the field's labels
    synonym: float = 0.93  # equal after folding synonyms to canonical words
    contain_base: float = 0.5  # one contains the other: base …
    contain_share: float = 0.4  # … plus this times the share of the longer one covered
    prefix: float = 0.02  # … plus this when the shorter one starts the longer one
    head: float = 0.72  # the longer one ends with the shorter (its head noun: "所属系统" is a
    head_share: float = 0.2  # 系统): this, plus this times the share covered
    fuzzy: float = 0.88  # character similarity (0–1) times this
    bag: float = 0.85  # the same characters in another order ("对现网用户是否有影响"), times this
    choice_fits: float = 0.2  # the value names the field's choices ("☑周例会 ☐专题讨论会") …
    choice_is: float = 0.3  # … or is one of them ("新增帐号"), or lists them all
    type_fits: float = 0.08  # the value is of the field's type (a date for a date field)
    type_clashes: float = 0.25  # the value cannot be of the field's type
    value_column: float = 0.3  # less for a text in a column of values (right of the labels)
    accept: float = 0.72  # a label names a field from this score on
    propose: float = 0.45  # below accept, from here: quoted as "是否即此项？" for a missing field
    max_label_chars: int = 30  # a longer normalised text is a sentence, not a label
    max_title_chars: int = 40
    labels_for_kind: int = 3  # a form with no title is recognised by this many labels …
    label_share: float = 0.3  # … and this share of its fields


WEIGHTS = Weights()

# --- normalising a label ---------------------------------------------------------------

_BRACKETS = re.compile(r"[(\[【<《{][^()\[\]【】<>《》{}]{0,40}[)\]】>》}]")
_NUMBERING = re.compile(
    r"^(?:\d{1,2}(?:\.\d{1,2})+\s|\(\s*\d{1,2}\s*\)|\(\s*[一二三四五六七八九十]{1,3}\s*\)"
    r"|\d{1,2}(?:\.\d{1,2})*[.、)]|[一二三四五六七八九十]{1,3}[、.)]"
    r"|第[一二三四五六七八九十\d]{1,3}[项条部分节]?[、.:]?|\d{1,2}(?=[^\d\s.:/年月日号])"
    r"|\(?(?:[a-h]|[ivx]{1,4})[.、)](?=\s*[\u3400-\u9fff]))\s*"  # A. 申请人, (b), Ⅱ、
)
_DECOR = re.compile(r"^[\s*#★☆◆◇●○•·※▲△►▶\-_>]+|[\s*:：#_※]+$")
_SPLIT = re.compile(r"\s*[/|\\、]\s*")
_GLOSS = re.compile(r"(?:(?<=\s)|^)[a-z][a-z.&' -]*[a-z.](?=\s|$)")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LETTERS = re.compile(r"[a-z]{2,}")


def _has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


@lru_cache(maxsize=16384)
def label_forms(text: str, hints: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The alternatives a label cell names, normalised; () when *text* is no label.

    "（10）实施人：" → ("实施人",); "部门/科室" → ("部门", "科室"); "部门 Department" →
    ("部门",); "Department/部门" → ("部门",); "Applicant name" → ("applicant name",).
    """
    line = text.strip().split("\n", 1)[0] if text else ""
    t = fold(line)
    if not t or len(t) > 3 * WEIGHTS.max_label_chars:
        return ()
    stripped = _BRACKETS.sub(" ", t)
    t = stripped if stripped.strip(" :：*") else t
    for hint in hints:
        t = t.replace(hint, " ")
    t = _DECOR.sub("", t)
    t = _NUMBERING.sub("", t)
    t = _DECOR.sub("", t)
    parts: list[str] = []
    pieces = _SPLIT.split(t)
    any_cjk = any(_has_cjk(p) for p in pieces)
    for piece in pieces:
        if _has_cjk(piece):
            piece = _GLOSS.sub(" ", piece)
            piece = squeeze(_DECOR.sub("", piece))
        elif any_cjk:
            continue  # an English gloss beside the Chinese label
        else:
            piece = " ".join(_DECOR.sub("", piece).split())
        limit = WEIGHTS.max_label_chars * (2 if piece.isascii() else 1)  # English is longer
        if piece and len(piece) <= limit and piece not in parts:
            parts.append(piece)
    if not parts or not any(_has_cjk(p) or _LETTERS.search(p) for p in parts):
        return ()
    return tuple(parts)


# --- the things a label can name ---------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A field, a time range's start or end, or a table's column: what a label can name."""

    field: str
    part: str | None  # a time range part, or "column:<key>" for a table column
    type: FieldType
    keys: tuple[str, ...]  # normalised labels
    canon: tuple[str, ...]  # the same, synonyms folded
    exclusive: bool = True  # one label only (a table's columns may repeat in each table)
    choices: tuple[str, ...] = ()


def _keys(texts: Iterable[str], lex: Lexicon) -> tuple[tuple[str, ...], tuple[str, ...]]:
    keys: list[str] = []
    for text in texts:
        for form in label_forms(text, lex.hints):
            if form not in keys:
                keys.append(form)
    return tuple(keys), tuple(lex.canonical(k) for k in keys)


@lru_cache(maxsize=64)
def targets(form: FormDef) -> tuple[Target, ...]:
    lex = form.lexicon
    out: list[Target] = []
    for f in form.fields:
        keys, canon = _keys((*f.labels, f.label_en), lex)
        choices = tuple(squeeze(fold(c)) for c in f.choices if len(c) >= 2)
        out.append(Target(f.key, None, f.type, keys, canon, choices=choices))
        if f.type is FieldType.TIME_RANGE:
            for c in f.columns:
                keys, canon = _keys((*c.labels, c.label_en), lex)
                out.append(Target(f.key, c.key, c.type, keys, canon))
        if f.type is FieldType.TABLE:
            for c in f.columns:
                keys, canon = _keys((*c.labels, c.label_en), lex)
                out.append(Target(f.key, f"column:{c.key}", c.type, keys, canon, False))
    return tuple(out)


# --- evidence from the value ----------------------------------------------------------------

_DATE = re.compile(
    r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}|\d{1,2}\s*月\s*\d{1,2}\s*[日号]"
    r"|\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+\d{4}"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+\d{1,2},?\s+\d{4}"
)
_TIME = re.compile(r"(?<!\d)\d{1,2}\s*[:：点]\s*\d{0,2}")
_RANGE = re.compile(r"至|到|~|～|—|–|－|(?<=\d)\s*-\s*(?=\d{1,2}[:：])")
_YESNO = re.compile(
    r"^\s*(?:[☑☒■√✓✔]\s*)?(?:是|否|有|无|不|yes|no|y|n|√|×|✗|通过|不通过|未通过|已测试|未测试"
    r"|已验证|未验证|已确认|未确认|验证通过|测试通过|影响|不影响|涉及|不涉及|需要|不需要)"
    r"[。.\s]*$"
)
_LIST = re.compile(r"[、,，;；]|\n")


def value_kind(value: RawValue | None) -> str:
    """What a value looks like: empty, date, datetime, range, yesno, list, prose or text."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "yesno"
    text = raw_text(value)
    if not isinstance(value, str) and text:
        return "datetime" if ":" in text else ("date" if "-" in text else "text")
    folded = fold(text).strip()
    if not folded:
        return "empty"
    if _YESNO.match(folded) or re.search(r"[☑☒■√✓✔]\s*(?:是|否)|(?:是|否)\s*[☑☒■√✓✔]", folded):
        return "yesno"
    dates = len(_DATE.findall(folded))
    times = len(_TIME.findall(folded))
    if (dates or times) and _RANGE.search(folded) and (dates + times) >= 2:
        return "range"
    if dates and len(folded) <= 40:
        return "datetime" if times else "date"
    if len(folded) > 40 or "\n" in folded:
        return "prose"
    if _LIST.search(folded):
        return "list"
    return "text"


_FITS: Mapping[FieldType, frozenset[str]] = {
    FieldType.DATE: frozenset({"date", "datetime"}),
    FieldType.DATETIME: frozenset({"datetime", "date", "range"}),
    FieldType.TIME_RANGE: frozenset({"range"}),
    FieldType.YESNO: frozenset({"yesno"}),
    FieldType.LIST: frozenset({"list"}),
}
TYPED_KINDS = _TYPED = frozenset({"date", "datetime", "range", "yesno"})


_WHEN = frozenset({FieldType.DATE, FieldType.DATETIME, FieldType.TIME_RANGE})
_NO_DATES = frozenset({FieldType.YESNO, FieldType.EMAIL_OR_PERSON, FieldType.CHOICE,
                       FieldType.MULTICHOICE, FieldType.LIST})
# which values cannot be which fields (a text field may hold anything: "无", "2026年1月至10月")
_CLASHES: Mapping[str, frozenset[FieldType]] = {
    "yesno": _WHEN | {FieldType.LIST, FieldType.EMAIL_OR_PERSON},
    "date": _NO_DATES,
    "datetime": _NO_DATES,
    "range": _NO_DATES,
    "list": _WHEN | {FieldType.YESNO},
    "prose": _WHEN | {FieldType.YESNO},
}


def type_evidence(kind: str, field_type: FieldType) -> float:
    """The value's type as evidence: + when it fits the field, − when it cannot be it."""
    if kind in _FITS.get(field_type, frozenset()):
        return WEIGHTS.type_fits
    if field_type in _CLASHES.get(kind, frozenset()):
        return -WEIGHTS.type_clashes
    return 0.0


def choice_evidence(value: RawValue | None, target: Target) -> float:
    """+ when the value names the field's own choices ("☑周例会 ☐专题讨论会" is 会议类型)."""
    if not target.choices or not isinstance(value, str):
        return 0.0
    text = squeeze(fold(value)).strip("☑☒■√✓✔")
    named = sum(c in text for c in target.choices)
    if text in target.choices or named >= 2:  # one of them, or the field's own option list
        return WEIGHTS.choice_is
    return WEIGHTS.choice_fits if named else 0.0


# --- scoring ----------------------------------------------------------------------------------


def _pair_score(label: str, canon: str, key: str, key_canon: str, similar: float,
                bags: tuple[Mapping[str, int], Mapping[str, int]]) -> float:
    """One label alternative against one of a target's labels. *similar* is their
    character similarity (0–100: ``fuzz.ratio``, for two English texts the better of it and
    ``fuzz.token_sort_ratio``), *bags* their characters counted: both computed for all keys
    at once by ``_Scorer``."""
    if label == key:
        return WEIGHTS.exact
    if canon == key_canon:
        return WEIGHTS.synonym
    best = similar / 100 * WEIGHTS.fuzzy
    if _has_cjk(canon) and min(len(canon), len(key_canon)) >= 3:
        mine, theirs = bags
        common = sum(min(n, theirs[c]) for c, n in mine.items() if c in theirs)
        best = max(best, 2 * common / (len(canon) + len(key_canon)) * WEIGHTS.bag)
    short, long = sorted((canon, key_canon), key=len)
    if len(short) >= 2 and short in long:
        share = len(short) / len(long)
        head = long.endswith(short) if _has_cjk(short) else (
            long.endswith(" " + short) or long.startswith(short + " "))
        if head:  # Chinese puts the head noun last ("所属系统"); English first or last
            covered = WEIGHTS.head + WEIGHTS.head_share * share
        else:
            covered = WEIGHTS.contain_base + WEIGHTS.contain_share * share
            if long.startswith(short):
                covered += WEIGHTS.prefix
        best = max(best, covered)
    return best


def _similarities(text: str, choices: Sequence[str], scorer: Callable[..., float]
                  ) -> list[float]:
    """*scorer*(text, choice) for every choice, in their order, in one call into rapidfuzz."""
    found = [0.0] * len(choices)
    for _, score, index in process.extract(text, choices, scorer=scorer, limit=None):
        found[index] = score
    return found


class _Scorer:
    """One form's targets prepared for scoring, once per form: every target's labels and
    their canonical forms in one flat list, each with its characters counted. A label the
    documents bring is scored against all of them at once, and remembered (``_scores``: a
    form arrives many times with the same labels). Remembered per form and label rather
    than per (label, target) pair: a cache keyed by the target and the lexicon hashed both
    on every lookup, which cost more than it saved."""

    def __init__(self, form: FormDef) -> None:
        self.lex = form.lexicon
        self.targets = targets(form)
        self.owner = [i for i, t in enumerate(self.targets) for _ in t.keys]
        self.keys = [k for t in self.targets for k in t.keys]
        self.canons = [c for t in self.targets for c in t.canon]
        self.bags = [Counter(c) for c in self.canons]
        self.english = [i for i, c in enumerate(self.canons) if c.isascii()]
        self.english_canons = [self.canons[i] for i in self.english]

    def scores(self, forms: tuple[str, ...]) -> tuple[float, ...]:
        """How well a label (its normalised alternatives) names each target, in the order
        of ``targets``, before value evidence."""
        return _scores(self, forms)

    def score(self, forms: tuple[str, ...]) -> tuple[float, ...]:
        best = [0.0] * len(self.targets)
        for label in forms:
            canon = _canonical(self, label)
            similar = _similarities(canon, self.canons, fuzz.ratio)
            if canon.isascii() and self.english:
                # "affected departments" = "departments affected"
                for i, score in zip(self.english, _similarities(
                        canon, self.english_canons, fuzz.token_sort_ratio), strict=True):
                    similar[i] = max(similar[i], score)
            bag = Counter(canon)
            for i, owner in enumerate(self.owner):
                if best[owner] >= WEIGHTS.exact:
                    continue
                score = _pair_score(label, canon, self.keys[i], self.canons[i], similar[i],
                                    (bag, self.bags[i]))
                if score > best[owner]:
                    best[owner] = score
        return tuple(best)


# bounded for a long-running service: a few MB at most, whatever documents come
@lru_cache(maxsize=8192)
def _scores(scorer: _Scorer, forms: tuple[str, ...]) -> tuple[float, ...]:
    return scorer.score(forms)


@lru_cache(maxsize=8192)
def _canonical(scorer: _Scorer, label: str) -> str:
    """*label* with synonyms folded by *scorer*'s lexicon (keyed by the scorer, hashed by
    identity: the lexicon's own hash walks every synonym)."""
    return scorer.lex.canonical(label)


@lru_cache(maxsize=64)
def _scorer(form: FormDef) -> _Scorer:
    return _Scorer(form)


@dataclass(frozen=True)
class LabelMatch:
    """The target a document's label was given, and how sure that is."""

    field: str
    part: str | None
    score: float
    exact: bool


@dataclass(frozen=True)
class Assignment:
    """Which of a document's labels name which targets (by the label's own text)."""

    matches: Mapping[str, LabelMatch]
    scores: Mapping[str, tuple[tuple[Target, float], ...]]  # every label's plausible targets
    values: frozenset[str] = frozenset()  # texts standing in a column of values

    def best_for(self, target: Target, labels: Iterable[str]) -> tuple[str, float] | None:
        """Among *labels*, the one that names *target* best (for a "是否即此项" question)."""
        found: tuple[str, float] | None = None
        for label in labels:
            for t, score in self.scores.get(label, ()):
                if t == target and (found is None or score > found[1]):
                    found = (label, score)
        return found


@lru_cache(maxsize=64)
def _options(form: FormDef) -> frozenset[str]:
    """The answers a form offers (its choices, 是/否): texts that are values, never labels."""
    words = {"是", "否", "有", "无"}
    for f in form.fields:
        words.update(f.choices)
        for c in f.columns:
            words.update(c.choices)
    return frozenset(form for w in words for form in label_forms(w))


Column = tuple[int, int]  # (table number in the document, grid column)


def _value_texts(cells: Sequence[tuple[str, Column, Column | None]],
                 best: Mapping[str, float]) -> set[str]:
    """Texts that stand in a column of values: the column left of them holds labels, their own
    column hardly any ("CRM系统" right of "申请开通的系统" is its value, not a label)."""
    strong: dict[Column, int] = {}
    for text, column, _ in cells:
        if best.get(text, 0.0) >= WEIGHTS.accept:
            strong[column] = strong.get(column, 0) + 1
    out: set[str] = set()
    for text, column, left in cells:
        if left is None:
            continue
        labels_left, labels_here = strong.get(left, 0), strong.get(column, 0)
        if labels_left >= 2 and labels_left > 2 * labels_here:
            out.add(text)
    return out


def assign(form: FormDef, labels: Mapping[str, RawValue | None],
           cells: Sequence[tuple[str, Column, Column | None]] = ()) -> Assignment:
    """Give the document's *labels* (text as written → the value written beside it) to
    *form*'s targets as a whole: best pairs first, one label per target, one target per
    label; exact labels always keep theirs. *cells* place table texts in their columns
    (text, its column, the column of the filled cell left of it): a text in a column of
    values scores less."""
    lex = form.lexicon
    scorer = _scorer(form)
    all_targets = scorer.targets
    options = _options(form)
    pairs: list[tuple[float, bool, str, Target]] = []
    scores: dict[str, tuple[tuple[Target, float], ...]] = {}
    found_all: dict[str, list[tuple[Target, float, bool]]] = {}
    for text, value in labels.items():
        forms = label_forms(text, lex.hints)
        if not forms or any(f in options for f in forms):
            continue  # "帐号注销" is an answer to 申请类型, not a label
        kind = value_kind(value)
        found: list[tuple[Target, float, bool]] = []
        for target, base in zip(all_targets, scorer.scores(forms), strict=True):
            if base < WEIGHTS.propose - WEIGHTS.type_fits - WEIGHTS.choice_is:
                continue
            exact = base >= WEIGHTS.exact
            score = base if exact else base + type_evidence(kind, target.type) \
                + choice_evidence(value, target)
            if score >= WEIGHTS.propose:
                found.append((target, score, exact))
        if found:
            found_all[text] = found
    values = _value_texts(cells, {t: max(s for _, s, _ in f) for t, f in found_all.items()})
    for text, found in found_all.items():
        kept: list[tuple[Target, float]] = []
        for target, score, exact in found:
            if text in values and not exact:
                score -= WEIGHTS.value_column
            if score >= WEIGHTS.propose:
                kept.append((target, score))
                pairs.append((score, exact, text, target))
        if kept:
            scores[text] = tuple(kept)
    pairs.sort(key=lambda p: (-p[1], -p[0], p[2]))
    matches: dict[str, LabelMatch] = {}
    taken: set[tuple[str, str | None]] = set()
    for score, exact, text, target in pairs:
        slot = (target.field, target.part)
        if text in matches or score < WEIGHTS.accept:
            continue
        if not exact and target.exclusive and slot in taken:
            continue
        matches[text] = LabelMatch(target.field, target.part, score, exact)
        taken.add(slot)
    return Assignment(matches, scores, frozenset(values))


# --- titles -------------------------------------------------------------------------------------


def title_text(text: str, lex: Lexicon) -> str:
    """A title line normalised: folded, English gloss and brackets removed, no spaces."""
    if not text or len(text) > 2 * WEIGHTS.max_title_chars:
        return ""
    lines = [line for line in text.strip().split("\n") if line.strip()]
    if len(lines) > 1:  # "会议纪要\nMinutes of Meeting" in one cell: a title and its gloss
        cjk_lines = [line for line in lines if _has_cjk(line)]
        if len(cjk_lines) > 1 or len(lines) > 3:
            return ""
        text = " ".join(cjk_lines or lines)
    t = fold(text).strip().strip("《》<>「」“”\"'")
    pieces = _SPLIT.split(_BRACKETS.sub(" ", t))
    cjk = [p for p in pieces if _has_cjk(p)]
    t = squeeze(_GLOSS.sub(" ", " ".join(cjk))) if cjk else " ".join(t.split())
    t = t.strip("《》<>「」“”\"'")
    return t if len(t) <= WEIGHTS.max_title_chars else ""


def title_kind(text: str, form_titles: Sequence[tuple[str, str]], lex: Lexicon) -> str | None:
    """The kind whose title *text* is: one of its titles (after a short prefix such as the
    company's name), or a title naming the kind in the department's own words ("信息系统
    账号申请表", "…权限申请单", "会议纪要 Minutes of Meeting", "System Change Request")."""
    t = title_text(text, lex)
    if not t:
        return None
    for title, kind in form_titles:  # longest first
        if t == title:
            return kind
    for title, kind in form_titles:
        if t.endswith(title) and len(t) - len(title) <= 12:
            # "帐号权限变更申请表": the words before a title may name another kind
            prefix = t[: len(t) - len(title)]
            for other, words in lex.title_kinds:
                if other != kind and any(w in prefix for w in words):
                    return other
            return kind
    if any(word in t for word in lex.title_sentence_words) or any(
        word in t for word in lex.not_form_words
    ):
        return None
    if not any(t.endswith(word) for word in lex.title_form_words):
        return None
    for kind, words in lex.title_kinds:  # the file's order decides ("帐号变更" is account)
        if any(word in t for word in words):
            return kind
    return None


def not_a_form_title(text: str, lex: Lexicon) -> bool:
    """Whether *text* titles a document that is something else: "关于召开…会议的通知",
    "邀请函", "XX公司报价单", "Price list"."""
    t = title_text(text, lex)
    return bool(t) and any(word in t for word in lex.not_form_words)


def count_labels(assignment: Assignment) -> int:
    """How many different fields the document's labels name (a form with no title)."""
    return len({m.field for m in assignment.matches.values()})
