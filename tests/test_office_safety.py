"""The office guard over the whole corpus and over hostile packages built here.

Every office-like corpus file either comes back as a CheckedOffice that python-docx/openpyxl
open, or is refused with a stated reason; nothing else may escape, and nothing may hang.
Hostile packages (bombs, DTDs in odd places, traversal names…) are built in the tests by
streaming, so the tests themselves stay small.
"""

from __future__ import annotations

import io
import os
import pickle
import stat
import struct
import subprocess
import sys
import textwrap
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import docx
import openpyxl
import pytest

from mailflow.documents.legacy import LegacyConverter
from mailflow.documents.safety import (
    CheckedOffice,
    FileRefused,
    Refusal,
    SafetyLimits,
    check_office_file,
    office_kind,
)
from tests.paths import CORPUS, REPO

OFFICE_SUFFIXES = {".doc", ".docx", ".docm", ".xls", ".xlsx", ".xlsm", ".xlsb", ".ooxml", ".msg"}
SWEEP_DIRS = [
    "poi/document",
    "poi/spreadsheet",
    "poi/poifs",
    "poi/openxml4j",
    "poi/hsmf",
    "excelize/test",
    "msoffcrypto-tool/inputs",
    "msoffcrypto-tool/outputs",
    "python-docx",
]


def _corpus_files() -> list[str]:
    found = {
        str(path.relative_to(CORPUS))
        for folder in SWEEP_DIRS
        for path in (CORPUS / folder).rglob("*")
        if path.is_file()
    }
    # and any other office file anywhere in the corpus
    found |= {
        str(path.relative_to(CORPUS))
        for path in CORPUS.rglob("*")
        if path.is_file() and path.suffix.lower() in OFFICE_SUFFIXES - {".msg"}
    }
    return sorted(found)


CORPUS_FILES = _corpus_files()

