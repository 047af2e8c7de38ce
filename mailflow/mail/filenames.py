"""MIME header parameters (RFC 2045/2231) and attachment file names that are safe to store.

Why own code: Chinese clients mix the standards -- GB2312 RFC 2047 words inside quoted
``name=`` values, or even split across RFC 2231 ``filename*0``/``filename*1`` pieces -- and
the stdlib resolves those with the strict label, or not at all.  And a file name from a
mail is attacker-controlled: it must never become a path (``../../x``, ``C:\\TEMP\\a``,
``php://foo``), a device (``CON.docx``), or an invisible spoof (bidi controls).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote_to_bytes

from mailflow.mail.charsets import decode_header_bytes, decode_header_value, to_bytes

MAX_NAME_BYTES = 200  # UTF-8 bytes; leaves room under the usual 255-byte limit
_MAX_PARAMS = 200

_CONTINUATION = re.compile(r"^(?P<name>[^*]+)\*(?P<index>\d{1,3})(?P<ext>\*?)$")


def split_header(value: str) -> tuple[str, dict[str, str]]:
    """Split ``type/subtype; a=b; c="d;e"`` into the lowercased first token and the raw
    parameters (names lowercased, quotes removed, ``\\"``/``\\\\`` unescaped).

    Backslashes other than those two are kept: Outlook writes ``name="C:\\TEMP\\a.doc"``.
    """
    pieces = _split_semicolons(value)
    head = pieces[0].strip().lower() if pieces else ""
    params: dict[str, str] = {}
    for piece in pieces[1 : _MAX_PARAMS + 1]:
        name, sep, raw = piece.partition("=")
        name = name.strip().lower()
        if not sep or not name:
            continue
        raw = raw.strip()
        if raw.startswith('"'):
            raw = _unquote(raw)
        params.setdefault(name, raw)
    return head, params


def _unquote(raw: str) -> str:
    """The content of a leading quoted string (to its closing quote, or to the end)."""
    out: list[str] = []
    pos = 1
    while pos < len(raw):
        ch = raw[pos]
        if ch == "\\" and pos + 1 < len(raw) and raw[pos + 1] in '"\\':
            out.append(raw[pos + 1])
            pos += 2
            continue
        if ch == '"':
            break
        out.append(ch)
        pos += 1
    return "".join(out)


def _split_semicolons(value: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    quoted = False
    escaped = False
    for pos, ch in enumerate(value):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            pieces.append(value[start:pos])
            start = pos + 1
    pieces.append(value[start:])
    return pieces


def param_value(params: dict[str, str], name: str, *, hint: tuple[str, ...] = ()) -> str | None:
    """A parameter's decoded value, resolving RFC 2231 (``name*``, ``name*0*``, ...) first.

    Values without a 2231 charset may still hold RFC 2047 words or raw 8-bit text (both
    non-standard, both common); those are decoded as header text.
    """
    if f"{name}*" in params:
        return _extended(params[f"{name}*"], hint)
    pieces: list[tuple[int, str, bool]] = []
    for key, raw in params.items():
        match = _CONTINUATION.match(key)
        if match and match.group("name") == name:
            pieces.append((int(match.group("index")), raw, bool(match.group("ext"))))
    if pieces:
        return _continued(sorted(pieces), hint)
    if name in params:
        return decode_header_value(params[name], hint=hint)
    return None


def _split_extended(raw: str) -> tuple[str, str]:
    """``charset'lang'text`` -> (charset, text); tolerate a missing prefix."""
    parts = raw.split("'", 2)
    if len(parts) == 3:
        return parts[0], parts[2]
    return "", raw


def _extended(raw: str, hint: tuple[str, ...]) -> str:
    charset, text = _split_extended(raw)
    return _finish(unquote_to_bytes(text), charset, hint)


def _continued(pieces: list[tuple[int, str, bool]], hint: tuple[str, ...]) -> str:
    charset = ""
    data = bytearray()
    for position, (_index, raw, extended) in enumerate(pieces):
        if extended:
            text = raw
            if position == 0:
                charset, text = _split_extended(raw)
            data.extend(unquote_to_bytes(text))
        else:
            data.extend(to_bytes(raw))
    return _finish(bytes(data), charset, hint)


def _finish(data: bytes, charset: str, hint: tuple[str, ...]) -> str:
    if charset:
        text = decode_header_bytes(data, charset, hint=hint).text
        return decode_header_value(text, hint=hint) if "=?" in text else text
    return decode_header_value(data.decode("utf-8", "surrogateescape"), hint=hint)


# --- safe names --------------------------------------------------------------------------

_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
    | {f"COM{i}" for i in "123456789¹²³"}
    | {f"LPT{i}" for i in "123456789¹²³"}
)
_FORBIDDEN = str.maketrans({ch: "_" for ch in '<>:"|?*'})
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,16}$")

# Extensions for unnamed parts; fixed here (not mimetypes) so names are the same everywhere.
_EXT_BY_TYPE = {
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "text/csv": ".csv",
    "text/rfc822-headers": ".txt",
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "message/feedback-report": ".txt",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/ms-tnef": ".dat",
    "application/vnd.ms-tnef": ".dat",
    "application/pgp-signature": ".asc",
    "application/pgp-encrypted": ".asc",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m",
    "application/x-pkcs7-mime": ".p7m",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
}


def extension_for(content_type: str) -> str:
    """A file extension for an unnamed part of this content type (``.bin`` if unknown)."""
    return _EXT_BY_TYPE.get(content_type, ".bin")


def safe_filename(original: str, index: int, content_type: str) -> str:
    """A storable file name: last path component only, no control or bidi characters, no
    Windows-forbidden characters or device names, at most MAX_NAME_BYTES; never empty
    (``attachment-<index><ext>`` is the fallback)."""
    name = unicodedata.normalize("NFC", original)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(_clean_char(ch) for ch in name).translate(_FORBIDDEN)
    name = " ".join(name.split()).rstrip(". ")
    if not name.strip("._ "):
        return f"attachment-{index}{extension_for(content_type)}"
    if name.startswith("."):
        name = "_" + name
    stem = name.split(".", 1)[0].rstrip(" ").upper()
    if stem in _RESERVED:
        name = "_" + name
    return _cap(name)


def _clean_char(ch: str) -> str:
    category = unicodedata.category(ch)
    if category in ("Cc", "Zl", "Zp"):
        return " " if ch in "\t\n\r\x0b\x0c\u2028\u2029" else ""
    if category in ("Cf", "Cs", "Cn"):
        return ""
    return ch


def _cap(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    match = _EXTENSION.search(name)
    ext = match.group(0) if match else ""
    stem = name[: len(name) - len(ext)]
    budget = MAX_NAME_BYTES - len(ext.encode("utf-8"))
    stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip(". ")
    return stem + ext
