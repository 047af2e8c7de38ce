"""Text normalisation shared by the definitions, the readers and the value parsers.

People write the same label many ways: "申 请 人：", "申请人:", "*申请人", "申请人（必填）",
"帐号" or "账号", full-width or half-width letters. ``label_key`` folds all of these to one
key so a label is found by a dictionary lookup instead of a fuzzy search.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

# Characters that differ between the forms people have and the forms we print.
_VARIANTS = str.maketrans({"账": "帐", "號": "号", "帳": "帐"})
_SPACE = re.compile(r"[\s\u00a0\u3000\u200b\u200c\u200d\ufeff]+")
_DECOR = re.compile(r"^[*#★☆◆●•·\-]+|[*:：]+$")
_TRAILING_NOTE = re.compile(r"\([^()]*\)$|\[[^\[\]]*\]$|【[^【】]*】$")
_EDGE_SPACE = re.compile(r"^[\s\u00a0\u3000\u200b\ufeff]+|[\s\u00a0\u3000\u200b\ufeff]+$")
_LEADING_NUMBER = re.compile(r"^(?:\d{1,2}|[一二三四五六七八九十]{1,3})[.、)．]")


def fold(text: str) -> str:
    """NFKC + casefold + the few Chinese variant characters; keeps spaces."""
    return unicodedata.normalize("NFKC", text).casefold().translate(_VARIANTS)


def squeeze(text: str) -> str:
    """Remove every kind of space (ASCII, no-break, ideographic, zero-width)."""
    return _SPACE.sub("", text)


def label_alternation(keys: Iterable[str]) -> str:
    """A regex alternation of label keys, longest first, each allowing spaces between its
    characters ("申 请 人"): what finds "label：" inside a line of text."""
    return "|".join(r"\s*".join(re.escape(ch) for ch in key)
                    for key in sorted(keys, key=len, reverse=True))


@lru_cache(maxsize=8192)
def label_key(text: str) -> str:
    """The lookup key of a label: folded, spaceless, without decoration or a trailing note.

    "＊申 请 人（必填）：" → "申请人". A key is also what a definition's labels are stored under.
    """
    key = squeeze(fold(text))
    for _ in range(3):
        before = key
        key = _strip_group(_TRAILING_NOTE.sub("", _DECOR.sub("", key)))
        if key == before:
            break
    return _LEADING_NUMBER.sub("", key)


def _strip_group(key: str) -> str:
    """Drop a trailing "(…)" whose brackets balance, nested ones included (not the whole key)."""
    if not key.endswith(")"):
        return key
    depth = 0
    for i in range(len(key) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(key[i], 0)
        if depth == 0:
            return key[:i] if i > 0 else key
    return key


def clean_value(text: str) -> str:
    """Trim a value: strip each line, drop blank lines at either end (inner ones stay)."""
    lines = [_EDGE_SPACE.sub("", line) for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)
