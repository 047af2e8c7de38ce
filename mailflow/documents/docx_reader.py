"""Read a .docx into layout blocks by walking its XML (no python-docx: ``row.cells`` is 30× slower).

What a person may have used to fill a form, and how it reads here:
- tables (``w:tbl``/``w:tr``/``w:tc``) with ``gridSpan``, ``gridBefore`` and ``vMerge``: a
  ``Grid`` whose cells know their grid column, so stacked layouts line up;
- paragraphs ("申请人：张三"): a ``Line``; text boxes (``w:txbxContent``): their paragraphs
  and tables follow the paragraph that anchors them (the VML fallback copy is skipped);
- content controls (``w:sdt``, block, row, cell or run level): their content; a checkbox
  control reads as ☑ or ☐ from ``w14:checked``; one still showing its placeholder is empty;
  a titled/tagged control is also a ``Pair``; legacy FORMCHECKBOX fields read as ☑/☐;
- Wingdings/Symbol check marks (``w:sym``) read as ☑/☐; deleted revisions are dropped;
- headers and footers (``word/header*.xml``, ``footer*.xml``) follow the body, each distinct
  text once, so "编号：…" or "申请日期：…" typed there belongs to the form.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from typing import Final

from mailflow.documents.layout import (
    MARKER_NAME,
    MARKER_PREFIX,
    Block,
    Cell,
    Grid,
    Line,
    Marker,
    Pair,
    Part,
    RawDocument,
    parse_marker,
)
from mailflow.documents.ooxml import (
    WHOLE_PART_BYTES,
    PackageError,
    custom_property,
    main_part,
    open_package,
    parse_xml,
    part_rels,
    read_part,
    stream_xml,
)

W_TRANSITIONAL: Final = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W_STRICT: Final = "http://purl.oclc.org/ooxml/wordprocessingml/main"
W14: Final = "http://schemas.microsoft.com/office/word/2010/wordml"
MC: Final = "http://schemas.openxmlformats.org/markup-compatibility/2006"

MAX_BLOCKS = 3000  # a form has a few dozen blocks and a few hundred cells: stop walking
MAX_CELLS = 5000  # an enormous document early

# w:sym characters (Wingdings, Wingdings 2, Symbol…) that people use as boxes and ticks.
_SYM_MARKED = frozenset({"F0FE", "F0FD", "F0FC", "F0FB", "F052", "F054", "F050", "F051", "F0D6"})
_SYM_EMPTY = frozenset({"F0A8", "F06F", "F0A3", "F02A", "F071", "F0A1"})


class _Tags:
    """Clark-notation tag names for one WordprocessingML namespace (transitional or strict)."""

    def __init__(self, w: str) -> None:
        def t(name: str) -> str:
            return f"{{{w}}}{name}"

        self.w = w
        self.body = t("body")
        self.p, self.r, self.t, self.tab, self.br, self.cr = (
            t("p"),
            t("r"),
            t("t"),
            t("tab"),
            t("br"),
            t("cr"),
        )
        self.sym, self.del_text, self.instr = t("sym"), t("delText"), t("instrText")
        self.del_, self.move_from = t("del"), t("moveFrom")
        self.tbl, self.tr, self.tc = t("tbl"), t("tr"), t("tc")
        self.tc_pr, self.tr_pr, self.grid_span = t("tcPr"), t("trPr"), t("gridSpan")
        self.v_merge, self.grid_before = t("vMerge"), t("gridBefore")
        self.sdt, self.sdt_pr, self.sdt_content = t("sdt"), t("sdtPr"), t("sdtContent")
        self.placeholder, self.alias, self.tag = t("showingPlcHdr"), t("alias"), t("tag")
        self.custom_xml, self.smart_tag = t("customXml"), t("smartTag")
        self.txbx = t("txbxContent")
        self.r_pr, self.vanish = t("rPr"), t("vanish")
        self.fld_char, self.ff_data, self.check_box = t("fldChar"), t("ffData"), t("checkBox")
        self.checked, self.default = t("checked"), t("default")
        self.no_break_hyphen, self.soft_hyphen = t("noBreakHyphen"), t("softHyphen")
        self.val = t("val")
        self.char, self.font = t("char"), t("font")
        self.pPr = t("pPr")
        self.w14_checkbox, self.w14_checked = f"{{{W14}}}checkbox", f"{{{W14}}}checked"
        self.w14_val = f"{{{W14}}}val"
        self.mc_alt, self.mc_choice = f"{{{MC}}}AlternateContent", f"{{{MC}}}Choice"
        self.mc_fallback = f"{{{MC}}}Fallback"


_TAGS = {ns: _Tags(ns) for ns in (W_TRANSITIONAL, W_STRICT)}


def _on(el: ET.Element | None, tags: _Tags) -> bool:
    """A WordprocessingML on/off property: present and not val=0/false/off."""
    if el is None:
        return False
    return el.get(tags.val, "1").lower() not in ("0", "false", "off")


@dataclass
class _Text:
    """Text gathered from a paragraph: visible, hidden (for our marker), and side finds."""

    visible: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    boxes: list[ET.Element] = field(default_factory=list)  # w:txbxContent to walk later


class _Walker:
    def __init__(self, tags: _Tags) -> None:
        self.k = tags
        self.blocks: list[Block] = []
        self.cells = 0

    def full(self) -> bool:
        return len(self.blocks) >= MAX_BLOCKS or self.cells >= MAX_CELLS

    # -- block level --------------------------------------------------------------------
    def container(self, el: ET.Element) -> None:
        for child in el:
            if self.full():
                return
            self.block(child)

    def block(self, child: ET.Element) -> None:
        k = self.k
        tag = child.tag
        if tag == k.p:
            self.paragraph(child)
        elif tag == k.tbl:
            self.table(child)
        elif tag == k.sdt:
            self.block_sdt(child)
        elif tag in (k.custom_xml, k.smart_tag) or tag == k.mc_choice:
            self.container(child)
        elif tag == k.mc_alt:
            choice = child.find(k.mc_choice)
            if choice is not None:
                self.container(choice)

    def block_sdt(self, sdt: ET.Element) -> None:
        content = sdt.find(self.k.sdt_content)
        if content is None:
            return
        start = len(self.blocks)
        if sdt.find(f"{self.k.sdt_pr}/{self.k.placeholder}") is None:
            self.container(content)
        label = _sdt_label(sdt, self.k)
        if label:
            texts = [b.text for b in self.blocks[start:] if isinstance(b, Line)]
            self.blocks.append(Pair(label, "\n".join(texts)))

    def paragraph(self, p: ET.Element) -> None:
        found = _Text()
        self.inline(p, found, hidden=False)
        text = "".join(found.visible)
        if MARKER_PREFIX in "".join(found.hidden) or MARKER_PREFIX in text:
            marker = parse_marker("".join(found.hidden) + text)
            if marker is not None:
                self.blocks.append(marker)
                return
        self.blocks.append(Line(text))
        self.blocks.extend(found.pairs)
        for box in found.boxes:
            self.container(box)

    def table(self, tbl: ET.Element) -> None:
        k = self.k
        rows: list[tuple[Cell, ...]] = []
        later: list[ET.Element] = []
        for tr in _wrapped(tbl, k.tr, k):
            col = _int_val(tr.find(f"{k.tr_pr}/{k.grid_before}"), k, 0)
            cells: list[Cell] = []
            for tc in _wrapped(tr, k.tc, k):
                tc_pr = tc.find(k.tc_pr)
                span = max(1, _int_val(None if tc_pr is None else tc_pr.find(k.grid_span), k, 1))
                merge = None if tc_pr is None else tc_pr.find(k.v_merge)
                text = self.cell_text(tc, later)
                continued = merge is not None and merge.get(k.val, "continue") != "restart"
                cells.append(Cell(col, span, None if continued or not text.strip() else text))
                col += span
                self.cells += 1
            rows.append(tuple(cells))
            if self.full():
                break
        self.blocks.append(Grid(tuple(rows)))
        for el in later:
            if el.tag == k.tbl:
                self.table(el)
            else:
                self.container(el)

    def cell_text(self, tc: ET.Element, later: list[ET.Element]) -> str:
        """The cell's paragraphs joined by new lines; nested tables and text boxes go *later*."""
        k = self.k
        lines: list[str] = []
        stack = list(reversed(list(tc)))
        while stack:
            el = stack.pop()
            if el.tag == k.p:
                found = _Text()
                self.inline(el, found, hidden=False)
                lines.append("".join(found.visible))
                self.blocks.extend(found.pairs)
                for box in found.boxes:  # a text box drawn in the cell is the cell's text
                    inner = self.cell_text(box, later)
                    if inner.strip():
                        lines.append(inner)
            elif el.tag == k.tbl:
                later.append(el)
            elif el.tag == k.sdt:
                content = el.find(k.sdt_content)
                placeholder = el.find(f"{k.sdt_pr}/{k.placeholder}") is not None
                if _is_checkbox(el, k):
                    lines.append(_checkbox_glyph(el, k))
                elif content is not None and not placeholder:
                    stack.extend(reversed(list(content)))
            elif el.tag in (k.custom_xml, k.mc_choice):
                stack.extend(reversed(list(el)))
            elif el.tag == k.mc_alt:
                choice = el.find(k.mc_choice)
                if choice is not None:
                    stack.extend(reversed(list(choice)))
        return "\n".join(lines)

    # -- run level ----------------------------------------------------------------------
    def inline(self, el: ET.Element, out: _Text, *, hidden: bool) -> None:
        k = self.k
        for child in el:
            tag = child.tag
            if tag == k.t:
                (out.hidden if hidden else out.visible).append(child.text or "")
            elif tag == k.r:
                r_pr = child.find(k.r_pr)
                vanish = r_pr is not None and _on(r_pr.find(k.vanish), k)
                self.inline(child, out, hidden=hidden or vanish)
            elif tag == k.tab:
                out.visible.append("\t")
            elif tag in (k.br, k.cr):
                out.visible.append("\n")
            elif tag == k.no_break_hyphen:
                out.visible.append("-")
            elif tag == k.sym:
                out.visible.append(_sym_glyph(child, k))
            elif tag == k.fld_char:
                box = child.find(f"{k.ff_data}/{k.check_box}")
                if box is not None:
                    out.visible.append("☑" if _form_checkbox_checked(box, k) else "☐")
            elif tag == k.sdt:
                self.inline_sdt(child, out, hidden=hidden)
            elif tag == k.txbx:
                out.boxes.append(child)
            elif tag == k.mc_alt:
                choice = child.find(k.mc_choice)
                if choice is not None:
                    self.inline(choice, out, hidden=hidden)
            elif tag in (k.del_text, k.instr, k.del_, k.move_from, k.mc_fallback, k.pPr, k.r_pr):
                continue
            elif len(child):
                self.inline(child, out, hidden=hidden)

    def inline_sdt(self, sdt: ET.Element, out: _Text, *, hidden: bool) -> None:
        k = self.k
        if _is_checkbox(sdt, k):
            out.visible.append(_checkbox_glyph(sdt, k))
            return
        content = sdt.find(k.sdt_content)
        if content is None or sdt.find(f"{k.sdt_pr}/{k.placeholder}") is not None:
            return
        inner = _Text()
        self.inline(content, inner, hidden=hidden)
        out.visible.extend(inner.visible)
        out.hidden.extend(inner.hidden)
        out.pairs.extend(inner.pairs)
        out.boxes.extend(inner.boxes)
        label = _sdt_label(sdt, k)
        if label:
            out.pairs.append(Pair(label, "".join(inner.visible)))


