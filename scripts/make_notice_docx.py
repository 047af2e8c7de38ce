"""Generate the Word templates of the formal notices: templates/docx/<lang>/<name>.docx.

Reproducible: run ``.venv/bin/python scripts/make_notice_docx.py [OUT_DIR]`` after
changing the words in templates/<lang>/notices/docx_labels.j2; the files are committed.
They are ordinary .docx files with docxtpl placeholders ({{ change.title }},
{%tr for … %}): an organisation may open one in Word, restyle it (letterhead, fonts, logo)
and put it in its override directory (<templates_override_dir>/docx/<lang>/<name>.docx)
without touching the placeholders.
"""

from __future__ import annotations

import io
import sys
import zipfile
from datetime import datetime
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailflow.notices.documents import FORMAL_NOTICES  # noqa: E402
from mailflow.paths import bundled_dir  # noqa: E402
from mailflow.templates import Templates  # noqa: E402

#: the value shown beside each label (docxtpl expressions; words come from the labels)
VALUES = {
    "change.window": "{{ change.window_start }} — {{ change.window_end }}",
    "result.outcome": "{{ words.success if result.succeeded else words.failed }}",
    "result.kept_window": "{{ words.yes if result.kept_window else words.no }}",
}
LISTS = ("minutes.attendees", "minutes.absentees")
#: labels that head a section instead of a table row
NOT_ROWS = {"title", "intro", "emergency", "action_items", "item", "owner", "due"}


def _font(document: Document, language: str) -> None:
    style = document.styles["Normal"]
    style.font.size = Pt(11)
    if language == "zh":
        style.font.name = "SimSun"
        style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")


def build(name: str, language: str, common: dict[str, str], labels: dict[str, str]) -> Document:
    document = Document()
    _font(document, language)
    heading = document.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = heading.add_run(labels["title"])
    run.bold = True
    run.font.size = Pt(18)
    # an ASCII separator is followed by a space (labels() strips trailing blanks)
    sep, joiner = (w + " " if w.isascii() else w for w in (common["separator"],
                                                          common["joiner"]))
    document.add_paragraph(f"{common['reference']}{sep}{{{{ reference }}}}")
    if name != "minutes":
        document.add_paragraph(f"{common['to']}{sep}{{{{ to_names|join('{joiner}') }}}}")
        document.add_paragraph(f"{{% if cc_names %}}{common['cc']}{sep}"
                               f"{{{{ cc_names|join('{joiner}') }}}}{{% endif %}}")
    if "intro" in labels:
        document.add_paragraph(labels["intro"])
    if "emergency" in labels:
        document.add_paragraph(f"{{% if emergency %}}{labels['emergency']}{{% endif %}}")
    rows = [(key, words) for key, words in labels.items() if key not in NOT_ROWS]
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for key, words in rows:
        cells = table.add_row().cells
        cells[0].text = words
        value = VALUES.get(key, "{{ " + key + " }}")
        if key in LISTS:
            value = "{{ " + key + "|join('" + joiner + "') }}"
        cells[1].text = value
    if name == "minutes":
        document.add_paragraph(labels["action_items"])
        items = document.add_table(rows=1, cols=3)
        items.style = "Table Grid"
        for cell, key in zip(items.rows[0].cells, ("item", "owner", "due"), strict=True):
            cell.text = labels[key]
        for texts in (["{%tr for a in minutes.action_items %}", "", ""],
                      ["{{ a.item }}", "{{ a.owner }}", "{{ a.due }}"],
                      ["{%tr endfor %}", "", ""]):
            for cell, text in zip(items.add_row().cells, texts, strict=True):
                cell.text = text
    document.add_paragraph(
        f"{{% if late %}}{common['late_note']} {common['deadline']}{sep}{{{{ deadline.due }}}}"
        f" ({common['rule']} {{{{ deadline.rule }}}}){{% endif %}}")
    closing = document.add_paragraph(f"{common['issuer']}\n{{{{ issued_at }}}}")
    closing.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    # fixed metadata: the same words give the same files (reproducible)
    props = document.core_properties
    props.author = common["issuer"]
    props.title = labels["title"]
    props.revision = 1
    props.created = props.modified = datetime(2026, 1, 1)
    props.last_modified_by = common["issuer"]
    return document


def _fixed_zip(data: bytes) -> bytes:
    """The same entries with a fixed time stamp, so unchanged words give identical files."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(
            out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def main() -> None:
    out_root = Path(sys.argv[1]) if len(sys.argv) > 1 else bundled_dir("templates") / "docx"
    for language in ("zh", "en"):
        templates = Templates(bundled_dir("templates"), language)
        common = templates.labels("notices/docx_labels", "common")
        target = out_root / language
        target.mkdir(parents=True, exist_ok=True)
        for name in FORMAL_NOTICES:
            labels = templates.labels("notices/docx_labels", name)
            buffer = io.BytesIO()
            build(name, language, common, labels).save(buffer)
            (target / f"{name}.docx").write_bytes(_fixed_zip(buffer.getvalue()))
            print(target / f"{name}.docx")


if __name__ == "__main__":
    main()
