"""A ~20 MB workbook (a data dump, not a form) is read in bounded time and memory.

The sheet is streamed and only its first rows are scanned; shared strings are read only
as far as those rows need. Peak memory is printed (tracemalloc), not asserted against a
time: the point is that it does not grow with the file.
"""

from __future__ import annotations

import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.documents.reading import UnknownForm, read_form

CATALOG = load_catalog(default_forms_dir())
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _write_big_xlsx(path: Path, *, rows: int, unique: int, with_form: bool) -> None:
    """Stream a workbook to *path*: a data sheet of *rows* rows and *unique* shared strings.

    Written part by part with zipfile's streaming writer (never held in memory); random
    bytes keep it from compressing away. No ``<dimension>`` element, like many exports.
    """
    noise = os.urandom(1 << 20).hex()
    sheets = ["数据"] + (["系统帐号申请表"] if with_form else [])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org'
            '/package/2006/content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        entries = "".join(
            f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>'
            for i, name in enumerate(sheets, 1)
        )
        z.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>{entries}</sheets></workbook>',
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)
        )
        rels += f'<Relationship Id="rS" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f"{rels}</Relationships>",
        )
        with z.open("xl/sharedStrings.xml", "w") as f:
            f.write(f'<sst xmlns="{MAIN}" uniqueCount="{unique}">'.encode())
            for i in range(unique):
                start = (i * 7919) % (len(noise) - 16)
                f.write(f"<si><t>客户{i}-{noise[start : start + 12]}</t></si>".encode())
            f.write(b"</sst>")
        with z.open("xl/worksheets/sheet1.xml", "w") as f:
            f.write(f'<worksheet xmlns="{MAIN}"><sheetData>'.encode())
            for r in range(1, rows + 1):
                start = (r * 104729) % (len(noise) - 64)
                cells = (
                    f'<c r="A{r}" t="s"><v>{(r * 3) % unique}</v></c>'
                    f'<c r="B{r}"><v>{int(noise[start : start + 6], 16)}</v></c>'
                    f'<c r="C{r}" t="inlineStr"><is><t>{noise[start : start + 40]}</t></is></c>'
                    f'<c r="D{r}" t="s"><v>{(r * 3 + 1) % unique}</v></c>'
                )
                f.write(f'<row r="{r}">{cells}</row>'.encode())
            f.write(b"</sheetData></worksheet>")
        if with_form:
            form = "".join(
                f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{label}</t></is></c>'
                f'<c r="B{r}" t="inlineStr"><is><t>{value}</t></is></c></row>'
                for r, (label, value) in enumerate(
                    [("系统帐号申请表", ""), ("申请人", "李四"), ("工号", "E10086")], 1
                )
            )
            z.writestr(
                "xl/worksheets/sheet2.xml",
                f'<worksheet xmlns="{MAIN}"><sheetData>{form}</sheetData></worksheet>',
            )


@pytest.fixture(scope="module")
def big_xlsx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "export.xlsx"
    _write_big_xlsx(path, rows=270_000, unique=300_000, with_form=True)
    return path


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_twenty_megabyte_workbook_is_bounded(
    big_xlsx: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = big_xlsx.read_bytes()
    assert len(data) > 18_000_000
    tracemalloc.start()
    try:
        readings = read_form(data, "xlsx", CATALOG, source_name=big_xlsx.name)
        outcome = f"{len(readings)} reading(s): {[r.kind for r in readings]}"
    except UnknownForm as exc:
        readings = []
        outcome = f"UnknownForm ({exc.detail})"
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    with capsys.disabled():
        print(f"\n20 MB xlsx ({len(data) / 1e6:.1f} MB): {outcome}; peak {peak / 1e6:.1f} MB")
    # The form on the second sheet is still found behind the data dump.
    assert [(r.kind, r.values.get("applicant")) for r in readings] == [("account", "李四")]
    assert peak < len(data)  # well under the file's own size: nothing scales with it
