"""Charset labels to Python codecs, and text decoding that never fails.

Why this exists: Chinese mail clients label GBK (and GB18030) text ``gb2312``, a strict
subset that fails on everyday characters; Big5 mail uses Microsoft and HKSCS extensions;
some labels are invented (``utf-8-purple``, ``x-unknown``) and some 8-bit text carries no
label at all.  Every function here returns text plus, when a guess was needed, a short
note for the mail's defect list -- it never raises on bad bytes or bad labels.
"""

from __future__ import annotations

import binascii
import codecs
import re
from typing import NamedTuple

import charset_normalizer

from mailflow.mail import plausibility

_GB = ("gb18030",)
_BIG5 = ("cp950", "big5hkscs")
_KR = ("cp949",)
_SJIS = ("cp932",)
_LATIN1 = ("cp1252", "latin-1")
_UTF8 = ("utf-8",)

# Label (lowercased, stripped) -> codecs tried strictly in order.  Labels not listed here
# go through codecs.lookup(), minus a few codecs that are not text encodings for mail.
_ALIASES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
            "gb2312",
            "gbk",
            "x-gbk",
            "cp936",
            "ms936",
            "windows-936",
            "x-cp936",
            "iso-gb2312",
            "euc-cn",
            "x-euc-cn",
            "euccn",
            "gb_2312-80",
            "gb_2312",
            "gb-2312",
            "csgb2312",
            "csgb231280",
            "chinese",
            "cn-gb",
            "gb18030",
            "gb-18030",
            "x-gb18030",
            "gb18030-2000",
            "gb18030-2005",
            "iso-ir-58",
        ),
        _GB,
    ),
    **dict.fromkeys(
        (
            "big5",
            "big-5",
            "x-big5",
            "cn-big5",
            "csbig5",
            "x-x-big5",
            "cp950",
            "ms950",
            "windows-950",
        ),
        _BIG5,
    ),
    **dict.fromkeys(("big5-hkscs", "big5hkscs", "hkscs"), ("big5hkscs", "cp950")),
    **dict.fromkeys(
        (
            "ks_c_5601-1987",
            "ks_c_5601-1989",
            "ks_c_5601",
            "ksc5601",
            "ksc_5601",
            "euc-kr",
            "korean",
            "csksc56011987",
            "cp949",
            "windows-949",
            "uhc",
            "x-windows-949",
        ),
        _KR,
    ),
    **dict.fromkeys(
        (
            "shift_jis",
            "shift-jis",
            "sjis",
            "x-sjis",
            "ms_kanji",
            "csshiftjis",
            "windows-31j",
            "cp932",
            "x-ms-cp932",
        ),
        _SJIS,
    ),
    **dict.fromkeys(("euc-jp", "x-euc-jp", "eucjp"), ("euc_jp", "euc_jis_2004", "cp932")),
    **dict.fromkeys(
        ("iso-2022-jp", "csiso2022jp", "iso-2022-jp-2", "iso-2022-jp-3"),
        ("iso2022_jp", "iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_3"),
    ),
    **dict.fromkeys(
        (
            "iso-8859-1",
            "iso8859-1",
            "iso_8859-1",
            "latin1",
            "latin-1",
            "l1",
            "cp819",
            "windows-1252",
            "cp1252",
            "x-cp1252",
        ),
        _LATIN1,
    ),
    **dict.fromkeys(("utf8", "utf-8", "unicode-1-1-utf-8", "x-unicode20utf8"), _UTF8),
    **dict.fromkeys(("utf-7", "utf7", "unicode-1-1-utf-7", "x-unicode-2-0-utf-7"), ("utf-7",)),
    **dict.fromkeys(("tis-620", "windows-874", "cp874", "iso-8859-11"), ("cp874",)),
    **dict.fromkeys(("us-ascii", "ascii", "ansi_x3.4-1968", "us", "iso646-us"), ("ascii",)),
}

# Python codecs that exist but are not charsets a mail may legitimately declare.
_REFUSED = frozenset(
    {
        "undefined",
        "unicode_escape",
        "raw_unicode_escape",
        "idna",
        "punycode",
        "mbcs",
        "oem",
        "uu_codec",
        "zlib_codec",
        "bz2_codec",
        "base64_codec",
        "hex_codec",
        "quopri_codec",
        "rot_13",
        "charmap",
        "unicode_internal",
    }
)

# Codecs whose output for pure-ASCII input may differ from ASCII (escape-based encodings).
_NOT_ASCII_SAFE = frozenset({"utf-7", "hz", "utf-16", "utf-32"})

