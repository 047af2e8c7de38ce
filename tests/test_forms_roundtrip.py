"""Generate each blank, fill it the way a person does, read it back: exact typed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.documents.definitions import FormCatalog, default_forms_dir, load_catalog
from mailflow.documents.generate import generate_blank_forms
from mailflow.documents.reading import read_form
from tests.formfill import SAMPLES, fill_docx, fill_xlsx

KINDS = sorted(SAMPLES)


@pytest.fixture(scope="module")
def catalog() -> FormCatalog:
    return load_catalog(default_forms_dir())


@pytest.fixture(scope="module")
def blanks(catalog: FormCatalog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("blank")
    generate_blank_forms(catalog, out)
    return out


def test_catalog_has_the_four_kinds(catalog: FormCatalog) -> None:
    assert sorted(catalog.forms) == KINDS


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("tick", ["control", "glyph"])
def test_docx_round_trip(catalog: FormCatalog, blanks: Path, kind: str, tick: str) -> None:
    form = catalog.get(kind)
    blank = catalog.blank_path(kind, "docx", blanks).read_bytes()
    filled = fill_docx(blank, form, SAMPLES[kind], tick=tick)  # type: ignore[arg-type]
    [reading] = read_form(filled, "docx", catalog, source_name=f"{kind}.docx")
    assert reading.kind == kind
    assert reading.version == form.version
    assert reading.recognised_by == "marker"
    assert reading.problems == ()
    assert dict(reading.values) == SAMPLES[kind]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pick", [True, False], ids=["dropdown", "edit-box"])
def test_xlsx_round_trip(catalog: FormCatalog, blanks: Path, kind: str, pick: bool) -> None:
    form = catalog.get(kind)
    blank = catalog.blank_path(kind, "xlsx", blanks).read_bytes()
    filled = fill_xlsx(blank, form, SAMPLES[kind], pick=pick)
    [reading] = read_form(filled, "xlsx", catalog, source_name=f"{kind}.xlsx")
    assert reading.kind == kind
    assert reading.version == form.version
    assert reading.recognised_by == "marker"
    assert reading.problems == ()
    assert dict(reading.values) == SAMPLES[kind]


@pytest.mark.parametrize("kind", ["data_extraction", "account", "system_change", "minutes"])
def test_blank_docx_body_ends_with_a_paragraph(blanks: Path, kind: str) -> None:
    """Word's rule: a paragraph after the last table. Without it LibreOffice's save as .doc
    folded the minutes' action-item table into one line of text (a person's old Word)."""
    import zipfile

    with zipfile.ZipFile(blanks / f"{kind}.docx") as package:
        xml = package.read("word/document.xml").decode("utf-8")
    body = xml[xml.index("<w:body>"):xml.index("<w:sectPr")]
    assert body.endswith("</w:p>") and "<w:tbl>" in body
