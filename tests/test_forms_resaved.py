"""Filled forms re-saved by another office suite (LibreOffice) still read back exactly.

Word and WPS users are out of reach here, but LibreOffice rewrites every part the way a
different producer does: new styles, split runs, its own content-control and defined-name
serialisation. LibreOffice is already required by the legacy .doc/.xls conversion.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.documents.reading import read_form
from tests.formfill import SAMPLES, fill_docx, fill_xlsx

CATALOG = load_catalog(default_forms_dir())
BLANKS = default_forms_dir() / "blank"
FILTERS = {"docx": "docx:MS Word 2007 XML", "xlsx": "xlsx:Calc MS Excel 2007 XML"}


@pytest.fixture(scope="module")
def resaved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice is missing: install libreoffice-writer-nogui and -calc-nogui"
    work = tmp_path_factory.mktemp("resave")
    source, out = work / "in", work / "out"
    source.mkdir()
    for kind in SAMPLES:
        form = CATALOG.get(kind)
        docx = fill_docx((BLANKS / f"{kind}.docx").read_bytes(), form, SAMPLES[kind])
        (source / f"{kind}.docx").write_bytes(docx)
        xlsx = fill_xlsx((BLANKS / f"{kind}.xlsx").read_bytes(), form, SAMPLES[kind], pick=False)
        (source / f"{kind}.xlsx").write_bytes(xlsx)
    for fmt, export in FILTERS.items():
        subprocess.run(
            [soffice, f"-env:UserInstallation=file://{work}/profile", "--headless",
             "--convert-to", export, "--outdir", str(out),
             *sorted(str(p) for p in source.glob(f"*.{fmt}"))],
            check=True, capture_output=True, timeout=240,
        )  # fmt: skip
    return out


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", sorted(SAMPLES))
@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_resaved_by_libreoffice_reads_back_exactly(resaved: Path, kind: str, fmt: str) -> None:
    data = (resaved / f"{kind}.{fmt}").read_bytes()
    if fmt == "docx":
        readings = read_form(data, "docx", CATALOG, source_name=f"{kind}.{fmt}")
    else:
        readings = read_form(data, "xlsx", CATALOG, source_name=f"{kind}.{fmt}")
    [reading] = readings
    assert (reading.kind, reading.recognised_by, reading.problems) == (kind, "marker", ())
    assert dict(reading.values) == SAMPLES[kind]
