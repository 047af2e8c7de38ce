"""Ticket mails as other people write them (R-PM-1, R-PM-2, R-PM-4, R-PM-5, R-PM-10,
R-PM-14): wordings the reader's author did not write — polite framing, lists, full-width
punctuation, Chinese numerals, negations (不算紧急, 谈不上满意, 暂不需要升级), Traditional
Chinese, English, replies from many mail clients quoting our own request (whose
instructions hold 紧急/一般/满意/确认 themselves and must never be read as the answer),
HTML-only replies, signatures with phone numbers and addresses, and what must be refused as
unclear. Each reply goes through ``authored_text`` (as the desk does) and then the reader."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mailflow.tickets.moments import read_moment, read_within
from mailflow.tickets.reading import (
    Person,
    check_says,
    engineer_says,
    names_someone,
    phone_in,
    read_rating,
    read_triage,
)
from mailflow.workflow.authored import authored_text
from mailflow_testing import replybuild as rb

SH = ZoneInfo("Asia/Shanghai")
BASE = datetime(2026, 12, 1, 11, 20, tzinfo=SH)   # Tuesday 11:20
PEOPLE = [Person("lin.fang@example.test", "林芳"), Person("ma.chao@example.test", "马超"),
          Person("he.ping@example.test", "何平")]
CONTRACT = ["lin.fang@example.test", "ma.chao@example.test"]
LIN, MA, HE = (p.email for p in PEOPLE)

# our own mails as the clients quote them back: every instruction word is in them
TRIAGE_ASK = """何平，您好：

客户 华东电力公司 反馈了一个问题，已登记为工单 TK-2026-000042，
请确认紧急程度和问题类别并指派工程师（依据 R-PM-2）。

问题描述：缴费页面打不开，提示连接超时。
问题出现时间：2026-12-01 09:00

请直接回复本邮件，写明：
1. 紧急程度：紧急 或 一般（紧急问题将立即启动应急处理流程）；
2. 问题类别：技术问题、功能问题 或 使用问题；
3. 处理工程师：姓名；
4. 可选：完成时间（如“今天18:00前”“3天内”，不写则按合同约定时限）、影响范围、处理要求。
例如：“紧急，技术问题，工程师：林芳，影响范围：全部营业厅，处理要求：先恢复缴费功能”。

客服中心（系统自动发送）"""

DISPATCH = """林芳，您好：

客服人员已将工单 TK-2026-000042 派给您处理（依据 R-PM-3）。

处理要求：与客户联系确认问题，尽快排除；处理完毕后回复处理结果。
完成时间：2026-12-01 14:00

处理中遇到困难或需要其他部门配合，请回复“升级”或“需要协助”并说明原因，系统将通知您的上级和项目经理。
处理完毕后请回复“已解决”并写明处理结果（系统恢复后回复“已恢复”），客服核实后答复客户。"""

CHECK_ASK = """何平，您好：

工程师 林芳 已回复工单 TK-2026-000042 的处理结果（依据 R-PM-5）：

已解决：防火墙策略已调整。

请核实处理结果，确认无误后回复“确认”，处理结果随即发给客户并征求满意度；如有问题，请回复“退回”并写明原因，工单将退回工程师。
请与客户一起验证系统已恢复正常，回复“验证通过”；如仍有问题，请回复“不通过”并写明原因。"""

RESULT = """陈静，您好：

您反馈的问题（工单 TK-2026-000042）已处理完毕，处理结果如下：

防火墙策略已调整，缴费恢复正常。

请您对本次处理结果进行评价：直接回复本邮件，写“满意”“一般”或“不满意”，
或打 1–5 分（5 分最满意），也欢迎写下意见和建议。"""

Client = Callable[[str, str], str]
TEXT_CLIENTS: list[Client] = [rb.outlook_zh, rb.outlook_zh_old, rb.outlook_zh_hant, rb.qq,
                              rb.foxmail, rb.netease, rb.netease_master, rb.gmail_zh,
                              rb.apple_zh, rb.exmail, rb.dingtalk, rb.thunderbird_bottom]
HTML_CLIENTS: list[Client] = [rb.outlook_html, rb.qq_html, rb.netease_html, rb.gmail_html,
                              rb.apple_html, rb.dingtalk_html, rb.thunderbird_html_bottom]


def own_words(body: str, html: bool = False) -> str:
    """What the desk reads: the sender's own words (quotes, signatures removed)."""
    return authored_text("", body) if html else authored_text(body)


