"""Forms written by other departments, in their own words, read by meaning.

Every form here is complete: each one must be recognised as its kind and read with no
problem at all (a problem would mean a "please correct" reply for a filled form). The
wordings are the ones departments write on their own templates — their titles (信息系统账号
申请表, …权限申请单, "会议纪要 Minutes of Meeting"), their labels (经办人, 出席, 实施人,
是否影响在线用户, 帐号名), combined labels (部门/科室), English glosses, numbering ((10),
一、, ①), hints (请填写…), section rows, label and value columns apart, English forms —
and not mailflow's own labels nor the aliases in forms/*.toml.

Each department's form is laid out several ways (a two-column Word table, four columns,
paragraphs, an Excel sheet, columns apart, section rows), so each case is one variant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pytest

from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.documents.matching import label_forms
from mailflow.documents.reading import FormReading, NotAForm, UnknownForm, read_form
from mailflow.documents.values import TimeRange
from tests.formfill import make_docx, make_xlsx, para, table, tc

CATALOG = load_catalog(default_forms_dir())

Row = tuple[str, str]  # (label as the department writes it, value as written)


@dataclass(frozen=True)
class Dept:
    """One department's own version of a form: its title and its rows, in its order."""

    name: str
    kind: str
    title: str
    rows: tuple[Row, ...]
    expect: Mapping[str, object]


# --- the departments' forms ----------------------------------------------------------------

ACCOUNT = {
    "applicant": "李四",
    "department": "客服中心",
    "employee_id": "E10086",
    "system": "CRM系统",
    "request_kind": "新增帐号",
    "reason": "新入职客服专员",
}
ACCOUNT_ROWS = {  # field → value as written (tick marks on the choice)
    "request_kind": "☑新增帐号 ☐帐号权限变更 ☐帐号注销",
}


def account(name: str, title: str, labels: Sequence[tuple[str, str]],
            extra: Mapping[str, tuple[str, str, object]] | None = None) -> Dept:
    """An account form: *labels* is (field, label) in the department's order; *extra* adds
    rows (field → (label, value as written, value read))."""
    rows = [(label, ACCOUNT_ROWS.get(key, str(ACCOUNT[key]))) for key, label in labels]
    expect: dict[str, object] = dict(ACCOUNT)
    for key, (label, written, read) in (extra or {}).items():
        rows.append((label, written))
        expect[key] = read
    return Dept(name, "account", title, tuple(rows), expect)


CHANGE: dict[str, object] = {
    "title": "计费系统月度版本升级",
    "system": "计费系统",
    "change_content": "升级计费引擎至5.2版",
    "reason": "修复月末出账性能问题",
    "planned_window": TimeRange(datetime(2026, 11, 25, 23, 30), datetime(2026, 11, 26, 1, 30)),
    "affects_live_users": True,
    "affected_departments": ["客服中心", "市场部"],
    "operator": "王五",
    "it_contact": "赵六",
    "tested_in_test_env": True,
    "rollback_plan": "恢复变更前的备份",
    "impact_scope": "变更期间无法查询话费",
    "impact_duration": "约30分钟",
    "complex_change": False,
}
CHANGE_ROWS = {
    "planned_window": "2026-11-25 23:30 至 2026-11-26 01:30",
    "affects_live_users": "是",
    "affected_departments": "客服中心、市场部",
    "tested_in_test_env": "是",
    "complex_change": "否",
}


def change(name: str, title: str, labels: Sequence[tuple[str, str]],
           written: Mapping[str, str] | None = None) -> Dept:
    values = {**CHANGE_ROWS, **(written or {})}
    rows = tuple((label, values.get(key, str(CHANGE[key]))) for key, label in labels)
    return Dept(name, "system_change", title, rows, CHANGE)


MINUTES: dict[str, object] = {
    "title": "第47周项目周例会",
    "meeting_kind": "周例会",
    "meeting_time": datetime(2026, 11, 26, 16, 0),
    "place": "三楼会议室",
    "host": "陈七",
    "recorder": "周八",
    "attendees": ["陈七", "周八", "吴九"],
    "agenda": "各模块进展",
}
MINUTES_ROWS = {
    "meeting_kind": "☑周例会 ☐专题讨论会 ☐需方会议",
    "meeting_time": "2026-11-26 16:00",
    "attendees": "陈七、周八、吴九",
}


def minutes(name: str, title: str, labels: Sequence[tuple[str, str]],
            written: Mapping[str, str] | None = None) -> Dept:
    values = {**MINUTES_ROWS, **(written or {})}
    rows = tuple((label, values.get(key, str(MINUTES[key]))) for key, label in labels)
    return Dept(name, "minutes", title, rows, MINUTES)


DATA: dict[str, object] = {
    "applicant": "张三",
    "department": "市场部",
    "contact": "13800000000",
    "data_wanted": "10月新增用户清单",
    "systems": ["计费系统", "客服系统"],
    "purpose": "月度经营分析",
    "scope_of_use": "仅限市场部内部",
    "classification": "机密",
}
DATA_ROWS = {
    "systems": "计费系统、客服系统",
    "classification": "☐绝密 ☑机密 ☐保密",
}


