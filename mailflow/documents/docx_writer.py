"""Write a blank form as a small, Word-like .docx (hand-written XML, no python-docx).

python-docx's default template carries ~790 KB of style XML (MAILSTACK pitfall 17); a
blank written here is a few KB and opens like a file Word saved. Layout: a hidden marker
paragraph (``mailflow-form:<kind>:<version>``, ``w:vanish``), the title, the
instructions, one label/value table, and a separate table per table field with a header
row. Choices are Word checkbox content controls (click to tick) followed by the choice.
The marker is also written as the custom document property ``_mailflow_form``, so a
renamed file, or one re-saved without hidden text, is still recognised.
"""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape, quoteattr

from mailflow.documents.definitions import BlankLayout, FieldDef, FieldType, FormDef
from mailflow.documents.layout import MARKER_NAME, marker_text

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
FIXED_TIME = (2026, 1, 1, 0, 0, 0)  # reproducible bytes: regenerating changes nothing
FIXED_ISO = "2026-01-01T00:00:00Z"

PAGE_WIDTH = 9638  # A4 text width in twips with 2 cm margins
LABEL_WIDTH = 2400
VALUE_WIDTH = PAGE_WIDTH - LABEL_WIDTH
_BORDER = "".join(
    f'<w:{side} w:val="single" w:sz="4" w:space="0" w:color="000000"/>'
    for side in ("top", "left", "bottom", "right", "insideH", "insideV")
)
_BOX_FONT = (
    '<w:rFonts w:ascii="MS Gothic" w:eastAsia="MS Gothic" w:hAnsi="MS Gothic" w:hint="eastAsia"/>'
)


def _t(text: str) -> str:
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f"<w:t{space}>{escape(text)}</w:t>"


def _run(
    text: str, *, bold: bool = False, size: int | None = None, color: str = "", font: str = ""
) -> str:
    props = font
    props += "<w:b/>" if bold else ""
    props += f'<w:color w:val="{color}"/>' if color else ""
    props += f'<w:sz w:val="{size}"/><w:szCs w:val="{size}"/>' if size else ""
    return f"<w:r>{f'<w:rPr>{props}</w:rPr>' if props else ''}{_t(text)}</w:r>"


def _para(runs: str, *, center: bool = False, after: int = 0) -> str:
    props = '<w:jc w:val="center"/>' if center else ""
    props += f'<w:spacing w:after="{after}"/>' if after else ""
    return f"<w:p>{f'<w:pPr>{props}</w:pPr>' if props else ''}{runs}</w:p>"


def _cell(width: int, body: str, *, fill: str = "", span: int = 1) -> str:
    props = f'<w:tcW w:w="{width}" w:type="dxa"/>'
    props += f'<w:gridSpan w:val="{span}"/>' if span > 1 else ""
    props += f'<w:shd w:val="clear" w:color="auto" w:fill="{fill}"/>' if fill else ""
    props += '<w:vAlign w:val="center"/>'
    return f"<w:tc><w:tcPr>{props}</w:tcPr>{body or '<w:p/>'}</w:tc>"


def _row(cells: str, height: int) -> str:
    return f'<w:tr><w:trPr><w:trHeight w:val="{height}"/></w:trPr>{cells}</w:tr>'


def _table(widths: list[int], rows: list[str]) -> str:
    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)
    return (
        f'<w:tbl><w:tblPr><w:tblW w:w="{sum(widths)}" w:type="dxa"/>'
        f'<w:tblBorders>{_BORDER}</w:tblBorders><w:tblLayout w:type="fixed"/>'
        f'<w:tblLook w:val="04A0"/></w:tblPr><w:tblGrid>{grid}</w:tblGrid>{"".join(rows)}</w:tbl>'
    )


class _Ids:
    def __init__(self) -> None:
        self.next = 1000

    def __call__(self) -> int:
        self.next += 1
        return self.next


def checkbox(ids: _Ids, *, checked: bool = False) -> str:
    """A Word 2010+ checkbox content control (☐ / ☒ when ticked)."""
    glyph = "☒" if checked else "☐"
    return (
        f'<w:sdt><w:sdtPr><w:rPr>{_BOX_FONT}</w:rPr><w:id w:val="{ids()}"/>'
        f'<w14:checkbox><w14:checked w14:val="{1 if checked else 0}"/>'
        '<w14:checkedState w14:val="2612" w14:font="MS Gothic"/>'
        '<w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/></w14:checkbox></w:sdtPr>'
        f"<w:sdtContent><w:r><w:rPr>{_BOX_FONT}</w:rPr>{_t(glyph)}</w:r></w:sdtContent></w:sdt>"
    )


