"""Hostile Office packages built in memory: zip bombs, entity bombs, XXE, traversal names.

Why build them here instead of storing files: the dangerous ones are tiny to describe and
small to build (a gigabyte of zeros deflates to about a megabyte, and it is built by
repeating one compressed block, never by holding the gigabyte), and the zip writer can lie
about sizes -- which ``zipfile`` will not do -- to test the guard against a lying header.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from fuzz.corpus import BLANK_FORMS

MiB = 1024 * 1024
GiB = 1024 * MiB

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    b'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    b'<Default Extension="bin" ContentType="application/octet-stream"/>'
    b'<Default Extension="zip" ContentType="application/zip"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.wordprocessingml.document.main+xml"/></Types>'
)
PACKAGE_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
DOCUMENT_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="'
    + W_NS.encode()
    + b'"><w:body><w:p><w:r><w:t>'
)
DOCUMENT_TAIL = b"</w:t></w:r></w:p></w:body></w:document>"


@dataclass(frozen=True)
class Member:
    """One zip member as written: *payload* is already compressed when *method* is 8.

    ``declared_size`` is what the headers claim the member inflates to; it may lie.
    """

    name: bytes
    payload: bytes
    crc: int
    size: int
    method: int = zipfile.ZIP_DEFLATED
    declared_size: int | None = None


def deflated(name: str | bytes, content: bytes) -> Member:
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = co.compress(content) + co.flush()
    raw = name.encode() if isinstance(name, str) else name
    return Member(raw, payload, zlib.crc32(content), len(content))


def stored(name: str | bytes, content: bytes) -> Member:
    raw = name.encode() if isinstance(name, str) else name
    return Member(raw, content, zlib.crc32(content), len(content), zipfile.ZIP_STORED)


def deflated_run(
    name: str,
    head: bytes,
    unit: bytes,
    total: int,
    tail: bytes = b"",
    declared_size: int | None = None,
) -> Member:
    """A member of *head*, then *unit* repeated to *total* bytes, then *tail* -- compressed
    by repeating one fully flushed block, so a gigabyte costs a megabyte and no more."""
    block = unit * max(1, MiB // len(unit))
    repeats, rest = divmod(total, len(block))
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = co.compress(head) + co.flush(zlib.Z_FULL_FLUSH)
    compressed_block = co.compress(block) + co.flush(zlib.Z_FULL_FLUSH)
    again = co.compress(block) + co.flush(zlib.Z_FULL_FLUSH)
    assert again == compressed_block  # a full flush makes the block's output repeatable
    last = co.compress(block[:rest] + tail) + co.flush()
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(block[:rest] + tail, crc)
    payload = first + compressed_block * repeats + last
    size = len(head) + total + len(tail)
    return Member(name.encode(), payload, crc, size, declared_size=declared_size)


_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")


def raw_zip(members: Sequence[Member], *, declared_count: int | None = None) -> bytes:
    """A zip written by hand, so names, sizes and counts can be exactly as hostile as given."""
    out = io.BytesIO()
    directory = io.BytesIO()
    for member in members:
        offset = out.tell()
        size = member.size if member.declared_size is None else member.declared_size
        size &= 0xFFFFFFFF
        fields = (20, 0, member.method, 0, 0x21, member.crc, len(member.payload), size)
        out.write(_LOCAL.pack(0x04034B50, *fields, len(member.name), 0))
        out.write(member.name)
        out.write(member.payload)
        directory.write(
            _CENTRAL.pack(0x02014B50, 20, *fields, len(member.name), 0, 0, 0, 0, 0, offset)
        )
        directory.write(member.name)
    start = out.tell()
    central = directory.getvalue()
    out.write(central)
    count = len(members) if declared_count is None else declared_count
    count = min(count, 0xFFFF)
    out.write(_END.pack(0x06054B50, 0, 0, count, count, len(central), start, 0))
    return out.getvalue()


def docx_with(*extra: Member, document: Member | None = None) -> bytes:
    """A minimal valid .docx, with *document* instead of the normal body and *extra* members."""
    body = document or deflated("word/document.xml", DOCUMENT_HEAD + b"text" + DOCUMENT_TAIL)
    return raw_zip(
        [deflated("[Content_Types].xml", CONTENT_TYPES), deflated("_rels/.rels", PACKAGE_RELS),
         body, *extra]
    )  # fmt: skip


# --- zip bombs -----------------------------------------------------------------------------


def gigabyte_of_zeros(*, declared_small: bool) -> bytes:
    """A .docx whose embedded binary inflates to 1 GiB of zeros (declared as 1 KiB, or
    honestly)."""
    bomb = deflated_run(
        "word/embeddings/oleObject1.bin", b"", b"\x00", GiB,
        declared_size=1024 if declared_small else None,
    )  # fmt: skip
    return docx_with(bomb)


def gigabyte_document(*, declared_small: bool) -> bytes:
    """A .docx whose document.xml is well-formed XML with 1 GiB of spaces in one text run."""
    bomb = deflated_run(
        "word/document.xml", DOCUMENT_HEAD, b" ", GiB, DOCUMENT_TAIL,
        declared_size=4096 if declared_small else None,
    )  # fmt: skip
    return docx_with(document=bomb)


def many_members(count: int = 20_000, *, declared_count: int | None = None) -> bytes:
    """A .docx with *count* empty extra members (the central directory alone is megabytes)."""
    extra = [stored(f"customXml/item{i}.xml", b"") for i in range(count)]
    base = [
        deflated("[Content_Types].xml", CONTENT_TYPES),
        deflated("_rels/.rels", PACKAGE_RELS),
        deflated("word/document.xml", DOCUMENT_HEAD + b"x" + DOCUMENT_TAIL),
    ]
    return raw_zip([*base, *extra], declared_count=declared_count)


def nested_zip(levels: int, *, fan_out: int = 1, leaf_bytes: int = 100 * MiB) -> bytes:
    """A .docx embedding a zip of zips, *levels* deep, each zip holding *fan_out* copies of
    the level below; the innermost holds *fan_out* members of *leaf_bytes* zeros
    (``levels=2, fan_out=10``: 10 × 10 × 100 MiB = 10 GiB in about 10 MB -- "42.zip")."""
    leaf = deflated_run("zeros.bin", b"", b"\x00", leaf_bytes)
    inner = raw_zip([dataclasses.replace(leaf, name=b"zeros%d.bin" % i) for i in range(fan_out)])
    for level in range(levels - 1):
        inner = raw_zip([stored(f"l{level}-{i}.zip", inner) for i in range(fan_out)])
    return docx_with(stored("word/embeddings/package.zip", inner))


# --- XML bombs and XXE ---------------------------------------------------------------------


def billion_laughs(root: str, inner: str, *, levels: int = 9) -> str:
    """The classic entity bomb: 10**levels copies of "lol" from a few hundred bytes."""
    entities = ['<!ENTITY lol0 "lol">']
    for i in range(1, levels + 1):
        entities.append(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">')
    return f'<?xml version="1.0"?>\n<!DOCTYPE {root} [{"".join(entities)}]>\n' + inner.replace(
        "@BOMB@", f"&lol{levels};"
    )


_DOCUMENT_INNER = f'<w:document xmlns:w="{W_NS}"><w:body><w:p><w:r><w:t>@BOMB@</w:t></w:r></w:p></w:body></w:document>'  # noqa: E501
_SHARED_INNER = f'<sst xmlns="{S_NS}" count="1" uniqueCount="1"><si><t>@BOMB@</t></si></sst>'
_TYPES_INNER = CONTENT_TYPES.decode().split("\n", 1)[1].replace("</Types>", "@BOMB@</Types>")
_RELS_INNER = (
    PACKAGE_RELS.decode().split("\n", 1)[1].replace("</Relationships>", "@BOMB@</Relationships>")
)


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-8":
        return text.encode()
    declared = text.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>')
    bom = {"utf-16": b"", "utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}[encoding]
    codec = "utf-16" if encoding == "utf-16" else encoding
    return bom + declared.encode(codec)


def _blank(name: str) -> bytes | None:
    path = BLANK_FORMS / name
    return path.read_bytes() if path.is_file() else None


def with_members(base: bytes, changes: dict[str, bytes]) -> bytes:
    """*base* (a valid package) with some members replaced or added."""
    members: list[Member] = []
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        for info in zf.infolist():
            content = changes.pop(info.filename, None)
            members.append(deflated(info.filename, zf.read(info) if content is None else content))
    members += [deflated(name, content) for name, content in changes.items()]
    return raw_zip(members)


def blank_xlsx() -> bytes:
    """Our own blank .xlsx form (or a minimal workbook if forms/blank is absent)."""
    found = _blank("account.xlsx")
    if found is not None:
        return found
    out = io.BytesIO()
    import openpyxl

    openpyxl.Workbook().save(out)
    return out.getvalue()


def blank_docx() -> bytes:
    found = _blank("account.docx")
    return found if found is not None else docx_with()


def _shared_strings_member(base: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        names = zf.namelist()
    return next(
        (n for n in names if n.lower().endswith("sharedstrings.xml")), "xl/sharedStrings.xml"
    )


def entity_bombs() -> dict[str, tuple[str, bytes]]:
    """Billion laughs in every place a reader parses XML, UTF-8 and UTF-16:
    ``{case: (file name, package bytes)}``."""
    docx, xlsx = blank_docx(), blank_xlsx()
    shared = _shared_strings_member(xlsx)
    cases: dict[str, tuple[str, bytes]] = {}
    for encoding in ("utf-8", "utf-16", "utf-16-le", "utf-16-be"):
        document = _encode(billion_laughs("w:document", _DOCUMENT_INNER), encoding)
        strings = _encode(billion_laughs("sst", _SHARED_INNER), encoding)
        types = _encode(billion_laughs("Types", _TYPES_INNER), encoding)
        rels = _encode(billion_laughs("Relationships", _RELS_INNER), encoding)
        cases[f"document.xml {encoding}"] = (
            "bomb.docx", with_members(docx, {"word/document.xml": document}),
        )  # fmt: skip
        cases[f"sharedStrings.xml {encoding}"] = (
            "bomb.xlsx",
            with_members(xlsx, {shared: strings}),
        )
        cases[f"[Content_Types].xml docx {encoding}"] = (
            "bomb.docx", with_members(docx, {"[Content_Types].xml": types}),
        )  # fmt: skip
        cases[f"[Content_Types].xml xlsx {encoding}"] = (
            "bomb.xlsx", with_members(xlsx, {"[Content_Types].xml": types}),
        )  # fmt: skip
        cases[f"_rels/.rels {encoding}"] = ("bomb.docx", with_members(docx, {"_rels/.rels": rels}))
    sheet = billion_laughs("worksheet", f'<worksheet xmlns="{S_NS}"><sheetData/>@BOMB@</worksheet>')
    cases["worksheet utf-8"] = (
        "bomb.xlsx",
        with_members(xlsx, {"xl/worksheets/sheet1.xml": sheet.encode()}),
    )
    quadratic = (
        '<?xml version="1.0"?>\n<!DOCTYPE w:document [<!ENTITY a "'
        + "a" * 50_000
        + '">]>\n'
        + _DOCUMENT_INNER.replace("@BOMB@", "&a;" * 50_000)
    )
    cases["quadratic blowup"] = (
        "bomb.docx",
        with_members(docx, {"word/document.xml": quadratic.encode()}),
    )
    return cases


def xxe_cases(
    file_url: str = "file:///etc/passwd", http_url: str = "http://127.0.0.1:9/evil"
) -> dict[str, tuple[str, bytes]]:
    """External entities, external DTDs, XInclude and external relationship targets that
    point at *file_url* (a file whose content must never show up in a reading) and
    *http_url* (a server that must never be contacted)."""
    xxe_file = f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "{file_url}">]>'
    xxe_parameter = f'<!DOCTYPE x [<!ENTITY % p SYSTEM "{http_url}.dtd"> %p;]>'
    xxe_public = f'<!DOCTYPE x PUBLIC "-//evil//x" "{http_url}.dtd">'
    xxe_http = f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "{http_url}.txt">]>'
    docx, xlsx = blank_docx(), blank_xlsx()
    shared = _shared_strings_member(xlsx)
    in_document = _DOCUMENT_INNER.replace("@BOMB@", "&xxe;")
    in_strings = _SHARED_INNER.replace("@BOMB@", "&xxe;")
    xinclude = _DOCUMENT_INNER.replace(
        "@BOMB@",
        '</w:t><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
        f'href="{file_url}" parse="text"/><w:t>',
    )
    external_rel = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'relationships/image" Target="{file_url}" TargetMode="External"/>'
        '<Relationship Id="rId98" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'relationships/attachedTemplate" Target="{http_url}.dotm" '
        'TargetMode="External"/></Relationships>'
    ).encode()
    head = '<?xml version="1.0"?>\n'

    def document(xml: str) -> bytes:
        return with_members(docx, {"word/document.xml": (head + xml).encode()})

    return {
        "file entity in document.xml": ("xxe.docx", document(xxe_file + in_document)),
        "http entity in document.xml": ("xxe.docx", document(xxe_http + in_document)),
        "file entity in sharedStrings.xml": (
            "xxe.xlsx",
            with_members(xlsx, {shared: (head + xxe_file + in_strings).encode()}),
        ),
        "parameter entity over http": ("xxe.docx", document(xxe_parameter + in_document)),
        "public external DTD": (
            "xxe.docx",
            document(xxe_public + _DOCUMENT_INNER.replace("@BOMB@", "x")),
        ),
        "XInclude of a local file": ("xxe.docx", document(xinclude)),
        "external relationship targets": (
            "xxe.docx",
            with_members(docx, {"word/_rels/document.xml.rels": external_rel}),
        ),
    }


TRAVERSAL_NAMES: tuple[bytes, ...] = (
    b"../../evil.xml",
    b"../../../../../../tmp/evil.xml",
    b"/tmp/evil.xml",
    b"word/../../evil.xml",
    b"C:\\evil.xml",
    b"word\\..\\..\\evil.xml",
    b"\\\\server\\share\\evil.xml",
    b"word/a\x00b.xml",
    b"word/./document.xml",
    b"word//document.xml",
    b"WORD/DOCUMENT.XML",
)


def traversal_packages() -> dict[str, bytes]:
    """The blank .docx plus one member with a hostile name (and one replacing document.xml)."""
    base = blank_docx()
    cases: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        members = [deflated(i.filename, zf.read(i)) for i in zf.infolist()]
    for name in TRAVERSAL_NAMES:
        evil = deflated(name, DOCUMENT_HEAD + b"evil" + DOCUMENT_TAIL)
        cases[f"extra {name!r}"] = raw_zip([*members, evil])
        renamed = [evil if m.name == b"word/document.xml" else m for m in members]
        cases[f"document as {name!r}"] = raw_zip(renamed)
    return cases
