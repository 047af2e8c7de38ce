"""Fill forms the way people do, for round-trip tests (and the benchmark).

``fill_docx`` / ``fill_xlsx`` take a generated blank and typed values and put each value
into the value cell next to its label, as a person typing in Word or Excel would: dates
typed as text in Word and as date cells in Excel, a checkbox control clicked (or its box
replaced by ☑), list items joined with 、, action items typed into the empty rows.
The helpers at the end build hand-made documents for the messy-layout tests.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Literal
from xml.sax.saxutils import escape

import openpyxl
from openpyxl.worksheet.worksheet import Worksheet

from mailflow.documents.definitions import FieldDef, FieldType, FormDef
from mailflow.documents.docx_writer import W14, W, docx_package
from mailflow.documents.text import label_key
from mailflow.documents.values import TimeRange

NS = {"w": W, "w14": W14, "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006"}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)
Tick = Literal["control", "glyph"]

# One filled-in form per kind: what the round-trip tests type in and expect back.
SAMPLES: dict[str, dict[str, object]] = {
    # service planning and post-delivery maintenance (seeds 003/004)
    "project_initiation": {
        "project_name": "某银行运维服务项目", "customer": "某银行", "contract_no": "HT-2026-018",
        "project_manager": "郑丽", "initiation_kind": "项目立项",
        "project_start": date(2027, 1, 1), "project_end": date(2027, 12, 31),
        "service_scope": "核心系统7x24运维", "sla_summary": "一般问题4小时响应",
    },
    "project_plan": {
        "project_name": "某银行运维服务项目", "project_manager": "郑丽",
        "plan_summary": "服务目标、组织、实施计划", "reviewers": ["王军", "何平"],
        "review_date": date(2026, 12, 10), "review_conclusion": "评审通过",
    },
    "work_plan": {
        "project_name": "某银行运维服务项目", "project_manager": "郑丽",
        "tasks": [{"task": "驻场人员到位", "owner": "林芳", "due": date(2027, 1, 5)}],
    },
    "plan_change": {
        "project_name": "某银行运维服务项目", "project_manager": "郑丽",
        "change_content": "巡检由每周改为每两周", "reason": "客户要求",
        "staff_changes": "林芳替换孙丽", "recorded_afterwards": True,
    },
    "maintenance_record": {
        "project_name": "某银行运维服务项目", "problem": "数据库备份失败",
        "process": "清理归档日志后重跑备份", "result": "备份成功", "people": ["林芳"],
        "done_at": datetime(2026, 12, 2, 14, 30),
    },
    "maintenance_plan": {
        "project_name": "某银行运维服务项目", "year": "2027", "goals": "系统可用率99.9%",
        "content": "月度巡检、季度演练", "schedule": "每月第一周巡检", "staffing": "林芳负责巡检",
    },
    "maintenance_budget": {
        "project_name": "某银行运维服务项目", "project_manager": "郑丽",
        "personnel_cost": "30万元", "equipment_cost": "5万元", "software_cost": "3万元",
        "training_cost": "1万元", "travel_cost": "2万元",
    },
    "maintenance_adjustment": {
        "project_name": "某银行运维服务项目", "project_manager": "郑丽",
        "adjusts": ["维护预算"], "adjustment": "设备采购费用增加2万元", "reason": "硬盘更换",
        "approving_departments": ["财务部"], "notify": ["林芳"],
    },
    "maintenance_document": {
        "project_name": "某银行运维服务项目", "document_title": "数据库备份失败处理方案",
        "category": "解决方案", "author": "林芳", "summary": "归档日志清理步骤",
    },
    "document_access": {
        "applicant": "孙丽", "department": "财务部", "project_name": "某银行运维服务项目",
        "documents": ["年度维护计划"], "purpose": "核对预算", "no_copy": True,
    },
    "training_plan": {
        "project_name": "某银行运维服务项目", "year": "2027",
        "goals": "客户运维人员独立处理常见问题",
        "content": "备份恢复、日志分析", "audience": "客户运维人员", "schedule": "每季度一次",
        "evaluation": ["考试", "问卷调查"],
    },
    "fault": {
        "applicant": "张伟",
        "department": "市场部",
        "contact": "13800000001",
        "system": "计费系统",
        "symptom": "营业厅无法受理缴费，提示“连接超时”",
        "started_at": datetime(2026, 12, 1, 9, 55),
        "impact": "全部营业厅缴费业务",
    },
    "business_requirement": {
        "applicant": "张伟",
        "department": "市场部",
        "contact": "13800000001",
        "title": "营业厅受理界面增加套餐对比功能",
        "systems": ["营业系统"],
        "description": "受理新装时可并排比较三个套餐的资费与权益",
        "reason": "营业员反映客户难以比较套餐",
        "product_change": False,
        "framework_change": False,
        "wanted_by": date(2026, 12, 20),
    },
    "product": {
        "applicant": "张伟",
        "department": "市场部",
        "contact": "13800000001",
        "product_name": "畅享99元套餐",
        "request_kind": "新增产品",
        "product_description": "月费99元，含30GB流量、500分钟通话",
        "systems": ["计费系统", "营业系统"],
        "effective_date": date(2026, 12, 1),
    },
    "data_processing": {
        "applicant": "张伟",
        "department": "市场部",
        "contact": "13800000001",
        "system": "计费系统",
        "data_to_process": "用户 13800000000 的10月话费重复扣费，请冲正",
        "reason": "客户投诉重复扣费",
        "urgency": "一般",
        "wanted_by": date(2026, 11, 30),
    },
    "data_extraction": {
        "applicant": "张三 <zhangsan@example.com>",
        "department": "市场部",
        "contact": "13800000000",
        "data_wanted": "2026年10月新增用户清单\n字段：用户号、开户日期、套餐",
        "systems": ["计费系统", "客服系统"],
        "data_period": "2026年1月至10月",
        "purpose": "用于月度经营分析报告",
        "scope_of_use": "仅限市场部经营分析组内部使用",
        "classification": "机密",
        "wanted_by": date(2026, 11, 25),
        "delivery_format": ["Excel", "CSV"],
    },
    "account": {
        "applicant": "李四",
        "department": "客服中心",
        "employee_id": "E10086",
        "system": "CRM系统",
        "request_kind": "帐号权限变更",
        "account_name": "lisi",
        "functional_permissions": "工单查询\n工单处理",
        "business_permissions": "华东区客户",
        "reason": "岗位调整，需处理华东区工单",
        "effective_date": date(2026, 12, 1),
        "end_date": date(2026, 12, 31),
    },
    "system_change": {
        "title": "计费系统月度版本升级",
        "system": "计费系统",
        "change_content": "升级计费引擎至 5.2 版\n调整月末出账批处理顺序",
        "reason": "修复月末出账性能问题",
        "change_date": date(2026, 11, 25),
        "planned_window": TimeRange(datetime(2026, 11, 25, 23, 30), datetime(2026, 11, 26, 1, 30)),
        "affects_live_users": True,
        "affected_departments": ["客服中心", "市场部", "财务部"],
        "cooperating_departments": ["网管中心"],
        "operator": "王五 <wangwu@example.com>",
        "it_contact": "赵六",
        "tested_in_test_env": True,
        "emergency": False,
        "rollback_plan": "恢复变更前的数据库备份与程序版本",
        "impact_scope": "变更期间无法查询话费",
        "impact_duration": "约30分钟",
        "notes": "请客服中心提前告知用户",
        "complex_change": False,
    },
    "minutes": {
        "title": "第47周项目周例会",
        "meeting_kind": "周例会",
        "meeting_time": datetime(2026, 11, 26, 16, 0),
        "place": "三楼会议室",
        "host": "陈七",
        "recorder": "周八",
        "attendees": ["陈七", "周八", "吴九"],
        "absentees": ["郑十"],
        "agenda": "1. 各模块进展\n2. 待协商问题",
        "discussion": "计费模块进度延后两天",
        "decisions": "周五前完成计费模块联调",
        "action_items": [
            {"item": "完成计费模块联调", "owner": "吴九", "due": date(2026, 11, 28)},
            {"item": "更新项目计划", "owner": "陈七", "due": date(2026, 11, 30)},
        ],
    },
    "quality_improvement": {
        "project_name": "营业厅系统运维项目",
        "problem": "11月问题解决率80%，低于上月；主要是跨部门工单积压",
        "measures": [
            {"target": "问题解决率提高到95%", "method": "每周复盘未解决工单", "owner": "林芳",
             "due": date(2026, 12, 31)},
            {"target": "客户满意度达到90%", "method": "每月回访重点客户", "owner": "郑丽",
             "due": date(2027, 1, 15)},
        ],
    },
}


def written(value: object, date_style: Callable[[date], str] | None = None) -> str:
    """A typed value as a person would type it into a Word cell."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return date_style(value) if date_style else value.isoformat()
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, TimeRange):
        return f"{written(value.start)} 至 {written(value.end)}"
    return str(value)