def triage(text: str) -> tuple[str, str, str]:
    read = read_triage(text, PEOPLE, CONTRACT, BASE, sender=HE)
    return read.severity, read.category, read.engineer


# --- R-PM-2 triage ---------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("您好，经评估，该问题属于一般问题，分类为使用问题，请马超跟进。", ("normal", "usage", MA)),
    ("麻烦林芳处理一下，紧急，技术问题。", ("urgent", "technical", LIN)),
    ("1. 紧急程度：紧急\n2. 问题类别：技术问题\n3. 处理工程师：林芳", ("urgent", "technical", LIN)),
    ("1、一般\n2、功能问题\n3、马超", ("normal", "functional", MA)),
    ("不算紧急，功能问题，马超负责。", ("normal", "functional", MA)),
    ("这个不是很紧急，属于使用问题，请马工联系客户指导操作。", ("normal", "usage", MA)),
    ("紧急！技术问题！林工马上处理！", ("urgent", "technical", LIN)),
    ("级别：一般；类别：功能问题；工程师：马超；完成时间：3天内", ("normal", "functional", MA)),
    ("紧急程度：一般\n问题类别：使用问题\n处理工程师：马超\n影响范围：仅一个营业厅",
     ("normal", "usage", MA)),
    ("一般问题，客户不会用报表导出，属于使用问题，马超处理", ("normal", "usage", MA)),
    ("紧急程度：紧急，问题类别：技术问题（数据库连接池耗尽），工程师：林芳",
     ("urgent", "technical", LIN)),
    ("功能问题：客户希望增加批量导出，一般，派给马超", ("normal", "functional", MA)),
    ("按一般处理。问题类别为技术问题，虽然报错严重但只影响一台终端。请林芳处理。",
     ("normal", "technical", LIN)),
    ("加急处理，技术类问题，林芳", ("urgent", "technical", LIN)),
    ("紧急 / 技术问题 / 林芳", ("urgent", "technical", LIN)),
    ("普通，使用问题，马超", ("normal", "usage", MA)),
    ("紧急，技术问题，工程师：lin.fang@example.test", ("urgent", "technical", LIN)),
    ("Priority: urgent. Category: technical issue. Engineer: lin.fang@example.test",
     ("urgent", "technical", LIN)),
    ("Normal priority, it's a usage question - please ask ma.chao to help the customer.",
     ("normal", "usage", MA)),
    ("Not urgent. Functional issue (feature request). Assign to Ma Chao (马超).",
     ("normal", "functional", MA)),
    ("緊急，技術問題，請林芳處理。", ("urgent", "technical", LIN)),
    ("一般，使用問題，由馬超跟進。", ("normal", "usage", MA)),
    ("不算緊急，功能問題，馬超", ("normal", "functional", MA)),
    ("紧急，技术问题，林芳。\n\n何平\n客服中心\n电话：0571-88886666", ("urgent", "technical", LIN)),
    ("经评估：一般；使用问题；马超今天下班前联系客户。", ("normal", "usage", MA)),
    ("紧急程度：紧急；问题分类：技术问题；处理人：林芳；处理要求：先恢复缴费",
     ("urgent", "technical", LIN)),
])
def test_triage_as_colleagues_write_it_r_pm_2(text: str, expected: tuple[str, str, str]) -> None:
    assert triage(text) == expected


@pytest.mark.parametrize("client", TEXT_CLIENTS, ids=lambda c: c.__name__)
def test_triage_replies_quoting_the_request_r_pm_2(client: Client) -> None:
    # the quoted request holds 紧急, 技术问题 and 林芳 in its example: none of them count
    body = client("一般，使用问题，马超", TRIAGE_ASK)
    assert triage(own_words(body)) == ("normal", "usage", MA)


@pytest.mark.parametrize("client", HTML_CLIENTS, ids=lambda c: c.__name__)
def test_triage_html_only_replies_r_pm_2(client: Client) -> None:
    body = client("您好，经评估：一般，功能问题，请马超跟进。", TRIAGE_ASK)
    assert triage(own_words(body, html=True)) == ("normal", "functional", MA)


@pytest.mark.parametrize(("text", "missing"), [
    ("收到", ("severity", "category", "engineer")),
    ("收到，我先看一下", ("severity", "category", "engineer")),
    ("说紧急吧也不紧急，技术问题，林芳", ("severity",)),
    ("紧急，一般，技术问题，林芳", ("severity",)),
    ("一般，林芳", ("category",)),
    ("紧急，技术问题，请尽快安排", ("engineer",)),
])
def test_unclear_triage_is_refused_r_pm_2(text: str, missing: tuple[str, ...]) -> None:
    assert read_triage(text, PEOPLE, CONTRACT, BASE, sender=HE).missing == missing