# Enough non-ASCII bytes that valid UTF-8 is almost surely UTF-8 and not GBK by chance.
_UTF8_EVIDENCE = 8
# Share of replaced characters up to which a declared charset is kept (a few bad bytes).
_REPLACE_TOLERANCE = 0.02
_DETECT_SAMPLE = 64 * 1024


class Decoded(NamedTuple):
    """Decoded text, the codec that produced it, and a defect note if we had to guess."""

    text: str
    codec: str
    note: str | None


def codecs_for(label: str | None) -> tuple[str, ...]:
    """Python codecs to try, strictly and in order, for a MIME charset label.

    Returns ``()`` for a missing, unknown or refused label (the caller then guesses).
    """
    if not label:
        return ()
    key = label.strip().strip("\"'").strip().lower()
    if not key:
        return ()
    known = _ALIASES.get(key)
    if known is not None:
        return known
    if len(key) > 40 or not key.isascii():
        return ()
    try:
        info = codecs.lookup(key)
    except LookupError:
        return ()
    if (info.name.replace("-", "_") in _REFUSED
            or not getattr(info, "_is_text_encoding", True)):
        return ()
    return (info.name,)


_MULTIBYTE_PREFIXES = ("gb", "cp950", "big5", "cp949", "euc", "cp932", "shift", "iso2022", "hz")


def is_multibyte(codec: str) -> bool:
    """True for the CJK multibyte codecs (whose strict decoding is real evidence)."""
    return codec.replace("-", "_").lower().startswith(_MULTIBYTE_PREFIXES)


def _ascii_safe(chain: tuple[str, ...]) -> bool:
    return not any(
        c.replace("_", "-").startswith(prefix) for c in chain for prefix in _NOT_ASCII_SAFE
    ) and not any(c.startswith("iso2022") for c in chain)


def _try(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _non_ascii_count(data: bytes) -> int:
    return len(data.translate(None, bytes(range(128))))


def _latin_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: read each byte UTF-8 rejects as Windows-1252 (or Latin-1)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    chunk = exc.object[exc.start : exc.end]
    return "".join(_cp1252_char(b) for b in chunk), exc.end


def _cp1252_char(byte: int) -> str:
    try:
        return bytes((byte,)).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)


_LATIN_FALLBACK = "mailflow-latin-fallback"
codecs.register_error(_LATIN_FALLBACK, _latin_fallback)