def _slots(form: FormDef) -> dict[str, tuple[FieldDef, str | None]]:
    """Label key of every row label on the blank → (field, time range part)."""
    slots: dict[str, tuple[FieldDef, str | None]] = {}
    for f in form.fields:
        slots[label_key(f.label_zh)] = (f, None)
        for c in f.columns if f.type is FieldType.TIME_RANGE else ():
            slots[label_key(c.label_zh)] = (f, c.key)
    return slots


def _part_value(value: object, part: str | None) -> object:
    if isinstance(value, TimeRange) and part is not None:
        return value.start if part == "start" else value.end
    return value


def _selected(f: FieldDef, value: object) -> set[str]:
    if f.type is FieldType.YESNO:
        return {"是" if value else "否"}
    if isinstance(value, list):
        return {str(v) for v in value}
    return {str(value)}


# --- .docx -------------------------------------------------------------------------------


def _w(tag: str) -> str:
    return f"{{{W}}}{tag}"


def _cell_text(tc: ET.Element) -> str:
    return "\n".join("".join(p.itertext()) for p in tc.iter(_w("p")))


def _set_cell_text(tc: ET.Element, text: str) -> None:
    for p in tc.findall(_w("p")):
        tc.remove(p)
    for line in text.split("\n"):
        p = ET.SubElement(tc, _w("p"))
        r = ET.SubElement(p, _w("r"))
        t = ET.SubElement(r, _w("t"))
        t.text = line


