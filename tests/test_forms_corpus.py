"""Every .docx/.xlsx in the shared corpus either reads or is refused with a reason.

The files are third-party robustness input (fuzzer crashes, truncated zips, XXE, Strict
OOXML, odd producers). Files the safety guard refuses before the readers ever see them
(names saying password/encrypt/protected, XML bombs) are left out, as the brief says;
read_form must raise only UnknownForm or UnreadableForm for the rest, in bounded time
(pytest-timeout), never anything else.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.documents.reading import UnknownForm, UnreadableForm, read_form
from tests.formfill import make_docx, para
from tests.paths import CORPUS

CATALOG = load_catalog(default_forms_dir())
GUARDED = re.compile(r"password|encrypt|protected|xmlbomb", re.IGNORECASE)


def _corpus_files() -> list[Path]:
    found = [
        *(CORPUS / "python-docx").rglob("*.docx"),
        *(CORPUS / "poi" / "document").glob("*.docx"),
        *(CORPUS / "poi" / "spreadsheet").glob("*.xlsx"),
        *(CORPUS / "excelize" / "test").glob("*.xlsx"),
    ]
    return sorted(p for p in found if not GUARDED.search(p.name))


FILES = _corpus_files()


def _outcome(path: Path) -> str:
    data = path.read_bytes()
    try:
        if path.suffix == ".docx":
            readings = read_form(data, "docx", CATALOG, source_name=path.name)
        else:
            readings = read_form(data, "xlsx", CATALOG, source_name=path.name)
    except UnknownForm as exc:
        assert exc.detail
        return "unknown"
    except UnreadableForm as exc:
        assert exc.detail
        return "unreadable"
    assert readings
    return "read"


def test_corpus_is_there() -> None:
    assert len(FILES) > 80, f"corpus not found at {CORPUS}"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_file_reads_or_is_refused(path: Path) -> None:
    assert _outcome(path) in ("read", "unknown", "unreadable")


@pytest.mark.timeout(120)
def test_corpus_outcomes(capsys: pytest.CaptureFixture[str]) -> None:
    """None of these third-party files is one of our forms; the broken ones are named."""
    outcomes = Counter(_outcome(path) for path in FILES)
    with capsys.disabled():
        print(f"\ncorpus: {len(FILES)} files, {dict(outcomes)}")
    assert outcomes["read"] == 0
    assert outcomes["unreadable"] >= 10  # truncated, fuzzed, XXE, non-zip packages


def test_xxe_document_is_refused_not_resolved() -> None:
    data = (CORPUS / "poi" / "document" / "ExternalEntityInText.docx").read_bytes()
    with pytest.raises(UnreadableForm, match="DOCTYPE"):
        read_form(data, "docx", CATALOG)


@pytest.mark.parametrize("name", ["poc-xmlbomb.xlsx", "poc-xmlbomb-empty.xlsx", "54764.xlsx"])
def test_entity_declarations_are_refused_even_past_the_guard(name: str) -> None:
    data = (CORPUS / "poi" / "spreadsheet" / name).read_bytes()
    with pytest.raises(UnreadableForm, match="DOCTYPE"):
        read_form(data, "xlsx", CATALOG)


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04garbage", b"\xd0\xcf\x11\xe0" + b"\0" * 600])
@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_garbage_is_unreadable(data: bytes, fmt: str) -> None:
    with pytest.raises(UnreadableForm):
        read_form(data, fmt, CATALOG)  # type: ignore[arg-type]


# --- damaged copies of our own blanks ----------------------------------------------------

BLANKS = default_forms_dir() / "blank"


def _outcome_of(data: bytes, fmt: str) -> str:
    try:
        if fmt == "docx":
            read_form(data, "docx", CATALOG)
        else:
            read_form(data, "xlsx", CATALOG)
    except UnknownForm:
        return "unknown"
    except UnreadableForm:
        return "unreadable"
    return "read"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(p.name for p in BLANKS.iterdir())),
    cut=st.tuples(st.floats(0, 1), st.integers(1, 400)),
)
def test_blank_with_a_slice_of_its_xml_removed(name: str, cut: tuple[float, int]) -> None:
    """Broken XML inside an intact zip: read (what survives), or refused with a reason."""
    path = BLANKS / name
    part = "word/document.xml" if path.suffix == ".docx" else "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(path) as package:
        parts = {info.filename: package.read(info) for info in package.infolist()}
    xml = parts[part]
    start = int(cut[0] * len(xml))
    parts[part] = xml[:start] + xml[start + cut[1] :]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for member, data in parts.items():
            package.writestr(member, data)
    assert _outcome_of(buffer.getvalue(), path.suffix[1:]) in ("read", "unknown", "unreadable")


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(p.name for p in BLANKS.iterdir())), data=st.data())
def test_blank_with_flipped_bytes(name: str, data: st.DataObject) -> None:
    raw = bytearray((BLANKS / name).read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    assert _outcome_of(bytes(raw), name.rsplit(".", 1)[1]) in ("read", "unknown", "unreadable")


def test_deeply_nested_content_is_refused_not_a_crash() -> None:
    inner = para("申请人：李四")
    for _ in range(3000):
        inner = f"<w:sdt><w:sdtContent>{inner}</w:sdtContent></w:sdt>"
    data = make_docx(para("系统帐号申请表"), inner)
    assert _outcome_of(data, "docx") in ("read", "unreadable")