def _utf16(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text (``unicodebig``, ``unicode`` labels): a BOM, or many NUL bytes with the
    byte order that yields mostly ASCII."""
    if len(data) % 2 or data.count(0) < len(data) // 4:
        return None
    if data[:2] in (b"\xfe\xff", b"\xff\xfe"):
        text = _try(data, "utf-16")
        return (text, "utf-16") if text is not None else None
    best: tuple[int, str, str] | None = None
    for codec in ("utf-16-be", "utf-16-le"):
        text = _try(data, codec)
        if text is not None:
            score = len(text.encode("ascii", "ignore"))
            if best is None or score > best[0]:
                best = (score, text, codec)
    if best is None or best[0] * 2 < len(best[1]):
        return None
    return best[1], best[2]


def _mostly_utf8(data: bytes) -> bool:
    """True when the bytes are UTF-8 with a few stray 8-bit characters mixed in (an old
    client's Latin-1 pasted into a UTF-8 mail).  GBK or Big5 text, read as UTF-8, yields
    far more errors than valid sequences, so it never passes."""
    text = data.decode("utf-8", "replace")
    errors = text.count("\ufffd")
    multibyte = len(text) - len(text.encode("ascii", "ignore")) - errors
    return multibyte >= 2 and multibyte >= errors


#: what charset-normalizer may answer: this service's candidates, nothing else
_DETECT_ISOLATION = ["utf_8", "gb18030", "cp950", "big5hkscs", "cp932", "cp949", "cp1252"]


def _detect(data: bytes) -> Decoded | None:
    """charset-normalizer on a bounded sample, restricted to the candidates (cp_isolation);
    the whole text decoded with its verdict."""
    try:
        best = charset_normalizer.from_bytes(
            data[:_DETECT_SAMPLE], cp_isolation=_DETECT_ISOLATION).best()
    except Exception:  # a guesser failure only means "no guess"
        return None
    if best is None:
        return None
    codec = codecs_for(best.encoding) or (best.encoding,)
    if codec[0].replace("-", "_") not in _DETECT_ISOLATION:
        return None
    try:
        return Decoded(data.decode(codec[0], "replace"), codec[0], None)
    except LookupError:
        return None


def decode_body(data: bytes, label: str | None, *, hint: tuple[str, ...] = ()) -> Decoded:
    """Decode a text part.  ``hint`` is a codec chain to try before guessing (the mail's
    other declared charset), used when the label is missing, unknown or plainly wrong."""
    return _decode(data, label, hint=hint, short=False)


def decode_header_bytes(
    data: bytes, label: str | None = None, *, hint: tuple[str, ...] = ()
) -> Decoded:
    """Decode header bytes (an encoded word's payload, raw 8-bit text, a 2231 value).

    Short strings defeat statistical detection, so there is none: after the declared
    charset, UTF-8 and the mail's own charsets, GB18030 is tried strictly and, failing
    that, used with replacement characters -- this service reads mainland-Chinese mail.
    """
    return _decode(data, label, hint=hint, short=True)


def _decode(data: bytes, label: str | None, *, hint: tuple[str, ...], short: bool) -> Decoded:
    chain = codecs_for(label)
    if chain == ("ascii",):
        chain = ()  # 8-bit data under an ASCII label: the label is wrong, guess instead
    if data.isascii() and (_ascii_safe(chain) if chain else b"\x00" not in data):
        return Decoded(data.decode("ascii"), chain[0] if chain else "ascii", None)
    if chain and chain[0].startswith("iso2022_jp") and not data.isascii():
        chain = ("cp932", *chain)  # 8-bit text under a 7-bit Japanese label is Shift_JIS
    note: str | None = None
    if chain:
        for codec in chain:
            text = _try(data, codec)
            if text is not None:
                if (
                    codec != "utf-8"
                    and _ascii_safe(chain)
                    and _non_ascii_count(data) >= _UTF8_EVIDENCE
                    and (utf8 := _try(data, "utf-8")) is not None
                ):
                    return Decoded(utf8, "utf-8", f"charset {label!r} declared, data is UTF-8")
                if codec != "utf-8" and _ascii_safe(chain):
                    better = _better_than_declared(data, text, codec, hint)
                    if better is not None:
                        return better._replace(
                            note=f"charset {label!r} declared, data reads as {better.codec}")
                return Decoded(text, codec, None)
        if "utf-8" not in chain and (utf8 := _try(data, "utf-8")) is not None:
            return Decoded(utf8, "utf-8", f"charset {label!r} declared, data is UTF-8")
        if _mostly_utf8(data):
            text = data.decode("utf-8", _LATIN_FALLBACK)
            return Decoded(text, "utf-8", f"charset {label!r}: mixed UTF-8 and 8-bit text")
        if (best := plausibility.best_reading(data, hint=hint)) is not None:
            # the label's codec rejects the bytes but another reads them as real text
            return _whole(data, best.codec)._replace(
                note=f"charset {label!r} declared, data reads as {best.codec}")
        lenient = data.decode(chain[0], "replace")
        if lenient.count("\ufffd") <= max(2, int(len(lenient) * _REPLACE_TOLERANCE)):
            return Decoded(lenient, chain[0], f"charset {label!r}: undecodable bytes replaced")
        note = f"charset {label!r} does not match the data"
    elif label and label.strip().lower() not in ("us-ascii", "ascii"):
        note = f"unknown charset {label!r}"
    else:
        note = "8-bit data without charset"
    return _guess(data, note, hint=hint, short=short)


def _better_than_declared(data: bytes, text: str, codec: str, hint: tuple[str, ...]
                          ) -> Decoded | None:
    """Another reading when the declared charset's reading is implausible and another is
    far better (mail/plausibility.py): Big5 labelled gb2312, GBK labelled iso-8859-1."""
    declared = plausibility.score_text(text[: plausibility.TRUST_SAMPLE_CHARS], codec)
    if declared is not None and declared >= plausibility.TRUSTED_SCORE:
        return None
    best = plausibility.best_reading(data, hint=hint)
    if best is None or best.codec == codec or not plausibility.overrules(
            declared, best, _non_ascii_count(data[: plausibility.SAMPLE_BYTES])):
        return None
    return _whole(data, best.codec)


def _whole(data: bytes, codec: str) -> Decoded:
    """All of *data* in the codec its sample was read in (replacing what fails past it)."""
    text = _try(data, codec)
    if text is not None:
        return Decoded(text, codec, None)
    return Decoded(data.decode(codec, "replace"), codec, "undecodable bytes replaced")


def _guess(data: bytes, note: str, *, hint: tuple[str, ...], short: bool) -> Decoded:
    """Undeclared, unknown or wrong charset: decode with what this service's mail is
    (Chinese first: mail/plausibility.py scores each strict reading), never trusting a
    statistical guess over it."""
    wide = _utf16(data)
    if wide is not None:
        return Decoded(wide[0], wide[1], f"{note}; decoded as {wide[1]}")
    # Valid multi-byte UTF-8 is almost never anything else by chance (RFC 6532 headers,
    # modern clients), so it is taken unless it spells control or unassigned characters.
    text = _try(data, "utf-8")
    if text is not None and plausibility.score_text(text, "utf-8") is not None:
        return Decoded(text, "utf-8", f"{note}; decoded as utf-8")
    candidates = tuple(dict.fromkeys((*plausibility.CANDIDATES, *hint)))
    best = plausibility.best_reading(data, candidates, hint=hint)
    if best is not None:
        whole = _whole(data, best.codec)
        return whole._replace(note=f"{note}; decoded as {best.codec}")
    if _mostly_utf8(data):
        text = data.decode("utf-8", _LATIN_FALLBACK)
        return Decoded(text, "utf-8", f"{note}; mixed UTF-8 and 8-bit text")
    # Nothing decodes strictly: a damaged body is worth charset-normalizer, restricted to
    # the same candidates (never EBCDIC, UTF-7 or another non-mail codec); header text
    # skips it: statistics on a few bytes mean little, and at ~0.5 ms a call a mail of
    # thousands of undecodable header fields took seconds (fuzz/README.md F8).
    detected = None if short else _detect(data)
    if detected is not None:
        return detected._replace(note=f"{note}; detected {detected.codec}")
    return Decoded(data.decode("gb18030", "replace"), "gb18030", f"{note}; gb18030 with errors")


# --- RFC 2047 encoded words and raw 8-bit header text ------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")


def to_bytes(value: str) -> bytes:
    """Undo the parser's surrogateescape: header text back to the bytes that were sent."""
    return value.encode("utf-8", "surrogateescape")


def _b64(text: str) -> bytes:
    cleaned = "".join(text.split())
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return binascii.a2b_base64(cleaned.encode("ascii", "ignore"))
    except binascii.Error:
        usable = cleaned.rstrip("=")
        usable = usable[: len(usable) - len(usable) % 4]
        try:
            return binascii.a2b_base64(usable.encode("ascii", "ignore"))
        except binascii.Error:
            return b""


def _raw_text(value: str, hint: tuple[str, ...]) -> str:
    if value.isascii():
        return value
    return decode_header_bytes(to_bytes(value), hint=hint).text


def decode_header_value(value: str, *, hint: tuple[str, ...] = ()) -> str:
    """Decode a header value: RFC 2047 words (adjacent words of one charset joined as bytes
    first, so a character split across words survives) and raw 8-bit text."""
    if "=?" not in value:
        return _raw_text(value, hint)
    out: list[str] = []
    group_label = ""
    group_bytes = bytearray()
    # Base64 words not yet decoded: a word may end mid-quantum, so pieces wait until their
    # total length is a multiple of 4.  A list and a count, not ``str +=``: one word of
    # 4k+1 characters followed by many aligned ones would re-copy the pending text on every
    # word (quadratic; fuzz/README.md F1).
    b64_pieces: list[str] = []
    b64_length = 0

    def decode_pending() -> None:
        nonlocal b64_length
        if b64_pieces:
            group_bytes.extend(_b64("".join(b64_pieces)))
            b64_pieces.clear()
        b64_length = 0

    def flush() -> None:
        nonlocal group_label
        decode_pending()
        if group_label or group_bytes:
            out.append(decode_header_bytes(bytes(group_bytes), group_label, hint=hint).text)
        group_bytes.clear()
        group_label = ""

    pos = 0
    in_words = False
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        if between and not (in_words and between.isspace()):
            flush()
            out.append(_raw_text(between, hint))
        label = match.group(1).split("*", 1)[0].lower()
        if label != group_label:
            flush()
            group_label = label
        payload = match.group(3)
        if match.group(2) in "bB":
            piece = payload.strip()
            b64_pieces.append(piece)
            b64_length += len(piece)
            if b64_length % 4 == 0:
                decode_pending()
        else:
            decode_pending()
            group_bytes.extend(binascii.a2b_qp(to_bytes(payload), header=True))
        in_words = True
        pos = match.end()
    flush()
    if pos < len(value):
        out.append(_raw_text(value[pos:], hint))
    return "".join(out)


_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE
)


def sniff_html_charset(data: bytes) -> str | None:
    """The charset an HTML part declares in a ``<meta>`` tag (first 4 KB), if any."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None
