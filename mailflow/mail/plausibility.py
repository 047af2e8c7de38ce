"""Which reading of undeclared (or wrongly declared) bytes is the text that was written.

Why this exists: this service reads mail from mainland China, Hong Kong and Taiwan, where
8-bit text often arrives with no charset or a wrong one. A statistical detector that knows
nothing of that names EBCDIC for a short GBK sentence; and GB18030 and Big5 both decode most
byte strings strictly. So every candidate that decodes strictly is *scored*: how common its
characters are in the script that codec writes (cjk_frequency.py), with impossible text
(private-use or unassigned code points, control characters) ruled out and half-width
katakana or kana inside a Chinese reading counted against it. Pure and bounded: only the
first SAMPLE_BYTES are scored.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from mailflow.mail import cjk_frequency

#: candidates in order of prior likelihood for this service's mail (ties go to the first)
CANDIDATES: tuple[str, ...] = (
    "utf-8", "gb18030", "cp950", "big5hkscs", "cp932", "cp949", "cp1252",
)
SAMPLE_BYTES = 8 * 1024
#: characters of a declared reading scored before trusting it (a few ms at most)
TRUST_SAMPLE_CHARS = 2000

# --- weights, in one place -----------------------------------------------------------------
#: weight of a character by its frequency rank in the reading's own script
_RANK_WEIGHTS: tuple[tuple[int, float], ...] = ((500, 1.0), (1000, 0.85), (2000, 0.6),
                                                (3000, 0.4))
_RARE_IDEOGRAPH = -0.3       # an ideograph outside the common table
_VERY_RARE_IDEOGRAPH = -0.8  # CJK extension A/B and compatibility ideographs
_KANA_IN_JAPANESE = 0.9
_KANA_ELSEWHERE = -0.6       # kana in a Chinese/Korean reading: GB rows A4/A5 misread
_HALFWIDTH_KATAKANA = -1.0   # almost never written, the mark of a Shift_JIS misreading
_PUNCTUATION = 0.3           # CJK and full-width punctuation: neutral evidence
_LATIN_LETTER_IN_WORD = 0.6  # é in "café", Cyrillic in a Cyrillic word
_LATIN_LETTER_ALONE = -0.5
_OTHER_SYMBOL = -0.5         # box drawing, Greek, Cyrillic, math inside East Asian mail
_EMOJI = 0.5
#: symbols Latin-1 text really uses; the rest of the range (¦ ¤ ¨ ¯ ´ ¸ ¬ …) is what CJK
#: bytes read as Latin-1 look like
_COMMON_LATIN_SYMBOLS = frozenset("°©®±×÷·«»€£¥¢§¿¡½¼¾µ¶ºª¹²³")
_HINT_BONUS = 0.15           # the charset the mail declares elsewhere (body <-> headers)
_UTF8_BONUS = 0.3            # valid multi-byte UTF-8 by chance is rare
_PRIOR_STEP = 0.01           # tie-break by CANDIDATES order


@dataclass(frozen=True)
class Reading:
    codec: str
    text: str
    score: float


@cache
def _ranks(table: str) -> dict[str, int]:
    chars: str = getattr(cjk_frequency, table)
    return {ch: i for i, ch in enumerate(chars)}


def _family(codec: str) -> str:
    name = codec.replace("_", "-").lower()
    if name.startswith("gb"):
        return "simplified"
    if name.startswith(("cp950", "big5")):
        return "traditional"
    if name.startswith(("cp932", "shift", "euc-jp", "iso2022")):
        return "japanese"
    if name.startswith(("cp949", "euc-kr")):
        return "korean"
    if name.startswith("utf"):
        return "unicode"
    return "latin"


def _rank_weight(rank: int | None) -> float | None:
    if rank is None:
        return None
    for limit, weight in _RANK_WEIGHTS:
        if rank < limit:
            return weight
    return None


def _ideograph_weight(ch: str, family: str) -> float:
    code = ord(ch)
    if code >= 0x20000 or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
        return _VERY_RARE_IDEOGRAPH
    tables = {"simplified": ("SIMPLIFIED",), "traditional": ("TRADITIONAL",),
              "japanese": ("JAPANESE",), "korean": ()}.get(
        family, ("SIMPLIFIED", "TRADITIONAL", "JAPANESE"))
    weights = [w for t in tables if (w := _rank_weight(_ranks(t).get(ch))) is not None]
    return max(weights) if weights else _RARE_IDEOGRAPH


def _char_weight(ch: str, family: str, before: str, after: str) -> float | None:
    """The evidence one non-ASCII character gives for a reading; None rules it out."""
    code = ord(ch)
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or code >= 0x20000 \
            or 0xF900 <= code <= 0xFAFF:
        return _ideograph_weight(ch, family)
    if 0xAC00 <= code <= 0xD7A3:
        weight = _rank_weight(_ranks("KOREAN").get(ch))
        return weight if weight is not None else _RARE_IDEOGRAPH
    if 0xFF61 <= code <= 0xFF9F:
        return _HALFWIDTH_KATAKANA
    if 0x3041 <= code <= 0x30FF:
        if family in ("japanese", "unicode"):
            rank = _rank_weight(_ranks("JAPANESE").get(ch))
            return rank if rank is not None else _KANA_IN_JAPANESE
        return _KANA_ELSEWHERE
    category = unicodedata.category(ch)
    if category in ("Co", "Cn", "Cs") or (category == "Cc" and ch not in "\t\n\r\f"):
        return None
    if 0x3000 <= code <= 0x303F or 0xFF01 <= code <= 0xFF5E or 0x2010 <= code <= 0x206F \
            or 0xFE30 <= code <= 0xFE4F or code in (0xA0, 0xB7, 0xD7):
        return _PUNCTUATION
    if code >= 0x1F000:
        return _EMOJI
    if ch in _COMMON_LATIN_SYMBOLS:
        return _PUNCTUATION
    if category.startswith("L") and code < 0x2000:
        # an alphabet's letter (é, Cyrillic, Greek) inside a word of alphabetic letters
        in_word = _same_alphabet(ch, before) or _same_alphabet(ch, after)
        return _LATIN_LETTER_IN_WORD if in_word else _LATIN_LETTER_ALONE
    return _OTHER_SYMBOL


def _same_alphabet(ch: str, neighbour: str) -> bool:
    """A Latin accent beside an ASCII letter ("café"), or a Cyrillic/Greek/… letter beside
    another letter of the same range: how alphabets are written (not "âÊÔ" from GBK)."""
    if not neighbour or not neighbour.isalpha():
        return False
    if ord(ch) < 0x250:
        return neighbour.isascii()
    return 0x370 <= ord(neighbour) < 0x2000


def score_text(text: str, codec: str) -> float | None:
    """Mean evidence of *text*'s non-ASCII characters as written in *codec*; None when the
    reading is impossible (private-use, unassigned, controls)."""
    family = _family(codec)
    total = 0.0
    count = 0
    for i, ch in enumerate(text):
        if ch < "\x80":
            if ch < " " and ch not in "\t\n\r\f":
                return None
            continue
        before = text[i - 1] if i else ""
        after = text[i + 1] if i + 1 < len(text) else ""
        weight = _char_weight(ch, family, before, after)
        if weight is None:
            return None
        total += weight
        count += 1
    return total / count if count else 0.0


def _strict_sample(data: bytes, codec: str) -> str | None:
    """*data*'s first SAMPLE_BYTES decoded strictly (a character cut at the sample's end
    is dropped); None when the codec rejects the bytes."""
    sample = data[:SAMPLE_BYTES]
    try:
        return sample.decode(codec)
    except UnicodeDecodeError as exc:
        if len(sample) < len(data) and exc.start >= len(sample) - 4:
            try:
                return sample[: exc.start].decode(codec)
            except UnicodeDecodeError:
                return None
        return None
    except LookupError:
        return None


def readings(data: bytes, candidates: Iterable[str] = CANDIDATES,
             hint: Iterable[str] = ()) -> list[Reading]:
    """Every candidate that decodes *data* strictly and plausibly, best first. The text of
    each is the scored sample; decode the whole with the winner's codec."""
    hinted = {c.replace("_", "-").lower() for c in hint}
    out: list[Reading] = []
    for position, codec in enumerate(dict.fromkeys(candidates)):
        text = _strict_sample(data, codec)
        if text is None:
            continue
        score = score_text(text, codec)
        if score is None:
            continue
        if codec.replace("_", "-").lower() in hinted:
            score += _HINT_BONUS
        if codec == "utf-8" and not text.isascii():
            score += _UTF8_BONUS
        out.append(Reading(codec, text, score - position * _PRIOR_STEP))
    out.sort(key=lambda r: r.score, reverse=True)
    return out


def best_reading(data: bytes, candidates: Iterable[str] = CANDIDATES,
                 hint: Iterable[str] = ()) -> Reading | None:
    """The most plausible strict reading of *data*, or None when no candidate fits."""
    found = readings(data, candidates, hint)
    return found[0] if found else None


#: how much better another reading must score before a declared charset is overruled
OVERRULE_MARGIN = 0.3
#: a declared charset whose reading scores at least this is kept whatever else fits
TRUSTED_SCORE = 0.6
#: below this many non-ASCII bytes a merely unlikely declared reading is kept (a lone "±°")
MIN_EVIDENCE_BYTES = 4


def overrules(declared: float | None, other: Reading, non_ascii_bytes: int) -> bool:
    """Whether *other* is so much more plausible than the declared charset's reading (its
    score *declared*; None when impossible) that the label is wrong: Big5 text labelled
    gb2312 reads as rare characters and kana, GBK labelled iso-8859-1 as stray accents."""
    if declared is None:
        return True
    if declared >= TRUSTED_SCORE or other.score - declared < OVERRULE_MARGIN:
        return False
    return declared < 0 or non_ascii_bytes >= MIN_EVIDENCE_BYTES