def test_a_bare_received_quoting_the_request_reads_nothing_r_pm_2() -> None:
    for client in TEXT_CLIENTS:
        read = read_triage(own_words(client("收到", TRIAGE_ASK)), PEOPLE, CONTRACT, BASE,
                           sender=HE)
        assert read.missing == ("severity", "category", "engineer"), client.__name__


@pytest.mark.parametrize(("text", "due"), [
    ("一般，使用问题，马超，请于明天下午5点前完成", datetime(2026, 12, 2, 17, 0)),
    ("紧急，技术问题，林芳，两小时内恢复", datetime(2026, 12, 1, 13, 20)),
    ("一般，功能问题，马超，完成时间：12月5日18:00", datetime(2026, 12, 5, 18, 0)),
    ("一般，使用问题，马超，两天内处理完", datetime(2026, 12, 3, 11, 20)),
    ("urgent, technical, lin.fang@example.test, within 4 hours", datetime(2026, 12, 1, 15, 20)),
])
def test_due_times_in_triage_r_pm_3(text: str, due: datetime) -> None:
    read = read_triage(text, PEOPLE, CONTRACT, BASE, sender=HE)
    assert read.due is not None and read.due.at == due.replace(tzinfo=SH)


def test_impact_and_requirement_after_their_labels_r_pm_3() -> None:
    read = read_triage("紧急，技术问题，林芳\n影响范围：全市 36 个营业厅\n"
                       "处理要求：先切备用库，再查原因", PEOPLE, CONTRACT, BASE, sender=HE)
    assert (read.impact, read.requirement) == ("全市 36 个营业厅", "先切备用库，再查原因")
    read = read_triage("一般；使用问题；马超。影響範圍：財務部", PEOPLE, CONTRACT, BASE, sender=HE)
    assert read.impact == "財務部"


# --- R-PM-4 / R-PM-5 / R-PM-10 engineer replies -----------------------------------------------
@pytest.mark.parametrize(("text", "says"), [
    ("您好，问题已解决，原因是缓存过期，已清理。", {"resolved"}),
    ("经排查，问题已修复，请客户再试。", {"resolved"}),
    ("已经处理好了，是浏览器兼容性问题。", {"resolved"}),
    ("处理结果：已解决。重新配置了证书。", {"resolved"}),
    ("Fixed - the certificate had expired, renewed it.", {"resolved"}),
    ("Resolved. Root cause: disk full.", {"resolved"}),
    ("問題已解決，已重啟服務。", {"resolved"}),
    ("暂不需要升级，正在处理中。", set()),
    ("目前不需要协助，预计今天下班前解决。", set()),
    ("还没解决，需要升级到二线。", {"escalate"}),
    ("问题无法解决，申请升级处理。", {"escalate"}),
    ("需要网络组协助排查防火墙。", {"escalate"}),
    ("麻烦升级一下，涉及厂商数据库补丁。", {"escalate"}),
    ("We need help from the network team, please escalate.", {"escalate"}),
    ("需要協助：需要網管中心配合。", {"escalate"}),
    ("系统已恢复正常，正在查原因。", {"recovered"}),
    ("业务已经恢复，缴费正常。", {"recovered"}),
    ("Service restored at 21:40.", {"recovered"}),
    ("業務已恢復", {"recovered"}),
    ("尚未恢复，还在切换中。", set()),
    ("正在排查，暂无结论。", set()),
    ("收到，马上处理。", set()),
    ("已解决。\n\n林芳\n技术支持部\n手机：139 0000 1111", {"resolved"}),
])
def test_engineer_replies_as_written_r_pm_4_5_10(text: str, says: set[str]) -> None:
    assert engineer_says(text) == says


@pytest.mark.parametrize("client", TEXT_CLIENTS, ids=lambda c: c.__name__)
def test_engineer_reply_quoting_the_dispatch_r_pm_4_5(client: Client) -> None:
    # the dispatch says 升级/需要协助/已解决/已恢复 itself
    assert engineer_says(own_words(client("正在排查日志，稍后回复。", DISPATCH))) == set()
    assert engineer_says(own_words(client("已解决：更换了网卡。", DISPATCH))) == {"resolved"}