def data(name: str, title: str, labels: Sequence[tuple[str, str]],
         written: Mapping[str, str] | None = None) -> Dept:
    values = {**DATA_ROWS, **(written or {})}
    rows = tuple((label, values.get(key, str(DATA[key]))) for key, label in labels)
    return Dept(name, "data_extraction", title, rows, DATA)


DEPTS: tuple[Dept, ...] = (
    # --- account ----------------------------------------------------------------------
    account("IT部", "IT Account Request", [
        ("applicant", "Name"), ("department", "Department"), ("employee_id", "Staff ID"),
        ("system", "Application / System"), ("request_kind", "Type of request"),
        ("reason", "Business justification")]),
    account("渠道部", "用户帐号申请表", [
        ("applicant", "申请用户"), ("department", "归属部门"), ("employee_id", "工号"),
        ("system", "目标系统"), ("request_kind", "操作类型"), ("reason", "申请说明")]),
    account("信息中心", "信息系统账号申请表", [
        ("applicant", "经办人"), ("department", "部门/科室"), ("employee_id", "员工号"),
        ("system", "申请开通的系统"), ("request_kind", "申请类型"), ("reason", "申请理由")],
        {"account_name": ("帐号名", "lisi", "lisi")}),
    account("行政部", "OA系统权限申请单", [
        ("applicant", "申请者姓名"), ("department", "所在单位"), ("employee_id", "职工编号"),
        ("system", "应用系统"), ("request_kind", "申请事项"), ("reason", "申请事由")],
        {"effective_date": ("启用时间", "2026-12-01", date(2026, 12, 1))}),
    account("财务部", "财务系统用户账户申请表", [
        ("applicant", "填表人"), ("department", "科室"), ("employee_id", "工号 Staff No."),
        ("system", "系统名称 System"), ("request_kind", "申请类别（请勾选）"),
        ("reason", "申请原因（必填）")],
        {"account_name": ("用户名", "lisi", "lisi")}),
    account("人力资源部", "XX集团HR系统帐号开通申请表", [
        ("applicant", "（1）申请人"), ("department", "（2）所属部门"),
        ("employee_id", "（3）员工编号"), ("system", "（4）系统"),
        ("request_kind", "（5）申请类型"), ("reason", "（6）申请原因")]),
    account("客服中心", "系统账户申请表", [
        ("applicant", "一、申请人姓名"), ("department", "二、部门"), ("employee_id", "三、工号"),
        ("system", "四、申请系统"), ("request_kind", "五、业务类型"), ("reason", "六、理由")]),
    account("网络部", "Account Request Form 帐号申请表", [
        ("applicant", "Applicant 申请人"), ("department", "Department 部门"),
        ("employee_id", "Employee No. 工号"), ("system", "System 系统"),
        ("request_kind", "Request type 申请类型"), ("reason", "Reason 原因")]),
    account("海外业务部", "System Account Application Form", [
        ("applicant", "Requester"), ("department", "Dept"), ("employee_id", "Employee ID"),
        ("system", "System name"), ("request_kind", "Request type"),
        ("reason", "Justification")]),
    account("市场部", "帐号权限变更申请表", [
        ("applicant", "①申请人"), ("department", "②所属部门"), ("employee_id", "③员工编号"),
        ("system", "④业务系统"), ("request_kind", "⑤申请类型"), ("reason", "⑥申请原因")],
        {"account_name": ("登录帐号名", "lisi", "lisi")}),
    # --- system change ----------------------------------------------------------------
    change("基础架构部", "Change Request Form", [
        ("title", "Change Name"), ("system", "Affected System"),
        ("change_content", "Description of Change"), ("reason", "Reason"),
        ("planned_window", "Implementation Window"),
        ("affects_live_users", "Impact on Production Users"),
        ("affected_departments", "Impacted Departments"), ("operator", "Implemented by"),
        ("it_contact", "IT Contact On Site"), ("tested_in_test_env", "Tested in Test Environment"),
        ("rollback_plan", "Back-out Plan"), ("impact_scope", "Scope of Impact"),
        ("impact_duration", "Expected Downtime"), ("complex_change", "Complex / Major Change")],
        {"affects_live_users": "Yes", "tested_in_test_env": "Yes", "complex_change": "No"}),
    change("业务支撑部", "变更单", [
        ("title", "变更标题"), ("system", "变更对象系统"), ("change_content", "变更内容及步骤"),
        ("reason", "变更必要性"), ("planned_window", "计划变更窗口"),
        ("affects_live_users", "对现网用户是否有影响"), ("affected_departments", "受影响单位"),
        ("operator", "变更执行人"), ("it_contact", "IT现场对接人"),
        ("tested_in_test_env", "是否已在测试环境测试"), ("rollback_plan", "回滚计划"),
        ("impact_scope", "影响范围"), ("impact_duration", "业务中断时长"),
        ("complex_change", "复杂变更")]),
    change("运维部", "生产环境变更申请单", [
        ("title", "变更标题"), ("system", "涉及系统"), ("change_content", "变更描述"),
        ("reason", "变更理由"), ("planned_window", "实施时间"),
        ("affects_live_users", "是否影响在线用户"), ("affected_departments", "受影响的业务部门"),
        ("operator", "实施人"), ("it_contact", "IT对接人"),
        ("tested_in_test_env", "是否已在测试环境测试"), ("rollback_plan", "回滚方案"),
        ("impact_scope", "影响的业务范围"), ("impact_duration", "影响时长"),
        ("complex_change", "是否重大变更")]),
    change("计费中心", "系统变更审批表", [
        ("title", "(1)变更名称"), ("system", "(2)系统名称"), ("change_content", "(3)变更内容"),
        ("reason", "(4)变更原因"), ("planned_window", "(5)变更窗口"),
        ("affects_live_users", "(6)是否影响现网"), ("affected_departments", "(7)影响部门"),
        ("operator", "(8)执行人"), ("it_contact", "(9)现场联系人"),
        ("tested_in_test_env", "(10)测试环境验证"), ("rollback_plan", "(11)回退计划"),
        ("impact_scope", "(12)影响范围"), ("impact_duration", "(13)影响持续时间"),
        ("complex_change", "(14)是否复杂变更")]),
    change("数据中心", "系统变更申请表", [
        ("title", "变更项目名称"), ("system", "变更的系统"), ("change_content", "变更内容说明"),
        ("reason", "变更背景"), ("planned_window", "计划实施时间"),
        ("affects_live_users", "是否影响线上用户"), ("affected_departments", "受影响部门"),
        ("operator", "变更实施人员"), ("it_contact", "IT管理部现场联系人"),
        ("tested_in_test_env", "是否经过测试环境验证"), ("rollback_plan", "应急回退方案"),
        ("impact_scope", "业务影响范围"), ("impact_duration", "影响时间"),
        ("complex_change", "是否为复杂变更")]),
    change("网管中心", "System Change Request 系统变更申请", [
        ("title", "Title 变更名称"), ("system", "System 系统"),
        ("change_content", "Change content 变更内容"), ("reason", "Reason 原因"),
        ("planned_window", "Planned time 变更时间"),
        ("affects_live_users", "Affects live users 是否影响现网用户"),
        ("affected_departments", "Departments affected 受影响部门"),
        ("operator", "Operator 操作人员"), ("it_contact", "IT contact 现场联系人"),
        ("tested_in_test_env", "Tested 是否已在测试环境确认"),
        ("rollback_plan", "Rollback plan 回退方案"),
        ("impact_scope", "Impact scope 影响范围"),
        ("impact_duration", "Impact duration 影响时长"),
        ("complex_change", "Complex change 是否复杂变更")]),
    change("研发中心", "变更申请单", [
        ("title", "一、变更主题"), ("system", "二、所属系统"), ("change_content", "三、变更详情"),
        ("reason", "四、变更原因"), ("planned_window", "五、操作时间"),
        ("affects_live_users", "六、是否影响生产用户"),
        ("affected_departments", "七、需通知的部门"), ("operator", "八、操作人"),
        ("it_contact", "九、IT联系人"), ("tested_in_test_env", "十、是否已测试验证"),
        ("rollback_plan", "十一、回退措施"), ("impact_scope", "十二、影响范围"),
        ("impact_duration", "十三、预计影响时长"), ("complex_change", "十四、是否复杂变更")]),
    change("安全部", "System Change Request", [
        ("title", "Change title"), ("system", "System"), ("change_content", "Change details"),
        ("reason", "Reason for change"), ("planned_window", "Planned window"),
        ("affects_live_users", "Affects live users"),
        ("affected_departments", "Affected departments"), ("operator", "Implementer"),
        ("it_contact", "IT on-site contact"), ("tested_in_test_env", "Tested in test environment"),
        ("rollback_plan", "Rollback plan"), ("impact_scope", "Impact scope"),
        ("impact_duration", "Impact duration"), ("complex_change", "Complex change")],
        {"affects_live_users": "Yes", "tested_in_test_env": "Yes", "complex_change": "No"}),
    # --- minutes ----------------------------------------------------------------------
    minutes("国际业务部", "Meeting Minutes", [
        ("title", "Subject"), ("meeting_kind", "Meeting Type"), ("meeting_time", "Date/Time"),
        ("place", "Location"), ("host", "Chaired by"), ("recorder", "Minutes recorded by"),
        ("attendees", "Present"), ("agenda", "Agenda items")]),
    minutes("架构组", "专题会议纪要", [
        ("title", "会议名称"), ("meeting_kind", "会议形式"), ("meeting_time", "会议时间"),
        ("place", "会议地点"), ("host", "会议主持"), ("recorder", "纪要撰写人"),
        ("attendees", "参会者"), ("agenda", "会议议题")]),
    minutes("项目组", "会议纪要 Minutes of Meeting", [
        ("title", "会议主题"), ("meeting_kind", "会议类别"), ("meeting_time", "开会时间"),
        ("place", "会议室"), ("host", "召集人"), ("recorder", "纪要整理"),
        ("attendees", "出席人员"), ("agenda", "讨论议题")]),
    minutes("运维部", "运维部周例会纪要", [
        ("title", "会议名称"), ("meeting_kind", "会议性质"), ("meeting_time", "时间"),
        ("place", "地点"), ("host", "主持"), ("recorder", "记录员"),
        ("attendees", "与会人员"), ("agenda", "议程")]),
    minutes("产品部", "项目会议记录", [
        ("title", "1. 会议标题"), ("meeting_kind", "2. 会议类型"),
        ("meeting_time", "3. 会议日期"), ("place", "4. 会议地点"), ("host", "5. 主持人"),
        ("recorder", "6. 记录人"), ("attendees", "7. 参加人员"), ("agenda", "8. 会议议程")]),
    minutes("海外部", "Meeting Minutes", [
        ("title", "Meeting title"), ("meeting_kind", "Meeting type"),
        ("meeting_time", "Date & time"), ("place", "Venue"), ("host", "Chair"),
        ("recorder", "Minutes taker"), ("attendees", "Participants"), ("agenda", "Agenda")]),
    minutes("质量部", "质量分析会会议纪要", [
        ("title", "会议名称 Meeting"), ("meeting_kind", "会议类型/Type"),
        ("meeting_time", "召开时间 Time"), ("place", "会场 Venue"),
        ("host", "主持人 Chair"), ("recorder", "记录人 Recorder"),
        ("attendees", "参会人员 Attendees"), ("agenda", "议题 Agenda")]),
    minutes("研发部", "需求评审会议纪要", [
        ("title", "*会议名称："), ("meeting_kind", "*会议类别："), ("meeting_time", "*会议时间："),
        ("place", "会议地点："), ("host", "*主持人："), ("recorder", "*记录人员："),
        ("attendees", "*到会人员："), ("agenda", "*会议主要议题：")]),
    # --- data extraction --------------------------------------------------------------
    data("国际市场部", "Data Extraction Request", [
        ("applicant", "Requested by"), ("department", "Department"),
        ("contact", "Phone / Email"), ("data_wanted", "Data Required"),
        ("systems", "Source Systems"), ("purpose", "Purpose of Use"),
        ("scope_of_use", "Who will use the data"), ("classification", "Data Classification")]),
    data("审计部", "数据调取申请表", [
        ("applicant", "申请人"), ("department", "申请科室"), ("contact", "联系方式"),
        ("data_wanted", "调取内容"), ("systems", "数据所属系统"), ("purpose", "使用用途"),
        ("scope_of_use", "知悉范围"), ("classification", "数据敏感级别")]),
    data("市场部", "数据提取需求单", [
        ("applicant", "需求人"), ("department", "需求部门"), ("contact", "联系电话"),
        ("data_wanted", "所需数据内容"), ("systems", "数据来源"), ("purpose", "数据用途"),
        ("scope_of_use", "使用人员范围"), ("classification", "保密级别")]),
    data("财务部", "业务数据提取申请单", [
        ("applicant", "填表人"), ("department", "单位"), ("contact", "手机"),
        ("data_wanted", "提取需求描述"), ("systems", "来源系统"), ("purpose", "用途说明"),
        ("scope_of_use", "数据使用范围"), ("classification", "密级")]),
    data("经营分析部", "取数申请表", [
        ("applicant", "(1)经办人"), ("department", "(2)部门/科室"),
        ("contact", "(3)联系方式"), ("data_wanted", "(4)数据需求"),
        ("systems", "(5)涉及系统"), ("purpose", "(6)使用目的"),
        ("scope_of_use", "(7)使用范围"), ("classification", "(8)数据密级")]),
    data("客服中心", "Data Extraction Request 数据提取申请", [
        ("applicant", "Applicant 申请人"), ("department", "Department 部门"),
        ("contact", "Contact 联系方式"), ("data_wanted", "Data wanted 数据需求"),
        ("systems", "Systems 涉及系统"), ("purpose", "Purpose 使用目的"),
        ("scope_of_use", "Scope of use 使用范围"),
        ("classification", "Classification 数据密级")]),
    data("风控部", "数据提取申请表", [
        ("applicant", "申请人（请填写姓名）"), ("department", "申请部门（全称）"),
        ("contact", "联系电话/邮箱"), ("data_wanted", "提取数据内容（字段、口径）"),
        ("systems", "数据所在系统"), ("purpose", "提取目的（必填）"),
        ("scope_of_use", "使用范围（必填）"), ("classification", "安全级别（单选）")]),
)


