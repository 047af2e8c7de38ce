"""Every place a value can be, in Word's and WPS's structures (issue 14, part 4).

Each case is one complete system change form (the label | value table below) with some of its
values moved into another structure: a text box (DrawingML with its VML fallback copy, or VML
alone as WPS writes it), content controls, a paragraph typed below the table, the header or
footer, a nested or floating table, value columns apart from their labels, section heading
rows. Every value must be read once, from wherever it is, and the form must have no problem.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import docx
import pytest

from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.documents.reading import read_form
from mailflow.documents.values import TimeRange
from tests.formfill import checkbox, make_docx, make_xlsx, para, table, tc

CATALOG = load_catalog(default_forms_dir())

ROWS: dict[str, str] = {
    "变更名称": "计费系统月度版本升级",
    "变更系统": "计费系统",
    "变更内容": "升级计费引擎至 5.2 版",
    "变更原因": "修复月末出账性能问题",
    "计划变更时间": "2026年11月25日 23:30 至 次日 01:30",
    "是否影响现网用户": "是",
    "受影响部门": "客服中心、市场部",
    "变更操作人员": "王五",
    "IT管理部现场联系人员": "赵六",
    "是否已在测试环境确认": "已在测试环境验证通过",
    "回退方案": "恢复变更前的数据库备份",
    "影响范围": "变更期间无法查询话费",
    "影响时间": "约30分钟",
    "是否复杂变更": "否",
}
EXPECTED: dict[str, object] = {
    "title": "计费系统月度版本升级",
    "system": "计费系统",
    "change_content": "升级计费引擎至 5.2 版",
    "reason": "修复月末出账性能问题",
    "planned_window": TimeRange(datetime(2026, 11, 25, 23, 30), datetime(2026, 11, 26, 1, 30)),
    "affects_live_users": True,
    "affected_departments": ["客服中心", "市场部"],
    "operator": "王五",
    "it_contact": "赵六",
    "tested_in_test_env": True,
    "rollback_plan": "恢复变更前的数据库备份",
    "impact_scope": "变更期间无法查询话费",
    "impact_duration": "约30分钟",
    "complex_change": False,
}


def rows_without(*labels: str) -> list[list[str]]:
    return [[k, v] for k, v in ROWS.items() if k not in labels]


W14_NS = 'xmlns:w14="http://schemas.microsoft.com/office/word/2010/wordml"'


def textbox_drawingml(*paragraphs: str) -> str:
    """A Word 2010+ text box: DrawingML choice plus the VML fallback copy of the same text."""
    body = "".join(para(p) for p in paragraphs)
    return (
        "<w:p><w:r><mc:AlternateContent><mc:Choice Requires=\"wps\"><w:drawing><wp:anchor "
        'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing">'
        '<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
        '<a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
        f"<wps:wsp><wps:txbx><w:txbxContent>{body}</w:txbxContent></wps:txbx></wps:wsp>"
        "</a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice><mc:Fallback><w:pict>"
        f"<v:shape><v:textbox><w:txbxContent>{body}</w:txbxContent></v:textbox></v:shape>"
        "</w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>"
    )


def textbox_vml(*paragraphs: str) -> str:
    """A text box as WPS (and Word 2003) write it: VML only."""
    body = "".join(para(p) for p in paragraphs)
    return (f"<w:p><w:r><w:pict><v:shape><v:textbox><w:txbxContent>{body}</w:txbxContent>"
            "</v:textbox></v:shape></w:pict></w:r></w:p>")


def sdt_block(alias: str, text: str) -> str:
    return (f'<w:sdt><w:sdtPr><w:alias w:val="{alias}"/><w:tag w:val="{alias}"/></w:sdtPr>'
            f"<w:sdtContent>{para(text)}</w:sdtContent></w:sdt>")


def sdt_run(text: str, *, placeholder: bool = False) -> str:
    flag = "<w:showingPlcHdr/>" if placeholder else ""
    return (f"<w:p><w:sdt><w:sdtPr>{flag}</w:sdtPr><w:sdtContent><w:r><w:t>{text}</w:t></w:r>"
            "</w:sdtContent></w:sdt></w:p>")


def sdt_dropdown(text: str) -> str:
    return ('<w:p><w:sdt><w:sdtPr><w:dropDownList><w:listItem w:displayText="是" w:value="是"/>'
            '<w:listItem w:displayText="否" w:value="否"/></w:dropDownList></w:sdtPr>'
            f"<w:sdtContent><w:r><w:t>{text}</w:t></w:r></w:sdtContent></w:sdt></w:p>")


def wps_sym(checked: bool) -> str:
    """A Wingdings 2 box as WPS writes a ticked/unticked box (w:sym)."""
    char = "F052" if checked else "F0A3"
    return f'<w:r><w:sym w:font="Wingdings 2" w:char="{char}"/></w:r>'


def nested(rows: list[list[str]]) -> str:
    """A cell holding a whole table (Word requires a paragraph after it)."""
    return f"<w:tc><w:tcPr/>{table(rows)}<w:p/></w:tc>"


def floating(rows: list[list[str]]) -> str:
    """A table positioned as a frame (w:tblpPr), as both Word and WPS write floating tables."""
    plain = table(rows)
    return plain.replace("<w:tblPr/>", '<w:tblPr><w:tblpPr w:leftFromText="180" '
                         'w:vertAnchor="text" w:tblpY="1"/></w:tblPr>', 1)


def with_header_footer(header: list[str], footer: list[str], rows: list[list[str]]) -> bytes:
    """A real Word file (python-docx) with *header* and *footer* paragraphs."""
    document = docx.Document()
    document.add_paragraph("系统变更申请表")
    grid = document.add_table(rows=len(rows), cols=2)
    for r, (label, value) in enumerate(rows):
        grid.cell(r, 0).text = label
        grid.cell(r, 1).text = value
    section = document.sections[0]
    for line in header:
        section.header.add_paragraph(line)
    for line in footer:
        section.footer.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class Case:
    build: Callable[[], bytes]
    fmt: str = "docx"
    values: Mapping[str, object] = field(default_factory=lambda: EXPECTED)


def _title(*blocks: str) -> Callable[[], bytes]:
    return lambda: make_docx(para("系统变更申请表"), *blocks)


CASES: dict[str, Case] = {
    "plain-table": Case(_title(table(rows_without()))),
    "textbox-drawingml-with-vml-fallback-read-once": Case(_title(
        table(rows_without("变更内容", "回退方案")),
        textbox_drawingml("变更内容：", "升级计费引擎至 5.2 版",
                          "回退方案：恢复变更前的数据库备份"),
    )),
    "textbox-vml-only-wps": Case(_title(
        table(rows_without("影响范围")), textbox_vml("影响范围：变更期间无法查询话费"))),
    "textbox-inside-a-table-cell": Case(_title(table(
        [*rows_without("影响时间"),
         ["影响时间", tc(textbox_drawingml("约30分钟"))]]))),
    "content-control-titled-block": Case(_title(
        table(rows_without("变更原因")), sdt_block("变更原因", "修复月末出账性能问题"))),
    "content-control-in-value-cell": Case(_title(table(
        [*rows_without("变更系统", "影响时间"),
         ["变更系统", tc(sdt_run("计费系统"))],
         ["影响时间", tc(sdt_run("约30分钟"))]]))),
    "content-control-placeholder-is-empty": Case(
        _title(table([*rows_without(),
                      ["注意事项", tc(sdt_run("单击此处输入文字", placeholder=True))]])),
        values={**EXPECTED, "notes": None},
    ),
    "content-control-dropdown": Case(_title(table(
        [*rows_without("是否复杂变更"), ["是否复杂变更", tc(sdt_dropdown("否"))]]))),
    "checkbox-controls-w14": Case(_title(table(
        [*rows_without("是否影响现网用户"),
         ["是否影响现网用户", tc(para(checkbox(True), "是 ", checkbox(False), "否"))]]))),
    "wps-wingdings-boxes": Case(_title(table(
        [*rows_without("是否复杂变更"),
         ["是否复杂变更", tc(para(wps_sym(False), "是  ", wps_sym(True), "否"))]]))),
    "fields-typed-below-the-table": Case(
        _title(table(rows_without("影响时间", "回退方案")), para("影响时间：约30分钟"),
               para("回退方案：恢复变更前的数据库备份"), para("补充说明：请客服中心提前告知用户")),
    ),
    "nested-table-in-a-cell": Case(_title(table(
        [["一、基本信息", nested(rows_without()[:4])], *rows_without()[4:]]))),
    "floating-table-frame": Case(_title(floating(rows_without()))),
    "framed-paragraph": Case(_title(
        table(rows_without("影响范围")),
        '<w:p><w:pPr><w:framePr w:w="3000" w:hAnchor="page"/></w:pPr>'
        '<w:r><w:t>影响范围：变更期间无法查询话费</w:t></w:r></w:p>')),
    "value-columns-apart-from-labels": Case(_title(table(
        [[label, "", "", value] for label, value in ROWS.items()]))),
    "section-heading-rows-are-no-fields": Case(_title(table([
        [tc("一、变更内容", span=2)],
        *rows_without()[:5],
        [tc("二、影响评估", span=2)],
        *rows_without()[5:],
    ]))),
    "header-and-footer": Case(lambda: with_header_footer(
        ["变更日期：2026-11-25"], ["IT管理部现场联系人员：赵六"],
        rows_without("IT管理部现场联系人员")),
        values={**EXPECTED, "change_date": date(2026, 11, 25)}),
    "xlsx-label-and-value-columns-apart": Case(lambda: make_xlsx({"变更": [
        ["系统变更申请表"], *[[label, None, None, value] for label, value in ROWS.items()]]}),
        fmt="xlsx"),
    "xlsx-section-rows-merged": Case(lambda: make_xlsx(
        {"变更": [["系统变更申请表"], ["一、变更内容", None], *rows_without()[:5],
                  ["二、影响评估", None], *rows_without()[5:]]},
        merges={"变更": ["A2:B2", "A8:B8"]}), fmt="xlsx"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_structure_is_read(name: str) -> None:
    case = CASES[name]
    (reading,) = read_form(case.build(), case.fmt, CATALOG, default_year=2026)  # type: ignore[arg-type]
    assert reading.kind == "system_change"
    for key, expected in case.values.items():
        assert reading.values.get(key) == expected, (key, reading.values.get(key))
    assert not reading.problems, reading.problems


def test_a_textbox_with_its_fallback_copy_is_read_once() -> None:
    data = make_docx(para("系统变更申请表"), table(rows_without("变更内容")),
                     textbox_drawingml("变更内容：", "升级计费引擎", "调整出账顺序"))
    (reading,) = read_form(data, "docx", CATALOG, default_year=2026)
    assert reading.values["change_content"] == "升级计费引擎\n调整出账顺序"


def with_xlsx_text_box(data: bytes, *paragraphs: str) -> bytes:
    """*data* (a one-sheet workbook) with a text box shape holding *paragraphs*."""
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as package:
        parts = {info.filename: package.read(info) for info in package.infolist()}
    a = "http://schemas.openxmlformats.org/drawingml/2006/main"
    body = "".join(f"<a:p><a:r><a:t>{p}</a:t></a:r></a:p>" for p in paragraphs)
    parts["xl/drawings/drawing1.xml"] = (
        '<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/'
        f'spreadsheetDrawing" xmlns:a="{a}"><xdr:twoCellAnchor><xdr:sp><xdr:txBody>'
        f"<a:bodyPr/>{body}</xdr:txBody></xdr:sp></xdr:twoCellAnchor></xdr:wsDr>").encode()
    parts["xl/worksheets/_rels/sheet1.xml.rels"] = (
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/drawing" Target="../drawings/drawing1.xml"/></Relationships>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, content in parts.items():
            package.writestr(name, content)
    return out.getvalue()


def test_a_text_box_drawn_over_a_sheet_is_read() -> None:
    sheet = make_xlsx({"变更": [["系统变更申请表"], *rows_without("回退方案", "影响范围")]})
    data = with_xlsx_text_box(sheet, "回退方案：恢复变更前的数据库备份",
                              "影响范围：变更期间无法查询话费")
    (reading,) = read_form(data, "xlsx", CATALOG, default_year=2026)
    assert reading.values["rollback_plan"] == "恢复变更前的数据库备份"
    assert reading.values["impact_scope"] == "变更期间无法查询话费"
    assert not reading.problems