def _choices(options: tuple[str, ...], ids: _Ids) -> str:
    runs = "".join(checkbox(ids) + _run(f"{option}\u3000\u3000") for option in options)
    return _para(runs)


def _label(f: FieldDef, layout: BlankLayout, text: str = "") -> str:
    runs = _run(text or f.label_zh, bold=True)
    if f.required:
        runs += _run(f" {layout.required_mark}", color="C00000")
    body = _para(runs)
    hint = layout.hint(f)
    if hint:
        body += _para(_run(f"（{hint}）", size=16, color="7F7F7F"))
    return body


def _field_rows(f: FieldDef, layout: BlankLayout, ids: _Ids) -> list[str]:
    if f.type is FieldType.TIME_RANGE and f.columns:
        return [
            _row(
                _cell(LABEL_WIDTH, _label(part, layout), fill="F2F2F2") + _cell(VALUE_WIDTH, ""),
                454,
            )
            for part in f.columns
        ]
    if f.type in (FieldType.CHOICE, FieldType.MULTICHOICE):
        value = _choices(f.choices, ids)
    elif f.type is FieldType.YESNO:
        value = _choices(("是", "否"), ids)
    else:
        value = ""
    height = 1300 if f.type is FieldType.MULTILINE else 454
    label = _cell(LABEL_WIDTH, _label(f, layout), fill="F2F2F2")
    return [_row(label + _cell(VALUE_WIDTH, value), height)]