def _tick_docx(tc: ET.Element, chosen: set[str], tick: Tick) -> None:
    for p in tc.iter(_w("p")):
        children = list(p)
        for i, sdt in enumerate(children):
            if sdt.tag != _w("sdt"):
                continue
            follower = children[i + 1] if i + 1 < len(children) else None
            option = "".join(follower.itertext()).strip("\u3000 ") if follower is not None else ""
            if option not in chosen:
                continue
            if tick == "control":
                checked = sdt.find(f"{_w('sdtPr')}/{{{W14}}}checkbox/{{{W14}}}checked")
                assert checked is not None
                checked.set(f"{{{W14}}}val", "1")
                for t in sdt.iter(_w("t")):
                    t.text = "☒"
            else:  # the person deleted the box and typed ☑ instead
                run = ET.Element(_w("r"))
                ET.SubElement(run, _w("t")).text = "☑"
                p.remove(sdt)
                p.insert(i, run)


def fill_docx(
    blank: bytes,
    form: FormDef,
    values: Mapping[str, object],
    *,
    tick: Tick = "control",
    date_style: Callable[[date], str] | None = None,
) -> bytes:
    """The generated blank with *values* typed into its value cells."""
    with zipfile.ZipFile(io.BytesIO(blank)) as package:
        parts = {info.filename: package.read(info) for info in package.infolist()}
    root = ET.fromstring(parts["word/document.xml"])  # noqa: S314 - our own blank
    slots = _slots(form)
    tables = root.findall(f".//{_w('tbl')}")
    for tr in tables[0].findall(_w("tr")):
        label_tc, value_tc = tr.findall(_w("tc"))
        found = slots.get(label_key(_cell_text(label_tc)))
        if found is None or found[0].key not in values:
            continue
        f, part = found
        value = _part_value(values[f.key], part)
        if f.type in (FieldType.CHOICE, FieldType.MULTICHOICE, FieldType.YESNO):
            _tick_docx(value_tc, _selected(f, value), tick)
        else:
            _set_cell_text(value_tc, written(value, date_style))
    for f in form.fields:
        if f.type is FieldType.TABLE and f.key in values:
            _fill_docx_table(tables, f, values[f.key], date_style)
    parts["word/document.xml"] = ET.tostring(root, xml_declaration=True, encoding="UTF-8")
    return _rezip(parts)


def _fill_docx_table(
    tables: Sequence[ET.Element],
    f: FieldDef,
    rows: object,
    date_style: Callable[[date], str] | None,
) -> None:
    headers = {label_key(c.label_zh): c.key for c in f.columns}
    for tbl in tables[1:]:
        trs = tbl.findall(_w("tr"))
        keys = [headers.get(label_key(_cell_text(tc))) for tc in trs[0].findall(_w("tc"))]
        if not any(keys):
            continue
        assert isinstance(rows, list)
        for tr, record in zip(trs[1:], rows, strict=False):
            for key, tc in zip(keys, tr.findall(_w("tc")), strict=True):
                if key is not None and key in record:
                    _set_cell_text(tc, written(record[key], date_style))
        return


def replace_in_part(data: bytes, part: str, old: str, new: str) -> bytes:
    """*data* (a zip package) with *old* replaced by *new* in part *part* (which must hold it)."""
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        parts = {info.filename: package.read(info) for info in package.infolist()}
    text = parts[part].decode("utf-8")
    assert old in text, f"{old!r} not in {part}"
    parts[part] = text.replace(old, new).encode("utf-8")
    return _rezip(parts)