def _wrapped(el: ET.Element, tag: str, k: _Tags) -> list[ET.Element]:
    """Children named *tag*, looking through content controls and customXml wrappers."""
    found: list[ET.Element] = []
    for child in el:
        if child.tag == tag:
            found.append(child)
        elif child.tag == k.sdt:
            content = child.find(k.sdt_content)
            if content is not None:
                found.extend(_wrapped(content, tag, k))
        elif child.tag == k.custom_xml:
            found.extend(_wrapped(child, tag, k))
    return found


def _int_val(el: ET.Element | None, k: _Tags, default: int) -> int:
    if el is None:
        return default
    try:
        return min(int(el.get(k.val, str(default))), 64)
    except ValueError:
        return default


def _is_checkbox(sdt: ET.Element, k: _Tags) -> bool:
    return sdt.find(f"{k.sdt_pr}/{k.w14_checkbox}") is not None


def _checkbox_glyph(sdt: ET.Element, k: _Tags) -> str:
    checked = sdt.find(f"{k.sdt_pr}/{k.w14_checkbox}/{k.w14_checked}")
    on = checked is not None and checked.get(k.w14_val, "1").lower() in ("1", "true", "on")
    return "☑" if on else "☐"


def _form_checkbox_checked(box: ET.Element, k: _Tags) -> bool:
    checked = box.find(k.checked)
    if checked is not None:
        return _on(checked, k)
    default = box.find(k.default)
    return default is not None and _on(default, k)


