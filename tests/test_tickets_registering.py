"""客服's mail read as a customer's report (R-PM-1 "by phone, mail or online") and as a
re-triage (R-PM-2), over several wordings: pure functions, no servers."""

from __future__ import annotations

import pytest

from mailflow.tickets.registering import (
    Report,
    change_clauses,
    read_report,
    register_words,
    retriage_asked,
)
from mailflow.tickets.settings import Customer

EAST = Customer(key="east-power", name="华东电力公司", domains=("customer.test",),
                contacts=("li.na.1980@163.test",))
WEST = Customer(key="west-water", name="西城水务集团", domains=("water.test",))
CUSTOMERS = [EAST, WEST]


def of_address(address: str) -> Customer | None:
    if address.endswith("@customer.test") or address == "li.na.1980@163.test":
        return EAST
    return WEST if address.endswith("@water.test") else None


def read(text: str) -> Report:
    return read_report(text, CUSTOMERS, of_address)


THRESHOLD = register_words().threshold


@pytest.mark.parametrize(("text", "customer", "channel"), [
    ("刚接到华东电力陈静来电，营业厅缴费页面打不开。", EAST, "phone"),
    ("西城水务打电话过来说抄表系统登录不了", WEST, "phone"),
    ("代客户登记：\n客户：西城水务\n联系人：赵强\n问题描述：数据同步失败", WEST, "phone"),
    ("客户在微信服务号留言反映 east-power 的报表导出报错", EAST, "online"),
    ("客户通过官网在线客服反馈：华东电力公司 的工单系统打不开", EAST, "online"),
    ("用户 li.na.1980@163.test 来信反映报表功能不能用，请登记", EAST, "mail"),
    ("Customer called: east-power cannot log in since this morning", EAST, "phone"),
])
def test_customer_service_reports_read_by_meaning_r_pm_1(
        text: str, customer: Customer, channel: str) -> None:
    report = read(text)
    assert report.is_report(THRESHOLD)
    assert report.customer == customer and report.channel == channel


def test_report_fields_from_labelled_lines_r_pm_1() -> None:
    report = read("代客户登记\n客户名称：华东电力公司\n联系人：陈静（chen.jing@customer.test）\n"
                  "联系电话：138 1234 5678\n问题描述：缴费页面打不开，提示超时\n"
                  "出现时间：今天上午10点")
    assert (report.contact_name, report.contact_email, report.phone, report.description,
            report.occurred) == ("陈静", "chen.jing@customer.test", "138 1234 5678",
                                 "缴费页面打不开，提示超时", "今天上午10点")


def test_inline_fields_and_unknown_customer_r_pm_1() -> None:
    report = read("客户来电报障，联系人：王先生，电话：13900001111，问题：系统登录不了")
    assert report.is_report(THRESHOLD) and report.customer is None
    assert (report.contact_name, report.phone, report.description) == \
        ("王先生", "13900001111", "系统登录不了")


@pytest.mark.parametrize("text", [
    "下周三的部门例会改到几点？",
    "请帮我看一下我的请假单",
    "华东电力的合同续签了吗",      # a customer named is not yet a report
    "附件是本月的值班表",
])
def test_other_mail_of_customer_service_is_no_report_r_pm_1(text: str) -> None:
    assert not read(text).is_report(THRESHOLD)


@pytest.mark.parametrize(("text", "asked"), [
    ("改为紧急", True), ("由一般改成紧急", True), ("转派给马超", True),
    ("林芳休假，改由马超处理", True), ("Please reassign to Ma Chao", True),
    ("调整为功能问题", True), ("客户又来电催了一次", False), ("收到", False),
    # a change declined is no change (R-PM-2): the negation reaches the change word
    ("不用转派给马超，林芳继续处理", False), ("暂不改为紧急，继续观察", False),
    ("无需改派", False), ("类别改为使用问题", True),
])
def test_retriage_asked_by_meaning_r_pm_2(text: str, asked: bool) -> None:
    assert retriage_asked(text) is asked


@pytest.mark.parametrize(("text", "kept"), [
    ("由一般改为紧急", "由一般改为紧急"),
    ("转派给马超，他比较熟悉网络", ""),                       # a remark changes no category
    ("林芳外出，由一般改为紧急，转派给马超处理，技术问题。", "由一般改为紧急\n技术问题"),
    ("类别改为功能问题", "类别改为功能问题"),
    ("客户说很紧急，改派马超", ""),                           # what the customer said
])
def test_retriage_values_only_from_clauses_that_set_them_r_pm_2(text: str, kept: str) -> None:
    assert change_clauses(text) == kept
