"""The ticket desk reads mail as other clients write it, over the real Dovecot and SMTP
(R-PM-1, R-PM-2, R-PM-5): a GBK customer mail from Foxmail with a signature holding a phone
number and an address, an Outlook triage reply (text and HTML) quoting our triage request —
whose instructions say 紧急 and name 林芳 in their example — and an HTML-only satisfaction
reply from QQ Mail quoting our result mail, which says 满意/一般/不满意 itself."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from mailflow.store.models import utc
from mailflow_testing import mailbuild
from mailflow_testing import replybuild as rb
from tests.approvals_desk import HE, MA, reply, text_of
from tests.stack import SERVICE
from tests.test_tickets_e2e import CUSTOMER, at, make_desk, ticket

CUSTOMER_MAIL = """您好：

今天上午9点半左右开始，营业厅缴费页面一直打不开，提示“连接超时”，麻烦尽快安排人看一下。

谢谢！



陈静
华东电力公司 信息中心
手机：139 1234 5678
地址：杭州市西湖区文三路100号 邮编 310012
"""


def test_foxmail_gbk_outlook_triage_and_html_only_rating_r_pm_1_r_pm_2_r_pm_5(
        mailstack: Any, database_url: str, tmp_path: Path) -> None:
    desk = make_desk(mailstack, database_url, tmp_path)
    t0 = at("2026-12-01T10:00")
    got = desk.send(mailbuild.human_mail(
        sender=f"陈静 <{CUSTOMER}>", to=SERVICE, subject="缴费页面打不开", body=CUSTOMER_MAIL,
        charset="gbk", extra_headers={"X-Mailer": "Foxmail 7.2.25.375[cn]"}), t0)
    (triage_ask,) = got[HE]
    row = ticket(desk)
    # R-PM-1: the phone from the signature, the time from the text, the words without it
    assert row.contact_phone == "139 1234 5678"
    assert row.occurred_at is not None and utc(row.occurred_at) == at("2026-12-01T09:30")
    assert "缴费页面一直打不开" in row.description and "文三路" not in row.description

    # R-PM-2: Outlook quotes the request (紧急, 技术问题, 林芳 in its example) below the answer
    typed = ("您好，经评估：不算紧急，属于使用问题，麻烦马工跟进一下。\n\n"
             "何平\n客服中心 0571-88886666")
    parent = str(triage_ask["Message-ID"])
    got = desk.send(mailbuild.human_mail(
        sender=HE, to=SERVICE, subject="答复: " + str(triage_ask["Subject"]),
        body=rb.outlook_zh(typed, text_of(triage_ask)),
        html=rb.outlook_html(typed, text_of(triage_ask)), charset="gbk",
        extra_headers={"In-Reply-To": parent, "References": parent,
                       "X-Mailer": "Microsoft Outlook 16.0"}), t0 + timedelta(minutes=10))
    (dispatch,) = got[MA]
    row = ticket(desk)
    assert (row.severity, row.category, row.engineer, row.status) == \
        ("normal", "usage", MA, "in_progress")

    # R-PM-5: result, check, and the customer's HTML-only rating quoting the result mail
    got = desk.send(reply(dispatch, sender=MA, body="已解决：指导客户清理了浏览器缓存。"),
                    t0 + timedelta(hours=1))
    (check,) = got[HE]
    got = desk.send(reply(check, sender=HE, body="确认无误"), t0 + timedelta(hours=1, minutes=5))
    (result,) = got[CUSTOMER]
    assert "满意" in text_of(result)
    parent = str(result["Message-ID"])
    desk.send(mailbuild.html_only_mail(
        sender=CUSTOMER, to=SERVICE, subject="回复：" + str(result["Subject"]),
        html=rb.qq_html("不是很满意，等了一个小时。", text_of(result)), charset="gb18030",
        extra_headers={"In-Reply-To": parent, "References": parent}),
        t0 + timedelta(hours=2))
    row = ticket(desk)
    assert row.rating == 2 and "不是很满意" in row.rating_text