def _sym_glyph(sym: ET.Element, k: _Tags) -> str:
    code = (sym.get(k.char) or "").upper().rjust(4, "0")
    if code.startswith("00"):
        code = "F0" + code[2:]
    if code in _SYM_MARKED:
        return "☑"
    if code in _SYM_EMPTY:
        return "☐"
    return ""


def _sdt_label(sdt: ET.Element, k: _Tags) -> str:
    pr = sdt.find(k.sdt_pr)
    if pr is None or pr.find(k.w14_checkbox) is not None:
        return ""
    for name in (k.alias, k.tag):
        el = pr.find(name)
        if el is not None and (el.get(k.val) or "").strip():
            return (el.get(k.val) or "").strip()
    return ""


def _tags_for(root: ET.Element, name: str) -> _Tags:
    ns = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    tags = _TAGS.get(ns)
    if tags is None:
        raise PackageError(f"{name} is not a WordprocessingML document")
    return tags


def _walk(package: zipfile.ZipFile, name: str) -> list[Block]:
    """Walk the main part's body: parsed in one go when small (fastest), else streamed."""
    if package.getinfo(name).file_size > WHOLE_PART_BYTES:
        return _walk_streamed(package, name)
    root = parse_xml(read_part(package, name) or b"", name)
    walker = _Walker(_tags_for(root, name))
    body = root.find(walker.k.body)
    if body is not None:
        walker.container(body)
    return walker.blocks