# MANIFEST.md, "Encrypted and protected office files"
ENCRYPTED = [
    "excelize/test/encryptSHA1.xlsx",
    "excelize/test/encryptSHA512.xlsx",
    "excelize/test/encryptAES.xlsx",
    "msoffcrypto-tool/inputs/example_password.docx",
    "msoffcrypto-tool/inputs/example_password.xlsx",
    "msoffcrypto-tool/inputs/ecma376standard_password.docx",
    "msoffcrypto-tool/inputs/rc4cryptoapi_password.doc",
    "msoffcrypto-tool/inputs/rc4cryptoapi_password.xls",
    "msoffcrypto-tool/inputs/xor_password_123456789012345.xls",
    "poi/document/bug53475-password-is-pass.docx",
    "poi/document/bug53475-password-is-solrcell.docx",
    "poi/document/password_password_cryptoapi.doc",
    "poi/document/password_tika_binaryrc4.doc",
    "poi/document/PasswordProtected.doc",
    "poi/poifs/protect.xlsx",
    "poi/poifs/protected_agile.docx",
    "poi/poifs/extenxls_pwd123.xlsx",
    "poi/poifs/60320-protected.xlsx",
    "poi/poifs/protected_sha512.xlsx",
    "poi/spreadsheet/password.xls",
    "poi/spreadsheet/xor-encryption-abc.xls",
    "poi/spreadsheet/protected_passtika.xlsx",
    "poi/spreadsheet/protected_passtika.xlsb",
    "poi/spreadsheet/58616.xlsx",
    "poi/spreadsheet/crash-9bf3cd4bd6f50a8a9339d363c2c7af14b536865c.xlsx",
]
XML_BOMBS = [
    "poi/spreadsheet/poc-xmlbomb.xlsx",
    "poi/spreadsheet/poc-xmlbomb-empty.xlsx",
    "poi/spreadsheet/54764.xlsx",
    "poi/spreadsheet/54764-2.xlsx",
    "poi/document/ExternalEntityInText.docx",
    "poi/openxml4j/ContentTypeHasEntities.ooxml",
    "poi/openxml4j/PackageRelsHasEntities.ooxml",
]
CORRUPT = [
    "poi/document/truncated62886.docx",
    "poi/spreadsheet/xlsx-corrupted.xlsx",  # _rels/.rels is the text "CORRUPTED"
    "poi/openxml4j/invalid.xlsx",  # 22-byte empty zip
    "poi/openxml4j/OPCCompliance_DerivedPartNameFAIL.docx",  # python-docx: KeyError
    "excelize/test/CalcChain.xlsx",  # shared strings named in another case: openpyxl KeyError
    "poi/document/clusterfuzz-testcase-minimized-POIXWPFFuzzer-6733884933668864.docx",  # bad CRC
    "poi/spreadsheet/clusterfuzz-testcase-minimized-POIFuzzer-5040805309710336.xlsx",  # prefix
    "poi/document/crash-517626e815e0afa9decd0ebb6d1dee63fb9907dd.docx",
]
UNSUPPORTED = [
    "poi/spreadsheet/Simple.xlsb",
    "poi/spreadsheet/SimpleStrict.xlsx",  # openpyxl opens it but finds no sheets
    "poi/spreadsheet/SampleSS.strict.xlsx",
    "poi/hsmf/chinese-traditional.msg",
]
MACROS = [
    "poi/document/SimpleMacro.docm",
    "poi/document/60158.docm",
    "poi/spreadsheet/SimpleMacro.xlsm",
    "poi/spreadsheet/45431.xlsm",
]
# Read normally: protected but not encrypted (MANIFEST), plus notable edge cases.
ACCEPTED = [
    "poi/document/EnforcedWith.docx",
    "poi/document/protected_sample.docx",
    "poi/document/documentProtection_forms_no_password.docx",
    "poi/document/documentProtection_readonly_no_password.docx",
    "poi/spreadsheet/sheetProtection_allLocked.xlsx",
    "poi/spreadsheet/workbookProtection_worksheet_protected.xlsx",
    "poi/spreadsheet/workbookProtection-workbook_password-2013.xlsx",
    # POI reads it (testZeroLengthLibreOfficeDocumentWithWaterMarkHeader): "zero-length"
    # means no text, not zero bytes. A real zero-byte file is test_zero_byte_file_is_corrupt.
    "poi/document/zero-length.docx",
    "poi/document/bug65649.docx",  # ratio 32, 15 MB inflated: within limits
    "poi/spreadsheet/poc-shared-strings.xlsx",
    "poi/document/WordWithAttachments.docx",  # embedded .xlsx = nesting depth 1, allowed
    "poi/spreadsheet/xxe_in_schema.xlsx",  # schemaLocation in an XML map, no DTD: nothing fetched
    "python-docx/features/steps/test_files/sty-having-no-styles-part.docx",
]
EXPECTED: dict[str, Refusal | str] = {
    **dict.fromkeys(ENCRYPTED, Refusal.ENCRYPTED),
    **dict.fromkeys(XML_BOMBS, Refusal.XML_BOMB),
    **dict.fromkeys(CORRUPT, Refusal.CORRUPT),
    **dict.fromkeys(UNSUPPORTED, Refusal.UNSUPPORTED),
    **dict.fromkeys(MACROS, "accepted"),
    **dict.fromkeys(ACCEPTED, "accepted"),
}


@pytest.fixture(scope="module")
def converter() -> LegacyConverter:
    found = LegacyConverter.find()
    assert found is not None, (
        "LibreOffice is missing: install libreoffice-writer-nogui and libreoffice-calc-nogui"
    )
    return found


def _open_with_reader(checked: CheckedOffice) -> None:
    """What the form readers do first; must not raise on anything the guard let through."""
    if checked.fmt == "docx":
        document = docx.Document(io.BytesIO(checked.data))
        for table in document.tables:
            for row in table.rows:
                _ = [cell.text for cell in row.cells]
        _ = [p.text for p in document.paragraphs]
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about unknown extensions
        book = openpyxl.load_workbook(io.BytesIO(checked.data), read_only=True, data_only=True)
        for sheet in book.worksheets:
            for _row in sheet.iter_rows(values_only=True):
                pass
        book.close()


def _refusal_of(call: Callable[[], CheckedOffice]) -> Refusal:
    with pytest.raises(FileRefused) as caught:
        call()
    assert caught.value.detail
    return caught.value.refusal


# --------------------------------------------------------------------------- corpus


