"""The report's Word and Excel versions.

Word: docxtpl, so an organisation may restyle the template in Word and put it in
``<templates_override_dir>/docx/<lang>/monthly_report.docx`` (placeholders: ``title``,
``period``, ``customer``, ``contract_name``, ``metrics`` rows, ``kinds`` rows, ``charts`` with
``c.title`` and ``c.image``). Without one, the template is built here from the words of
templates/<lang>/reports/report_labels.j2, so the bundled set needs no binary file per
language. Excel: openpyxl, the figures as a typed table (counts as numbers, shares as
percentages) a customer can compute with, and the charts as images on their own sheet.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailflow.notices.documents import docx_template_path
from mailflow.reports.figures import labelled
from mailflow.templates import Templates

if TYPE_CHECKING:
    from mailflow.reports.figures import Figures
    from mailflow.reports.render import Chart, Metric

DOCX_NAME = "monthly_report"


def _override(templates: Templates) -> Path | None:
    """An organisation's own report template (docx/<lang>/monthly_report.docx), if any."""
    try:
        return docx_template_path(templates, DOCX_NAME)
    except FileNotFoundError:
        return None


def _built_template(words: Mapping[str, str], language: str) -> io.BytesIO:
    """A plain Word template with docxtpl placeholders, its headings in *words*."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = Document()
    style = document.styles["Normal"]
    style.font.size = Pt(10.5)
    if language == "zh":
        style.font.name = "SimSun"
        style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    heading = document.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = heading.add_run("{{ title }}")
    run.bold = True
    run.font.size = Pt(16)
    document.add_paragraph(f"{words['period']}{{{{ words_sep }}}}{{{{ period }}}}")
    document.add_paragraph("{% if customer %}" + words["customer"]
                           + "{{ words_sep }}{{ customer }}{% endif %}")
    document.add_paragraph("{% if contract_name %}" + words["contract"]
                           + "{{ words_sep }}{{ contract_name }}{% endif %}")

    def table(headings: Sequence[str], cells: Sequence[str], loop: str) -> None:
        grid = document.add_table(rows=4, cols=len(headings))
        grid.style = "Table Grid"
        for i, text in enumerate(headings):
            grid.rows[0].cells[i].text = text
        grid.rows[1].cells[0].text = f"{{%tr for {loop} %}}"
        for i, text in enumerate(cells):
            grid.rows[2].cells[i].text = text
        grid.rows[3].cells[0].text = "{%tr endfor %}"

    table([words["metric"], words["this_month"], words["last_month"], words["change"]],
          ["{{ m.label }}", "{{ m.value }}", "{{ m.last }}", "{{ m.trend }}"],
          "m in metrics")
    document.add_paragraph(words["kind"])
    table([words["kind"], words["this_month"], words["last_month"]],
          ["{{ k.label }}", "{{ k.count }}", "{{ k.last }}"], "k in kinds")
    document.add_paragraph("{% if not tickets %}" + words["no_tickets"] + "{% endif %}")
    document.add_paragraph("{%p for c in charts %}")
    document.add_paragraph("{{ c.title }}")
    document.add_paragraph("{{ c.image }}")
    document.add_paragraph("{%p endfor %}")
    document.add_paragraph(words["definitions"])
    out = io.BytesIO()
    document.save(out)
    out.seek(0)
    return out


def render_docx(templates: Templates, context: Mapping[str, Any],
                charts: Sequence[Chart]) -> bytes:
    """The Word version, the charts as inline pictures."""
    from docx.shared import Mm
    from docxtpl import DocxTemplate, InlineImage  # type: ignore[import-untyped]

    words: Mapping[str, str] = context["words"]
    path = _override(templates)
    document = DocxTemplate(str(path) if path is not None
                            else _built_template(words, templates.language))
    shown = [{"title": c.title, "image": InlineImage(document, io.BytesIO(c.png),
                                                     width=Mm(150))} for c in charts]
    document.render({**context, "charts": shown,
                     "words_sep": "：" if templates.language == "zh" else ": "},
                    autoescape=True)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def render_xlsx(words: Mapping[str, str], context: Mapping[str, Any],
                metrics: Sequence[Metric], kinds: Sequence[Mapping[str, Any]],
                figures: Figures, charts: Sequence[Chart]) -> bytes:
    """The workbook: figures (typed), requests by kind, tickets, and the charts."""
    from openpyxl import Workbook
    from openpyxl.drawing.image import Image
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = words["sheet_figures"][:31]
    sheet.append([str(context["title"]), str(context["period"])])
    sheet["A1"].font = Font(bold=True)
    sheet.append([words["metric"], words["this_month"], words["last_month"], words["change"]])
    for m in metrics:
        sheet.append([m.label, m.value, m.last, m.trend(words)])
        if m.rate:
            for cell in sheet[sheet.max_row][1:3]:
                cell.number_format = "0.0%"
    sheet.column_dimensions["A"].width = 36
    for col in "BCD":
        sheet.column_dimensions[col].width = 14
    kinds_sheet = book.create_sheet(words["sheet_kinds"][:31])
    kinds_sheet.append([words["kind"], words["this_month"], words["last_month"]])
    for k in kinds:
        kinds_sheet.append([str(k["label"]), int(k["count"]), int(k["last"])])
    kinds_sheet.column_dimensions["A"].width = 30
    tickets = book.create_sheet(words["sheet_tickets"][:31])
    if figures.tickets is None:
        tickets.append([words["no_tickets"]])
    else:
        tickets.append([words["category"], words["count"]])
        for label, count in labelled(figures.tickets.by_category, "category", words):
            tickets.append([label, count])
        tickets.append([])
        tickets.append([words["severity"], words["count"]])
        for label, count in labelled(figures.tickets.by_severity, "severity", words):
            tickets.append([label, count])
    pictures = book.create_sheet(words["sheet_charts"][:31])
    row = 1
    for chart in charts:
        pictures.cell(row=row, column=1, value=chart.title)
        image = Image(io.BytesIO(chart.png))
        pictures.add_image(image, f"A{row + 1}")
        row += 18
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
