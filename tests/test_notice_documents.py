"""The formal notices as Word documents (docxtpl): filled from the sample data in both
languages, values escaped and line breaks kept, an organisation's restyled template wins,
the bundled templates are exactly what the generator script makes, and LibreOffice opens
one (converted to PDF)."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import docx
import pdfplumber
import pytest

from mailflow.notices.documents import FORMAL_NOTICES, render_docx
from mailflow.paths import DEFAULT_TEMPLATES_DIR
from mailflow.templates import Templates

REPO = Path(__file__).resolve().parents[1]
SAMPLE_OF = {
    "change_notice": "notices/departments_change_notice",
    "change_result": "notices/departments_change_result",
    "change_summary": "notices/managers_change_summary",
    "minutes": "notices/attendees_minutes",
}


def context(templates: Templates, name: str) -> dict[str, object]:
    return {**templates.samples()[SAMPLE_OF[name]], "issued_at": "2025-09-30 15:00"}


def all_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("name", FORMAL_NOTICES)
def test_formal_notice_documents_are_filled(language: str, name: str) -> None:
    templates = Templates(DEFAULT_TEMPLATES_DIR, language)
    text = all_text(render_docx(templates, name, context(templates, name)))
    assert "{{" not in text and "{%" not in text
    assert "REQ-2025-000" in text
    if name == "change_notice":
        assert "财务部、市场部 <计费查询>" in text  # escaped into XML, read back as written
        assert "升级计费引擎至 5.2 版\n调整月末出账批处理" in text  # line break kept
        assert ("R-CH-4" in text) and ("2025-09-30 16:00" in text)  # late: rule and due
    if name == "change_result":
        assert ("失败" if language == "zh" else "failed") in text
    if name == "minutes":
        assert "准备回退脚本" in text and "通知财务部" in text


def test_an_organisations_restyled_template_wins(tmp_path: Path) -> None:
    ours = tmp_path / "local" / "docx" / "zh"
    ours.mkdir(parents=True)
    document = docx.Document(str(DEFAULT_TEMPLATES_DIR / "docx" / "zh" / "change_notice.docx"))
    document.paragraphs[0].runs[0].text = "某某公司 系统变更通知"
    document.save(str(ours / "change_notice.docx"))
    templates = Templates(DEFAULT_TEMPLATES_DIR, "zh", tmp_path / "local")
    text = all_text(render_docx(templates, "change_notice", context(templates,
                                                                   "change_notice")))
    assert text.startswith("某某公司 系统变更通知")
    minutes = all_text(render_docx(templates, "minutes", context(templates, "minutes")))
    assert minutes.startswith("会议纪要")  # the rest stay bundled


def test_bundled_word_templates_are_what_the_script_makes(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_notice_docx.py"),
                    str(tmp_path)], check=True, capture_output=True, timeout=120)
    for language in ("zh", "en"):
        for name in FORMAL_NOTICES:
            made = (tmp_path / language / f"{name}.docx").read_bytes()
            assert made == (DEFAULT_TEMPLATES_DIR / "docx" / language /
                            f"{name}.docx").read_bytes(), (language, name)


def test_libreoffice_opens_the_change_notice(tmp_path: Path) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is installed by scripts/test-services"
    templates = Templates(DEFAULT_TEMPLATES_DIR, "zh")
    source = tmp_path / "系统变更通知.docx"
    source.write_bytes(render_docx(templates, "change_notice", context(templates,
                                                                       "change_notice")))
    subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
                    "--headless", "--norestore", "--convert-to", "pdf", "--outdir",
                    str(tmp_path / "out"), str(source)],
                   check=True, capture_output=True, timeout=180)
    pdf = tmp_path / "out" / "系统变更通知.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    with pdfplumber.open(str(pdf)) as document:
        text = "".join(page.extract_text() or "" for page in document.pages)
    squeezed = "".join(text.split())
    assert "系统变更通知" in squeezed
    assert "REQ-2025-000310" in squeezed
    assert "计费系统月度版本升级" in squeezed