def test_corpus_has_the_office_files() -> None:
    assert len(CORPUS_FILES) >= 180, "corpus missing? expected ../shared/corpus beside the repo"
    for name in EXPECTED:
        assert name in CORPUS_FILES, name


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_file_is_read_or_refused(name: str, converter: LegacyConverter) -> None:
    data = (CORPUS / name).read_bytes()
    try:
        checked = check_office_file(data, Path(name).name, converter=converter)
    except FileRefused as refused:
        assert refused.detail
        expected = EXPECTED.get(name)
        assert expected in (None, refused.refusal), (name, refused.refusal, refused.detail)
        assert refused.refusal is not Refusal.LEGACY_FORMAT, refused.detail  # all convert
        return
    assert EXPECTED.get(name, "accepted") == "accepted", (name, "was accepted")
    _open_with_reader(checked)
    if name in MACROS:
        assert checked.macros_removed


@pytest.mark.parametrize("name", ENCRYPTED)
def test_encrypted_files_are_refused_before_unzipping(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    assert _refusal_of(lambda: check_office_file(data, Path(name).name)) is Refusal.ENCRYPTED
    assert office_kind(Path(name).name, "", data) is not None  # still a form to reply about


@pytest.mark.parametrize("name", XML_BOMBS)
def test_entity_declarations_are_refused(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    with pytest.raises(FileRefused) as caught:
        check_office_file(data, Path(name).name)
    assert caught.value.refusal is Refusal.XML_BOMB
    assert "DOCTYPE/ENTITY" in caught.value.detail  # and the detail names the part
    assert "'" in caught.value.detail


@pytest.mark.parametrize("name", MACROS)
def test_macros_are_removed_and_the_result_opens(name: str) -> None:
    checked = check_office_file((CORPUS / name).read_bytes(), Path(name).name)
    assert checked.macros_removed
    with zipfile.ZipFile(io.BytesIO(checked.data)) as package:
        names = [n.lower() for n in package.namelist()]
        types = package.read("[Content_Types].xml").decode()
        rels = b"".join(package.read(n) for n in package.namelist() if n.endswith(".rels"))
    assert not any("vbaproject" in n or "vbadata" in n for n in names)
    assert "macroEnabled" not in types and "vbaProject" not in types
    assert b"vbaProject" not in rels
    _open_with_reader(checked)
    again = check_office_file(checked.data, "again")  # idempotent: already clean
    assert not again.macros_removed and again.data == checked.data


@pytest.mark.parametrize("name", CORRUPT)
def test_broken_packages_are_corrupt(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    assert _refusal_of(lambda: check_office_file(data, Path(name).name)) is Refusal.CORRUPT


def test_zero_byte_file_is_corrupt() -> None:
    assert _refusal_of(lambda: check_office_file(b"", "zero-length.docx")) is Refusal.CORRUPT
    assert office_kind("zero-length.docx", "", b"") == "docx"  # so the sender hears about it


def test_xlsb_is_unsupported() -> None:
    data = (CORPUS / "poi/spreadsheet/Simple.xlsb").read_bytes()
    assert office_kind("Simple.xlsb", "", data) == "xlsb"
    assert _refusal_of(lambda: check_office_file(data, "Simple.xlsb")) is Refusal.UNSUPPORTED


def test_file_over_the_size_limit_is_refused_before_parsing() -> None:
    data = b"PK\x03\x04" + bytes(SafetyLimits().max_file_bytes)
    assert _refusal_of(lambda: check_office_file(data, "big.docx")) is Refusal.TOO_LARGE
    small = SafetyLimits(max_file_bytes=4096)
    form = (CORPUS / "poi/document/sample.docx").read_bytes()
    assert _refusal_of(lambda: check_office_file(form, "f.docx", limits=small)) is (
        Refusal.TOO_LARGE
    )


# --------------------------------------------------------------------------- legacy formats


@pytest.mark.timeout(120)
def test_doc_is_converted_by_libreoffice(converter: LegacyConverter) -> None:
    data = (CORPUS / "poi/document/simple-table.doc").read_bytes()
    checked = check_office_file(data, "simple-table.doc", converter=converter)
    assert (checked.fmt, checked.converted_from) == ("docx", "doc")
    table = docx.Document(io.BytesIO(checked.data)).tables[0]
    assert [c.text for c in table.rows[1].cells] == ["Cell 2,1", "Cell 2,2", "Cell 2,3"]


@pytest.mark.timeout(120)
def test_xls_with_chinese_text_is_converted(converter: LegacyConverter) -> None:
    data = (CORPUS / "poi/spreadsheet/chinese-provinces.xls").read_bytes()
    checked = check_office_file(data, "chinese-provinces.xls", converter=converter)
    assert (checked.fmt, checked.converted_from) == ("xlsx", "xls")
    book = openpyxl.load_workbook(io.BytesIO(checked.data), read_only=True, data_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert ("Beijing", "北京市") in rows


@pytest.mark.timeout(120)
def test_doc_with_vba_is_converted_without_macros(converter: LegacyConverter) -> None:
    path = next((CORPUS / "poi/document").glob("au.edu.utas.www*Form.doc"))  # real form, VBA
    name = path.name
    data = path.read_bytes()
    checked = check_office_file(data, name, converter=converter)
    assert checked.converted_from == "doc" and checked.macros_removed
    assert b"vbaProject" not in checked.data


def test_without_converter_legacy_files_are_refused() -> None:
    for name in ("poi/document/simple-table.doc", "poi/spreadsheet/chinese-provinces.xls"):
        data = (CORPUS / name).read_bytes()
        refusal = _refusal_of(partial(check_office_file, data, Path(name).name, converter=None))
        assert refusal is Refusal.LEGACY_FORMAT


def _fake_soffice(folder: Path, script: str) -> LegacyConverter:
    """A stand-in soffice executable: real processes, predictable behaviour."""
    path = folder / "soffice"
    path.write_text("#!/bin/sh\n" + textwrap.dedent(script))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return LegacyConverter(str(path), timeout_s=1.0)


@pytest.mark.timeout(30)
def test_conversion_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    fake = _fake_soffice(tmp_path, f"sleep 600 &\necho $! > {pid_file}\nwait\n")
    with pytest.raises(FileRefused) as caught:
        fake.convert(b"data", "doc")
    assert caught.value.refusal is Refusal.LEGACY_FORMAT
    assert "did not finish" in caught.value.detail
    child = int(pid_file.read_text())
    for _ in range(100):  # SIGKILL is asynchronous; the child must vanish (or be a zombie)
        state = _process_state(child)
        if state in (None, "Z"):
            break
        time.sleep(0.05)
    assert _process_state(child) in (None, "Z")


def _process_state(pid: int) -> str | None:
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    return stat_line.rsplit(")", 1)[1].split()[0]


@pytest.mark.timeout(30)
def test_conversion_failure_is_legacy_format(tmp_path: Path) -> None:
    fake = _fake_soffice(tmp_path, "echo 'Error: source file could not be loaded'\nexit 0\n")
    with pytest.raises(FileRefused) as caught:
        fake.convert(b"data", "xls")
    assert caught.value.refusal is Refusal.LEGACY_FORMAT
    assert "could not be loaded" in caught.value.detail


@pytest.mark.timeout(30)
def test_converted_output_goes_through_the_guard(tmp_path: Path) -> None:
    """A converter that returns a bomb must not get it past the guard."""
    bomb = _bomb_docx(1 << 30)
    (tmp_path / "bomb.docx").write_bytes(bomb)
    fake = _fake_soffice(
        tmp_path,
        f"""\
        while [ "$1" != "--outdir" ]; do shift; done
        cp {tmp_path / "bomb.docx"} "$2/input.docx"
        """,
    )
    ole = (CORPUS / "poi/document/simple-table.doc").read_bytes()
    with pytest.raises(FileRefused) as caught:
        check_office_file(ole, "x.doc", converter=fake)
    assert caught.value.refusal is Refusal.ZIP_BOMB
    assert "after converting .doc" in caught.value.detail


# --------------------------------------------------------------------------- hostile zips


@dataclass(frozen=True)
class RawMember:
    name: str
    payload: bytes  # as stored (deflated unless method is 0)
    crc: int
    size: int  # declared uncompressed size
    method: int = zipfile.ZIP_DEFLATED
    flags: int = 0


def raw_zip(members: list[RawMember], prefix: bytes = b"") -> bytes:
    """A zip written by hand, so sizes and flags can lie."""
    out = bytearray(prefix)
    central = bytearray()
    for m in members:
        offset = len(out)
        name = m.name.encode()
        fields = (20, m.flags, m.method, 0, 0x21, m.crc, len(m.payload), m.size, len(name), 0)
        out += b"PK\x03\x04" + struct.pack("<HHHHHLLLHH", *fields) + name + m.payload
        central += (
            b"PK\x01\x02" + struct.pack("<HHHHHHLLLHHHHHLL", 20, *fields, 0, 0, 0, 0, offset) + name
        )
    end = struct.pack("<HHHHLLH", 0, 0, len(members), len(members), len(central), len(out), 0)
    return bytes(out + central + b"PK\x05\x06" + end)


def stored(name: str, data: bytes) -> RawMember:
    return RawMember(name, data, zlib.crc32(data), len(data), method=zipfile.ZIP_STORED)


def deflated_run(
    prefix: bytes, block: bytes, times: int, suffix: bytes, *, crc: bool = True
) -> tuple[bytes, int]:
    """Deflate prefix + block*times + suffix without ever holding the inflated bytes.

    After a full flush the compressor starts afresh, so one compressed block can be repeated.
    Returns the raw deflate stream and the CRC-32 of the inflated bytes (0 if not asked).
    """
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = packer.compress(prefix) + packer.flush(zlib.Z_FULL_FLUSH)
    first = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    second = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    assert first == second
    tail = packer.compress(suffix) + packer.flush(zlib.Z_FINISH)
    if not crc:
        return head + first * times + tail, 0
    check = zlib.crc32(prefix)
    for _ in range(times):
        check = zlib.crc32(block, check)
    return head + first * times + tail, zlib.crc32(suffix, check)


def blank_docx() -> bytes:
    out = io.BytesIO()
    docx.Document().save(out)
    return out.getvalue()


def blank_xlsx() -> bytes:
    book = openpyxl.Workbook()
    book.active["A1"] = "申请人"
    book.create_sheet("second")["B2"] = 42
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rezip(base: bytes, changes: dict[str, bytes | None]) -> bytes:
    """``base`` with members replaced, added (bytes) or removed (None), written normally."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dest,
    ):
        for name in source.namelist():
            if name not in changes:
                dest.writestr(name, source.read(name))
        for name, data in changes.items():
            if data is not None:
                dest.writestr(name, data)
    return out.getvalue()


def _bomb_docx(
    inflated: int,
    declared: int | None = None,
    fill: bytes = b" ",
    member: str = "word/document.xml",
) -> bytes:
    """A real blank .docx whose ``member`` inflates to ``inflated`` bytes, mostly ``fill``."""
    base = blank_docx()
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        original = source.read(member) if member in source.namelist() else b""
        members = [stored(n, source.read(n)) for n in source.namelist() if n != member]
    cut = original.find(b"<w:body>") + len(b"<w:body>") if original else 0
    block = fill * (1 << 20)
    times = (inflated - len(original)) // len(block)
    payload, crc = deflated_run(original[:cut], block, times, original[cut:], crc=not declared)
    size = len(original) + times * len(block)
    members.append(RawMember(member, payload, crc, declared or size))
    return raw_zip(members)


@pytest.mark.timeout(60)
def test_gigabyte_of_spaces_is_a_zip_bomb() -> None:
    bomb = _bomb_docx(1 << 30)
    assert len(bomb) < 2 * 1024 * 1024  # the test stays small
    assert office_kind("form.docx", "", bomb) == "docx"
    assert _refusal_of(lambda: check_office_file(bomb, "form.docx")) is Refusal.ZIP_BOMB
    # declared as 100 MB (ratio under the limit): the streaming count stops it at 100 MB
    liar = _bomb_docx(1 << 30, declared=100 * 1024 * 1024, member="word/media/big.bin")
    with pytest.raises(FileRefused) as caught:
        check_office_file(liar, "form.docx")
    assert caught.value.refusal is Refusal.ZIP_BOMB
    assert "inflates past its declared" in caught.value.detail


@pytest.mark.timeout(60)
def test_ten_gigabytes_declared_as_one_kilobyte_is_stopped_at_once() -> None:
    bomb = _bomb_docx(10 << 30, declared=1024, fill=b"\x00")
    assert len(bomb) < SafetyLimits().max_file_bytes
    with pytest.raises(FileRefused) as caught:
        check_office_file(bomb, "form.docx")
    assert caught.value.refusal is Refusal.ZIP_BOMB
    assert "past its declared 1024 bytes" in caught.value.detail


@pytest.mark.timeout(60)
def test_member_count_limit() -> None:
    base = blank_docx()
    many: dict[str, bytes | None] = {f"customXml/item{i}.xml": b"<a/>" for i in range(5001)}
    assert _refusal_of(lambda: check_office_file(rezip(base, many), "f.docx")) is (Refusal.ZIP_BOMB)


def test_embedded_package_is_allowed_but_not_nested_deeper() -> None:
    inner = blank_xlsx()
    ok = rezip(blank_docx(), {"word/embeddings/sheet.xlsx": inner})
    assert check_office_file(ok, "f.docx").fmt == "docx"
    deeper = rezip(inner, {"xl/embeddings/inner.zip": blank_docx()})
    bad = rezip(blank_docx(), {"word/embeddings/sheet.xlsx": deeper})
    with pytest.raises(FileRefused) as caught:
        check_office_file(bad, "f.docx")
    assert caught.value.refusal is Refusal.ZIP_BOMB and "nested" in caught.value.detail


@pytest.mark.parametrize(
    "name", ["../evil.xml", "/etc/evil.xml", "word\\..\\evil.xml", "C:/evil.xml", "a//b.xml"]
)
def test_unsafe_member_names_are_refused(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = rezip(blank_docx(), {name: b"<a/>"})
    assert _refusal_of(lambda: check_office_file(data, "f.docx")) is Refusal.CORRUPT


def test_duplicate_members_are_refused() -> None:
    base = blank_docx()
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        members = [stored(n, source.read(n)) for n in source.namelist()]
    doubled = raw_zip([*members, stored("word/document.xml", b"<w:document/>")])
    assert _refusal_of(lambda: check_office_file(doubled, "f.docx")) is Refusal.CORRUPT


def test_zip_encrypted_member_is_encrypted() -> None:
    base = blank_docx()
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        members = [stored(n, source.read(n)) for n in source.namelist()]
    members[-1] = replace(members[-1], flags=0x1)
    assert _refusal_of(lambda: check_office_file(raw_zip(members), "f.docx")) is (Refusal.ENCRYPTED)


def test_data_before_the_package_is_refused() -> None:
    """zipfile (and so python-docx) would skip the prefix; the guard does not."""
    base = blank_docx()
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        members = [stored(n, source.read(n)) for n in source.namelist()]
    junk = raw_zip(members, prefix=b"\x00junk" * 20)
    assert docx.Document(io.BytesIO(junk)) is not None
    assert _refusal_of(lambda: check_office_file(junk, "f.docx")) is Refusal.CORRUPT
    polyglot = raw_zip(members, prefix=b"%PDF-1.4\n" + b"x" * 100)
    assert office_kind("f.docx", "", polyglot) is None  # a PDF first of all
    assert _refusal_of(lambda: check_office_file(polyglot, "f.docx")) is Refusal.UNSUPPORTED


def test_crc_mismatch_is_corrupt() -> None:
    base = blank_docx()
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        members = [stored(n, source.read(n)) for n in source.namelist()]
    members[0] = replace(members[0], crc=members[0].crc ^ 1)
    assert _refusal_of(lambda: check_office_file(raw_zip(members), "f.docx")) is Refusal.CORRUPT


# --------------------------------------------------------------------------- hostile XML


def _document_xml(base: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        return source.read("word/document.xml")


def test_utf16_doctype_is_an_xml_bomb() -> None:
    base = blank_docx()
    text = _document_xml(base).decode().replace("UTF-8", "UTF-16", 1)
    root = text.index("<w:document")
    hostile = text[:root] + '<!DOCTYPE d [<!ENTITY x "y">]>' + text[root:]
    data = rezip(base, {"word/document.xml": hostile.encode("utf-16")})
    with pytest.raises(FileRefused) as caught:
        check_office_file(data, "f.docx")
    assert caught.value.refusal is Refusal.XML_BOMB
    assert "word/document.xml" in caught.value.detail


def test_doctype_hidden_behind_a_long_comment_is_an_xml_bomb() -> None:
    base = blank_docx()
    text = _document_xml(base).decode()
    root = text.index("<w:document")
    padding = "<!--" + os.urandom(100_000).hex() + "-->"  # incompressible: no ratio alarm
    hostile = text[:root] + padding + '<!DOCTYPE d SYSTEM "file:///etc/passwd">' + text[root:]
    data = rezip(base, {"word/document.xml": hostile.encode()})
    assert _refusal_of(lambda: check_office_file(data, "f.docx")) is Refusal.XML_BOMB


def test_doctype_in_a_worksheet_is_an_xml_bomb() -> None:
    base = blank_xlsx()
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        sheet = source.read("xl/worksheets/sheet1.xml").decode()
    root = sheet.index("<worksheet")
    hostile = sheet[:root] + '<!DOCTYPE w [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + sheet[root:]
    data = rezip(base, {"xl/worksheets/sheet1.xml": hostile.encode()})
    assert _refusal_of(lambda: check_office_file(data, "f.xlsx")) is Refusal.XML_BOMB


def test_utf7_xml_is_refused() -> None:
    """libxml2 (python-docx) would decode +ADw- as '<': only UTF-8/UTF-16 are allowed."""
    base = blank_docx()
    hostile = b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE d+AD4-<w:document/>'
    data = rezip(base, {"word/document.xml": hostile})
    assert _refusal_of(lambda: check_office_file(data, "f.docx")) is Refusal.CORRUPT


def test_nesting_python_docx_cannot_parse_is_corrupt() -> None:
    base = blank_docx()
    text = _document_xml(base).decode()
    deep = "<w:p>" * 300 + "</w:p>" * 300
    body = text.index("<w:body>") + len("<w:body>")
    data = rezip(base, {"word/document.xml": (text[:body] + deep + text[body:]).encode()})
    with pytest.raises(Exception, match="depth"):  # what the reader would meet unguarded
        docx.Document(io.BytesIO(data))
    assert _refusal_of(lambda: check_office_file(data, "f.docx")) is Refusal.CORRUPT


def test_missing_main_part_and_malformed_xml_are_corrupt() -> None:
    base = blank_docx()
    no_main = rezip(base, {"word/document.xml": None})
    assert _refusal_of(lambda: check_office_file(no_main, "f.docx")) is Refusal.CORRUPT
    broken = rezip(base, {"word/styles.xml": b"<w:styles><unclosed></w:styles>"})
    assert _refusal_of(lambda: check_office_file(broken, "f.docx")) is Refusal.CORRUPT


def test_excel4_macro_sheet_becomes_an_empty_worksheet() -> None:
    base = blank_xlsx()
    with zipfile.ZipFile(io.BytesIO(base)) as source:
        types = source.read("[Content_Types].xml").decode()
        rels = source.read("xl/_rels/workbook.xml.rels").decode()
    macro = '<xm:macrosheet xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main"/>'
    types = types.replace(
        '/xl/worksheets/sheet2.xml" ContentType="application/vnd.openxmlformats-'
        "officedocument.spreadsheetml.worksheet+xml",
        '/xl/worksheets/sheet2.xml" ContentType="application/vnd.ms-excel.macrosheet+xml',
    )
    rels = rels.replace(
        'officeDocument/2006/relationships/worksheet" Target="/xl/worksheets/sheet2.xml"',
        'officeDocument/2006/relationships/xlMacrosheet" Target="/xl/worksheets/sheet2.xml"',
    ).replace(
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships/xlMacrosheet",
        "http://schemas.microsoft.com/office/2006/relationships/xlMacrosheet",
    )
    assert "macrosheet" in types and "xlMacrosheet" in rels
    hostile = rezip(
        base,
        {
            "[Content_Types].xml": types.encode(),
            "xl/_rels/workbook.xml.rels": rels.encode(),
            "xl/worksheets/sheet2.xml": macro.encode(),
        },
    )
    checked = check_office_file(hostile, "f.xlsm")
    assert checked.macros_removed  # an Excel 4.0 macro sheet is a macro too
    with zipfile.ZipFile(io.BytesIO(checked.data)) as package:
        assert b"macrosheet" not in package.read("[Content_Types].xml").lower()
        assert b"sheetData" in package.read("xl/worksheets/sheet2.xml")
    book = openpyxl.load_workbook(io.BytesIO(checked.data), read_only=True, data_only=True)
    assert book.sheetnames == ["Sheet", "second"]
    assert next(book["Sheet"].iter_rows(values_only=True)) == ("申请人",)


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("path", "filename", "content_type", "kind"),
    [
        ("poi/document/sample.docx", "sample.docx", "", "docx"),
        ("poi/document/sample.docx", "form.zip", "application/zip", "docx"),
        ("poi/document/sample.docx", "noname", "", "docx"),
        ("poi/spreadsheet/SimpleMacro.xlsm", "renamed.xlsx", "", "xlsm"),
        ("poi/document/60158.docm", "x.bin", "", "docm"),
        ("poi/spreadsheet/Simple.xlsb", "x.xlsb", "", "xlsb"),
        ("poi/document/simple-table.doc", "form.docx", "", "doc"),
        ("poi/spreadsheet/chinese-provinces.xls", "x", "application/octet-stream", "xls"),
        ("poi/poifs/protect.xlsx", "protect.xlsx", "", "xlsx"),  # OLE named .xlsx
        ("poi/hsmf/chinese-traditional.msg", "mail.msg", "", None),
        ("poi/document/truncated62886.docx", "truncated62886.docx", "", "docx"),
    ],
)
def test_office_kind_sniffs_the_bytes(
    path: str, filename: str, content_type: str, kind: str | None
) -> None:
    assert office_kind(filename, content_type, (CORPUS / path).read_bytes()) == kind


def test_office_kind_of_non_office_files() -> None:
    assert office_kind("scan.pdf", "application/pdf", b"%PDF-1.7\n...") is None
    assert office_kind("form.docx", "", b"%PDF-1.7\n...") is None  # a PDF, whatever its name
    assert office_kind("photo.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(32)) is None
    assert office_kind("notes.txt", "text/plain", b"hello") is None
    assert office_kind("junk.xlsx", "", b"\x01\x02garbage") == "xlsx"  # refused as CORRUPT
    plain_zip = io.BytesIO()
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("readme.txt", "hi")
    assert office_kind("files.zip", "application/zip", plain_zip.getvalue()) is None


def test_non_office_bytes_are_unsupported_or_corrupt() -> None:
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    assert _refusal_of(lambda: check_office_file(pdf, "form.docx")) is Refusal.UNSUPPORTED
    assert _refusal_of(lambda: check_office_file(b"\x01\x02junk", "f.xlsx")) is Refusal.CORRUPT


def test_refusal_survives_pickling() -> None:
    refused = FileRefused(Refusal.ZIP_BOMB, "member 'x' too big")
    back = pickle.loads(pickle.dumps(refused))  # noqa: S301 - our own object
    assert (back.refusal, back.detail) == (Refusal.ZIP_BOMB, "member 'x' too big")


# --------------------------------------------------------------------------- memory


@pytest.mark.timeout(240)
def test_peak_memory_for_a_20_mb_workbook(tmp_path: Path) -> None:
    """Checked in a fresh process; its peak RSS includes the interpreter and the 20 MB input.

    VmHWM, not ru_maxrss: the latter carries over the parent's peak across fork and exec.
    """
    path = tmp_path / "big.xlsx"
    _write_big_xlsx(path, target_bytes=19 * 1024 * 1024)
    assert 15 * 1024 * 1024 < path.stat().st_size <= SafetyLimits().max_file_bytes
    probe = textwrap.dedent(
        f"""
        from mailflow.documents.safety import check_office_file
        data = open({str(path)!r}, "rb").read()
        checked = check_office_file(data, "big.xlsx")
        assert checked.fmt == "xlsx"
        status = open("/proc/self/status").read()
        print(status.split("VmHWM:")[1].split()[0])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=200,
        check=True,
    )
    peak_kib = int(result.stdout.split()[-1])
    assert peak_kib < 300 * 1024, f"peak RSS {peak_kib // 1024} MiB"


def _write_big_xlsx(path: Path, target_bytes: int) -> None:
    """A plain workbook whose one sheet compresses to about ``target_bytes``."""
    base = blank_xlsx()
    state = 12345
    with (
        zipfile.ZipFile(io.BytesIO(base)) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dest,
    ):
        for name in source.namelist():
            if name != "xl/worksheets/sheet1.xml":
                dest.writestr(name, source.read(name))
        with dest.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="http://schemas.'
                b'openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            )
            row = 0
            while dest.fp is not None and dest.fp.tell() < target_bytes:
                cells = []
                for col in "ABCDEFGH":
                    state = (state * 1103515245 + 12345) & 0x7FFFFFFF
                    cells.append(f'<c r="{col}{row + 1}"><v>{state}</v></c>')
                sheet.write(f'<row r="{row + 1}">{"".join(cells)}</row>'.encode())
                row += 1
            sheet.write(b"</sheetData></worksheet>")
