"""Reading approvers' replies (issue 15, part 5; R-AC-2, R-DX-2, R-CH-3, R-MT-4, R-CH-5).

Table-driven over reply bodies as the clients write them (mailflow_testing.replybuild): every
quote style, top-, bottom- and inline-posting, text and HTML-only, Simplified and Traditional
Chinese and English, with signatures, device footers and disclaimers, and quoted originals
that hold the opposite keyword.  Then the properties: a negation in the authored text is
never an approval, and any text is read without an error and within the input cap.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow.workflow import quotes
from mailflow.workflow.reply_reader import (
    Command,
    Decision,
    Outcome,
    ResultReport,
    Verdict,
    authored_text,
    read_command,
    read_decision,
    read_result,
)
from mailflow.workflow.reply_words import VETO_PHRASES
from mailflow_testing import replybuild as rb

A, R, U = Verdict.APPROVE, Verdict.REJECT, Verdict.UNCLEAR
PRES, LEAD = "president", "leader_in_charge"
SIG_ZH = "\n\n王五\n信息技术部 经理\n电话：021-6888 1234  手机：139 1234 5678"
SIG_EN = "\n\nBest regards,\nWang Wu\nIT Manager | Example Corp.\nTel: +86 21 6888 1234"
DISCLAIMER_ZH = (
    "\n\n免责声明：本邮件及其附件可能包含保密信息，仅限于发送给上面地址中列出的个人或群组。"
    "禁止任何其他人以任何形式使用本邮件中的信息。如果您错收了本邮件，请您立即电话或邮件通知发件人"
    "并删除本邮件！未经批准不得转发。"
)
DISCLAIMER_EN = (
    "\n\nCONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and intended "
    "solely for the addressee. If you are not the intended recipient, do not disclose, copy "
    "or distribute it; any use not approved by the sender is prohibited."
)


def case(
    text: str,
    verdict: Verdict,
    reason: str | None = None,
    escalate: str | None = None,
    *,
    html: str | None = None,
    id: str,
) -> object:
    return pytest.param(text, html, verdict, reason, escalate, id=id)


def html_case(html: str, verdict: Verdict, reason: str | None = None,
              escalate: str | None = None, *, id: str) -> object:
    return case("", verdict, reason, escalate, html=html, id=id)


DECISIONS = [
    # --- plain keywords, every punctuation -------------------------------------------------
    case("同意", A, "", id="bare-approve"),
    case("同意。", A, "", id="approve-full-stop"),
    case("同意！", A, "", id="approve-full-width-bang"),
    case("同意!!", A, "", id="approve-ascii-bangs"),
    case("  同意  \n", A, "", id="approve-spaces"),
    case("批准", A, "", id="pizhun"),
    case("准予", A, "", id="zhunyu"),
    case("通过", A, "", id="tongguo-alone"),
    case("审核通过。", A, "", id="shenhe-tongguo"),
    case("可以", A, "", id="keyi-alone"),
    case("可以的，按流程办吧", A, "按流程办吧", id="keyi-de"),
    case("已阅同意", A, "", id="yiyue-tongyi"),
    case("已阅，同意。", A, "", id="yiyue-comma-tongyi"),
    case("拟同意", A, "", id="ni-tongyi"),
    case("同意办理", A, "", id="tongyi-banli"),
    case("同意开通，但仅开放查询权限", A, "但仅开放查询权限", id="complement-then-condition"),
    case("OK", A, "", id="ok-alone"),
    case("ok!", A, "", id="ok-lower-bang"),
    case("ＯＫ", A, "", id="ok-full-width"),
    case("好", A, "", id="hao-alone"),
    case("好的，谢谢！", A, "", id="hao-de-xiexie"),
    case("Approved", A, "", id="approved"),
    case("approved.", A, "", id="approved-lower"),
    case("APPROVE", A, "", id="approve-caps"),
    case("I agree.", A, "", id="i-agree"),
    case("Approved, thanks!", A, "", id="approved-thanks"),
    case("驳回", R, "", id="bohui"),
    case("驳回。", R, "", id="bohui-stop"),
    case("拒绝", R, "", id="jujue"),
    case("否决", R, "", id="foujue"),
    case("Rejected", R, "", id="rejected"),
    case("reject", R, "", id="reject-lower"),
    case("No", R, "", id="no-alone"),
    case("", U, "", id="empty"),
    case("收到", U, "", id="shoudao"),
    case("已阅", U, "", id="yiyue-only"),
    case("谢谢", U, "", id="thanks-only"),
    case("我晚点再看", U, "", id="later"),
    case("Thanks, will look at it tomorrow.", U, "", id="en-later"),
    # --- negations are rejections, never approvals ------------------------------------------
    case("不同意", R, "", id="butongyi"),
    case("不同意。", R, "", id="butongyi-stop"),
    case("不批准", R, "", id="bupizhun"),
    case("不予批准", R, "", id="buyupizhun"),
    case("暂不同意", R, "", id="zanbutongyi"),
    case("不通过", R, "", id="butongguo"),
    case("不太同意这个方案", R, "这个方案", id="butai-tongyi"),
    case("暂时不予以批准，等预算下来再说", R, "等预算下来再说", id="zanshi-buyuyi"),
    case("不能同意", R, "", id="buneng-tongyi"),
    case("不可以", R, "", id="bukeyi"),
    case("不行", R, "", id="buxing"),
    case("Not approved.", R, "", id="not-approved"),
    case("I do not approve this request.", R, "", id="do-not-approve"),
    case("I don't approve - the scope is too wide.", R, "the scope is too wide",
         id="dont-approve"),
    case("Disapprove", R, "", id="disapprove"),
    case("Declined, please resubmit with a narrower scope.", R,
         "please resubmit with a narrower scope", id="declined"),
    case("We cannot approve this.", R, "", id="cannot-approve"),
    case("不同意，可以重新提交", R, "可以重新提交", id="reject-then-keyi-in-reason"),
    case("不同意\n如果缩小到本部门我可以同意", R, "如果缩小到本部门我可以同意",
         id="reject-then-conditional-later"),
    # --- reasons and conditions ---------------------------------------------------------------
    case("同意，但仅限本季度", A, "但仅限本季度", id="conditional-approval"),
    case("同意,但仅限本季度", A, "但仅限本季度", id="conditional-ascii-comma"),
    case("同意 但仅限本季度", A, "但仅限本季度", id="conditional-space"),
    case("同意。数据仅限内部使用，不得外传。", A, "数据仅限内部使用，不得外传",
         id="conditional-sentence"),
    case("同意\n\n请注意数据脱敏后再提供。", A, "请注意数据脱敏后再提供", id="reason-next-line"),
    case("驳回，原因：数据范围过大", R, "原因：数据范围过大", id="reject-reason-label"),
    case("驳回\n理由：使用目的不明确，请补充。", R, "理由：使用目的不明确，请补充",
         id="reject-reason-next-line"),
    case("数据量太大，驳回", R, "数据量太大", id="reason-before-keyword"),
    case("经审核，同意。", A, "", id="filler-before"),
    case("王经理：\n\n同意，请尽快安排。", A, "请尽快安排", id="greeting-line-first"),
    case("Hi team,\n\nApproved, but read-only access only.", A, "but read-only access only",
         id="en-greeting-condition"),
    case("Rejected - the data request lacks a purpose.", R, "the data request lacks a purpose",
         id="en-reject-dash-reason"),
    # --- unclear: both, a question, an instruction copied back --------------------------------
    case("同意 驳回", U, "", id="both-keywords"),
    case("同意或驳回？", U, "", id="both-question"),
    case("同意吗？", U, "", id="question"),
    case("这个需要同意吗?", U, "", id="question-ascii"),
    case("是否同意？请张总定夺", U, "", id="shifou"),
    case("可以考虑，我先问一下预算", U, "", id="keyi-kaolv"),
    case("同意。\n\n另外上次那个申请不同意，请知悉。", U, "", id="approve-and-negation-later"),
    case("Approved? I thought this was rejected last week.", U, "", id="en-question-both"),
    # --- Traditional Chinese --------------------------------------------------------------------
    case("批准。", A, "", id="hant-pizhun"),
    case("駁回，權限範圍過大", R, "權限範圍過大", id="hant-bohui"),
    case("同意，但僅限本季度", A, "但僅限本季度", id="hant-conditional"),
    case("不同意", R, "", id="hant-butongyi"),
    case("不予批准，請補充說明", R, "請補充說明", id="hant-buyu"),
    case(rb.outlook_zh_hant("同意！"), A, "", id="hant-outlook-approve"),
    case(rb.outlook_zh_hant("駁回。\n\n王五\n資訊部"), R, "", id="hant-outlook-reject-sig"),
    # --- escalation (R-DX-2 president, R-AC-2 leader in charge) -------------------------------
    case("同意，需总裁审批", A, "需总裁审批", PRES, id="esc-president"),
    case("同意，报总裁审批", A, "报总裁审批", PRES, id="esc-bao-president"),
    case("需总裁批准", A, None, PRES, id="esc-only-president"),
    case("同意，需分管领导审批", A, "需分管领导审批", LEAD, id="esc-leader"),
    case("同意。\n权限超出部门范围，请分管领导审批。", A, None, LEAD, id="esc-leader-next-line"),
    case("同意，请分管副总裁审批", A, None, LEAD, id="esc-vp-in-charge-is-leader"),
    case("Approved; please escalate to the president.", A, None, PRES, id="esc-en-president"),
    case("Approved, needs sign-off from the leader in charge.", A, None, LEAD, id="esc-en-leader"),
    case("同意，不需要总裁审批", A, None, None, id="esc-cancelled"),
    case("同意，总裁已同意过类似申请", A, None, None, id="president-mentioned-not-escalated"),
    case("不同意，需总裁审批也不行", R, None, None, id="reject-never-escalates"),
    case(rb.qq("同意，报总裁审批。"), A, "报总裁审批", PRES, id="esc-qq"),
    # --- every client, approval above a quote that holds both keywords -------------------------
    case(rb.outlook_zh("同意"), A, "", id="outlook-zh"),
    case(rb.outlook_zh("同意", colon="："), A, "", id="outlook-zh-full-width-colon"),
    case(rb.outlook_zh_old("批准" + SIG_ZH), A, "", id="outlook-zh-old-sig"),
    case(rb.outlook_en("Approved." + SIG_EN), A, "", id="outlook-en-sig"),
    case(rb.outlook_en_new("OK"), A, "", id="outlook-en-new-ok"),
    case(rb.qq("同意！"), A, "", id="qq"),
    case(rb.qq_en("同意"), A, "", id="qq-en"),
    case(rb.foxmail("同意，但仅限本季度"), A, "但仅限本季度", id="foxmail"),
    case(rb.netease("同意"), A, "", id="netease-unprefixed"),
    case(rb.netease("同意", prefixed=True), A, "", id="netease-prefixed"),
    case(rb.netease_master("同意"), A, "", id="netease-master"),
    case(rb.gmail_zh("同意"), A, "", id="gmail-zh"),
    case(rb.gmail_en("Approved"), A, "", id="gmail-en"),
    case(rb.gmail_en("同意", wrapped=True), A, "", id="gmail-en-wrapped-attribution"),
    case(rb.apple_zh("同意"), A, "", id="apple-zh"),
    case(rb.apple_en("Approved"), A, "", id="apple-en"),
    case(rb.apple_mac_zh("可以"), A, "", id="apple-mac-zh"),
    case(rb.exmail("同意"), A, "", id="exmail"),
    case(rb.dingtalk("同意"), A, "", id="dingtalk"),
    # --- rejections above quotes (the quote says 同意 too) -------------------------------------
    case(rb.outlook_zh("驳回，请补充使用范围"), R, "请补充使用范围", id="outlook-zh-reject"),
    case(rb.qq("不同意。" + SIG_ZH), R, "", id="qq-reject-sig"),
    case(rb.netease("不予批准，数据含客户隐私"), R, "数据含客户隐私", id="netease-reject"),
    case(rb.gmail_zh("驳回"), R, "", id="gmail-zh-reject"),
    case(rb.gmail_en("Rejected: no business justification."), R, "no business justification",
         id="gmail-en-reject"),
    case(rb.apple_zh("不同意"), R, "", id="apple-zh-reject"),
    case(rb.exmail("拒绝"), R, "", id="exmail-reject"),
    case(rb.dingtalk("暂不同意，下季度再议"), R, "下季度再议", id="dingtalk-reject"),
    case(rb.outlook_en("I do not approve." + DISCLAIMER_EN), R, "", id="outlook-en-disclaimer"),
    # --- quoted originals holding a rejection: the answer decides, not the quote ---------------
    case(rb.qq("同意", rb.ORIGINAL_REJECTED), A, "", id="quote-holds-butongyi-qq"),
    case(rb.gmail_zh("同意", rb.ORIGINAL_REJECTED), A, "", id="quote-holds-butongyi-gmail"),
    case(rb.outlook_zh("批准", rb.ORIGINAL_REJECTED), A, "", id="quote-holds-butongyi-outlook"),
    case(rb.thunderbird_bottom("同意", rb.ORIGINAL_REJECTED), A, "",
         id="quote-holds-butongyi-bottom"),
    # --- bottom- and inline-posting ------------------------------------------------------------
    case(rb.thunderbird_bottom("同意"), A, "", id="bottom-zh"),
    case(rb.thunderbird_bottom("驳回，理由见附件"), R, "理由见附件", id="bottom-zh-reject"),
    case(rb.thunderbird_bottom_en("Approved, for Q4 only."), A, "for Q4 only", id="bottom-en"),
    case(rb.inline(["同意", "范围请限定在市场部"]), A, "范围请限定在市场部", id="inline"),
    case(rb.inline(["不同意", "使用目的不清楚"]), R, "使用目的不清楚", id="inline-reject"),
    case(rb.netease("", prefixed=True) + "\n同意\n", A, "", id="netease-bottom"),
    case(rb.qq(""), U, "", id="empty-answer-above-quote"),
    # --- signatures, footers, disclaimers -------------------------------------------------------
    case("同意\n\n发自我的iPhone", A, "", id="iphone-footer"),
    case("同意\n\n发自网易邮箱大师", A, "", id="netease-master-footer"),
    case("同意\n--\n王五\n信息技术部", A, "", id="dash-dash-sig"),
    case("同意\n-- \n王五 | 信息技术部 | 分机 8123", A, "", id="dash-dash-space-sig"),
    case("同意\n\n此致\n敬礼\n王五", A, "", id="cizhi-jingli"),
    case("同意" + SIG_ZH, A, "", id="sig-name-title-phone"),
    case("同意" + DISCLAIMER_ZH, A, "", id="disclaimer-zh-holds-negation"),
    case("Approved" + SIG_EN + DISCLAIMER_EN, A, "", id="sig-and-disclaimer-en"),
    case("Approved.\n\nSent from my iPhone", A, "", id="sent-from-iphone"),
    case("驳回，请走变更流程。\n\n王五\n审批通过专员", R, "请走变更流程", id="title-holds-tongguo"),
    case("同意\n\nWang Wu\nIT Manager", A, "", id="en-name-title"),
    case("从手机上看了，同意", A, "", id="device-word-in-a-sentence"),
    case("同意\n请把数据发到我的163邮箱", A, "请把数据发到我的163邮箱", id="mailbox-in-a-reason"),
    case("同意\n\n——来自网易邮箱大师", A, "", id="netease-master-dash-footer"),
    case("同意\n\n发自我的网易邮箱手机智能版", A, "", id="netease-phone-footer"),
    # --- what colleagues type -------------------------------------------------------------------
    case("Not approved, sorry.", R, "", id="not-approved-sorry"),
    case("No, rejected.", R, "", id="no-rejected"),
    case("Not OK", R, "", id="not-ok"),
    case("不好意思，驳回", R, "", id="buhaoyisi-is-no-negation"),
    case("行吧", A, "", id="xing-ba"),
    case("好的，收到", U, "", id="hao-shoudao-acknowledges"),
    case("OK, noted", U, "", id="ok-noted"),
    case("好的，已阅", U, "", id="hao-yiyue"),
    case("可以吧", A, "", id="keyi-ba"),
    case("审批意见：同意", A, "", id="label-before-keyword"),
    case("同意（仅限本季度）", A, "仅限本季度", id="condition-in-brackets"),
    case("【同意】", A, "", id="lenticular-brackets"),
    case("我不同意", R, "", id="wo-butongyi"),
    case("原则同意，但需补充安全评估", A, "但需补充安全评估", id="yuanze-tongyi"),
    case("Yes, approved.", A, "", id="yes-approved"),
    case("LGTM", A, "", id="lgtm"),
    case("同意！！！👍", A, "", id="emoji-is-no-reason"),
    case("REQ-2026-000123 同意", A, "", id="reference-before-keyword"),
    case("驳回：材料不全", R, "材料不全", id="reject-colon-reason"),
    case("不予办理", R, "", id="buyu-banli"),
    case("拒绝批准", R, "", id="jujue-pizhun"),
    case("驳回 同意", U, "", id="reject-then-bare-approve"),
    case("同意/驳回", U, "", id="slash-both"),
    case("approve or reject?", U, "", id="en-both-question"),
    case("无异议", A, "", id="wuyiyi"),
    case("No objection.", A, "", id="no-objection"),
    case("没问题，同意", A, "", id="meiwenti-tongyi"),
    case("审核不通过", R, "", id="shenhe-butongguo"),
    case("暂缓", U, "", id="zanhuan"),
    case("待定", U, "", id="daiding"),
    case("王经理，您好！\n\n经研究，同意该申请。\n\n谢谢！\n王五", A, "", id="letter-style"),
    case("同意\r\n\r\n王五\r\n", A, "", id="crlf"),
    case("同意，交分管领导审批", A, None, LEAD, id="esc-jiao-leader"),
    case("同意，需报总经理审批", A, None, PRES, id="esc-general-manager"),
    case("Approved. Needs CEO approval.", A, None, PRES, id="esc-ceo"),
    case("Approved, no need for president approval.", A, None, None, id="esc-en-cancelled"),
    case("同意\n\n**发件人:** 审批系统 <m@x.com>\n**发送时间:** 2026年11月25日 10:00\n\n"
         "请回复 同意 或 驳回", A, "", id="bold-header-fields"),
    case("同意\n\n----- Reply message -----\n发件人: m\n日期: 2026年11月25日\n请回复 驳回", A, "",
         id="android-reply-message"),
    case("同意\n\n发送时间：2026年11月25日 10:00\n发件人：审批系统\n\n不同意请回复驳回", A, "",
         id="date-before-sender"),
    case("同意\n发件人: 审批系统 <m@x.com>\n发送时间: 2026年11月25日\n不同意请回复驳回", A, "",
         id="header-without-blank-line"),
    case("同意\n\n-------- 转发的消息 --------\n主题: xx\n发件人: m\n\n不同意", A, "",
         id="thunderbird-forward-separator"),
    case("> 请回复 同意 或 驳回\n同意", A, "", id="bottom-post-without-blank"),
    case("＞ 请回复 同意 或 驳回\n同意", A, "", id="full-width-chevron"),
    case("> 请直接回复 同意 或 驳回，如不同意\n请写明理由\n> 谢谢", U, "", id="lazy-wrapped-quote"),
    case("同意\n\n審批系統 <m@x.com> 於 2026年11月25日 週三 上午10:00 寫道：\n\n> 不同意", A, "",
         id="hant-gmail-attribution"),
    case("同意\n\n审批系统 <m@x.com> 于2026年11月25日周三\n10:00写道：\n\n> 不同意", A, "",
         id="gmail-zh-wrapped-attribution"),
    case("Hi Li,\n\nI've reviewed the request. Approved, but please limit the export to the "
         "marketing department.\n\nThanks,\nWang", A,
         "but please limit the export to the marketing department", id="en-letter"),
    # --- HTML-only replies ------------------------------------------------------------------------
    html_case(rb.gmail_html("同意"), A, "", id="html-gmail"),
    html_case(rb.gmail_html("驳回，范围过大"), R, "范围过大", id="html-gmail-reject"),
    html_case(rb.outlook_html("同意，但仅限本季度"), A, "但仅限本季度", id="html-outlook"),
    html_case(rb.outlook_html("不同意"), R, "", id="html-outlook-reject"),
    html_case(rb.outlook_web_html("Approved"), A, "", id="html-outlook-web"),
    html_case(rb.qq_html("同意"), A, "", id="html-qq"),
    html_case(rb.qq_html("暂不同意"), R, "", id="html-qq-reject"),
    html_case(rb.netease_html("批准"), A, "", id="html-netease"),
    html_case(rb.apple_html("同意"), A, "", id="html-apple"),
    html_case(rb.thunderbird_html_bottom("同意"), A, "", id="html-thunderbird-bottom"),
    html_case(rb.thunderbird_html_bottom("驳回，理由：不符合规定"), R, "理由：不符合规定",
              id="html-thunderbird-bottom-reject"),
    html_case(rb.gmail_html_inline(["不同意", "范围过大"]), R, "范围过大", id="html-gmail-inline"),
    html_case(rb.dingtalk_html("同意"), A, "", id="html-dingtalk"),
    html_case(rb.gmail_html("同意，需总裁审批"), A, "需总裁审批", PRES, id="html-escalation"),
    html_case("<p>同意&nbsp;</p><p>&nbsp;</p>", A, "", id="html-nbsp"),
    # --- text and HTML both given: HTML marks the quote, text is the client's rendering -----------
    case(rb.gmail_en("同意").replace("> ", ""), A, "", html=rb.gmail_html("同意"),
         id="both-parts-html-wins"),
    case("同意", A, "", html="<div>同意</div>", id="both-parts-plain"),
]


@pytest.mark.parametrize(("text", "html", "verdict", "reason", "escalate"), DECISIONS)
def test_read_decision(
    text: str, html: str | None, verdict: Verdict, reason: str | None, escalate: str | None
) -> None:
    decision = read_decision(text, html)
    assert decision.verdict is verdict, decision
    if reason is not None:
        assert decision.reason == reason, decision
    assert decision.escalate_to == escalate, decision


def test_the_table_is_large_enough() -> None:
    assert len(DECISIONS) >= 100


def test_evidence_is_the_authored_text_verbatim() -> None:
    decision = read_decision(rb.qq("同意，但僅限本季度！" + SIG_ZH))
    assert decision.evidence == "同意，但僅限本季度！"
    assert decision.reason == "但僅限本季度"
    assert isinstance(decision, Decision)


def test_unclear_has_no_reason_and_no_escalation() -> None:
    decision = read_decision("同意或者驳回都行，需总裁审批")
    assert decision == Decision(Verdict.UNCLEAR, "", "同意或者驳回都行，需总裁审批", None)


# --- authored_text ----------------------------------------------------------------------------
@pytest.mark.parametrize("client", sorted(rb.TEXT_CLIENTS))
def test_authored_text_strips_every_clients_quote(client: str) -> None:
    build: Callable[[str], str] = rb.TEXT_CLIENTS[client]
    assert authored_text(build("数据范围请控制在市场部。" + SIG_ZH)) == "数据范围请控制在市场部。"


@pytest.mark.parametrize("client", sorted(rb.HTML_CLIENTS))
def test_authored_text_strips_every_html_clients_quote(client: str) -> None:
    build: Callable[[str], str] = rb.HTML_CLIENTS[client]
    assert authored_text("", build("数据范围请控制在市场部。")) == "数据范围请控制在市场部。"


def test_authored_text_keeps_inline_answers_in_order() -> None:
    text = rb.inline(["第一点：同意", "第二点：请限定范围"])
    assert authored_text(text) == "第一点：同意\n\n第二点：请限定范围"


def test_authored_text_of_a_quote_with_nothing_above_is_empty() -> None:
    """An unprefixed quote has no end: text below it is the original, not an answer."""
    assert authored_text(rb.outlook_zh("")) == ""


def test_authored_text_keeps_hyphen_lists() -> None:
    text = "同意，条件如下：\n- 仅限本季度\n- 仅限只读"
    assert authored_text(text) == text


def test_authored_text_keeps_a_reason_that_ends_with_a_department() -> None:
    assert authored_text("驳回\n请找财务部") == "驳回\n请找财务部"


def test_authored_text_is_capped() -> None:
    text = "同意\n" + ("这是很长的说明。" * 20 + "\n") * 5000
    authored = authored_text(text)
    assert authored.startswith("同意\n")
    assert len(authored) <= quotes.MAX_CHARS
    assert authored.count("\n") < quotes.MAX_LINES


# --- properties -------------------------------------------------------------------------------
_FILLER = st.text(
    alphabet=st.sampled_from(list("同意批准可以好的OK ok，。!！?\n\r>-abc通过驳回不没未予暂准行")),
    max_size=60,
)


@given(
    before=_FILLER,
    phrase=st.sampled_from(VETO_PHRASES),
    after=_FILLER,
    client=st.sampled_from(sorted(rb.TEXT_CLIENTS)),
)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_negation_in_the_authored_text_is_never_an_approval(
    before: str, phrase: str, after: str, client: str
) -> None:
    typed = before + phrase + after
    for text in (typed, rb.TEXT_CLIENTS[client](typed)):
        decision = read_decision(text)
        authored = decision.evidence
        if any(p in authored.lower() for p in VETO_PHRASES):
            assert decision.verdict is not Verdict.APPROVE, decision


@given(st.text(max_size=3000), st.one_of(st.none(), st.text(max_size=2000)))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_text_is_read_without_error(text: str, html: str | None) -> None:
    decision = read_decision(text, html)
    assert decision.verdict in Verdict
    assert len(decision.evidence) <= quotes.MAX_CHARS
    assert read_command(text, html) in Command
    assert read_result(text, html).outcome in Outcome


@given(st.lists(st.sampled_from([
    "> ", ">", "同意", "不同意", "驳回", "发件人：", "From: ", "Sent: ", "发送时间：", "写道：",
    " wrote:", "On ", "在 ", "------------------ 原始邮件 ------------------", "-- ", "\n",
    "\n\n", "<blockquote>", "</blockquote>", "<div class=\"gmail_quote\">", "</div>", "____",
    "发自我的iPhone", "免责声明：", "OK", "需总裁审批", "？", "，", "。",
]), max_size=80), st.booleans())
@settings(max_examples=400, deadline=None)
def test_quote_shaped_noise_is_read_without_error(parts: list[str], as_html: bool) -> None:
    text = "".join(parts)
    decision = read_decision("", text) if as_html else read_decision(text)
    if any(p in decision.evidence.lower() for p in VETO_PHRASES):
        assert decision.verdict is not Verdict.APPROVE


def test_huge_and_hostile_inputs_are_bounded() -> None:
    """Megabytes in, at most the cap read (the readers' cost follows the cap)."""
    hostile = [
        "On " + "a " * 500_000 + "\n",
        ("发件人: x\n" * 100_000),
        ">" * 1_000_000,
        "同意" * 500_000,
        ("不" * 3 + "同意 ") * 200_000,
        "\n" * 1_000_000,
    ]
    for text in hostile:
        decision = read_decision(text)
        assert len(decision.evidence) <= quotes.MAX_CHARS
    html = "<div>" * 50_000 + "同意" + "</div>" * 50_000
    assert len(authored_text("", html)) <= quotes.MAX_CHARS
    blockquotes = "<blockquote>" * 20_000 + "驳回"
    assert read_decision("", blockquotes).verdict is Verdict.UNCLEAR


# --- commands ---------------------------------------------------------------------------------
COMMANDS = [
    ("撤回", Command.WITHDRAW),
    ("撤回。", Command.WITHDRAW),
    ("取消", Command.WITHDRAW),
    ("申请取消，谢谢", Command.WITHDRAW),
    ("我要撤销这个申请", Command.WITHDRAW),
    ("不需要了，撤回吧", Command.WITHDRAW),
    ("Please cancel my request.", Command.WITHDRAW),
    ("Withdraw", Command.WITHDRAW),
    ("撤囘", Command.NONE),  # a typo is no command
    ("不要撤回", Command.NONE),
    ("先不取消了", Command.NONE),
    ("进度?", Command.STATUS),
    ("进度？", Command.STATUS),
    ("状态？", Command.STATUS),
    ("请问现在进展如何？", Command.STATUS),
    ("审批到哪一步了", Command.STATUS),
    ("What's the status?", Command.STATUS),
    ("進度？", Command.STATUS),
    ("确认", Command.CONFIRM),
    ("确认。", Command.CONFIRM),
    ("是的", Command.CONFIRM),
    ("是的，没错", Command.CONFIRM),
    ("对", Command.CONFIRM),
    ("對", Command.CONFIRM),
    ("Yes", Command.CONFIRM),
    ("确认撤回", Command.WITHDRAW),
    ("确认吗？", Command.NONE),
    ("对于这个申请我有疑问", Command.NONE),
    ("进度太慢了，我要撤回", Command.NONE),  # two commands: ask, do not guess
    ("同意", Command.NONE),
    ("", Command.NONE),
    ("同意，但取消管理员权限", Command.NONE),  # 取消 about something else
    ("已取消勾选管理员权限", Command.NONE),
    ("取消吧", Command.WITHDRAW),
    ("REQ-2026-000123 撤回", Command.WITHDRAW),
    ("请告知进度", Command.STATUS),
    ("Can you check the status of REQ-2026-000123?", Command.STATUS),
    ("查一下进度", Command.STATUS),
    (rb.qq("撤回"), Command.WITHDRAW),
    (rb.gmail_en("状态？"), Command.STATUS),
    (rb.outlook_zh("谢谢"), Command.NONE),  # the quoted request says 请回复…: not a command
    (rb.qq("确认", "请回复“撤回”以撤回申请，或回复“进度”查询状态"), Command.CONFIRM),
    (rb.thunderbird_bottom("撤回"), Command.WITHDRAW),
]


@pytest.mark.parametrize(("text", "expected"), COMMANDS)
def test_read_command(text: str, expected: Command) -> None:
    assert read_command(text) is expected


def test_read_command_html_only() -> None:
    assert read_command("", rb.gmail_html("撤回")) is Command.WITHDRAW
    assert read_command("", rb.qq_html("进度？")) is Command.STATUS


# --- change results by reply (R-CH-5) ---------------------------------------------------------
RESULTS = [
    ("变更成功", Outcome.SUCCESS, "", "", ""),
    ("已完成。", Outcome.SUCCESS, "", "", ""),
    ("变更已顺利完成，业务验证正常。", Outcome.SUCCESS, None, "", ""),
    ("变更完成\n遗留问题：无\n备注：请各部门清理浏览器缓存", Outcome.SUCCESS, "", "",
     "请各部门清理浏览器缓存"),
    ("结果：成功\n遗留问题：\n1. 报表导出偏慢\n2. 个别用户需重新登录\n\n注意事项：本周内观察",
     Outcome.SUCCESS, "", "1. 报表导出偏慢\n2. 个别用户需重新登录", "本周内观察"),
    ("变更失败，已回退。原因：数据库锁表超时", Outcome.FAILURE, "数据库锁表超时", "", ""),
    ("失败，数据库迁移脚本报错", Outcome.FAILURE, "数据库迁移脚本报错", "", ""),
    ("回退成功", Outcome.FAILURE, "", "", ""),  # the change did not stay
    ("已回滚", Outcome.FAILURE, "", "", ""),
    ("未成功，原因待查", Outcome.FAILURE, "原因待查", "", ""),
    ("没有完成，明晚继续", Outcome.FAILURE, "明晚继续", "", ""),
    ("变更顺利完成，无失败交易", Outcome.SUCCESS, "无失败交易", "", ""),
    ("变更成功，未回退", Outcome.SUCCESS, None, "", ""),
    ("變更成功\n遺留問題：無\n備註：無", Outcome.SUCCESS, "", "", ""),
    ("Change completed successfully.\nRemaining issues: none\nNotes: monitor for 24h",
     Outcome.SUCCESS, "", "", "monitor for 24h"),
    ("The change failed and was rolled back. Reason: migration timed out", Outcome.FAILURE,
     "migration timed out", "", ""),
    ("Done.\nOpen issues: report export is slow", Outcome.SUCCESS, "",
     "report export is slow", ""),
    ("收到", Outcome.UNCLEAR, "", "", ""),
    ("变更完成，但有2个遗留问题：报表慢；登录偶发失败", Outcome.SUCCESS, "",
     "报表慢；登录偶发失败", ""),  # the failure word is inside the remaining issues
    ("变更结果通告\n本次变更已成功完成\n遗留问题：无", Outcome.SUCCESS, "", "", ""),
    ("数据库锁表超时，变更失败", Outcome.FAILURE, "数据库锁表超时", "", ""),
    ("变更成功。比计划晚30分钟结束。", Outcome.SUCCESS, "比计划晚30分钟结束", "", ""),
    ("部分成功", Outcome.UNCLEAR, None, "", ""),
    ("", Outcome.UNCLEAR, "", "", ""),
    (rb.qq("变更成功\n遗留问题：无", "请回复变更结果：成功 / 失败（回退）"), Outcome.SUCCESS,
     "", "", ""),
    (rb.outlook_zh("失败，已回退" + SIG_ZH, "变更成功后请回复"), Outcome.FAILURE, "", "", ""),
]


@pytest.mark.parametrize(("text", "outcome", "reason", "remaining", "notes"), RESULTS)
def test_read_result_r_ch_5(
    text: str, outcome: Outcome, reason: str | None, remaining: str, notes: str
) -> None:
    report = read_result(text)
    assert report.outcome is outcome, report
    if reason is not None:
        assert report.reason == reason, report
    assert report.remaining_issues == remaining, report
    assert report.notes == notes, report


def test_read_result_keeps_evidence_and_reads_html() -> None:
    report = read_result("", rb.outlook_html("变更失败\n原因：证书过期"))
    assert report == ResultReport(
        Outcome.FAILURE, "证书过期", "", "", "变更失败\n\n原因：证书过期"
    )


# --- the fuzz target's oracle, on its seeds and on mutations of them --------------------------
def test_fuzz_oracle_holds_on_every_seed() -> None:
    from fuzz.reply_reader import check_reply, seeds

    all_seeds = seeds()
    assert len(all_seeds) > 500
    for data in all_seeds:
        check_reply(data)


@given(st.randoms(use_true_random=False), st.integers(min_value=0, max_value=10_000))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_oracle_holds_on_mutated_replies(rnd: object, pick: int) -> None:
    import random

    from fuzz import mutations
    from fuzz.reply_reader import REPLY_MUTATORS, check_reply, seeds

    assert isinstance(rnd, random.Random)
    pool = _seed_pool(seeds)
    check_reply(mutations.mutate(pool[pick % len(pool)], rnd, REPLY_MUTATORS))


_POOL: list[bytes] = []


def _seed_pool(seeds: Callable[[], list[bytes]]) -> list[bytes]:
    if not _POOL:
        _POOL.extend(seeds())
    return _POOL


# --- escalations, by rule -----------------------------------------------------------------------
@pytest.mark.parametrize("typed", [
    "同意，需总裁审批", "同意，报总裁审批。", "同意，需總裁審批",
    "同意\n\n数据涉及客户信息，请总裁定夺", "需总裁批准", "同意，需要总经理签批",
    "Approved; please escalate to the president.",
    "Approved, needs CEO approval",
])
def test_escalation_to_the_president_r_dx_2(typed: str) -> None:
    """R-DX-2: the IT manager may send a data extraction on to the president."""
    for text in (typed, rb.qq(typed), rb.gmail_en(typed)):
        decision = read_decision(text)
        assert (decision.verdict, decision.escalate_to) == (Verdict.APPROVE, "president"), text


@pytest.mark.parametrize("typed", [
    "同意，需分管领导审批", "同意，报分管领导审批", "同意。权限超出部门范围，请分管领导审批",
    "同意，需分管領導審批", "同意，请分管副总裁审批", "Approved, escalate to the leader in charge.",
])
def test_escalation_to_the_leader_in_charge_r_ac_2(typed: str) -> None:
    """R-AC-2: permissions beyond the department's authority go to the leader in charge."""
    for text in (typed, rb.outlook_zh(typed), rb.thunderbird_bottom(typed)):
        decision = read_decision(text)
        assert (decision.verdict, decision.escalate_to) == (Verdict.APPROVE, "leader_in_charge")


@pytest.mark.parametrize("typed", [
    "同意，不需要总裁审批", "同意，无需分管领导审批", "同意，已经总裁批准", "总裁已同意，我也同意",
    "同意。请知悉，总裁已知晓", "不同意，需总裁审批也不行", "驳回，建议报总裁",
    "同意吗？需总裁审批",
])
def test_no_escalation_r_dx_2_r_ac_2(typed: str) -> None:
    assert read_decision(typed).escalate_to is None