def _walk_streamed(package: zipfile.ZipFile, name: str) -> list[Block]:
    """Hand each body-level element to the walker as it completes, then drop it; stop at
    MAX_BLOCKS/MAX_CELLS, so a huge document costs no more than its first cells."""
    walker: _Walker | None = None
    body: ET.Element | None = None
    depth = 0
    for event, element in stream_xml(package, name):
        if event == "start":
            depth += 1
            if depth == 1:
                walker = _Walker(_tags_for(element, name))
            elif depth == 2 and walker is not None and element.tag == walker.k.body:
                body = element
            continue
        depth -= 1
        if depth == 2 and body is not None and walker is not None:
            walker.block(element)
            body.clear()
            if walker.full():
                break
    if walker is None:
        raise PackageError(f"{name} is empty")
    return walker.blocks


_HEADER_TYPES = ("/header", "/footer")
MAX_HEADER_PARTS = 6  # first, even and default header and footer of one section


def _headers_and_footers(package: zipfile.ZipFile, main: str) -> list[Block]:
    """The blocks of the document's headers, then its footers ("编号：…", "申请日期：…" are
    sometimes typed there), each distinct text once (first/even/default repeat it)."""
    rels = part_rels(package, main)
    names = sorted((not kind.endswith("/header"), target) for kind, target in rels.values()
                   if kind.endswith(_HEADER_TYPES) and target in package.NameToInfo)
    blocks: list[Block] = []
    seen: set[tuple[Block, ...]] = set()
    for _, name in names[:MAX_HEADER_PARTS]:
        root = parse_xml(read_part(package, name) or b"", name)
        walker = _Walker(_tags_for(root, name))
        walker.container(root)
        found = tuple(b for b in walker.blocks if not (isinstance(b, Line) and not b.text.strip()))
        if found and found not in seen:
            seen.add(found)
            blocks.extend(found)
    return blocks


def read_docx(data: bytes) -> RawDocument:
    """The document body as blocks (one Part), then its headers and footers, plus the file
    marker from custom properties."""
    package = open_package(data)
    with package:
        name = main_part(package, "word/document.xml")
        if name not in package.NameToInfo:
            raise PackageError(f"no main document part ({name})")
        blocks = _walk(package, name)
        blocks.extend(_headers_and_footers(package, name))
        marker_value = custom_property(package, MARKER_NAME)
    file_marker: Marker | None = parse_marker(marker_value) if marker_value else None
    return RawDocument((Part("document", tuple(blocks)),), file_marker)
