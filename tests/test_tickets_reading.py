"""What ticket mails say (mailflow/tickets/reading.py, moments.py; words in words.toml):
satisfaction ratings in many wordings (R-PM-5, R-PM-14), 客服's triage (R-PM-2/3), the
engineer's escalation / result / recovery (R-PM-4/5/10), 客服's check, the time a problem
started and a phone number (R-PM-1)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from mailflow.tickets.moments import read_moment, read_within
from mailflow.tickets.reading import (
    Person,
    check_says,
    engineer_says,
    phone_in,
    read_rating,
    read_triage,
)

SH = ZoneInfo("Asia/Shanghai")
BASE = datetime(2026, 12, 1, 11, 20, tzinfo=SH)   # a Tuesday, 11:20
PEOPLE = [Person("lin.fang@example.test", "林芳"), Person("ma.chao@example.test", "马超"),
          Person("he.ping@example.test", "何平")]
CONTRACT = ["lin.fang@example.test", "ma.chao@example.test"]


@pytest.mark.parametrize(("text", "rating"), [
    ("非常满意", 5), ("满意", 5), ("很满意，谢谢你们！", 5), ("十分满意", 5), ("滿意", 5),
    ("非常滿意，感謝", 5), ("比较满意", 4), ("基本满意，就是慢了点", 4), ("还行吧", 3),
    ("一般", 3), ("一般般", 3), ("不太满意", 2), ("不是很满意", 2), ("不满意", 1),
    ("很不满意，拖了三天", 1), ("非常不满意", 1), ("很不滿意", 1),
    ("5分", 5), ("打4分", 4), ("给你们打五分", 5), ("评分：3", 3), ("评分 2 分", 2),
    ("4/5", 4), ("5", 5), ("  3 。", 3), ("打1分，太慢了", 1), ("4星", 4),
    ("满意，打3分", 3),                       # the number is the rating
    ("Very satisfied", 5), ("satisfied", 5), ("not satisfied", 1), ("dissatisfied", 1),
    ("I'd rate it 4 out of 5", 4), ("score: 5", 5), ("OK", 3),
    ("满意度：3", 3), ("满意度：一般", 3), ("评价：非常满意", 5), ("不错", 4), ("很好，谢谢", 5),
    ("差评", 1), ("给五星", 5), ("excellent", 5),
])
def test_satisfaction_in_many_wordings_r_pm_5_r_pm_14(text: str, rating: int) -> None:
    assert read_rating(text) == rating


@pytest.mark.parametrize("text", [
    "收到，谢谢", "问题还在，请再看看", "系统在 10 点后恢复了", "请问下次维护是什么时候？", "",
    "电话 13812345678",
])
def test_no_rating_where_none_is_given_r_pm_5(text: str) -> None:
    assert read_rating(text) is None


@pytest.mark.parametrize(("text", "severity", "category", "engineer"), [
    ("紧急，技术问题，工程师：林芳", "urgent", "technical", "lin.fang@example.test"),
    ("緊急 技術問題 林芳", "urgent", "technical", "lin.fang@example.test"),
    ("一般，使用问题，派给马超", "normal", "usage", "ma.chao@example.test"),
    ("不紧急，是操作方面的问题，马超处理一下", "normal", "usage", "ma.chao@example.test"),
    ("一般问题，属于功能需求，交给林芳", "normal", "functional", "lin.fang@example.test"),
    ("严重故障，服务器报错，林芳马上处理", "urgent", "technical", "lin.fang@example.test"),
    ("normal, usage question, assign to ma.chao@example.test", "normal", "usage",
     "ma.chao@example.test"),
    ("Urgent - technical. Engineer: Lin (林芳)", "urgent", "technical",
     "lin.fang@example.test"),
    # the field names are no values: 紧急程度：一般 is a normal ticket
    ("紧急程度：一般；问题类别：功能问题；处理人：马超", "normal", "functional",
     "ma.chao@example.test"),
    ("紧急程度：紧急\n问题分类：技术问题\n处理工程师：林芳", "urgent", "technical",
     "lin.fang@example.test"),
    # 客服 signing the mail is not the engineer
    ("一般，使用问题，马超今天下班前处理\n何平", "normal", "usage", "ma.chao@example.test"),
])
def test_triage_wordings_r_pm_2(text: str, severity: str, category: str,
                                engineer: str) -> None:
    read = read_triage(text, PEOPLE, CONTRACT, BASE, sender="he.ping@example.test")
    assert (read.severity, read.category, read.engineer, read.missing) == \
        (severity, category, engineer, ())


def test_triage_extras_and_what_is_missing_r_pm_2_r_pm_3() -> None:
    read = read_triage("紧急，技术问题，林芳\n影响范围：全部营业厅无法操作\n处理要求：先恢复缴费\n"
                       "今天18:00前完成", PEOPLE, CONTRACT, BASE)
    # "操作" inside the impact does not make it a usage question
    assert (read.category, read.impact, read.requirement) == \
        ("technical", "全部营业厅无法操作", "先恢复缴费")
    assert read.due is not None and read.due.at == datetime(2026, 12, 1, 18, 0, tzinfo=SH)
    read = read_triage("影响范围：全部营业厅，工程师：马超；一般，技术问题", PEOPLE, CONTRACT, BASE)
    assert (read.impact, read.engineer) == ("全部营业厅", "ma.chao@example.test")
    read = read_triage("一般，今天下班前", PEOPLE, CONTRACT, BASE, sender="he.ping@example.test")
    assert read.due is not None and read.due.at == datetime(2026, 12, 1, 18, 0, tzinfo=SH)
    read = read_triage("一般，3天内", PEOPLE, CONTRACT, BASE)
    assert read.missing == ("category", "engineer")
    assert read.due is not None and read.due.at == datetime(2026, 12, 4, 11, 20, tzinfo=SH)
    assert read_triage("收到", PEOPLE, CONTRACT, BASE).missing == \
        ("severity", "category", "engineer")


@pytest.mark.parametrize(("text", "says"), [
    ("已解决：重启了服务", {"resolved"}), ("问题已处理完毕", {"resolved"}),
    ("还未解决，需要协助", {"escalate"}), ("搞不定，申请升级", {"escalate"}),
    ("已恢复，业务正常", {"recovered"}), ("系统恢复正常了", {"recovered"}),
    ("已经解决了，是缓存问题", {"resolved"}), ("没有解决", set()), ("正在排查", set()),
])
def test_engineer_replies_r_pm_4_5_10(text: str, says: set[str]) -> None:
    assert engineer_says(text) == says


@pytest.mark.parametrize(("text", "answer"), [
    ("确认", "confirm"), ("确认无误", "confirm"), ("验证通过", "confirm"), ("OK", "confirm"),
    ("退回，客户说还是不行", "reject"), ("不通过", "reject"), ("未解决", "reject"),
    ("不能确认，客户还在测试", "reject"), ("没有问题，可以回复客户", "confirm"),
    ("客户说还有问题", "reject"), ("收到", ""),
])
def test_customer_service_check_r_pm_5(text: str, answer: str) -> None:
    assert check_says(text) == answer


@pytest.mark.parametrize(("text", "when"), [
    ("今天上午10点左右开始无法登录", datetime(2026, 12, 1, 10, 0)),
    ("12月3日 14:00 出现", datetime(2026, 12, 3, 14, 0)),
    ("从昨天下午开始很慢", datetime(2026, 11, 30, 14, 0)),
    ("昨晚8点半以后", datetime(2026, 11, 30, 20, 30)),
    ("since yesterday", datetime(2026, 11, 30, 0, 0)),
    ("2小时前开始", datetime(2026, 12, 1, 9, 20)),
    ("下午三点半", datetime(2026, 12, 1, 15, 30)),
    ("2026-11-28 09:15 第一次出现", datetime(2026, 11, 28, 9, 15)),
    ("刚才突然打不开了", datetime(2026, 12, 1, 11, 20)),
    ("昨天晚上11点开始", datetime(2026, 11, 30, 23, 0)),
    ("12月3日下午2点", datetime(2026, 12, 3, 14, 0)),
    ("It has failed since Nov 28 14:00", datetime(2026, 11, 28, 14, 0)),
    ("on 28th November at 2pm", datetime(2026, 11, 28, 14, 0)),
])
def test_when_the_problem_started_r_pm_1(text: str, when: datetime) -> None:
    found = read_moment(text, BASE)
    assert found is not None and found.at == when.replace(tzinfo=SH)


def test_no_time_named_and_due_times_r_pm_1_r_pm_3() -> None:
    assert read_moment("页面打不开，请帮忙看看", BASE) is None
    within = read_within("within 4 hours", BASE)
    assert within is not None and within.at == datetime(2026, 12, 1, 15, 20, tzinfo=SH)
    late = read_within("10:00前", BASE)          # already past today: tomorrow's
    assert late is not None and late.at == datetime(2026, 12, 2, 10, 0, tzinfo=SH)


@pytest.mark.parametrize(("text", "phone"), [
    ("我的电话 138-1234-5678 谢谢", "138-1234-5678"), ("手机13812345678", "13812345678"),
    ("座机：0571-88886666", "0571-88886666"), ("+86 139 1234 5678", "+86 139 1234 5678"),
    ("没有电话", ""),
])
def test_phone_numbers_r_pm_1(text: str, phone: str) -> None:
    assert phone_in(text) == phone