@pytest.mark.parametrize("client", HTML_CLIENTS, ids=lambda c: c.__name__)
def test_engineer_html_reply_quoting_the_dispatch_r_pm_4(client: Client) -> None:
    body = client("需要协助：要网管中心配合检查交换机。", DISPATCH)
    assert engineer_says(own_words(body, html=True)) == {"escalate"}


# --- 客服's check (R-PM-5, R-PM-10) -----------------------------------------------------------
@pytest.mark.parametrize(("text", "answer"), [
    ("确认无误，可以发给客户。", "confirm"),
    ("已与客户核实，没问题。", "confirm"),
    ("确认。", "confirm"),
    ("OK，没问题", "confirm"),
    ("Confirmed, please send it to the customer.", "confirm"),
    ("验证通过，业务已恢复。", "confirm"),
    ("驗證通過", "confirm"),
    ("確認無誤", "confirm"),
    ("核实无误", "confirm"),
    ("不行，客户说还是打不开，退回。", "reject"),
    ("客户反馈问题依旧，请重新处理。", "reject"),
    ("退回：自助终端仍无法缴费。", "reject"),
    ("Rejected: the customer still cannot log in.", "reject"),
    ("验证不通过，报表仍然报错。", "reject"),
    ("暂时无法确认，客户还在测试。", "reject"),
    ("确认不通过", "reject"),
    ("收到", ""),
    ("好的，我问一下客户。", ""),
])
def test_customer_service_check_as_written_r_pm_5(text: str, answer: str) -> None:
    assert check_says(text) == answer


@pytest.mark.parametrize("client", [*TEXT_CLIENTS], ids=lambda c: c.__name__)
def test_check_quoting_the_request_r_pm_5(client: Client) -> None:
    # the request says 确认/退回/验证通过/不通过 itself
    assert check_says(own_words(client("收到，稍后回复", CHECK_ASK))) == ""
    assert check_says(own_words(client("确认", CHECK_ASK))) == "confirm"


@pytest.mark.parametrize("client", HTML_CLIENTS, ids=lambda c: c.__name__)
def test_check_html_only_r_pm_5(client: Client) -> None:
    assert check_says(own_words(client("退回，客户说还是不行。", CHECK_ASK), html=True)) == "reject"


# --- R-PM-5 / R-PM-14 satisfaction -----------------------------------------------------------
@pytest.mark.parametrize(("text", "rating"), [
    ("五分", 5), ("四星", 4), ("给个五星好评！", 5), ("打个4分吧，响应有点慢。", 4),
    ("3分吧，响应有点慢", 3), ("满分5分的话，打4分", 4), ("评分：4（满分5分）", 4),
    ("★★★★☆", 4), ("★★★★★ 很满意", 5), ("四颗星", 4), ("Rating: 4/5", 4),
    ("I'd give it 5 stars.", 5), ("满意！", 5), ("很满意，👍", 5), ("👍 非常满意", 5),
    ("不是很满意", 2), ("谈不上满意", 2), ("算不上满意，拖得太久", 2), ("不怎么满意", 2),
    ("不太滿意", 2), ("Not very satisfied.", 2), ("Not really satisfied", 2),
    ("不满意，问题根本没解决。", 1), ("很不满意！", 1), ("非常不滿意", 1),
    ("Very dissatisfied.", 1), ("Very happy with the service, thanks!", 5),
    ("Unhappy, it took a week.", 1),
    ("服务态度很好，但问题拖了三天才解决，不满意。", 1),
    ("总体满意，工程师态度不错。", 5), ("还算滿意", 4), ("還可以吧", 3),
    ("一般般吧，希望以后快点。", 3),
    ("满意。\n\n陈静\n华东电力公司\n手机：13812345678\n地址：杭州市西湖区文三路100号", 5),
    ("5\n\n陈静 13812345678", 5), ("４分", 4),
])
def test_satisfaction_as_customers_write_it_r_pm_5_r_pm_14(text: str, rating: int) -> None:
    assert read_rating(text) == rating


@pytest.mark.parametrize("text", [
    "收到", "收到，谢谢", "满意也不满意", "又满意又不满意", "好的", "问题又出现了，请再看看。",
    "陈静\n手机：13812345678",
])
def test_no_rating_when_none_or_contradictory_r_pm_5(text: str) -> None:
    assert read_rating(text) is None