def by_name(kind: str, name: str) -> Dept:
    return next(d for d in DEPTS if d.kind == kind and d.name == name)


# --- layouts: the same form as different people lay it out ----------------------------------


def _rows(dept: Dept) -> list[list[str]]:
    return [[label, value] for label, value in dept.rows]


def docx_two_columns(dept: Dept) -> bytes:
    return make_docx(para(dept.title), table(_rows(dept)))


def docx_four_columns(dept: Dept) -> bytes:
    """Two label/value pairs per row; the choice rows take a whole row."""
    rows: list[list[str]] = []
    pending: list[str] = []
    for label, value in dept.rows:
        if "☑" in value or len(value) > 24:
            rows.append([label, tc(value, span=3)])
            continue
        pending += [label, value]
        if len(pending) == 4:
            rows.append(pending)
            pending = []
    if pending:
        rows.append([*pending, "", ""][:4])
    return make_docx(para(dept.title), table(rows))


def docx_paragraphs(dept: Dept) -> bytes:
    lines = [para(f"{label.rstrip('：:')}：{value}") for label, value in dept.rows]
    return make_docx(para(dept.title), *lines)


def docx_title_in_table(dept: Dept) -> bytes:
    return make_docx(table([[tc(dept.title, span=2)], *_rows(dept)]))