def _table_field(f: FieldDef, layout: BlankLayout) -> str:
    number = 700
    rest = PAGE_WIDTH - number
    widths = [number] + [rest // len(f.columns)] * len(f.columns)
    widths[1] += rest - sum(widths[1:])
    head = _cell(number, _para(_run(layout.number_column, bold=True), center=True), fill="F2F2F2")
    for width, column in zip(widths[1:], f.columns, strict=True):
        head += _cell(width, _para(_run(column.label_zh, bold=True), center=True), fill="F2F2F2")
    rows = [_row(head, 454)]
    for n in range(1, layout.table_rows + 1):
        cells = _cell(number, _para(_run(str(n)), center=True))
        cells += "".join(_cell(width, "") for width in widths[1:])
        rows.append(_row(cells, 454))
    heading = _para(_run(f.label_zh, bold=True))
    if f.help_zh:
        heading += _para(_run(f.help_zh, size=18, color="595959"), after=60)
    return heading + _table(widths, rows)


def _document(form: FormDef, layout: BlankLayout) -> str:
    ids = _Ids()
    hidden = '<w:rPr><w:vanish/><w:sz w:val="2"/></w:rPr>'
    parts = [
        f"<w:p><w:pPr>{hidden}</w:pPr><w:r>{hidden}{_t(marker_text(form.kind, form.version))}"
        "</w:r></w:p>",
        _para(
            _run(form.title_zh, bold=True, size=36, font='<w:rFonts w:eastAsia="黑体"/>'),
            center=True,
            after=120,
        ),
    ]
    for line in form.instructions_zh.strip().splitlines():
        parts.append(_para(_run(line.strip(), size=18, color="595959")))
    parts.append(_para(""))
    rows: list[str] = []
    tables: list[str] = []
    for f in form.fields:
        if f.type is FieldType.TABLE:
            tables.append(_table_field(f, layout))
        else:
            rows.extend(_field_rows(f, layout, ids))
    parts.append(_table([LABEL_WIDTH, VALUE_WIDTH], rows))
    for table in tables:
        parts.append(_para("", after=0) + table)
    # Word wants a paragraph after the last table: without it, a save as .doc (LibreOffice,
    # Word 97 format) folds that table into one line of text — the minutes' action items
    parts.append(_para("", after=0))
    parts.append(
        '<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1134" w:right="1134" '
        'w:bottom="1134" w:left="1134" w:header="567" w:footer="567" w:gutter="0"/></w:sectPr>'
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:document xmlns:w="{W}" xmlns:w14="{W14}" xmlns:mc="{MC}" mc:Ignorable="w14">'
        f"<w:body>{''.join(parts)}</w:body></w:document>"
    )


_STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="{W}"><w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="Times New Roman" \
w:eastAsia="宋体" w:hAnsi="Times New Roman" w:cs="Times New Roman"/><w:kern w:val="2"/>\
<w:sz w:val="21"/><w:szCs w:val="21"/><w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/>\
</w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:after="0" w:line="276" \
w:lineRule="auto"/></w:pPr></w:pPrDefault></w:docDefaults>\
<w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/><w:qFormat/>\
</w:style><w:style w:type="table" w:default="1" w:styleId="TableNormal">\
<w:name w:val="Normal Table"/>\
<w:uiPriority w:val="99"/><w:semiHidden/><w:unhideWhenUsed/><w:tblPr><w:tblInd w:w="0" \
w:type="dxa"/><w:tblCellMar><w:top w:w="0" w:type="dxa"/><w:left w:w="108" w:type="dxa"/>\
<w:bottom w:w="0" w:type="dxa"/><w:right w:w="108" w:type="dxa"/></w:tblCellMar></w:tblPr>\
</w:style></w:styles>"""

_SETTINGS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:settings xmlns:w="{W}"><w:zoom w:percent="100"/><w:defaultTabStop w:val="420"/>\
<w:characterSpacingControl w:val="compressPunctuation"/><w:compat><w:compatSetting \
w:name="compatibilityMode" w:uri="http://schemas.microsoft.com/office/word" w:val="15"/>\
</w:compat></w:settings>"""

_CUSTOM_OVERRIDE = (
    '<Override PartName="/docProps/custom.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.custom-properties+xml"/>'
)
_CONTENT_TYPES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\
<Default Extension="xml" ContentType="application/xml"/>\
<Override PartName="/word/document.xml" \
ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>\
<Override PartName="/word/styles.xml" \
ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>\
<Override PartName="/word/settings.xml" \
ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml"/>\
<Override PartName="/docProps/core.xml" \
ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>\
<Override PartName="/docProps/app.xml" \
ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>\
{_CUSTOM_OVERRIDE}</Types>"""

_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CUSTOM_REL = (
    f'<Relationship Id="rId4" Type="{_R}/custom-properties" Target="docProps/custom.xml"/>'
)
_PACKAGE_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\
<Relationship Id="rId1" Type="{_R}/officeDocument" Target="word/document.xml"/>\
<Relationship Id="rId2" \
Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" \
Target="docProps/core.xml"/>\
<Relationship Id="rId3" Type="{_R}/extended-properties" Target="docProps/app.xml"/>\
{_CUSTOM_REL}</Relationships>"""

_DOCUMENT_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\
<Relationship Id="rId1" Type="{_R}/styles" Target="styles.xml"/>\
<Relationship Id="rId2" Type="{_R}/settings" Target="settings.xml"/></Relationships>"""


def _core(title: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title)}</dc:title><dc:creator>mailflow</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{FIXED_ISO}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{FIXED_ISO}</dcterms:modified>'
        "</cp:coreProperties>"
    )


_APP = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">\
<Application>mailflow</Application></Properties>"""


def custom_properties(props: dict[str, str]) -> str:
    body = "".join(
        '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" '
        f'pid="{pid}" name={quoteattr(name)}><vt:lpwstr>{escape(value)}</vt:lpwstr></property>'
        for pid, (name, value) in enumerate(sorted(props.items()), start=2)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"'
        f' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">{body}'
        "</Properties>"
    )


def write_zip(parts: list[tuple[str, str | bytes]]) -> bytes:
    """A zip with fixed timestamps, in the given order, deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for name, content in parts:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            data = content.encode("utf-8") if isinstance(content, str) else content
            package.writestr(info, data)
    return buffer.getvalue()


def docx_package(
    document_xml: str, *, title: str = "", custom: dict[str, str] | None = None
) -> bytes:
    """A minimal Word-like package around *document_xml* (optionally with custom properties)."""
    content_types = _CONTENT_TYPES
    package_rels = _PACKAGE_RELS
    parts: list[tuple[str, str | bytes]] = []
    if not custom:
        content_types = content_types.replace(_CUSTOM_OVERRIDE, "")
        package_rels = package_rels.replace(_CUSTOM_REL, "")
    parts += [
        ("[Content_Types].xml", content_types),
        ("_rels/.rels", package_rels),
        ("word/document.xml", document_xml),
        ("word/_rels/document.xml.rels", _DOCUMENT_RELS),
        ("word/styles.xml", _STYLES),
        ("word/settings.xml", _SETTINGS),
        ("docProps/core.xml", _core(title)),
        ("docProps/app.xml", _APP),
    ]
    if custom:
        parts.append(("docProps/custom.xml", custom_properties(custom)))
    return write_zip(parts)


def blank_docx(form: FormDef, layout: BlankLayout) -> bytes:
    """The blank form *form* as .docx bytes (same bytes every time)."""
    return docx_package(
        _document(form, layout),
        title=form.title_zh,
        custom={MARKER_NAME: f"{form.kind}:{form.version}"},
    )