@pytest.mark.parametrize("client", TEXT_CLIENTS, ids=lambda c: c.__name__)
def test_rating_replies_quoting_the_result_r_pm_5(client: Client) -> None:
    # the result mail says 满意/一般/不满意 and "5 分最满意" itself
    assert read_rating(own_words(client("谢谢，收到。", RESULT))) is None
    assert read_rating(own_words(client("比较满意", RESULT))) == 4


@pytest.mark.parametrize("client", HTML_CLIENTS, ids=lambda c: c.__name__)
def test_rating_html_only_r_pm_14(client: Client) -> None:
    assert read_rating(own_words(client("不是很满意，处理太慢。", RESULT), html=True)) == 2


# --- R-PM-1 when the problem started ----------------------------------------------------------
@pytest.mark.parametrize(("text", "when"), [
    ("今天早上8点多开始，系统登录不了。", datetime(2026, 12, 1, 8, 0)),
    ("从今天上午九点半起页面一直转圈。", datetime(2026, 12, 1, 9, 30)),
    ("12月1日上午9:30左右出现", datetime(2026, 12, 1, 9, 30)),
    ("昨天下午3点左右开始报错", datetime(2026, 11, 30, 15, 0)),
    ("大概半小时前突然打不开", datetime(2026, 12, 1, 10, 50)),
    ("一个小时前开始", datetime(2026, 12, 1, 10, 20)),
    ("11/30 14:00 以后就一直这样", datetime(2026, 11, 30, 14, 0)),
    ("2026年11月30日开始", datetime(2026, 11, 30, 0, 0)),
    ("前天晚上就有这个问题了", datetime(2026, 11, 29, 20, 0)),
    ("今天凌晨两点左右服务器告警", datetime(2026, 12, 1, 2, 0)),
    ("昨天夜里十一点开始", datetime(2026, 11, 30, 23, 0)),
    ("Yesterday at 3pm the report started failing.", datetime(2026, 11, 30, 15, 0)),
    ("This morning around 9:15", datetime(2026, 12, 1, 9, 15)),
    ("昨天17:30以后", datetime(2026, 11, 30, 17, 30)),
    ("昨天下午三點開始", datetime(2026, 11, 30, 15, 0)),
    ("從今天早上開始就很慢", datetime(2026, 12, 1, 8, 0)),
    ("上周五下午开始", datetime(2026, 11, 27, 14, 0)),
    ("周一上午10点发现的", datetime(2026, 11, 30, 10, 0)),
])
def test_problem_time_as_customers_write_it_r_pm_1(text: str, when: datetime) -> None:
    found = read_moment(text, BASE)
    assert found is not None and found.at == when.replace(tzinfo=SH)


@pytest.mark.parametrize("text", [
    "系统打不开，请尽快处理。", "升级到 V3.2 版本后报错", "版本 2.5.1 的报表导出失败",
    "错误码 500，请求地址 /api/v1/pay",
])
def test_no_problem_time_when_none_is_named_r_pm_1(text: str) -> None:
    assert read_moment(text, BASE) is None


def test_due_time_words_r_pm_3() -> None:
    found = read_within("24小时内", BASE)
    assert found is not None and found.at == datetime(2026, 12, 2, 11, 20, tzinfo=SH)


# --- R-PM-1 phone number ----------------------------------------------------------------------
@pytest.mark.parametrize(("text", "phone"), [
    ("联系电话：13812345678", "13812345678"),
    ("手机 139 1234 5678，随时联系", "139 1234 5678"),
    ("Tel: +86-21-6888 8888", "+86-21-6888 8888"),
    ("电话：010-12345678转8001", "010-12345678转8001"),
    ("客服热线 400-820-8820", "400-820-8820"),
    ("电话 (0571) 8888-6666", "(0571) 8888-6666"),
    ("手机：１３８１２３４５６７８", "１３８１２３４５６７８"),
    ("陈静\n华东电力公司 信息中心\n地址：杭州市西湖区文三路100号 邮编 310012\n电话：0571-8888 6666",
     "0571-8888 6666"),
    ("工单号 20261201001，QQ：123456789，没有留电话", ""),
    ("Mobile: +86 138 1234 5678", "+86 138 1234 5678"),
])
def test_phone_numbers_as_written_r_pm_1(text: str, phone: str) -> None:
    assert phone_in(text) == phone


# --- R-PM-1 the problem description: the customer's own words --------------------------------
EARLIER = """陈静，您好：

您反馈的问题已登记为工单 TK-2026-000041，我们将尽快处理。"""
SIGNED = ("\n\n此致\n敬礼\n陈静\n华东电力公司 信息中心\n电话：0571-88886666\n"
          "地址：杭州市西湖区文三路100号")


