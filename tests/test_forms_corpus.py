"""Every .docx/.xlsx in the shared corpus either reads or is refused with a reason.

The files are third-party robustness input (fuzzer crashes, truncated zips, XXE, Strict
OOXML, odd producers). Files the safety guard refuses before the readers ever see them
(names saying password/encrypt/protected, XML bombs) are left out, as the brief says;
read_form must raise only UnknownForm or UnreadableForm for the rest, in bounded time
(pytest-timeout), never anything else.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.documents.reading import UnknownForm, UnreadableForm, read_form
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
