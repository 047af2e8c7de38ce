"""The guard every office attachment passes before any reader touches it.

Why a guard of our own: no Python office reader bounds decompression or refuses DTDs on its
own, python-docx and openpyxl trust the package structure, and an encrypted .docx is not a zip
at all. So this module decides, from the bytes alone, whether a reader may open the file:

1. size first, then the container: OLE (``D0CF11E0``) or zip (``PK``); the name is only a hint;
2. OLE: OLE-wrapped OOXML or encrypted .doc/.xls → ``ENCRYPTED``; plain .doc/.xls go to
   LibreOffice (``legacy.py``) and the result comes back through this same guard;
3. zip: limits checked on the central directory, then every member is inflated as a stream,
   counting bytes and checking its CRC, so a lying header cannot push us past a limit;
4. XML: no DOCTYPE/ENTITY anywhere, encoding UTF-8/UTF-16 only (OPC rule), well-formed,
   and within the depth/text limits libxml2 enforces for python-docx and openpyxl;
5. OPC structure as the readers walk it: one main part of the right type, every internal
   relationship resolving to a present part with a content type;
6. macro parts (VBA, XLM macro sheets) removed and the content types rewritten to plain
   .docx/.xlsx, so a reader opens it and no macro can ever run from what we keep or forward.

Refusals are :class:`FileRefused` with an English ``detail`` for logs; the user-facing words
live in templates keyed by :class:`Refusal`.
"""

from __future__ import annotations

import codecs
import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, NoReturn
from xml.parsers import expat

import defusedxml.ElementTree as SafeET
import msoffcrypto
import olefile
import puremagic
from defusedxml import DefusedXmlException

from mailflow.errors import MailflowError

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from mailflow.documents.legacy import LegacyConverter

__all__ = [
    "CheckedOffice",
    "FileRefused",
    "OfficeFormat",
    "Refusal",
    "SafetyLimits",
    "check_office_file",
    "office_kind",
]


class Refusal(StrEnum):
    """Why an attachment was not handed to a reader (templates key their reply on this)."""

    TOO_LARGE = "too_large"
    ENCRYPTED = "encrypted"
    ZIP_BOMB = "zip_bomb"
    XML_BOMB = "xml_bomb"
    CORRUPT = "corrupt"
    LEGACY_FORMAT = "legacy_format"
    UNSUPPORTED = "unsupported"


class FileRefused(MailflowError):
    """The guard refused an attachment; ``refusal`` says why, ``detail`` what was seen (English)."""

    def __init__(self, refusal: Refusal, detail: str) -> None:
        super().__init__(f"{refusal.value}: {detail}")
        self.refusal = refusal
        self.detail = detail

    def __reduce__(self) -> tuple[type[FileRefused], tuple[Refusal, str]]:
        # Keeps the two attributes when the refusal crosses a process boundary (worker pools).
        return (FileRefused, (self.refusal, self.detail))


@dataclass(frozen=True)
class SafetyLimits:
    """Resource limits of the guard.

    ``max_xml_scan_bytes``: a DOCTYPE (and with it every ENTITY declaration) may only stand in
    the prolog, before the root element. The guard walks the prolog of each XML part and
    requires the root element to start within this many bytes, so scanning the head is
    complete: nothing after the root start can declare an entity. Office writes a prolog of
    about 60 bytes; a prolog longer than this window is refused (a padding trick, not a form).
    """

    max_file_bytes: int = 20 * 1024 * 1024
    max_uncompressed_bytes: int = 200 * 1024 * 1024
    max_ratio: float = 150.0
    max_members: int = 5000
    max_xml_scan_bytes: int = 64 * 1024
    ratio_floor_bytes: int = 16 * 1024  # members smaller than this are exempt from max_ratio

    def __post_init__(self) -> None:
        if min(self.max_file_bytes, self.max_uncompressed_bytes, self.max_members) <= 0:
            raise ValueError("size and member limits must be positive")
        if self.max_ratio < 1 or self.max_xml_scan_bytes < 1024:
            raise ValueError("max_ratio must be >= 1 and max_xml_scan_bytes >= 1024")


OfficeFormat = Literal["docx", "xlsx"]


@dataclass(frozen=True)
class CheckedOffice:
    """A package a reader may open: python-docx for ``docx``, openpyxl for ``xlsx``."""

    fmt: OfficeFormat
    data: bytes
    macros_removed: bool
    converted_from: str | None = None


# --------------------------------------------------------------------------- constants

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_CHUNK = 64 * 1024
_MAX_CD_BYTES_PER_MEMBER = 1024  # average central-directory entry allowed (names included)
_MAX_CONTROL_BYTES = 16 * 1024 * 1024  # [Content_Types].xml + all .rels kept in memory
_MAX_REL_DEPTH = 64  # python-docx walks relationships recursively
_LXML_MAX_DEPTH = 256  # libxml2 limits without XML_PARSE_HUGE (python-docx, openpyxl)
_LXML_MAX_TEXT = 10_000_000

_CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_WML_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_SML_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_STRICT_PREFIX = "http://purl.oclc.org/ooxml/"
_RT_OFFICE_DOCUMENT = _R_NS + "/officeDocument"
_RT_WORKSHEET = _R_NS + "/worksheet"

_CT_DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_CT_XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_CT_SHARED_STRINGS = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedstrings+xml"
_PLAIN_MAIN: dict[OfficeFormat, str] = {"docx": _CT_DOCX_MAIN, "xlsx": _CT_XLSX_MAIN}
# main-part content type (lower case) → format; all but the two plain ones get rewritten
_MAIN_TYPES: dict[str, OfficeFormat] = {
    _CT_DOCX_MAIN: "docx",
    "application/vnd.ms-word.document.macroenabled.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml": "docx",
    "application/vnd.ms-word.template.macroenabledtemplate.main+xml": "docx",
    _CT_XLSX_MAIN: "xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": "xlsx",
    "application/vnd.ms-excel.template.macroenabled.main+xml": "xlsx",
}
_OTHER_MAIN_TYPES = {
    "application/vnd.ms-excel.sheet.binary.macroenabled.main": "xlsb",
    "application/vnd.ms-excel.addin.macroenabled.main+xml": "xlam",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
}
_ROOTS: dict[OfficeFormat, str] = {"docx": f"{_WML_NS} document", "xlsx": f"{_SML_NS} workbook"}
# openpyxl reads these lazily with expat (no libxml2 limits), and only when asked for rows
_LAZY_XLSX_TYPES = {
    _CT_WORKSHEET,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.chartsheet+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.dialogsheet+xml",
}