def docx_sections(dept: Dept) -> bytes:
    """The rows under section header rows spanning the table ("一、基本信息")."""
    half = len(dept.rows) // 2
    rows = [[tc("一、基本信息", span=2)], *_rows(dept)[:half],
            [tc("二、详细情况", span=2)], *_rows(dept)[half:],
            [tc("三、审批意见", span=2)], ["部门负责人意见", ""]]
    return make_docx(para(dept.title), table(rows))


def xlsx_sheet(dept: Dept) -> bytes:
    rows: list[list[object]] = [[dept.title]]
    rows += [[label, value] for label, value in dept.rows]
    return make_xlsx({"Sheet1": rows})


def xlsx_columns_apart(dept: Dept) -> bytes:
    """Label in A, value in D: the columns between left empty (a merged layout unmerged)."""
    rows: list[list[object]] = [[dept.title]]
    rows += [[label, None, None, value] for label, value in dept.rows]
    return make_xlsx({"申请": rows})


def xlsx_reordered(dept: Dept) -> bytes:
    """The rows in another order (reversed), stacked under the title."""
    rows: list[list[object]] = [[dept.title]]
    rows += [[label, value] for label, value in reversed(dept.rows)]
    return make_xlsx({"Sheet1": rows})


LAYOUTS: dict[str, tuple[str, Callable[[Dept], bytes]]] = {
    "docx-2col": ("docx", docx_two_columns),
    "docx-4col": ("docx", docx_four_columns),
    "docx-lines": ("docx", docx_paragraphs),
    "docx-title-cell": ("docx", docx_title_in_table),
    "docx-sections": ("docx", docx_sections),
    "xlsx": ("xlsx", xlsx_sheet),
    "xlsx-apart": ("xlsx", xlsx_columns_apart),
    "xlsx-reordered": ("xlsx", xlsx_reordered),
}