@pytest.mark.parametrize("client", [*TEXT_CLIENTS], ids=lambda c: c.__name__)
def test_description_is_the_customers_words_r_pm_1(client: Client) -> None:
    body = client("您好，营业厅缴费页面又打不开了，提示连接超时，麻烦尽快看一下。" + SIGNED,
                  EARLIER)
    description = own_words(body)
    assert "缴费页面又打不开了" in description
    assert "TK-2026-000041" not in description and "文三路" not in description


@pytest.mark.parametrize("client", HTML_CLIENTS, ids=lambda c: c.__name__)
def test_description_from_html_only_mail_r_pm_1(client: Client) -> None:
    description = own_words(client("报表导出功能点了没反应，能帮忙看看吗？", EARLIER), html=True)
    assert "报表导出功能点了没反应" in description and "TK-2026-000041" not in description


# --- more of what colleagues write -------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("特别紧急，技术问题，林芳", ("urgent", "technical", LIN)),
    ("非常紧急！！技术故障，林芳", ("urgent", "technical", LIN)),
    ("高优先级 技术 林芳", ("urgent", "technical", LIN)),
    ("P1，技术问题，林芳", ("urgent", "technical", LIN)),
    ("紧急程度为一般，问题类别为使用问题，工程师为马超", ("normal", "usage", MA)),
    ("这个问题不严重，一般处理即可，使用问题，马超", ("normal", "usage", MA)),
    ("不是技术问题，是使用问题，一般，马超", ("normal", "usage", MA)),
    ("属于功能问题而不是技术问题，一般，马超", ("normal", "functional", MA)),
    ("客户很着急，但评估后属于一般问题，使用问题，马超", ("normal", "usage", MA)),
    ("非紧急，使用问题，马超", ("normal", "usage", MA)),
    ("一般，使用问题，请 Ma Chao 处理", ("normal", "usage", MA)),
    ("urgent / technical / Lin Fang", ("urgent", "technical", LIN)),
])
def test_more_triage_wordings_r_pm_2(text: str, expected: tuple[str, str, str]) -> None:
    assert triage(text) == expected


@pytest.mark.parametrize(("text", "due"), [
    ("紧急，技术问题，林芳，无论如何今天要解决", datetime(2026, 12, 2, 0, 0)),   # by the day's end
    ("一般 功能问题 马超 本周五前完成", datetime(2026, 12, 5, 0, 0)),
    ("紧急 技术问题 林芳 截止：今天17:00", datetime(2026, 12, 1, 17, 0)),
])
def test_more_due_times_r_pm_3(text: str, due: datetime) -> None:
    read = read_triage(text, PEOPLE, CONTRACT, BASE, sender=HE)
    assert read.due is not None and read.due.at == due.replace(tzinfo=SH)


@pytest.mark.parametrize(("text", "says"), [
    ("修复了，请确认", {"resolved"}), ("OK了，已经好了", {"resolved"}),
    ("需要厂商支持", {"escalate"}), ("这个需要二线支持", {"escalate"}),
    ("能否请DBA协助一下", {"escalate"}), ("不用升级了，已经处理好", {"resolved"}),
    ("未能解决，需要升级", {"escalate"}), ("问题还没有解决", set()),
    ("Still not fixed, need assistance from DBA", {"escalate"}),
])
def test_more_engineer_replies_r_pm_4_5(text: str, says: set[str]) -> None:
    assert engineer_says(text) == says


@pytest.mark.parametrize(("text", "answer"), [
    ("客户还是无法登录，打回", "reject"), ("问题依然存在", "reject"),
    ("客户反馈仍然报错", "reject"),
    ("驳回，结果不对", "reject"), ("不可以", "reject"), ("Not OK, still broken", "reject"),
    ("Approved", "confirm"), ("已核实，属实", "confirm"), ("客户说已经好了", ""),
])
def test_more_checks_r_pm_5(text: str, answer: str) -> None:
    assert check_says(text) == answer


@pytest.mark.parametrize(("text", "rating"), [
    ("👍👍👍", 5), ("Neutral", 3), ("It's okay", 3), ("没什么不满意的", 4), ("没有不满意", 4),
    ("不是不满意", 4), ("三分", 3), ("打分：五", 5), ("满意度 4分", 4), ("评分4", 4),
    ("还凑合", 3), ("挺满意的", 5), ("比较满意，但响应慢", 4),
])
def test_more_ratings_r_pm_5_r_pm_14(text: str, rating: int) -> None:
    assert read_rating(text) == rating


