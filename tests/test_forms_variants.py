"""Forms as people really send them: hand-made, re-laid-out, ticked in odd ways.

Each case builds a file (a hand-made .docx/.xlsx, or a generated blank altered the way
people alter them), reads it, and checks specific typed values, not just "no crash".
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal

import openpyxl
import pytest

from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.documents.generate import generate_blank_forms
from mailflow.documents.reading import FormReading, read_form
from mailflow.documents.values import TimeRange
from tests.formfill import (
    SAMPLES,
    checkbox,
    fill_docx,
    fill_xlsx,
    make_docx,
    make_xlsx,
    para,
    replace_in_part,
    table,
    tc,
)

CATALOG = load_catalog(default_forms_dir())
Fmt = Literal["docx", "xlsx"]


@pytest.fixture(scope="module")
def blanks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("blank")
    generate_blank_forms(CATALOG, out)
    return out


@dataclass(frozen=True)
class Case:
    """A file to read and what must come out of it (a subset of each reading's values)."""

    build: Callable[[Path], bytes]
    fmt: Fmt
    kinds: tuple[str, ...]
    values: tuple[Mapping[str, object], ...]
    by: str | None = None
    no_problems: tuple[str, ...] = ()  # fields that must have no problem
    default_year: int | None = 2026
    extra: Mapping[str, object] = field(default_factory=dict)


def _dx_rows(**override: str) -> list[list[str]]:
    """A hand-made data-extraction table, label | value, with *override* values by label."""
    base = {
        "申请人": "张三",
        "申请部门": "市场部",
        "联系方式": "13800000000",
        "数据需求": "10月新增用户清单",
        "涉及系统": "计费系统、客服系统",
        "使用目的": "月度经营分析",
        "使用范围": "市场部内部",
        "数据密级": "☐绝密 ☑机密 ☐保密",
    }
    base.update(override)
    return [[label, value] for label, value in base.items()]


def dx_table_docx(**override: str) -> Callable[[Path], bytes]:
    def build(_: Path) -> bytes:
        return make_docx(para("业务数据提取申请表"), table(_dx_rows(**override)))

    return build


def _marker_case(marker: str) -> Case:
    return Case(
        dx_table_docx(数据密级=f"☐绝密 {marker}机密 ☐保密"),
        "docx",
        ("data_extraction",),
        ({"classification": "机密"},),
        by="title",
        no_problems=("classification",),
    )


def _date_case(text: str, expected: date) -> Case:
    return Case(
        dx_table_docx(期望完成日期=text),
        "docx",
        ("data_extraction",),
        ({"wanted_by": expected},),
        no_problems=("wanted_by",),
    )


# --- builders for the layouts ------------------------------------------------------------


def stacked_docx(_: Path) -> bytes:
    rows = [
        ["申请人", "所属部门", "工号", "系统名称"],
        ["李四", "客服中心", "E10086", "CRM系统"],
        ["申请类型", "", "", ""],
        [tc("☐新增帐号 ☐帐号权限变更 ☑帐号注销", span=4)],
        ["申请原因", "离职", "生效日期", "2026-12-01"],
    ]
    return make_docx(para("系统帐号申请表"), table(rows))


def merged_docx(_: Path) -> bytes:
    rows = [
        [tc("系统变更申请表", span=4)],
        ["变更名称", tc("计费系统升级", span=3)],
        [tc("计划变更时间", vmerge="restart"), "计划开始时间", tc("2026-11-25 23:30", span=2)],
        [tc("", vmerge="continue"), "计划结束时间", tc("次日 01:30", span=2)],
        ["受影响部门", tc("客服中心\n市场部", span=3)],
    ]
    return make_docx(table(rows))


def extra_rows_docx(_: Path) -> bytes:
    rows = [
        ["申请人", "李四", "所属部门", "客服中心"],
        ["", "", "", ""],
        ["部门经理审批意见", "同意", "签字", "王经理"],
        ["工号", "E10086", "系统名称", "CRM系统"],
        [tc("以下由IT管理部填写", span=4)],
        ["申请类型", tc("帐号注销", span=3)],
        ["处理人", "", "处理日期", ""],
    ]
    return make_docx(para("系统帐号申请表"), table(rows))


def spaced_labels_docx(_: Path) -> bytes:
    rows = [
        ["申 请 人：", "李四"],
        ["所 属 部 门：", "客服中心"],
        ["工　　号:", "E10086"],
        ["*系统名称（必填）", "CRM系统"],
    ]
    return make_docx(para("系统帐号申请表"), table(rows))


def paragraphs_docx(_: Path) -> bytes:
    return make_docx(
        para("会议纪要"),
        para("会议名称：第47周项目周例会"),
        para("会议时间：2026年11月26日下午4点    会议地点：三楼会议室"),
        para("主持人：陈七　　记录人：周八"),
        para("参会人员：陈七、周八、吴九"),
        para("会议议题："),
        para("1. 各模块进展"),
        para("2. 待协商问题"),
        para("会议决定：周五前完成联调"),
        para("审批意见：同意"),
        para("这一行不属于任何栏目"),
    )


def textbox_docx(_: Path) -> bytes:
    inner = para("使用目的：季度经营分析") + para("使用范围：仅限本部门")
    box = (
        '<w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:wsp><wps:txbx>'
        f"<w:txbxContent>{inner}</w:txbxContent></wps:txbx></wps:wsp></w:drawing></mc:Choice>"
        f"<mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent>{inner}</w:txbxContent>"
        "</v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r>"
    )
    rows = [row for row in _dx_rows() if row[0] not in ("使用目的", "使用范围")]
    return make_docx(para("业务数据提取申请表"), para(box), table(rows))


def content_controls_docx(_: Path) -> bytes:
    def text_control(value: str, alias: str = "", placeholder: bool = False) -> str:
        pr = f'<w:alias w:val="{alias}"/>' if alias else ""
        pr += "<w:showingPlcHdr/>" if placeholder else ""
        return f"<w:sdt><w:sdtPr>{pr}</w:sdtPr><w:sdtContent>{para(value)}</w:sdtContent></w:sdt>"

    rows = [row for row in _dx_rows() if row[0] not in ("使用目的", "使用范围", "联系方式")]
    rows_xml = table(rows)
    cells = table(
        [
            ["使用范围", tc(text_control("仅限市场部"))],
            ["联系方式", tc(text_control("单击或点击此处输入文字。", placeholder=True))],
        ]
    )
    return make_docx(
        para("业务数据提取申请表"),
        rows_xml,
        text_control("用于季度分析", alias="使用目的"),
        cells,
    )


def yesno_controls_docx(_: Path) -> bytes:
    rows = [
        ["变更名称", "数据库扩容"],
        ["是否影响现网用户", para(checkbox(True), "是 ", checkbox(False), "否")],
        ["是否已在测试环境确认", para(checkbox(False), "是 ", checkbox(True), "否")],
        ["是否复杂变更", "N"],
    ]
    return make_docx(para("系统变更申请表"), table(rows))


def wps_like_docx(_: Path) -> bytes:
    tick = '<w:r><w:sym w:font="Wingdings 2" w:char="F052"/></w:r>'
    box = '<w:r><w:sym w:font="Wingdings 2" w:char="F0A3"/></w:r>'
    split_label = (
        '<w:p><w:bookmarkStart w:id="0" w:name="_GoBack"/><w:r><w:t>使用</w:t></w:r>'
        '<w:proofErr w:type="spellStart"/><w:r><w:rPr><w:b/></w:rPr><w:t>目的</w:t></w:r>'
        '<w:proofErr w:type="spellEnd"/><w:bookmarkEnd w:id="0"/><w:r><w:t>：</w:t></w:r></w:p>'
    )
    rows = [row for row in _dx_rows() if row[0] not in ("使用目的", "数据密级")]
    rows += [
        [tc(split_label), "经营分析"],
        ["数据密级", para(box, "绝密  ", tick, "机密  ", box, "保密")],
    ]
    return make_docx(
        para("业务数据提取申请表"),
        table(rows),
        custom={"KSOProductBuildVer": "2052-11.1.0.14309"},
        extra_ns=' xmlns:wpsCustomData="http://www.wps.cn/officeDocument/2013/wpsCustomData"',
    )


def legacy_checkbox_docx(_: Path) -> bytes:
    def field_box(checked: bool) -> str:
        return (
            '<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:checkBox><w:sizeAuto/>'
            f'<w:default w:val="{int(checked)}"/></w:checkBox></w:ffData></w:fldChar></w:r>'
            '<w:r><w:instrText xml:space="preserve"> FORMCHECKBOX </w:instrText></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
        )

    rows = [
        ["会议名称", "需求评审会"],
        [
            "会议类型",
            para(
                field_box(False),
                "周例会 ",
                field_box(False),
                "专题讨论会 ",
                field_box(True),
                "需方会议",
            ),
        ],
        ["记录人", "周八"],
    ]
    return make_docx(para("会议纪要"), table(rows))


def tracked_changes_docx(_: Path) -> bytes:
    value = (
        '<w:p><w:del w:id="1" w:author="x"><w:r><w:delText>客服部</w:delText></w:r></w:del>'
        '<w:ins w:id="2" w:author="x"><w:r><w:t>客服中心</w:t></w:r></w:ins></w:p>'
    )
    return make_docx(
        para("系统帐号申请表"), table([["所属部门", tc(value)], ["申请人", "李四"], ["工号", "E1"]])
    )


def no_title_docx(_: Path) -> bytes:
    rows = [
        ["变更名称", "扩容"],
        ["变更系统", "CRM系统"],
        ["变更内容", "增加节点"],
        ["回退方案", "下线新节点"],
        ["影响范围", "无"],
        ["变更操作人员", "王五"],
    ]
    return make_docx(para("关于CRM扩容的说明"), table(rows))


def two_forms_docx(_: Path) -> bytes:
    account = [["申请人", "李四"], ["所属部门", "客服中心"], ["申请类型", "☑新增帐号"]]
    return make_docx(
        para("系统帐号申请表"),
        table(account),
        para(""),
        para("业务数据提取申请表"),
        table(_dx_rows()),
    )


def alias_docx(_: Path) -> bytes:
    rows = [
        ["帐号使用人", "李四"],
        ["部门", "客服中心"],
        ["员工编号", "E10086"],
        ["申请系统", "CRM系统"],
        ["申请类别", "新增账号"],
        ["登录账号", "lisi"],
        ["失效日期", "2026年12月31日"],
        ["开通日期", "2026/12/01"],
    ]
    return make_docx(para("XX有限公司系统账号申请表"), table(rows))


def instructions_mention_labels_docx(_: Path) -> bytes:
    return make_docx(
        para("业务数据提取申请表"),
        para("填表说明：使用目的：请写明用途。数据密级：三选一。"),
        table(_dx_rows()),
        para("备注：使用范围：以审批为准"),
    )


def time_range_one_cell_docx(_: Path) -> bytes:
    rows = [["变更名称", "升级"], ["变更操作时间", "11月25日 23:30 至 次日 01:30"]]
    return make_docx(para("系统变更申请表"), table(rows))


def time_range_date_field_docx(_: Path) -> bytes:
    rows = [["变更名称", "升级"], ["变更日期", "2026-11-25"], ["计划变更时间", "23:30-01:30"]]
    return make_docx(para("系统变更申请表"), table(rows))


def list_separators_docx(_: Path) -> bytes:
    rows = [
        ["变更名称", "升级"],
        ["受影响部门", "客服中心，市场部；财务部/网管中心"],
        ["需协作部门", "1. 网管中心\n2. 呼叫中心"],
    ]
    return make_docx(para("系统变更申请表"), table(rows))


def action_items_docx(_: Path) -> bytes:
    items = [
        ["序号", "工作事项", "责任人", "完成时限"],
        ["1", "完成联调", "吴九", "11月28日"],
        ["2", "", "", ""],
        ["3", "更新计划", "陈七", "2026-11-30"],
    ]
    return make_docx(
        para("会议纪要"),
        table([["会议名称", "周例会"], ["记录人", "周八"]]),
        para("行动项"),
        table(items),
    )


def action_items_prose_docx(_: Path) -> bytes:
    """R-MT-5 action items typed as a numbered list under the label, not into the table."""
    return make_docx(
        para("会议纪要"),
        table([["会议名称", "周例会"], ["记录人", "周八"]]),
        para("行动项："),
        para("1. 完成联调，负责人：吴九，完成时间：11月28日"),
        para("2、更新计划 责任人：陈七 截止日期：2026-11-30"),
        para("（3）整理会议资料（周八，12月2日）"),
        para("4.通知各部门，王五，2026/12/3"),
        para("会议决定：按计划上线"),
    )


def action_items_prose_cell_docx(_: Path) -> bytes:
    """The same list written into the cell beside the label, one item per line."""
    return make_docx(
        para("会议纪要"),
        table([["会议名称", "周例会"], ["记录人", "周八"],
               ["行动项", "1. 完成联调（吴九，11月28日）\n2. 更新计划，陈七，2026-11-30"]]),
    )


def action_items_prose_incomplete_docx(_: Path) -> bytes:
    """An item without owner or date: the row is kept and its missing columns are named."""
    return make_docx(
        para("会议纪要"),
        table([["会议名称", "周例会"]]),
        para("行动项"),
        para("1. 完成联调，负责人：吴九，完成时间：11月28日"),
        para("2. 跟进供应商报价"),
    )


def _action_items_case(build: Callable[[Path], bytes],
                       more_rows: list[dict[str, object]] | None = None,
                       **other_values: object) -> Case:
    """A minutes form whose action items are 完成联调/吴九/11-28 and 更新计划/陈七/11-30
    (then *more_rows*), written the way *build* writes them."""
    rows = [{"item": "完成联调", "owner": "吴九", "due": date(2026, 11, 28)},
            {"item": "更新计划", "owner": "陈七", "due": date(2026, 11, 30)},
            *(more_rows or [])]
    return Case(build, "docx", ("minutes",), ({"action_items": rows, **other_values},),
                no_problems=("action_items",))


# --- .xlsx -------------------------------------------------------------------------------


def xlsx_title_only(_: Path) -> bytes:
    rows: list[list[object]] = [
        ["业务数据提取申请表"],
        ["申请人", "张三"],
        ["申请部门", "市场部"],
        ["期望完成日期", datetime(2026, 11, 25)],
        ["数据密级", "机密"],
    ]
    return make_xlsx({"Sheet1": rows})


def xlsx_serial_date(_: Path) -> bytes:
    rows: list[list[object]] = [
        ["系统帐号申请表"],
        ["申请人", "李四"],
        ["生效日期", 46357],
        ["临时帐号截止日期", "46387"],
    ]
    return make_xlsx({"Sheet1": rows})


def xlsx_stacked(_: Path) -> bytes:
    rows: list[list[object]] = [
        ["系统帐号申请表"],
        ["申请人", "所属部门", "工号"],
        ["李四", "客服中心", "E10086"],
        ["申请类型", None, None],
        ["☐新增帐号 ☑帐号权限变更 ☐帐号注销"],
    ]
    return make_xlsx({"申请": rows})


def xlsx_merged(_: Path) -> bytes:
    rows: list[list[object]] = [
        ["系统变更申请表", None, None, None],
        ["变更名称", "数据库扩容", None, None],
        ["计划变更时间", "计划开始时间", datetime(2026, 11, 25, 23, 30), None],
        [None, "计划结束时间", datetime(2026, 11, 26, 1, 30), None],
        ["是否影响现网用户", "☑是　☐否", None, None],
    ]
    merges = {"S": ["A1:D1", "B2:D2", "A3:A4", "C3:D3", "C4:D4", "B5:D5"]}
    return make_xlsx({"S": rows}, merges=merges)


def xlsx_colon_cells(_: Path) -> bytes:
    rows: list[list[object]] = [
        ["会议纪要"],
        ["会议名称：需求评审会", "会议类型：专题讨论会"],
        ["记录人：周八", "主持人：陈七"],
        ["参会人员：陈七、周八"],
    ]
    return make_xlsx({"Sheet1": rows})


def xlsx_two_sheets(blanks: Path) -> bytes:
    """Two generated forms copied into one workbook, plus an empty sheet."""
    out = openpyxl.Workbook()
    out.remove(out.active)
    for kind in ("account", "minutes"):
        filled = fill_xlsx(
            CATALOG.blank_path(kind, "xlsx", blanks).read_bytes(), CATALOG.get(kind), SAMPLES[kind]
        )
        source = openpyxl.load_workbook(io.BytesIO(filled)).worksheets[0]
        target = out.create_sheet(source.title)
        for row in source.iter_rows():
            for cell in row:
                target.cell(row=cell.row, column=cell.column, value=cell.value)
    out.create_sheet("备注")
    data = io.BytesIO()
    out.save(data)
    return data.getvalue()


def xlsx_two_forms_one_sheet(_: Path) -> bytes:
    rows: list[list[object]] = [
        ["系统帐号申请表"],
        ["申请人", "李四"],
        ["工号", "E1"],
        [],
        ["系统帐号申请表"],
        ["申请人", "王五"],
        ["工号", "E2"],
    ]
    return make_xlsx({"Sheet1": rows})


def renamed_blank_docx(blanks: Path) -> bytes:
    """A generated blank, filled, whose title the sender changed (the file renamed too)."""
    filled = fill_docx(
        CATALOG.blank_path("account", "docx", blanks).read_bytes(),
        CATALOG.get("account"),
        SAMPLES["account"],
    )
    return replace_in_part(filled, "word/document.xml", "系统帐号申请表", "开通帐号")


def renamed_sheet_xlsx(blanks: Path) -> bytes:
    filled = fill_xlsx(
        CATALOG.blank_path("minutes", "xlsx", blanks).read_bytes(),
        CATALOG.get("minutes"),
        SAMPLES["minutes"],
    )
    wb = openpyxl.load_workbook(io.BytesIO(filled))
    wb.worksheets[0].title = "Sheet1"
    wb.worksheets[0]["A1"] = "周会"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def custom_property_only_docx(blanks: Path) -> bytes:
    """The hidden marker paragraph deleted; the custom document property still says the kind."""
    filled = fill_docx(
        CATALOG.blank_path("system_change", "docx", blanks).read_bytes(),
        CATALOG.get("system_change"),
        SAMPLES["system_change"],
    )
    return replace_in_part(filled, "word/document.xml", "mailflow-form:system_change:1", "")


CASES: dict[str, Case] = {
    "stacked-layout": Case(
        stacked_docx,
        "docx",
        ("account",),
        (
            {
                "applicant": "李四",
                "department": "客服中心",
                "employee_id": "E10086",
                "system": "CRM系统",
                "request_kind": "帐号注销",
                "reason": "离职",
                "effective_date": date(2026, 12, 1),
            },
        ),
        by="title",
    ),
    "merged-cells-gridspan-vmerge": Case(
        merged_docx,
        "docx",
        ("system_change",),
        (
            {
                "title": "计费系统升级",
                "affected_departments": ["客服中心", "市场部"],
                "planned_window": TimeRange(
                    datetime(2026, 11, 25, 23, 30), datetime(2026, 11, 26, 1, 30)
                ),
            },
        ),
        by="title",
    ),
    "extra-rows": Case(
        extra_rows_docx,
        "docx",
        ("account",),
        (
            {
                "applicant": "李四",
                "department": "客服中心",
                "employee_id": "E10086",
                "system": "CRM系统",
                "request_kind": "帐号注销",
            },
        ),
    ),
    "spaced-labels-full-width-colons": Case(
        spaced_labels_docx,
        "docx",
        ("account",),
        (
            {
                "applicant": "李四",
                "department": "客服中心",
                "employee_id": "E10086",
                "system": "CRM系统",
            },
        ),
    ),
    "paragraph-label-value": Case(
        paragraphs_docx,
        "docx",
        ("minutes",),
        (
            {
                "title": "第47周项目周例会",
                "meeting_time": datetime(2026, 11, 26, 16, 0),
                "place": "三楼会议室",
                "host": "陈七",
                "recorder": "周八",
                "attendees": ["陈七", "周八", "吴九"],
                "agenda": "1. 各模块进展\n2. 待协商问题",
                "decisions": "周五前完成联调",
            },
        ),
        by="title",
    ),
    **{
        f"choice-marker-{name}": _marker_case(mark)
        for name, mark in (
            ("☑", "☑"),
            ("☒", "☒"),
            ("■", "■"),
            ("√", "√"),
            ("✓", "✓"),
            ("✔", "✔"),
            ("[x]", "[x]"),
            ("(√)", "（√）"),
        )
    },
    "choice-marker-after": Case(
        dx_table_docx(数据密级="绝密□  机密■  保密□"),
        "docx",
        ("data_extraction",),
        ({"classification": "机密"},),
    ),
    "choice-tick-beside-empty-box": Case(
        dx_table_docx(数据密级="☐绝密 ☐机密√ ☐保密"),
        "docx",
        ("data_extraction",),
        ({"classification": "机密"},),
    ),
    "choice-typed-not-ticked": Case(
        dx_table_docx(数据密级="机密级"),
        "docx",
        ("data_extraction",),
        ({"classification": "机密"},),
    ),
    **{
        f"date-{name}": _date_case(text, date(2026, 11, 25))
        for name, text in (
            ("iso", "2026-11-25"),
            ("slash", "2026/11/25"),
            ("dot", "2026.11.25"),
            ("chinese", "2026年11月25日"),
            ("month-day-default-year", "11月25日"),
            ("compact", "20261125"),
            ("with-weekday", "2026年11月25日（周三）"),
            ("full-width-digits", "２０２６－１１－２５"),
        )
    },
    "excel-serial-date": Case(
        xlsx_serial_date,
        "xlsx",
        ("account",),
        ({"effective_date": date(2026, 12, 1), "end_date": date(2026, 12, 31)},),
        no_problems=("effective_date", "end_date"),
    ),
    "excel-date-cell-title-only": Case(
        xlsx_title_only,
        "xlsx",
        ("data_extraction",),
        ({"applicant": "张三", "wanted_by": date(2026, 11, 25), "classification": "机密"},),
        by="title",
    ),
    "instructions-mentioning-labels-lose-to-the-table": Case(
        instructions_mention_labels_docx,
        "docx",
        ("data_extraction",),
        ({"purpose": "月度经营分析", "scope_of_use": "市场部内部", "classification": "机密"},),
        no_problems=("purpose", "scope_of_use", "classification"),
    ),
    "midnight-range-one-cell": Case(
        time_range_one_cell_docx,
        "docx",
        ("system_change",),
        (
            {
                "planned_window": TimeRange(
                    datetime(2026, 11, 25, 23, 30), datetime(2026, 11, 26, 1, 30)
                )
            },
        ),
        no_problems=("planned_window",),
    ),
    "midnight-range-times-with-date-field": Case(
        time_range_date_field_docx,
        "docx",
        ("system_change",),
        (
            {
                "change_date": date(2026, 11, 25),
                "planned_window": TimeRange(
                    datetime(2026, 11, 25, 23, 30), datetime(2026, 11, 26, 1, 30)
                ),
            },
        ),
    ),
    "list-separators-and-numbering": Case(
        list_separators_docx,
        "docx",
        ("system_change",),
        (
            {
                "affected_departments": ["客服中心", "市场部", "财务部", "网管中心"],
                "cooperating_departments": ["网管中心", "呼叫中心"],
            },
        ),
    ),
    "text-box-not-duplicated": Case(
        textbox_docx,
        "docx",
        ("data_extraction",),
        ({"purpose": "季度经营分析", "scope_of_use": "仅限本部门", "applicant": "张三"},),
        no_problems=("purpose", "scope_of_use"),
    ),
    "content-controls": Case(
        content_controls_docx,
        "docx",
        ("data_extraction",),
        ({"purpose": "用于季度分析", "scope_of_use": "仅限市场部"},),
        extra={"missing": "contact"},
    ),
    "checkbox-content-controls-yesno": Case(
        yesno_controls_docx,
        "docx",
        ("system_change",),
        ({"affects_live_users": True, "tested_in_test_env": False, "complex_change": False},),
    ),
    "legacy-form-checkbox": Case(
        legacy_checkbox_docx,
        "docx",
        ("minutes",),
        ({"title": "需求评审会", "meeting_kind": "需方会议", "recorder": "周八"},),
    ),
    "wps-like-sym-ticks-split-runs": Case(
        wps_like_docx,
        "docx",
        ("data_extraction",),
        ({"purpose": "经营分析", "classification": "机密"},),
    ),
    "tracked-changes": Case(
        tracked_changes_docx,
        "docx",
        ("account",),
        ({"department": "客服中心"},),
    ),
    "hand-made-no-marker-by-title": Case(
        xlsx_colon_cells,
        "xlsx",
        ("minutes",),
        (
            {
                "title": "需求评审会",
                "meeting_kind": "专题讨论会",
                "recorder": "周八",
                "host": "陈七",
                "attendees": ["陈七", "周八"],
            },
        ),
        by="title",
    ),
    "no-title-recognised-by-labels": Case(
        no_title_docx,
        "docx",
        ("system_change",),
        ({"title": "扩容", "system": "CRM系统", "operator": "王五"},),
        by="labels",
    ),
    "label-aliases-and-账": Case(
        alias_docx,
        "docx",
        ("account",),
        (
            {
                "applicant": "李四",
                "department": "客服中心",
                "employee_id": "E10086",
                "system": "CRM系统",
                "request_kind": "新增帐号",
                "account_name": "lisi",
                "end_date": date(2026, 12, 31),
                "effective_date": date(2026, 12, 1),
            },
        ),
        by="title",
    ),
    "two-forms-in-one-docx": Case(
        two_forms_docx,
        "docx",
        ("account", "data_extraction"),
        (
            {"applicant": "李四", "request_kind": "新增帐号"},
            {"applicant": "张三", "purpose": "月度经营分析"},
        ),
    ),
    "two-sheets-in-one-xlsx": Case(
        xlsx_two_sheets,
        "xlsx",
        ("account", "minutes"),
        (SAMPLES["account"], SAMPLES["minutes"]),
        by="title",
    ),
    "two-forms-stacked-in-one-sheet": Case(
        xlsx_two_forms_one_sheet,
        "xlsx",
        ("account", "account"),
        ({"applicant": "李四", "employee_id": "E1"}, {"applicant": "王五", "employee_id": "E2"}),
    ),
    "xlsx-stacked-layout": Case(
        xlsx_stacked,
        "xlsx",
        ("account",),
        (
            {
                "applicant": "李四",
                "department": "客服中心",
                "employee_id": "E10086",
                "request_kind": "帐号权限变更",
            },
        ),
    ),
    "xlsx-merged-cells-datetimes": Case(
        xlsx_merged,
        "xlsx",
        ("system_change",),
        (
            {
                "title": "数据库扩容",
                "affects_live_users": True,
                "planned_window": TimeRange(
                    datetime(2026, 11, 25, 23, 30), datetime(2026, 11, 26, 1, 30)
                ),
            },
        ),
    ),
    "action-items-blank-rows-aliases": _action_items_case(action_items_docx),
    "action-items-prose-list-R-MT-5": _action_items_case(
        action_items_prose_docx,
        [{"item": "整理会议资料", "owner": "周八", "due": date(2026, 12, 2)},
         {"item": "通知各部门", "owner": "王五", "due": date(2026, 12, 3)}],
        decisions="按计划上线",
    ),
    "action-items-prose-in-cell-R-MT-5": _action_items_case(action_items_prose_cell_docx),
    "renamed-file-new-title-marker-wins": Case(
        renamed_blank_docx,
        "docx",
        ("account",),
        (SAMPLES["account"],),
        by="marker",
    ),
    "renamed-sheet-and-title-xlsx": Case(
        renamed_sheet_xlsx,
        "xlsx",
        ("minutes",),
        (SAMPLES["minutes"],),
        by="marker",
    ),
    "custom-property-marker-only": Case(
        custom_property_only_docx,
        "docx",
        ("system_change",),
        (SAMPLES["system_change"],),
        by="marker",
    ),
}


def _read(case: Case, blanks: Path) -> list[FormReading]:
    data = case.build(blanks)
    return read_form(
        data, case.fmt, CATALOG, source_name="附件(1)." + case.fmt, default_year=case.default_year
    )


@pytest.mark.parametrize("name", list(CASES))
def test_variant(name: str, blanks: Path) -> None:
    case = CASES[name]
    readings = _read(case, blanks)
    assert [r.kind for r in readings] == list(case.kinds)
    for reading, expected in zip(readings, case.values, strict=True):
        got = {key: reading.values.get(key) for key in expected}
        assert got == dict(expected)
        if case.by is not None:
            assert reading.recognised_by == case.by
        flagged = {p.field_key for p in reading.problems}
        assert not flagged & set(case.no_problems)
        assert not flagged & set(expected), reading.problems
    if "missing" in case.extra:
        codes = {(p.field_key, p.code) for p in readings[0].problems}
        assert (case.extra["missing"], "missing") in codes


def test_there_are_at_least_thirty_variants() -> None:
    assert len(CASES) >= 30


def test_r_mt_5_action_item_without_owner_or_date_is_named_by_row(blanks: Path) -> None:
    case = Case(action_items_prose_incomplete_docx, "docx", ("minutes",), ({},))
    [reading] = _read(case, blanks)
    rows = reading.values.get("action_items")
    assert rows == [{"item": "完成联调", "owner": "吴九", "due": date(2026, 11, 28)},
                    {"item": "跟进供应商报价"}]
    missing = {(p.field_key, p.code, p.row, p.column_key) for p in reading.problems}
    assert ("action_items", "table_row_incomplete", 2, "owner") in missing
    assert ("action_items", "table_row_incomplete", 2, "due") in missing


def test_r_mt_5_a_pasted_blob_under_action_items_stays_one_item() -> None:
    """Hostile or pasted text (no line breaks, digits and commas everywhere) is one item as
    written, quickly: the row patterns stop at MAX_LINE characters."""
    from mailflow.documents.prose_rows import MAX_LINE, prose_rows

    table = next(f for f in CATALOG.get("minutes").fields if f.key == "action_items")
    blob = "1，" * 40_000 + "张三，11月30日"
    assert len(blob) > MAX_LINE
    assert prose_rows(table, [blob]) == [{"item": blob}]
    assert prose_rows(table, ["跟进，张三，11月30日"]) == [
        {"item": "跟进", "owner": "张三", "due": "11月30日"}]