VARIANTS = {
    f"{dept.kind}-{dept.name}-{layout}": (dept, layout) for dept in DEPTS for layout in LAYOUTS
}


def read(dept: Dept, layout: str) -> list[FormReading]:
    fmt, build = LAYOUTS[layout]
    return read_form(build(dept), fmt, CATALOG, source_name=f"form.{fmt}",  # type: ignore[arg-type]
                     default_year=2026)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_complete_form_in_the_departments_words_is_read_without_a_problem(name: str) -> None:
    dept, layout = VARIANTS[name]
    [reading] = read(dept, layout)
    assert reading.kind == dept.kind
    got = {key: reading.values.get(key) for key in dept.expect}
    assert got == dict(dept.expect)
    assert reading.problems == (), reading.problems


def test_there_are_at_least_150_variants() -> None:
    assert len(VARIANTS) >= 150


@pytest.mark.parametrize("dept", DEPTS, ids=lambda d: f"{d.kind}-{d.name}")
def test_the_label_each_field_was_read_from_is_kept(dept: Dept) -> None:
    [reading] = read(dept, "docx-2col")
    written = {label for label, _ in dept.rows}
    for key in dept.expect:
        assert reading.labels[key] in {w.strip("*：: ") for w in written}


OPS_CHANGE = by_name("system_change", "运维部")
OPS_MINUTES = by_name("minutes", "运维部")


# --- normalising labels ------------------------------------------------------------------