# Macro code: VBA projects, their signatures and Word's VBA data. (Key maps and toolbars may
# name macros but hold no code; without a VBA project they are inert and are kept.)
_MACRO_CT_PREFIXES = ("application/vnd.ms-office.vbaproject", "application/vnd.ms-word.vbadata")
_MACRO_REL_NAMES = {
    "vbaProject",
    "vbaProjectSignature",
    "vbaProjectSignatureAgile",
    "vbaProjectSignatureV3",
    "wordVbaData",
}
# Excel 4.0 (XLM) macro sheets: replaced by an empty worksheet so the workbook stays whole.
_MACROSHEET_CTS = {
    "application/vnd.ms-excel.macrosheet+xml",
    "application/vnd.ms-excel.intlmacrosheet+xml",
}
_MACROSHEET_REL_NAMES = {"xlMacrosheet", "xlIntlMacrosheet"}
_EMPTY_WORKSHEET = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="' + _SML_NS.encode() + b'"><sheetData/></worksheet>'
)

_KIND_BY_EXTENSION = {
    "docx": "docx",
    "dotx": "docx",
    "docm": "docm",
    "dotm": "docm",
    "xlsx": "xlsx",
    "xltx": "xlsx",
    "xlsm": "xlsm",
    "xltm": "xlsm",
    "xlsb": "xlsb",
    "doc": "doc",
    "dot": "doc",
    "wps": "doc",
    "xls": "xls",
    "xlt": "xls",
    "et": "xls",
}
_KIND_BY_MIME = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template": "docx",
    "application/vnd.ms-word.document.macroenabled.12": "docm",
    "application/vnd.ms-word.template.macroenabled.12": "docm",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template": "xlsx",
    "application/vnd.ms-excel.sheet.macroenabled.12": "xlsm",
    "application/vnd.ms-excel.template.macroenabled.12": "xlsm",
    "application/vnd.ms-excel.sheet.binary.macroenabled.12": "xlsb",
    "application/msword": "doc",
    "application/vnd.ms-word": "doc",
    "application/vnd.ms-excel": "xls",
    "application/kswps": "doc",  # WPS Office
    "application/kset": "xls",
}
_OOXML_KINDS = {"docx", "docm", "xlsx", "xlsm", "xlsb"}
_ALLOWED_XML_ENCODINGS = {"utf-8", "utf8", "utf-16", "utf-16le", "utf-16be", "us-ascii", "ascii"}
_ENCODING_DECL = re.compile(r"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_MARKUP_BOMB = re.compile(r"<!\s*(doctype|entity)", re.IGNORECASE)


# --------------------------------------------------------------------------- classification


def office_kind(filename: str, content_type: str, data: bytes) -> str | None:
    """Classify an attachment as a candidate form, from its bytes first.

    Returns "docx", "docm", "xlsx", "xlsm", "xlsb", "doc", "xls", or None when the bytes are
    not an office form at all (images, PDF, text, Outlook .msg, PowerPoint, plain zips). The
    name and MIME type only decide when the bytes cannot: an encrypted OOXML (whose real
    type is sealed inside) or bytes too broken to recognise, where the claimed kind is
    returned so that :func:`check_office_file` can tell the sender why it was refused.
    """
    claimed = _claimed_kind(filename, content_type)
    if data.startswith(_OLE_MAGIC):
        streams = _ole_streams(data)
        if streams is None:
            return claimed
        if "encryptedpackage" in streams or "encryptioninfo" in streams:
            return claimed if claimed in _OOXML_KINDS else "docx"
        return _ole_source(streams)
    if data.startswith((_ZIP_MAGIC, _EMPTY_ZIP_MAGIC)):
        kind = _zip_kind(data)
        if kind is None and claimed in _OOXML_KINDS:
            return claimed  # a broken package that claims to be a form: check says CORRUPT
        return kind
    if claimed is None or _other_format(data) is not None:
        return None
    return claimed


def _claimed_kind(filename: str, content_type: str) -> str | None:
    ext = posixpath.splitext(filename.replace("\\", "/"))[1].lstrip(".").lower()
    if ext in _KIND_BY_EXTENSION:
        return _KIND_BY_EXTENSION[ext]
    mime = content_type.split(";", 1)[0].strip().lower()
    return _KIND_BY_MIME.get(mime)


def _other_format(data: bytes) -> str | None:
    """What puremagic calls these bytes (".pdf", ".png", ".rtf"…), or None if unknown."""
    if not data:
        return None
    try:
        ext = puremagic.from_string(data[:8192])
    except Exception:  # puremagic raises PureError and, on odd input, others
        return None
    return str(ext) or None


def _ole_streams(data: bytes) -> set[str] | None:
    """Lower-case stream paths of an OLE compound file, or None if it does not parse."""
    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            return {"/".join(entry).lower() for entry in ole.listdir()}
    except Exception:  # olefile raises many types on hostile input; all mean "not readable"
        return None


def _ole_source(streams: set[str]) -> Literal["doc", "xls"] | None:
    if "worddocument" in streams:
        return "doc"
    if "workbook" in streams or "book" in streams:
        return "xls"
    return None


def _zip_kind(data: bytes) -> str | None:
    """Kind of a zip from its member names; [Content_Types].xml decides when names do not."""
    try:
        count, cd_size = _directory_totals(data)
        if count > 100_000 or cd_size > 100_000 * _MAX_CD_BYTES_PER_MEMBER:
            return None
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = [n.lower() for n in zf.namelist()]
            types = ""
            if "[content_types].xml" in names and not any(
                n.startswith(("word/", "xl/")) for n in names
            ):
                with zf.open("[Content_Types].xml") as fh:
                    types = fh.read(_CHUNK).replace(b"\x00", b"").decode("latin-1").lower()
    except Exception:  # zipfile/zlib raise many types on hostile input
        return None
    macro = any(n.endswith("vbaproject.bin") for n in names) or "macroenabled.main" in types
    if "xl/workbook.bin" in names or "sheet.binary.macroenabled.main" in types:
        return "xlsb"
    if any(n.startswith("word/") for n in names) or "wordprocessingml.document.main" in types:
        return "docm" if macro else "docx"
    if any(n.startswith("xl/") for n in names) or "spreadsheetml.sheet.main" in types:
        return "xlsm" if macro else "xlsx"
    return None


# --------------------------------------------------------------------------- entry point


def check_office_file(
    data: bytes,
    filename: str,
    content_type: str = "",
    *,
    limits: SafetyLimits = SafetyLimits(),  # frozen, so sharing the default is safe
    converter: LegacyConverter | None = None,
) -> CheckedOffice:
    """Return a package a reader may open, or raise :class:`FileRefused` saying why not."""
    if len(data) > limits.max_file_bytes:
        raise FileRefused(
            Refusal.TOO_LARGE, f"{len(data)} bytes, limit is {limits.max_file_bytes} bytes"
        )
    if not data:
        raise FileRefused(Refusal.CORRUPT, "the file is empty (0 bytes)")
    if data.startswith(_OLE_MAGIC):
        return _check_ole(data, limits, converter)
    if data.startswith((_ZIP_MAGIC, _EMPTY_ZIP_MAGIC)):
        kind = _zip_kind(data)
        if kind == "xlsb":
            raise FileRefused(Refusal.UNSUPPORTED, "binary Excel workbook (.xlsb)")
        if kind is None and _claimed_kind(filename, content_type) not in _OOXML_KINDS:
            raise FileRefused(Refusal.UNSUPPORTED, "a zip archive that is not a Word or Excel file")
        return _check_package(data, limits)
    other = _other_format(data)
    if other is not None:
        raise FileRefused(Refusal.UNSUPPORTED, f"content is {other.lstrip('.')}, not a form format")
    raise FileRefused(Refusal.CORRUPT, "neither a zip package nor an OLE file")


def _check_ole(
    data: bytes, limits: SafetyLimits, converter: LegacyConverter | None
) -> CheckedOffice:
    streams = _ole_streams(data)
    if streams is None:
        raise FileRefused(Refusal.CORRUPT, "OLE compound file that cannot be read")
    if "encryptedpackage" in streams or "encryptioninfo" in streams:
        raise FileRefused(
            Refusal.ENCRYPTED, "password-protected Office document (OLE-wrapped OOXML)"
        )
    source = _ole_source(streams)
    if source is None:
        raise FileRefused(
            Refusal.UNSUPPORTED, "OLE file that is neither a Word nor an Excel document"
        )
    if _ole_encrypted(data):
        raise FileRefused(Refusal.ENCRYPTED, f"password-protected .{source} document")
    if converter is None:
        raise FileRefused(Refusal.LEGACY_FORMAT, f".{source} file and no converter is configured")
    converted = converter.convert(data, source)
    expected = "docx" if source == "doc" else "xlsx"
    try:  # the converter's output passes the whole guard, size limit included
        checked = check_office_file(converted, f"converted.{expected}", limits=limits)
    except FileRefused as exc:
        raise FileRefused(exc.refusal, f"after converting .{source}: {exc.detail}") from exc
    if checked.fmt != expected:
        raise FileRefused(Refusal.LEGACY_FORMAT, f"converting .{source} did not give a .{expected}")
    had_macros = any(s.startswith(("macros/", "_vba_project_cur/")) for s in streams)
    return replace(
        checked, converted_from=source, macros_removed=checked.macros_removed or had_macros
    )


def _ole_encrypted(data: bytes) -> bool:
    """msoffcrypto's verdict; False when it cannot tell (LibreOffice then decides)."""
    try:
        return bool(msoffcrypto.OfficeFile(io.BytesIO(data)).is_encrypted())
    except Exception:  # msoffcrypto raises FileFormatError, AssertionError, struct.error…
        return False


def _check_package(data: bytes, limits: SafetyLimits) -> CheckedOffice:
    package = _inspect_package(data, limits)
    cleaned = _sanitize(package)
    if cleaned is None:
        return CheckedOffice(fmt=package.fmt, data=data, macros_removed=False)
    again = _inspect_package(cleaned, limits)  # our own rewrite goes through the guard too
    if again.macro_parts or again.macro_sheets or again.main_type != _PLAIN_MAIN[again.fmt]:
        raise FileRefused(Refusal.CORRUPT, "macro parts could not be removed cleanly")
    removed = bool(package.macro_parts or package.macro_sheets)
    return CheckedOffice(fmt=again.fmt, data=cleaned, macros_removed=removed)


# --------------------------------------------------------------------------- zip guard


class _Budget:
    """Uncompressed bytes still allowed for the whole attachment, nested archives included."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int, part: str) -> None:
        self.used += n
        if self.used > self.limit:
            raise FileRefused(
                Refusal.ZIP_BOMB,
                f"more than {self.limit} bytes uncompressed (reached at {part!r})",
            )


_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")


def _directory_totals(data: bytes) -> tuple[int, int]:
    """Member count and central-directory size, read before zipfile builds its index."""
    pos = data.rfind(_EMPTY_ZIP_MAGIC, max(0, len(data) - (_EOCD.size + 0xFFFF)))
    if pos < 0 or pos + _EOCD.size > len(data):
        raise FileRefused(Refusal.CORRUPT, "zip end record missing (truncated or not a zip)")
    _, disk, _, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(data, pos)
    if disk != 0:
        raise FileRefused(Refusal.CORRUPT, "multi-volume zip")
    if count == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):
        loc = pos - _ZIP64_LOCATOR.size
        if loc >= 0 and data[loc : loc + 4] == b"PK\x06\x07":
            offset = _ZIP64_LOCATOR.unpack_from(data, loc)[2]
            if (
                offset + _ZIP64_EOCD.size <= len(data)
                and data[offset : offset + 4] == b"PK\x06\x06"
            ):
                record = _ZIP64_EOCD.unpack_from(data, offset)
                count, cd_size = record[7], record[8]
    return count, cd_size


def _open_archive(
    data: bytes, limits: SafetyLimits, budget: _Budget, what: str
) -> list[zipfile.ZipInfo]:
    """Index a zip and check everything the central directory declares, before inflating."""
    count, cd_size = _directory_totals(data)
    if count > limits.max_members or cd_size > limits.max_members * _MAX_CD_BYTES_PER_MEMBER:
        raise FileRefused(
            Refusal.ZIP_BOMB, f"{what}: {count} members declared, limit {limits.max_members}"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except Exception as exc:  # BadZipFile, ValueError, struct.error, UnicodeDecodeError…
        raise FileRefused(Refusal.CORRUPT, f"{what}: not a readable zip ({exc})") from exc
    if not infos:
        raise FileRefused(Refusal.CORRUPT, f"{what}: empty zip")
    if len(infos) != count:
        raise FileRefused(Refusal.CORRUPT, f"{what}: zip directory counts disagree")
    if not data.startswith(_ZIP_MAGIC) or min(i.header_offset for i in infos) != 0:
        raise FileRefused(Refusal.CORRUPT, f"{what}: data before the first zip member")
    seen: set[str] = set()
    declared = 0
    for info in infos:
        _check_member_name(info.orig_filename, what)  # as stored: zipfile cuts at NUL
        if info.filename.lower() in seen:
            raise FileRefused(Refusal.CORRUPT, f"{what}: duplicate member {info.filename!r}")
        seen.add(info.filename.lower())
        if info.flag_bits & 0x1:
            raise FileRefused(
                Refusal.ENCRYPTED, f"{what}: zip member {info.filename!r} is encrypted"
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FileRefused(
                Refusal.CORRUPT, f"{what}: compression method {info.compress_type} not allowed"
            )
        if info.file_size > limits.ratio_floor_bytes and (
            info.file_size > limits.max_ratio * max(info.compress_size, 1)
        ):
            ratio = f"ratio {info.file_size / max(info.compress_size, 1):.0f}"
            if _suspect_refusal(data, info, limits.max_xml_scan_bytes) is Refusal.XML_BOMB:
                raise FileRefused(
                    Refusal.XML_BOMB, f"DOCTYPE/ENTITY declaration in {info.filename!r} ({ratio})"
                )
            raise FileRefused(
                Refusal.ZIP_BOMB,
                f"{what}: {info.filename!r} declares {ratio}, limit {limits.max_ratio:g}",
            )
        declared += info.file_size
    if budget.used + declared > budget.limit:
        raise FileRefused(
            Refusal.ZIP_BOMB,
            f"{what}: declares {declared} bytes uncompressed, limit {budget.limit}",
        )
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for info, following in zip(ordered, [*ordered[1:], None], strict=True):
        end = _data_offset(data, info) + info.compress_size
        if end > (following.header_offset if following else len(data)):
            raise FileRefused(
                Refusal.CORRUPT, f"{what}: member {info.filename!r} truncated or overlapping"
            )
    return infos


def _suspect_refusal(data: bytes, info: zipfile.ZipInfo, window: int) -> Refusal:
    """A member over the ratio limit is often an entity bomb: say so when its head shows one."""
    head = bytearray()
    try:
        for chunk in _inflate(data, info, _Budget(2**62)):
            head += chunk
            if len(head) >= window:
                break
    except FileRefused:
        return Refusal.ZIP_BOMB
    text = _decode_head(bytes(head[:window]), info.filename, strict=False)
    return Refusal.XML_BOMB if text and _MARKUP_BOMB.search(text) else Refusal.ZIP_BOMB


def _check_member_name(name: str, what: str) -> None:
    segments = name.split("/")
    if segments and segments[-1] == "":
        segments = segments[:-1]  # directory entry
    bad = (
        not segments
        or "\\" in name
        or "\x00" in name
        or name.startswith("/")
        or re.match(r"^[A-Za-z]:", name) is not None
        or any(s in ("", ".", "..") for s in segments)
    )
    if bad:
        raise FileRefused(Refusal.CORRUPT, f"{what}: unsafe member name {name!r}")


def _data_offset(data: bytes, info: zipfile.ZipInfo) -> int:
    start = info.header_offset
    if start + _LOCAL_HEADER.size > len(data):
        raise FileRefused(Refusal.CORRUPT, f"member {info.filename!r} truncated")
    header = _LOCAL_HEADER.unpack_from(data, start)
    if header[0] != _ZIP_MAGIC:
        raise FileRefused(Refusal.CORRUPT, f"bad local header for {info.filename!r}")
    name_len, extra_len = header[10], header[11]
    raw_name = data[start + _LOCAL_HEADER.size : start + _LOCAL_HEADER.size + name_len]
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    if raw_name != info.orig_filename.encode(encoding, errors="surrogateescape"):
        raise FileRefused(Refusal.CORRUPT, f"local and central names differ for {info.filename!r}")
    return int(start + _LOCAL_HEADER.size + name_len + extra_len)


def _inflate(data: bytes, info: zipfile.ZipInfo, budget: _Budget) -> Iterator[bytes]:
    """Yield a member's bytes in bounded chunks, enforcing its declared size, CRC and budget."""
    start = _data_offset(data, info)
    raw = memoryview(data)[start : start + info.compress_size]
    if len(raw) != info.compress_size:
        raise FileRefused(Refusal.CORRUPT, f"member {info.filename!r} truncated")
    produced = 0
    crc = 0

    def account(chunk: bytes) -> None:
        nonlocal produced, crc
        produced += len(chunk)
        if produced > info.file_size:
            raise FileRefused(
                Refusal.ZIP_BOMB,
                f"{info.filename!r} inflates past its declared {info.file_size} bytes",
            )
        budget.take(len(chunk), info.filename)
        crc = zlib.crc32(chunk, crc)

    if info.compress_type == zipfile.ZIP_STORED:
        for pos in range(0, len(raw), _CHUNK):
            chunk = bytes(raw[pos : pos + _CHUNK])
            account(chunk)
            yield chunk
    else:
        inflater = zlib.decompressobj(-15)
        pos = 0
        try:
            while not inflater.eof:
                if inflater.unconsumed_tail:
                    piece: bytes | memoryview = inflater.unconsumed_tail
                else:
                    piece = raw[pos : pos + _CHUNK]
                    pos += len(piece)
                    if not piece:
                        raise FileRefused(Refusal.CORRUPT, f"member {info.filename!r} truncated")
                chunk = inflater.decompress(piece, _CHUNK)
                if chunk:
                    account(chunk)
                    yield chunk
        except zlib.error as exc:
            raise FileRefused(Refusal.CORRUPT, f"member {info.filename!r}: {exc}") from exc
    if produced != info.file_size or (crc & 0xFFFFFFFF) != info.CRC:
        raise FileRefused(Refusal.CORRUPT, f"member {info.filename!r} fails its size/CRC check")


def _with_prefix(chunks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """Re-chunk so the first chunk holds at least ``size`` bytes (magic numbers are read there)."""
    pending = b""
    for chunk in chunks:
        if len(pending) + len(chunk) < size:
            pending += chunk
            continue
        yield pending + chunk
        yield from chunks
        return
    if pending:
        yield pending


def _check_embedded_zip(blob: bytes, name: str, limits: SafetyLimits, budget: _Budget) -> None:
    """An embedded package (e.g. the workbook behind a chart) is depth 1: no zip inside it."""
    infos = _open_archive(blob, limits, budget, f"embedded {name!r}")
    for info in infos:
        chunks = _with_prefix(_inflate(blob, info, budget), 4)
        for index, chunk in enumerate(chunks):
            if index == 0 and chunk.startswith(_ZIP_MAGIC):
                raise FileRefused(Refusal.ZIP_BOMB, f"zip nested more than one level in {name!r}")


# --------------------------------------------------------------------------- XML checks


class _XmlMode:
    SNIFF = 0  # not an XML part: only refuse DOCTYPE/ENTITY if its head looks like markup
    HEAD = 1  # XML read lazily by expat (xlsx sheets): prolog and head checked
    EXPAT = 2  # + whole part well-formed, no DTD
    LXML = 3  # + libxml2's depth and text limits (parts python-docx/openpyxl load with lxml)


def _decode_head(head: bytes, part: str, *, strict: bool) -> str | None:
    """The head as text for scanning, or None if it does not look like XML at all."""
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            if codec.startswith("utf-32") and strict:
                raise FileRefused(Refusal.CORRUPT, f"{part!r}: UTF-32 XML is not allowed in Office")
            return head[len(bom) :].decode(codec, errors="replace")
    stripped = head.lstrip(b" \t\r\n")
    if stripped[:2] == b"<\x00":
        return head.decode("utf-16-le", errors="replace")
    if stripped[:2] == b"\x00<":
        return head.decode("utf-16-be", errors="replace")
    if not stripped.startswith(b"<"):
        if strict:
            raise FileRefused(Refusal.CORRUPT, f"{part!r} is not XML")
        return None
    text = head.decode("latin-1")
    declared = _ENCODING_DECL.match(text.lstrip())
    if strict and declared and declared.group(1).lower() not in _ALLOWED_XML_ENCODINGS:
        raise FileRefused(
            Refusal.CORRUPT,
            f"{part!r} declares encoding {declared.group(1)!r}; Office XML is UTF-8 or UTF-16",
        )
    return text


def _check_head(head: bytes, part: str, mode: int, complete: bool, window: int) -> None:
    """Refuse DOCTYPE/ENTITY in the head; for XML parts also require the root within it."""
    text = _decode_head(head, part, strict=mode != _XmlMode.SNIFF)
    if text is None:
        return
    if _MARKUP_BOMB.search(text):
        raise FileRefused(Refusal.XML_BOMB, f"DOCTYPE/ENTITY declaration in {part!r}")
    if mode == _XmlMode.SNIFF:
        return
    pos = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            break
        if text.startswith(("<?", "<!--"), pos):
            terminator = "?>" if text[pos + 1] == "?" else "-->"
            end = text.find(terminator, pos + 2)
            if end < 0:
                pos = len(text)
                break
            pos = end + len(terminator)
            continue
        if text.startswith("<", pos) and not text.startswith("<!", pos):
            return  # the root element starts inside the window: no DOCTYPE can follow
        raise FileRefused(Refusal.CORRUPT, f"{part!r}: unexpected content before the root element")
    if not complete:
        raise FileRefused(Refusal.XML_BOMB, f"{part!r}: XML prolog longer than {window} bytes")
    raise FileRefused(Refusal.CORRUPT, f"{part!r}: no XML root element")


class _XmlChecker:
    """Streaming well-formedness check with defusedxml's rules, at expat's C speed.

    defusedxml's parsers hook every token into Python, several times slower on big parts;
    here only the DTD hooks (which refuse) and, where libxml2 will parse the part later,
    element and text hooks for its limits are set.
    """

    def __init__(
        self,
        part: str,
        track_limits: bool,
        track_text: bool,
        on_start: Callable[[str, list[str]], bool] | None,
    ) -> None:
        self.part = part
        self.depth = 0
        self.text = 0
        self.on_start = on_start
        self.parser = expat.ParserCreate(namespace_separator=" ")
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartDoctypeDeclHandler = self._forbidden
        self.parser.EntityDeclHandler = self._forbidden
        self.parser.UnparsedEntityDeclHandler = self._forbidden
        self.parser.ExternalEntityRefHandler = self._forbidden
        if track_limits or on_start is not None:
            self.parser.buffer_text = True
            self.parser.ordered_attributes = True
            self.parser.StartElementHandler = self._start
            self.parser.EndElementHandler = self._end
            if track_text:  # a text node over the limit needs a part over the limit
                self.parser.CharacterDataHandler = self._data

    def _forbidden(self, *_: object) -> NoReturn:
        raise FileRefused(Refusal.XML_BOMB, f"DOCTYPE/ENTITY declaration in {self.part!r}")

    def _start(self, name: str, attrs: list[str]) -> None:
        self.depth += 1
        self.text = 0
        if self.depth > _LXML_MAX_DEPTH:
            raise FileRefused(Refusal.CORRUPT, f"{self.part!r} nests deeper than {_LXML_MAX_DEPTH}")
        if any(len(value) > _LXML_MAX_TEXT for value in attrs[1::2]):
            raise FileRefused(Refusal.CORRUPT, f"{self.part!r} has an attribute over 10 MB")
        if self.on_start is not None and not self.on_start(name, attrs):
            self.on_start = None

    def _end(self, _name: str) -> None:
        self.depth -= 1
        self.text = 0

    def _data(self, data: str) -> None:
        self.text += len(data)
        if self.text > _LXML_MAX_TEXT:
            raise FileRefused(Refusal.CORRUPT, f"{self.part!r} has a text node over 10 MB")

    def feed(self, chunk: bytes, final: bool = False) -> None:
        try:
            self.parser.Parse(chunk, final)
        except (expat.ExpatError, ValueError) as exc:  # ValueError: unsupported encoding
            raise FileRefused(
                Refusal.CORRUPT, f"{self.part!r} is not well-formed XML ({exc})"
            ) from exc


# --------------------------------------------------------------------------- OPC structure


@dataclass(frozen=True)
class _Rel:
    rid: str
    rtype: str
    target: str
    mode: str | None

    @property
    def external(self) -> bool:
        return self.mode == "External"

    @property
    def short_type(self) -> str:
        return self.rtype.rsplit("/", 1)[-1]


@dataclass
class _Package:
    data: bytes
    infos: list[zipfile.ZipInfo]
    defaults: list[tuple[str, str]] = field(default_factory=list)
    overrides: list[tuple[str, str]] = field(default_factory=list)
    rels: dict[str, list[_Rel]] = field(default_factory=dict)  # .rels member → relationships
    fmt: OfficeFormat = "docx"
    main: str = ""  # member name of the main part
    main_type: str = ""
    root: str = ""
    sheet_rids: list[str] = field(default_factory=list)
    macro_parts: set[str] = field(default_factory=set)
    macro_sheets: set[str] = field(default_factory=set)
    by_part: dict[str, str] = field(default_factory=dict)  # lower-case "/part" → type
    by_extension: dict[str, str] = field(default_factory=dict)  # lower-case extension → type

    def content_type(self, member: str) -> str | None:
        """As OPC and python-docx resolve it: the Override, else the Default for the extension."""
        found = self.by_part.get("/" + member.lower())
        if found is None:
            found = self.by_extension.get(posixpath.splitext(member)[1][1:].lower())
        return found


def _rels_member(part: str) -> str:
    """Member name of the relationships of ``part`` ("" is the package itself)."""
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _resolve(source: str, target: str) -> str:
    """Member name a relationship of ``source`` points at, the way python-docx resolves it."""
    base = "/" + posixpath.dirname(source)
    return posixpath.normpath(posixpath.join(base, target)).lstrip("/")


def _parse_control(blob: bytes, part: str) -> Element:
    try:
        root: Element = SafeET.fromstring(blob, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise FileRefused(Refusal.XML_BOMB, f"DOCTYPE/ENTITY declaration in {part!r}") from exc
    except SafeET.ParseError as exc:
        raise FileRefused(Refusal.CORRUPT, f"{part!r} is not well-formed XML ({exc})") from exc
    return root


def _read_content_types(package: _Package, blob: bytes) -> None:
    root = _parse_control(blob, "[Content_Types].xml")
    if root.tag != f"{{{_CT_NS}}}Types":
        raise FileRefused(Refusal.CORRUPT, "[Content_Types].xml has the wrong root element")
    for item in root:
        key = {f"{{{_CT_NS}}}Default": "Extension", f"{{{_CT_NS}}}Override": "PartName"}.get(
            item.tag
        )
        if key is None:
            continue
        name, ctype = item.get(key), item.get("ContentType")
        if not name or not ctype:
            raise FileRefused(Refusal.CORRUPT, "[Content_Types].xml entry without name or type")
        entries, index = (
            (package.defaults, package.by_extension)
            if key == "Extension"
            else (package.overrides, package.by_part)
        )
        if name.lower() in index:  # readers disagree on which duplicate wins
            raise FileRefused(Refusal.CORRUPT, f"[Content_Types].xml lists {name!r} twice")
        entries.append((name, ctype))
        index[name.lower()] = ctype


def _read_rels(blob: bytes, part: str) -> list[_Rel]:
    root = _parse_control(blob, part)
    if root.tag != f"{{{_REL_NS}}}Relationships":
        raise FileRefused(Refusal.CORRUPT, f"{part!r} has the wrong root element")
    rels = []
    for item in root.iter(f"{{{_REL_NS}}}Relationship"):
        rid, rtype, target = item.get("Id"), item.get("Type"), item.get("Target")
        if not rid or not rtype or target is None:
            raise FileRefused(Refusal.CORRUPT, f"{part!r}: relationship without Id, Type or Target")
        rels.append(_Rel(rid, rtype, target, item.get("TargetMode")))
    return rels


def _find_main(package: _Package) -> None:
    """The officeDocument target: exactly one, present, of a Word/Excel main type."""
    package_rels = package.rels.get("_rels/.rels")
    if package_rels is None:
        raise FileRefused(Refusal.CORRUPT, "package relationships (_rels/.rels) missing")
    mains = [r for r in package_rels if r.short_type == "officeDocument" and not r.external]
    if any(r.rtype.startswith(_STRICT_PREFIX) for r in mains):
        raise FileRefused(Refusal.UNSUPPORTED, "Strict Open XML document (save as a normal file)")
    mains = [r for r in mains if r.rtype == _RT_OFFICE_DOCUMENT]
    if len(mains) != 1:
        raise FileRefused(
            Refusal.CORRUPT, f"{len(mains)} main documents in the package, expected 1"
        )
    package.main = _resolve("", mains[0].target)
    ctype = (package.content_type(package.main) or "").lower()
    if ctype in _OTHER_MAIN_TYPES:
        raise FileRefused(Refusal.UNSUPPORTED, f"{_OTHER_MAIN_TYPES[ctype]} main part")
    if ctype not in _MAIN_TYPES:
        raise FileRefused(Refusal.CORRUPT, f"main part {package.main!r} has content type {ctype!r}")
    package.fmt = _MAIN_TYPES[ctype]
    package.main_type = ctype
    declared_mains = [
        p for p, t in package.overrides if t.lower() in _MAIN_TYPES | _OTHER_MAIN_TYPES
    ]
    if len(declared_mains) > 1 or any(p.lstrip("/") != package.main for p in declared_mains):
        raise FileRefused(Refusal.CORRUPT, "content types declare a different or second main part")
    if package.fmt == "xlsx" and not declared_mains and package.main != "xl/workbook.xml":
        raise FileRefused(Refusal.CORRUPT, "workbook part has no content type override")


def _xml_mode(package: _Package, member: str) -> int:
    ctype = (package.content_type(member) or "").lower()
    if not (member.lower().endswith((".xml", ".rels")) or ctype.endswith("xml")):
        return _XmlMode.SNIFF
    if package.fmt == "xlsx" and ctype in _LAZY_XLSX_TYPES:
        return _XmlMode.HEAD
    if package.fmt == "xlsx" and ctype == _CT_SHARED_STRINGS:
        return _XmlMode.EXPAT  # openpyxl streams it with expat: no libxml2 limits apply
    return _XmlMode.LXML


def _inspect_package(data: bytes, limits: SafetyLimits) -> _Package:
    """Run the zip guard and XML checks over every member, then check the OPC structure."""
    budget = _Budget(limits.max_uncompressed_bytes)
    infos = _open_archive(data, limits, budget, "package")
    package = _Package(data=data, infos=infos)
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names:
        raise FileRefused(Refusal.CORRUPT, "[Content_Types].xml missing: not an Office package")

    def control_first(info: zipfile.ZipInfo) -> tuple[int, int]:
        name = info.filename
        rank = 0 if name == "[Content_Types].xml" else 1 if name.endswith(".rels") else 2
        return (rank, info.header_offset)

    control_bytes = 0
    structure_known = False
    for info in sorted(infos, key=control_first):
        name = info.filename
        control = name == "[Content_Types].xml" or name.endswith(".rels")
        if not control and not structure_known:
            _find_main(package)
            structure_known = True
        blob = _scan_member(package, info, limits, budget, keep=control)
        if control and blob is not None:
            control_bytes += len(blob)
            if control_bytes > _MAX_CONTROL_BYTES:
                raise FileRefused(Refusal.ZIP_BOMB, "relationship parts over 16 MB")
            if name == "[Content_Types].xml":
                _read_content_types(package, blob)
            else:
                package.rels[name] = _read_rels(blob, name)
    if not structure_known:
        _find_main(package)
    _check_structure(package, names)
    return package


def _scan_member(
    package: _Package, info: zipfile.ZipInfo, limits: SafetyLimits, budget: _Budget, *, keep: bool
) -> bytes | None:
    name = info.filename
    if name.endswith("/"):
        if info.file_size:
            raise FileRefused(Refusal.CORRUPT, f"directory entry {name!r} has content")
        return None
    mode = _XmlMode.LXML if keep else _xml_mode(package, name)
    on_start = None
    if name == package.main:
        on_start = _main_collector(package)
    checker = None
    if mode >= _XmlMode.EXPAT:
        big = info.file_size > _LXML_MAX_TEXT
        checker = _XmlChecker(name, mode == _XmlMode.LXML, big, on_start)
    kept = bytearray() if keep else None
    nested: bytearray | None = None
    window = limits.max_xml_scan_bytes
    head: bytearray | None = bytearray()  # held back until the head check has passed

    def accept(chunk: bytes) -> None:
        if checker is not None:
            checker.feed(chunk)
        if kept is not None:
            kept.extend(chunk)

    for index, chunk in enumerate(_with_prefix(_inflate(package.data, info, budget), 4)):
        if index == 0 and chunk.startswith(_ZIP_MAGIC):
            nested = bytearray()
        if nested is not None:
            nested += chunk
            if len(nested) > limits.max_file_bytes:
                raise FileRefused(
                    Refusal.ZIP_BOMB, f"embedded archive {name!r} over the size limit"
                )
        elif head is None:
            accept(chunk)
        else:
            head += chunk
            if len(head) >= window:
                _check_head(bytes(head[:window]), name, mode, complete=False, window=window)
                accept(bytes(head))
                head = None
    if nested is not None:
        if keep:
            raise FileRefused(Refusal.CORRUPT, f"{name!r} is a zip archive, not XML")
        _check_embedded_zip(bytes(nested), name, limits, budget)
        return None
    if head is not None:
        _check_head(bytes(head), name, mode, complete=True, window=window)
        accept(bytes(head))
    if checker is not None:
        checker.feed(b"", final=True)
    return bytes(kept) if kept is not None else None


def _main_collector(package: _Package) -> Callable[[str, list[str]], bool]:
    """Record the main part's root and, for a workbook, each sheet's relationship id."""
    sheet_tag = f"{_SML_NS} sheet"
    rid_attr = f"{_R_NS} id"

    def on_start(name: str, attrs: list[str]) -> bool:
        if not package.root:
            package.root = name
        elif name == sheet_tag:
            values = dict(zip(attrs[::2], attrs[1::2], strict=True))
            package.sheet_rids.append(values.get(rid_attr, ""))
        return package.fmt == "xlsx"  # keep listening only for workbook sheets

    return on_start


def _check_structure(package: _Package, names: set[str]) -> None:
    """What python-docx and openpyxl rely on when they open the package."""
    if package.main not in names:
        raise FileRefused(Refusal.CORRUPT, f"main part {package.main!r} missing")
    if package.root.startswith(_STRICT_PREFIX):
        raise FileRefused(Refusal.UNSUPPORTED, "Strict Open XML document (save as a normal file)")
    if package.root != _ROOTS[package.fmt]:
        raise FileRefused(Refusal.CORRUPT, f"main part {package.main!r} has root {package.root!r}")
    for part, declared in package.overrides:  # openpyxl opens shared strings by content type
        if declared.lower() == _CT_SHARED_STRINGS and part.lstrip("/") not in names:
            raise FileRefused(Refusal.CORRUPT, f"content types name a missing part {part!r}")
    main_rels = {r.rid for r in package.rels.get(_rels_member(package.main), [])}
    for rid in package.sheet_rids:
        if rid not in main_rels:
            raise FileRefused(
                Refusal.CORRUPT, f"workbook sheet refers to unknown relationship {rid!r}"
            )
    # Walk the relationship graph depth-first, as python-docx does (recursively).
    visited: set[str] = set()
    stack: list[Iterator[tuple[str, _Rel]]] = [iter([("", r) for r in package.rels["_rels/.rels"]])]
    while stack:
        step = next(stack[-1], None)
        if step is None:
            stack.pop()
            continue
        source, rel = step
        if rel.external:
            continue
        target = _resolve(source, rel.target)
        if target in visited:
            continue
        visited.add(target)
        if target not in names:
            raise FileRefused(
                Refusal.CORRUPT,
                f"relationship {rel.rid!r} of {source or 'the package'!r} "
                f"points to missing {target!r}",
            )
        ctype = package.content_type(target)
        if ctype is None:
            raise FileRefused(Refusal.CORRUPT, f"part {target!r} has no content type")
        if _is_macro(ctype, rel, target):
            package.macro_parts.add(target)
        elif ctype.lower() in _MACROSHEET_CTS or rel.short_type in _MACROSHEET_REL_NAMES:
            package.macro_sheets.add(target)
        if len(stack) >= _MAX_REL_DEPTH:
            raise FileRefused(Refusal.CORRUPT, f"relationships nest deeper than {_MAX_REL_DEPTH}")
        stack.append(iter([(target, r) for r in package.rels.get(_rels_member(target), [])]))
    for name in names:  # macro parts nobody points at are dropped too
        ctype = package.content_type(name)
        if ctype is not None and _is_macro(ctype, None, name):
            package.macro_parts.add(name)


def _is_macro(ctype: str, rel: _Rel | None, member: str) -> bool:
    return (
        ctype.lower().startswith(_MACRO_CT_PREFIXES)
        or (rel is not None and rel.short_type in _MACRO_REL_NAMES)
        or posixpath.basename(member).lower() == "vbaproject.bin"
    )


# --------------------------------------------------------------------------- macro removal


def _sanitize(package: _Package) -> bytes | None:
    """Plain .docx/.xlsx bytes without macro parts, or None when nothing needs changing."""
    plain_main = _PLAIN_MAIN[package.fmt]
    if not package.macro_parts and not package.macro_sheets and package.main_type == plain_main:
        return None
    gone = set(package.macro_parts)
    gone |= {_rels_member(p) for p in package.macro_parts | package.macro_sheets}
    replaced: dict[str, bytes] = {}

    defaults = [(e, t) for e, t in package.defaults if not t.lower().startswith(_MACRO_CT_PREFIXES)]
    overrides: list[tuple[str, str]] = []
    for part, ctype in package.overrides:
        member = part.lstrip("/")
        if member in gone:
            continue
        if member == package.main:
            ctype = plain_main
        elif member in package.macro_sheets:
            ctype = _CT_WORKSHEET
        overrides.append((part, ctype))
    if not any(p.lstrip("/") == package.main for p, _ in overrides):
        overrides.append(("/" + package.main, plain_main))
    replaced["[Content_Types].xml"] = _content_types_xml(defaults, overrides)

    for rels_name, rels in package.rels.items():
        if rels_name in gone:
            continue
        source = _rels_source(rels_name)
        kept: list[_Rel] = []
        for rel in rels:
            target = None if rel.external else _resolve(source, rel.target)
            if target in gone:
                continue
            if target in package.macro_sheets:
                rel = replace(rel, rtype=_RT_WORKSHEET)
            kept.append(rel)
        if kept != rels:
            replaced[rels_name] = _rels_xml(kept)
    for sheet in package.macro_sheets:
        replaced[sheet] = _EMPTY_WORKSHEET

    out = io.BytesIO()
    budget = _Budget(2**62)  # every member was checked already
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dest:
        for info in package.infos:
            if info.filename in gone or info.filename.endswith("/"):
                continue
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            if info.filename in replaced:
                dest.writestr(entry, replaced[info.filename])
                continue
            with dest.open(entry, "w") as sink:
                for chunk in _inflate(package.data, info, budget):
                    sink.write(chunk)
    return out.getvalue()


def _rels_source(rels_name: str) -> str:
    folder, name = posixpath.split(rels_name)
    return posixpath.join(posixpath.dirname(folder), name.removesuffix(".rels"))


def _attr(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


def _content_types_xml(defaults: list[tuple[str, str]], overrides: list[tuple[str, str]]) -> bytes:
    items = [f'<Default Extension="{_attr(e)}" ContentType="{_attr(t)}"/>' for e, t in defaults]
    items += [f'<Override PartName="{_attr(p)}" ContentType="{_attr(t)}"/>' for p, t in overrides]
    return _xml_document("Types", _CT_NS, items)


def _rels_xml(rels: list[_Rel]) -> bytes:
    items = []
    for rel in rels:
        mode = f' TargetMode="{_attr(rel.mode)}"' if rel.mode else ""
        items.append(
            f'<Relationship Id="{_attr(rel.rid)}" Type="{_attr(rel.rtype)}" '
            f'Target="{_attr(rel.target)}"{mode}/>'
        )
    return _xml_document("Relationships", _REL_NS, items)


def _xml_document(root: str, namespace: str, items: list[str]) -> bytes:
    body = "".join(items)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<{root} xmlns="{namespace}">{body}</{root}>'
    ).encode()