@pytest.mark.parametrize(("text", "when"), [
    ("一周前就开始了", datetime(2026, 11, 24, 11, 20)),
    ("30分钟前", datetime(2026, 12, 1, 10, 50)),
    ("前天下午四点", datetime(2026, 11, 29, 16, 0)),
    ("2026/12/01 08:45", datetime(2026, 12, 1, 8, 45)),
    ("Dec 1, 9:00", datetime(2026, 12, 1, 9, 0)),
    ("yesterday evening", datetime(2026, 11, 30, 19, 0)),
])
def test_more_problem_times_r_pm_1(text: str, when: datetime) -> None:
    found = read_moment(text, BASE)
    assert found is not None and found.at == when.replace(tzinfo=SH)


# --- our own mail below the answer with no quote header at all (a client that appends it bare):
# its instructions offer options ("紧急 或 一般", "“满意”“一般”或“不满意”"), ask for quoted words
# (回复“确认”), suppose (如有问题，…), announce (将退回) and give an example (例如：“…”)
@pytest.mark.parametrize(("typed", "original", "expected"), [
    ("一般，使用问题，马超", TRIAGE_ASK, ("normal", "usage", MA)),
    ("收到", TRIAGE_ASK, ("", "technical", "")),
])
def test_bare_appended_request_is_no_triage_r_pm_2(typed: str, original: str,
                                                   expected: tuple[str, str, str]) -> None:
    severity, _, engineer = expected
    got = triage(own_words(f"{typed}\n\n{original}"))
    assert (got[0], got[2]) == (severity, engineer)
    if typed != "收到":
        assert got == expected


@pytest.mark.parametrize(("typed", "answer"), [("收到", ""), ("确认", "confirm"),
                                                ("退回，还是不行", "reject")])
def test_bare_appended_check_request_r_pm_5(typed: str, answer: str) -> None:
    assert check_says(own_words(f"{typed}\n\n{CHECK_ASK}")) == answer


@pytest.mark.parametrize(("typed", "says"), [("收到", set()), ("已解决", {"resolved"}),
                                              ("需要协助", {"escalate"})])
def test_bare_appended_dispatch_r_pm_4_5(typed: str, says: set[str]) -> None:
    assert engineer_says(own_words(f"{typed}\n\n{DISPATCH}")) == says


@pytest.mark.parametrize(("typed", "rating"), [("谢谢", None), ("比较满意", 4),
                                                ("不是很满意", 2)])
def test_bare_appended_result_r_pm_5(typed: str, rating: int | None) -> None:
    assert read_rating(own_words(f"{typed}\n\n{RESULT}")) == rating


@pytest.mark.parametrize(("text", "says"), [
    ("升级后恢复正常", {"recovered"}),          # a software upgrade, then back: no escalation
    ("我将升级处理", set()),                      # announced, not done
    ("如果今天解决不了，需要升级", {"escalate"}),
])
def test_what_is_supposed_or_announced_r_pm_4(text: str, says: set[str]) -> None:
    assert engineer_says(text) == says


def test_bracketed_fields_and_values_ending_at_the_next_field_r_pm_2_r_pm_3() -> None:
    def read(text: str) -> Any:
        return read_triage(text, PEOPLE, CONTRACT, BASE, sender=HE)

    got = read("【紧急程度】紧急\n【问题类别】技术问题\n【处理工程师】林芳\n"
               "【完成时间】今天18:00前\n【影响范围】全部营业厅")
    assert (got.severity, got.category, got.engineer, got.impact) == \
        ("urgent", "technical", LIN, "全部营业厅")
    assert got.due is not None and got.due.at == datetime(2026, 12, 1, 18, 0, tzinfo=SH)
    got = read("影响范围：全部营业厅无法缴费，紧急，技术问题，林芳")
    assert (got.severity, got.category, got.impact) == \
        ("urgent", "technical", "全部营业厅无法缴费")
    got = read("一般，使用问题，马超。影响：个别用户。要求：电话指导。")
    assert (got.impact, got.requirement) == ("个别用户", "电话指导")
    assert triage("您好！\n经初步判断，本问题为【一般】问题，类别为【使用问题】，"
                  "由马超负责处理。") == ("normal", "usage", MA)


