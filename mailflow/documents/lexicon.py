"""The synonym lexicon (``forms/_lexicon.toml``): which words mean the same on a form.

Data, not code: departments write "经办人" for 申请人, "在线" for 现网, "出席" for 参会;
matching.py folds each label to canonical words with this before comparing it to a field's
labels, so one synonym covers every label that uses the word. The file also lists the words
that make a line a form's title (per kind) and the titles of documents that are something
else (通知, 邀请函, 报价单 …). A missing file is an empty lexicon: exact labels still match.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailflow.documents.text import fold, squeeze

LEXICON_FILE = "_lexicon.toml"
_PASSES = 3  # a variant's canonical word may itself be another group's variant


def _key(word: str) -> str:
    """A lexicon word as labels are compared: folded; spaces kept only between Latin words."""
    folded = fold(word).strip()
    return folded if folded.isascii() else squeeze(folded)


@dataclass(frozen=True)
class Lexicon:
    synonyms: tuple[tuple[str, str], ...] = ()  # (variant, canonical), longest variant first
    title_form_words: tuple[str, ...] = ()
    title_sentence_words: tuple[str, ...] = ()
    title_kinds: tuple[tuple[str, tuple[str, ...]], ...] = ()
    not_form_words: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    fillers: tuple[str, ...] = ()
    letter_words: tuple[str, ...] = ()
    commerce_heads: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def canonical(self, text: str) -> str:
        """*text* (already folded) with every synonym replaced by its canonical word and the
        filler words dropped."""
        kept = {f"\x00{i}\x00": word for i, word in enumerate(self.keep)}
        for mark, word in kept.items():
            text = text.replace(word, mark)
        for filler in self.fillers:
            shorter = text.replace(filler, "")
            if len(shorter) >= 2:
                text = shorter
        for mark, word in kept.items():
            text = text.replace(mark, word)
        if self._pattern is None:
            return text
        table = dict(self.synonyms)
        for _ in range(_PASSES):
            out = self._pattern.sub(lambda m: table[m.group(0)], text)
            if out == text:
                break
            text = out
        return text

    def kinds_in_title(self) -> dict[str, tuple[str, ...]]:
        return dict(self.title_kinds)


EMPTY = Lexicon()


def build_lexicon(raw: dict[str, Any]) -> Lexicon:
    pairs: dict[str, str] = {}
    for canonical, variants in dict(raw.get("synonyms", {})).items():
        target = _key(str(canonical))
        pairs.setdefault(target, target)  # the canonical word maps to itself (stops "记录人人")
        for variant in variants:
            pairs.setdefault(_key(str(variant)), target)
    ordered = tuple(sorted(pairs.items(), key=lambda p: (-len(p[0]), p[0])))
    # an English word is replaced only as a whole word ("unit" is not inside "community")
    pattern = re.compile("|".join(
        rf"(?<![a-z]){re.escape(v)}(?![a-z])" if v.isascii() else re.escape(v)
        for v, _ in ordered)) if ordered else None
    titles = dict(raw.get("titles", {}))
    kinds = dict(titles.get("kinds", {}))
    return Lexicon(
        synonyms=ordered,
        title_form_words=tuple(_key(w) for w in titles.get("form", [])),
        title_sentence_words=tuple(_key(w) for w in titles.get("sentence", [])),
        title_kinds=tuple((str(k), tuple(_key(w) for w in v)) for k, v in kinds.items()),
        not_form_words=tuple(_key(w) for w in dict(titles.get("not_forms", {})).get("words", [])),
        hints=tuple(_key(w) for w in dict(raw.get("labels", {})).get("hints", [])),
        sections=tuple(_key(w) for w in dict(raw.get("labels", {})).get("sections", [])),
        fillers=tuple(_key(w) for w in dict(raw.get("labels", {})).get("fillers", [])),
        keep=tuple(_key(w) for w in dict(raw.get("labels", {})).get("keep", [])),
        letter_words=tuple(str(w) for w in dict(titles.get("not_forms", {})).get("letter", [])),
        commerce_heads=tuple(_key(w) for w in dict(titles.get("not_forms", {})).get(
            "commerce", [])),
        _pattern=pattern,
    )


def load_lexicon(directory: Path) -> Lexicon:
    """The lexicon in *directory* (``_lexicon.toml``); the empty lexicon when there is none."""
    path = directory / LEXICON_FILE
    if not path.is_file():
        return EMPTY
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        from mailflow.documents.definitions import CatalogError

        raise CatalogError(f"{path}: {exc}") from exc
    return build_lexicon(raw)