@pytest.mark.parametrize(("written", "forms"), [
    ("（10）实施人：", ("实施人",)),
    ("(3) 员工编号", ("员工编号",)),
    ("一、申请人", ("申请人",)),
    ("①申请人", ("申请人",)),
    ("2.1 变更内容", ("变更内容",)),
    ("*部门/科室：", ("部门", "科室")),
    ("部门 Department", ("部门",)),
    ("Department/部门", ("部门",)),
    ("申 请 人：", ("申请人",)),
    ("申请原因（请填写具体原因）", ("申请原因",)),
    ("帐号名称【必填】", ("帐号名称",)),
    ("申请人请填写", ("申请人",)),
    ("Applicant Name:", ("applicant name",)),
    ("ＡＰＰＬＩＣＡＮＴ", ("applicant",)),
    ("账户名", ("帐户名",)),
    ("A. 申请人", ("申请人",)),
    ("(b)所属部门", ("所属部门",)),
    ("Ⅱ、变更内容", ("变更内容",)),
    ("※申请原因", ("申请原因",)),
    ("姓名、工号", ("姓名", "工号")),
    ("2026-11-25", ()),
    ("13800000000", ()),
])
def test_labels_are_normalised_before_matching(written: str, forms: tuple[str, ...]) -> None:
    assert label_forms(written, CATALOG.lexicon.hints) == forms


# --- what is no form -------------------------------------------------------------------------

def invitation() -> bytes:
    return make_docx(
        para("邀请函"),
        para("尊敬的各位同事："),
        para("兹定于2026年11月26日下午4点在三楼会议室召开信息化建设研讨会，敬请出席。"),
        table([["会议时间", "2026-11-26 16:00"], ["会议地点", "三楼会议室"],
               ["参会人员", "各部门负责人"], ["会议议程", "1. 年度总结 2. 明年计划"],
               ["联系人", "周八"]]),
    )


def meeting_notice() -> bytes:
    return make_docx(
        para("关于召开第47周项目周例会的通知"),
        para("会议名称：第47周项目周例会"),
        para("会议时间：2026年11月26日 16:00"),
        para("会议地点：三楼会议室"),
        para("主持人：陈七"),
        para("参会人员：陈七、周八、吴九"),
        para("会议议题：各模块进展"),
        para("请准时参加。"),
    )


def price_list() -> bytes:
    rows: list[list[object]] = [
        ["XX科技有限公司产品报价单"],
        ["序号", "产品名称", "规格型号", "数量", "单价", "金额"],
        [1, "服务器", "R740", 2, 35000, 70000],
        [2, "交换机", "S5720", 4, 6000, 24000],
        ["联系人", "王经理", "联系电话", "13900000000"],
    ]
    return make_xlsx({"报价": rows})


@pytest.mark.parametrize(("build", "fmt"), [
    (invitation, "docx"), (meeting_notice, "docx"), (price_list, "xlsx"),
], ids=["invitation", "meeting-notice", "price-list"])
def test_a_notice_an_invitation_or_a_price_list_is_no_form(
        build: Callable[[], bytes], fmt: str) -> None:
    with pytest.raises(NotAForm):
        read_form(build(), fmt, CATALOG, default_year=2026)  # type: ignore[arg-type]


def test_a_form_behind_a_notice_in_the_same_file_is_still_read() -> None:
    dept = by_name("account", "信息中心")
    data = make_docx(para("关于开通帐号的通知"), para("请见下表。"), para(dept.title),
                     table(_rows(dept)))
    [reading] = read_form(data, "docx", CATALOG, default_year=2026)
    assert reading.kind == "account" and not reading.problems


def test_a_document_with_no_title_and_no_labels_is_still_an_unknown_form() -> None:
    data = make_docx(para("这是一段说明文字"), para("没有任何栏目"))
    with pytest.raises(UnknownForm) as caught:
        read_form(data, "docx", CATALOG)
    assert not isinstance(caught.value, NotAForm)


# --- never claim a filled field is empty ---------------------------------------------------

def test_an_unrecognised_label_is_quoted_for_the_missing_field_and_proposed() -> None:
    """R-CH-2: 「是否影响现网用户」未找到；表中「…：是」是否即此项？"""
    rows = [(label, value) for label, value in OPS_CHANGE.rows if label != "是否影响在线用户"]
    rows.append(("用户影响评估", "有"))
    data = make_docx(para("生产环境变更申请单"), table([list(r) for r in rows]))
    [reading] = read_form(data, "docx", CATALOG, default_year=2026)
    [problem] = reading.problems
    assert (problem.field_key, problem.code, problem.label_seen) == (
        "affects_live_users", "missing", False)
    assert (problem.candidate_label, problem.candidate_value) == ("用户影响评估", "有")
    assert reading.proposals == {"affects_live_users": True}
    assert reading.confirmable


def test_an_unknown_row_is_its_own_row_never_part_of_the_value_above() -> None:
    rows = [["申请人", "李四", "岗位", "客服专员"], ["所属部门", "客服中心", "手机", "13800000000"],
            ["工号", "E10086", "系统名称", "CRM系统"], ["申请类型", tc("☑新增帐号", span=3)],
            ["申请原因", tc("新入职", span=3)]]
    [reading] = read_form(make_docx(para("系统帐号申请表"), table(rows)), "docx", CATALOG)
    assert reading.values["applicant"] == "李四"
    assert reading.values["department"] == "客服中心"
    assert not reading.problems