@pytest.mark.parametrize(("text", "says"), [
    ("问题已定位并修复，原因：证书过期。", {"resolved"}), ("已全部恢复", {"recovered"}),
    ("已经无法解决，需要升级", {"escalate"}),
])
def test_gapped_results_r_pm_5_r_pm_10(text: str, says: set[str]) -> None:
    assert engineer_says(text) == says


def test_quarter_hours_r_pm_1() -> None:
    found = read_moment("上午九点一刻左右", BASE)
    assert found is not None and found.at == datetime(2026, 12, 1, 9, 15, tzinfo=SH)
    assert found.text == "上午九点一刻"


@pytest.mark.parametrize(("text", "severity"), [
    ("优先级：高，技术问题，林芳", "urgent"), ("优先级：低，使用咨询，马超", "normal"),
    ("严重程度：中\n类别：功能问题\n工程师：马超", "normal"),
    ("Priority: high. Category: technical. Engineer: lin.fang@example.test", "urgent"),
    ("优先级：高，但按一般处理，使用问题，马超", "normal"),      # the level named wins
])
def test_a_grade_after_the_severity_field_r_pm_2(text: str, severity: str) -> None:
    assert read_triage(text, PEOPLE, CONTRACT, BASE, sender=HE).severity == severity


@pytest.mark.parametrize(("text", "says"), [
    ("已提交厂商解决，等待回复", set()),        # handed on is not solved
    ("已定位并解决", {"resolved"}),
])
def test_handed_on_is_not_resolved_r_pm_5(text: str, says: set[str]) -> None:
    assert engineer_says(text) == says


def test_a_signed_date_is_not_the_day_of_another_sentence_r_pm_1() -> None:
    mail = ("您好，\n系统登录提示“用户名或密码错误”，但密码是对的。昨晚还好好的。\n\n"
            "陈静\n2026年11月28日\n手机：13912345678")
    found = read_moment(own_words(mail), BASE)
    assert found is not None and found.at == datetime(2026, 11, 30, 20, 0, tzinfo=SH)
    assert found.text == "昨晚"


def test_customer_mail_read_as_the_desk_reads_it_r_pm_1() -> None:
    mail = ("各位好：\n\n我司财务系统从今天上午10点开始无法导出报表，点击导出后一直转圈。\n"
            "请尽快处理，谢谢！\n\n--\n陈静 | 华东电力公司 信息中心\n"
            "Tel: 0571-8888 6666 | Mobile: 139 1234 5678\n杭州市西湖区文三路100号")
    written = own_words(mail)
    assert "无法导出报表" in written and "文三路" not in written
    phone = phone_in(written) or phone_in(mail)
    assert phone == "0571-8888 6666"
    found = read_moment(written, BASE)
    assert found is not None and found.at == datetime(2026, 12, 1, 10, 0, tzinfo=SH)


@pytest.mark.parametrize(("text", "rating"), [
    ("Rating 9/10", 5), ("10/10, great support", 5), ("I'd say 6 out of 10", 3), ("5/5", 5),
    ("非常滿意，給五顆星", 5), ("給4顆星", 4),
])
def test_out_of_ten_and_traditional_ratings_r_pm_5(text: str, rating: int) -> None:
    assert read_rating(text) == rating


# -- the engineer on a last line of its own: an answer, not a signature (R-PM-2) ----------
def written_by(sender: str, body: str) -> str:
    """What the desk reads of a staff reply (TicketDesk._written): a last line naming a
    colleague is kept, the sender's own name is their signature."""
    others = [p for p in PEOPLE if p.email != sender]
    return authored_text(body, keep=lambda line: names_someone(line, others))


@pytest.mark.parametrize("body", [
    "紧急\n技术问题\n林芳",
    "您好，\n一般，使用问题\n林芳\n\n何平\n客服中心",
    "紧急、技术问题，派给：\n林工",
    rb.outlook_zh("紧急\n技术问题\n林芳", TRIAGE_ASK),
])
def test_the_engineer_on_the_last_line_is_read_r_pm_2(body: str) -> None:
    assert triage(written_by(HE, body))[2] == LIN


def test_the_senders_own_name_stays_a_signature_r_pm_2() -> None:
    written = written_by(HE, "紧急，技术问题，林芳负责\n\n何平\n客服中心")
    assert "何平" not in written and "林芳" in written
    assert authored_text("紧急\n技术问题\n林芳") == "紧急\n技术问题"  # without keep: a name