def _rezip(parts: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in parts.items():
            package.writestr(name, data)
    return buffer.getvalue()


# --- .xlsx -------------------------------------------------------------------------------


def _xlsx_value(f: FieldDef, value: object, cell_text: str, pick: bool) -> object:
    if f.type in (FieldType.CHOICE, FieldType.YESNO) and pick:
        return next(iter(_selected(f, value)))  # picked from the drop-down
    if f.type in (FieldType.CHOICE, FieldType.MULTICHOICE, FieldType.YESNO):
        text = cell_text
        for option in _selected(f, value):
            text = text.replace(f"☐{option}", f"☑{option}")
        return text
    if isinstance(value, datetime | date):
        return (
            value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
        )
    return written(value)


def fill_xlsx(
    blank: bytes, form: FormDef, values: Mapping[str, object], *, pick: bool = True
) -> bytes:
    """The generated blank with *values* entered next to their labels (dates as date cells)."""
    wb = openpyxl.load_workbook(io.BytesIO(blank))
    ws = wb.worksheets[0]
    assert isinstance(ws, Worksheet)
    slots = _slots(form)
    table_keys: dict[str, FieldDef] = {}
    for row in ws.iter_rows(min_col=1, max_col=4):
        label = row[0].value
        if not isinstance(label, str):
            continue
        found = slots.get(label_key(label))
        if found is not None and found[0].type is not FieldType.TABLE:
            f, part = found
            if f.key in values:
                value = _part_value(values[f.key], part)
                current = row[1].value if isinstance(row[1].value, str) else ""
                row[1].value = _xlsx_value(f, value, current, pick)
            continue
        for f in form.fields:
            if f.type is FieldType.TABLE and label_key(str(row[1].value or "")) == label_key(
                f.columns[0].label_zh
            ):
                table_keys[f.key] = f
                records = values.get(f.key)
                if isinstance(records, list):
                    for offset, record in enumerate(records, start=1):
                        for col, column in enumerate(f.columns, start=2):
                            cell = ws.cell(row=row[0].row + offset, column=col)
                            cell.value = _xlsx_value(column, record[column.key], "", pick)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- hand-made documents -----------------------------------------------------------------


def run(text: str) -> str:
    """A run of text (line breaks become w:br)."""
    pieces = text.split("\n")
    inner = "<w:br/>".join(f'<w:t xml:space="preserve">{escape(piece)}</w:t>' for piece in pieces)
    return f"<w:r>{inner}</w:r>"


def para(*content: str) -> str:
    """A paragraph of plain strings (turned into runs) and raw XML pieces (starting "<")."""
    return "<w:p>" + "".join(c if c.startswith("<") else run(c) for c in content) + "</w:p>"


def tc(content: str = "", *, span: int = 1, vmerge: str | None = None) -> str:
    props = f'<w:gridSpan w:val="{span}"/>' if span > 1 else ""
    if vmerge is not None:
        props += f'<w:vMerge w:val="{vmerge}"/>' if vmerge == "restart" else "<w:vMerge/>"
    body = content if content.startswith("<w:p") or content.startswith("<w:sdt") else para(content)
    return f"<w:tc><w:tcPr>{props}</w:tcPr>{body}</w:tc>"


def table(rows: Iterable[Iterable[str]]) -> str:
    """A table of rows of cells; a cell is plain text or a ``tc(...)`` string."""
    body = "".join(
        "<w:tr>" + "".join(c if c.startswith("<w:tc") else tc(c) for c in row) + "</w:tr>"
        for row in rows
    )
    return f"<w:tbl><w:tblPr/>{body}</w:tbl>"


def checkbox(checked: bool) -> str:
    """A Word checkbox content control as Word writes it."""
    glyph = "☒" if checked else "☐"
    return (
        f'<w:sdt><w:sdtPr><w14:checkbox><w14:checked w14:val="{int(checked)}"/>'
        '<w14:checkedState w14:val="2612" w14:font="MS Gothic"/>'
        '<w14:uncheckedState w14:val="2610" w14:font="MS Gothic"/></w14:checkbox></w:sdtPr>'
        f"<w:sdtContent><w:r><w:t>{glyph}</w:t></w:r></w:sdtContent></w:sdt>"
    )


def document(*blocks: str, extra_ns: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:document xmlns:w="{W}" xmlns:w14="{W14}" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
        'xmlns:v="urn:schemas-microsoft-com:vml" '
        f'mc:Ignorable="w14"{extra_ns}><w:body>{"".join(blocks)}</w:body></w:document>'
    )


def make_docx(*blocks: str, custom: dict[str, str] | None = None, extra_ns: str = "") -> bytes:
    """A hand-made .docx whose body is *blocks* (no marker unless *custom* gives one)."""
    return docx_package(document(*blocks, extra_ns=extra_ns), custom=custom)


def make_xlsx(
    sheets: Mapping[str, Sequence[Sequence[object]]],
    *,
    merges: Mapping[str, Sequence[str]] | None = None,
) -> bytes:
    """A hand-made workbook: sheet name → rows of values (None for an empty cell)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is not None:
                    ws.cell(row=r, column=c, value=value)
        for cells in (merges or {}).get(name, ()):
            ws.merge_cells(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