def test_a_missing_time_range_is_named_by_the_blanks_start_and_end() -> None:
    """The blank prints 计划开始时间 and 计划结束时间, not 计划变更时间: the reply names those."""
    rows = [[label, value] for label, value in OPS_CHANGE.rows if label != "实施时间"]
    [reading] = read_form(make_docx(para("生产环境变更申请单"), table(rows)), "docx", CATALOG,
                          default_year=2026)
    [problem] = reading.problems
    assert problem.field_key == "planned_window"
    assert problem.shown_zh == ("计划开始时间", "计划结束时间")
    assert not problem.label_seen


def test_an_empty_field_is_named_as_the_sender_wrote_it() -> None:
    rows = [[label, "" if label == "实施人" else value] for label, value in OPS_CHANGE.rows]
    [reading] = read_form(make_docx(para("生产环境变更申请单"), table(rows)), "docx", CATALOG,
                          default_year=2026)
    [problem] = reading.problems
    assert (problem.field_key, problem.shown_zh, problem.label_seen) == (
        "operator", ("实施人",), True)


def test_every_label_a_reply_may_name_is_on_the_blank() -> None:
    """A problem names a field by its label_zh (printed on the blank) or, for a time range,
    by its parts' labels: each of those is a label of the blank forms we attach."""
    from mailflow.documents.definitions import FieldType
    from mailflow.documents.docx_reader import read_docx
    from mailflow.documents.layout import Grid

    for form in CATALOG.forms.values():
        blank = read_docx((default_forms_dir() / "blank" / f"{form.kind}.docx").read_bytes())
        texts = {c.text.split("\n")[0].replace("*", "").strip()
                 for part in blank.parts for b in part.blocks if isinstance(b, Grid)
                 for row in b.rows for c in row}
        texts |= {b.text.strip() for part in blank.parts for b in part.blocks
                  if not isinstance(b, Grid) and hasattr(b, "text")}
        for f in form.fields:
            if f.type is FieldType.TIME_RANGE and f.columns:
                assert all(c.label_zh in texts for c in f.columns), f.key
            else:
                assert f.label_zh in texts, (form.kind, f.key)


def test_an_empty_label_never_takes_an_unknown_row_under_it() -> None:
    rows = [["申请人", ""], ["岗位", "客服专员"], ["所属部门", "客服中心"], ["工号", "E1"]]
    [reading] = read_form(make_docx(para("系统帐号申请表"), table(rows)), "docx", CATALOG)
    assert "applicant" not in reading.values
    missing = {p.field_key: p for p in reading.problems if p.code == "missing"}
    assert missing["applicant"].label_seen  # on the form, and empty: "未填写"


def test_a_stacked_row_of_labels_still_takes_the_values_under_it() -> None:
    rows = [["经办人", "科室", "员工号"], ["李四", "客服中心", "E10086"]]
    [reading] = read_form(make_docx(para("信息系统账号申请表"), table(rows)), "docx", CATALOG)
    assert (reading.values["applicant"], reading.values["department"],
            reading.values["employee_id"]) == ("李四", "客服中心", "E10086")


def test_a_price_list_with_no_title_is_no_form_by_its_name() -> None:
    rows: list[list[object]] = [["产品名称", "数量", "单价"], ["服务器", 2, 35000]]
    with pytest.raises(NotAForm):
        read_form(make_xlsx({"Sheet1": rows}), "xlsx", CATALOG, source_name="2026年报价单.xlsx")


def test_the_only_date_under_an_unknown_label_is_proposed_for_a_missing_date_field() -> None:
    """The value's type is evidence: 会议时间 is missing, and one unknown label holds a time."""
    rows = [[label, value] for label, value in OPS_MINUTES.rows if label != "时间"]
    rows.append(["日程安排", "2026-11-26 16:00"])
    [reading] = read_form(make_docx(para(OPS_MINUTES.title), table(rows)), "docx", CATALOG,
                          default_year=2026)
    [problem] = reading.problems
    assert (problem.field_key, problem.candidate_label) == ("meeting_time", "日程安排")
    assert reading.proposals == {"meeting_time": datetime(2026, 11, 26, 16, 0)}


def test_a_candidate_beside_another_problem_is_not_completed_by_a_reply() -> None:
    rows = [[label, "" if label == "实施人" else value] for label, value in OPS_CHANGE.rows
            if label != "是否影响在线用户"]
    rows.append(["用户影响评估", "有"])
    [reading] = read_form(make_docx(para(OPS_CHANGE.title), table(rows)), "docx", CATALOG,
                          default_year=2026)
    assert not reading.confirmable
    candidate = next(p for p in reading.problems if p.candidate_label)
    assert candidate.field_key == "affects_live_users" and not candidate.confirm_by_reply


@pytest.mark.parametrize(("text", "confirms"), [
    ("确认", True),
    ("确认，谢谢", True),
    ("您好，确认！", True),
    ("Yes, confirmed", True),
    ("确认\n\n-----原始邮件-----\n发件人: it@example.test\n如是，回复“确认”即可", True),
    ("不确认", False),
    ("不是，我重新填", False),
    ("请看附件", False),
    ("> 如是，回复“确认”即可", False),  # only the quoted request says 确认
])
def test_a_confirmation_is_read_from_the_reply_s_own_words(text: str, confirms: bool) -> None:
    from mailflow.workflow.confirm import is_confirmation, local_confirmation

    assert local_confirmation(text) is confirms
    assert is_confirmation(text) is confirms


def test_a_label_cell_with_its_english_gloss_or_hint_on_a_second_line() -> None:
    """"申请人\\nApplicant" is one label; the title may follow an "附件2：" prefix."""
    rows = [["申请人\nApplicant", "李四"], ["部门\nDepartment", "客服中心"],
            ["工号\n(请填写8位工号)", "E10086"], ["系统名称\nSystem", "CRM系统"],
            ["申请类型\nType", "☑新增帐号 ☐帐号权限变更 ☐帐号注销"],
            ["申请原因\n请写明岗位变动", "新入职客服专员"]]
    data = make_docx(para("附件2：信息系统账号申请表"),
                     para("表单编号：IT-F-003    填表日期：2026-11-20"), table(rows))
    [reading] = read_form(data, "docx", CATALOG, default_year=2026)
    assert (reading.kind, reading.recognised_by) == ("account", "title")
    assert {k: reading.values.get(k) for k in ACCOUNT} == ACCOUNT
    assert not reading.problems


def test_minutes_with_action_items_under_the_departments_column_names() -> None:
    rows = [["会议主题", "第47周项目周例会", "会议时间", "2026-11-26 16:00"],
            ["会议地点", "三楼会议室", "主持人", "陈七"],
            ["记录", "周八", "会议类型", "☑周例会"],
            ["出席人员", tc("陈七、周八、吴九", span=3)], ["会议议题", tc("各模块进展", span=3)]]
    items = [["序号", "工作任务", "责任人", "完成期限"], ["1", "完成联调", "吴九", "2026-11-28"],
             ["2", "更新计划", "陈七", "2026-11-30"]]
    data = make_docx(para("项目例会会议纪要"), table(rows), para("待办事项"), table(items))
    [reading] = read_form(data, "docx", CATALOG, default_year=2026)
    assert {k: reading.values.get(k) for k in MINUTES} == MINUTES
    assert reading.values["action_items"] == [
        {"item": "完成联调", "owner": "吴九", "due": date(2026, 11, 28)},
        {"item": "更新计划", "owner": "陈七", "due": date(2026, 11, 30)}]
    assert not reading.problems


def test_an_untitled_meeting_notice_or_price_table_is_no_form() -> None:
    """A notice names 会议时间, 地点, 参会人员 and 议题 like minutes do: its letter words
    (敬请, 请准时参加) say what it is; a price table's column heads say so too."""
    notice = make_docx(
        para("各部门："),
        table([["会议时间", "2026-11-26 16:00"], ["会议地点", "三楼会议室"],
               ["参会人员", "各部门负责人"], ["会议议题", "年度总结"]]),
        para("请准时参加。"))
    with pytest.raises(NotAForm):
        read_form(notice, "docx", CATALOG, default_year=2026)
    rows: list[list[object]] = [["名称", "规格型号", "数量", "单价", "金额"],
                                ["服务器", "R740", 2, 35000, 70000],
                                ["联系人", "王经理", "申请部门", "市场部", None]]
    with pytest.raises(NotAForm):
        read_form(make_xlsx({"Sheet1": rows}), "xlsx", CATALOG, source_name="明细.xlsx")


def test_an_unknown_label_line_in_a_cell_is_not_part_of_the_value_above() -> None:
    cell = "申请人：李四\n岗位：客服专员\n所属部门：客服中心\n工号：E10086"
    rows = [[cell], ["系统名称", "CRM系统"], ["申请类型", "新增帐号"], ["申请原因", "新入职"]]
    [reading] = read_form(make_docx(para("系统帐号申请表"), table(rows)), "docx", CATALOG)
    assert (reading.values["applicant"], reading.values["department"]) == ("李四", "客服中心")
    assert not reading.problems


def test_a_none_answer_is_no_evidence_against_a_text_field() -> None:
    """"无" reads like a yes/no word, but a text field may well hold it (影响时长：无)."""
    rows = [[label, "无" if label == "影响时长" else value] for label, value in OPS_CHANGE.rows]
    rows = [[("业务中断时长" if label == "影响时长" else label), value] for label, value in rows]
    [reading] = read_form(make_docx(para(OPS_CHANGE.title), table(rows)), "docx", CATALOG,
                          default_year=2026)
    assert reading.values["impact_duration"] == "无"
    assert not reading.problems


def test_a_title_and_its_english_gloss_on_two_lines_of_one_cell() -> None:
    dept = by_name("minutes", "运维部")
    data = make_docx(table([[tc("会议纪要\nMinutes of Meeting", span=2)], *_rows(dept)]))
    [reading] = read_form(data, "docx", CATALOG, default_year=2026)
    assert (reading.kind, reading.recognised_by) == ("minutes", "title")
    assert not reading.problems
