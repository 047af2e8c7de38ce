"""Reply bodies as the mail clients our approvers use write them, for the reply reader's tests
and the fuzz seeds.

Each client function takes what the approver typed and returns the body (text or HTML) the
client would send: the quote header in its own words and punctuation, the quoted original
(our approval request, which itself says "请回复 同意 或 驳回"), signatures and footers where
the client adds them.  Layouts follow real mails from these clients (Outlook 2016/365 zh-CN,
zh-TW and en, QQ Mail/Foxmail, 网易 163/126 and 网易邮箱大师, Gmail web zh/en, Apple Mail
macOS/iOS, Thunderbird, 腾讯企业邮/企业微信, 阿里邮箱/钉钉).
"""

from __future__ import annotations

from html import escape

SENDER = "审批系统 <mailflow@corp.example>"
SUBJECT = "[REQ-2026-000123] 审批请求：业务数据提取申请（第 2 步，共 3 步）"

#: our approval request, as quoted back: it holds both keywords
ORIGINAL = """王五，您好：

请审批以下申请（第 2 步，共 3 步）：
申请编号：REQ-2026-000123
申请人：张三（市场部）
使用目的：季度经营分析
前序审批：李四（市场部经理）：同意

请直接回复 同意 或 驳回，可在其后写明理由。
此邮件由系统自动发送。"""

#: an earlier round of the thread, quoted: a rejection the new answer must not inherit
ORIGINAL_REJECTED = """不同意，请补充使用范围。

""" + ORIGINAL

ORIGINAL_EN = """Dear Wang Wu,

Please approve or reject request REQ-2026-000123 (step 2 of 3).
Requester: Zhang San (Marketing)
Reply APPROVE or REJECT, followed by your reason."""


def _quoted(text: str, prefix: str = "> ") -> str:
    return "\n".join(prefix + line if line else prefix.rstrip() for line in text.split("\n"))


# --- plain text -----------------------------------------------------------------------------
def outlook_zh(typed: str, original: str = ORIGINAL, colon: str = ":") -> str:
    return (
        f"{typed}\n\n________________________________\n"
        f"发件人{colon} {SENDER}\n发送时间{colon} 2026年11月25日 10:00\n"
        f"收件人{colon} 王五 <wangwu@corp.example>\n抄送{colon} 张三 <zhangsan@corp.example>\n"
        f"主题{colon} {SUBJECT}\n\n{original}\n"
    )


def outlook_zh_old(typed: str, original: str = ORIGINAL) -> str:
    return (
        f"{typed}\n\n-----原始邮件-----\n发件人: {SENDER}\n"
        f"发送时间: 2026年11月25日 星期三 10:00\n收件人: 王五\n主题: {SUBJECT}\n\n{original}\n"
    )


def outlook_zh_hant(typed: str, original: str = ORIGINAL) -> str:
    return (
        f"{typed}\n\n________________________________\n寄件者: {SENDER}\n"
        f"寄件日期: 2026年11月25日 上午 10:00\n收件者: 王五 <wangwu@corp.example>\n"
        f"主旨: {SUBJECT}\n\n{original}\n"
    )


def outlook_en(typed: str, original: str = ORIGINAL_EN) -> str:
    return (
        f"{typed}\n\n-----Original Message-----\nFrom: mailflow <mailflow@corp.example>\n"
        f"Sent: Wednesday, November 25, 2026 10:00 AM\nTo: Wang Wu <wangwu@corp.example>\n"
        f"Subject: {SUBJECT}\n\n{original}\n"
    )


def outlook_en_new(typed: str, original: str = ORIGINAL_EN) -> str:
    return (
        f"{typed}\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n"
        f"________________________________\nFrom: mailflow <mailflow@corp.example>\n"
        f"Sent: Wednesday, November 25, 2026 10:00:12 AM\nTo: Wang Wu <wangwu@corp.example>\n"
        f"Subject: {SUBJECT}\n\n{original}\n"
    )


def qq(typed: str, original: str = ORIGINAL) -> str:
    return (
        f"{typed}\n\n\n------------------ 原始邮件 ------------------\n"
        f'发件人: "审批系统"<mailflow@corp.example>;\n'
        f"发送时间: 2026年11月25日(星期三) 上午10:00\n"
        f'收件人: "王五"<wangwu@corp.example>;\n主题: {SUBJECT}\n\n{original}\n'
    )


def qq_en(typed: str, original: str = ORIGINAL) -> str:
    return (
        f"{typed}\n\n------------------ Original ------------------\n"
        f'From: "mailflow"<mailflow@corp.example>;\nDate: Wed, Nov 25, 2026 10:00 AM\n'
        f'To: "wangwu"<wangwu@corp.example>;\nSubject: {SUBJECT}\n\n{original}\n'
    )


def foxmail(typed: str, original: str = ORIGINAL) -> str:
    return (
        f"{typed}\n\n\n\nwangwu@corp.example\n \n发件人： 审批系统\n"
        f"发送时间： 2026-11-25 10:00\n收件人： 王五\n主题： {SUBJECT}\n{original}\n"
    )


def netease(typed: str, original: str = ORIGINAL, prefixed: bool = False) -> str:
    body = _quoted(original) if prefixed else original
    return (
        f"{typed}\n\n\n\n\n\n在 2026-11-25 10:00:00，\"审批系统\" <mailflow@corp.example> "
        f"写道：\n{body}\n"
    )


def netease_master(typed: str, original: str = ORIGINAL) -> str:
    return (
        f"{typed}\n\n\n发自网易邮箱大师\n---- 回复的原邮件 ----\n"
        f"| 发件人 | 审批系统<mailflow@corp.example> |\n| 日期 | 2026年11月25日 10:00 |\n"
        f"| 收件人 | 王五<wangwu@corp.example> |\n| 主题 | {SUBJECT} |\n{original}\n"
    )


def gmail_zh(typed: str, original: str = ORIGINAL) -> str:
    return (
        f"{typed}\n\n审批系统 <mailflow@corp.example> 于2026年11月25日周三 10:00写道：\n\n"
        f"{_quoted(original)}\n"
    )


def gmail_en(typed: str, original: str = ORIGINAL, wrapped: bool = False) -> str:
    attribution = (
        "On Wed, Nov 25, 2026 at 10:00 AM 审批系统 <\nmailflow@corp.example> wrote:"
        if wrapped
        else "On Wed, Nov 25, 2026 at 10:00 AM 审批系统 <mailflow@corp.example> wrote:"
    )
    return f"{typed}\n\n{attribution}\n\n{_quoted(original)}\n"


def apple_zh(typed: str, original: str = ORIGINAL) -> str:
    return (
        f"{typed}\n\n发自我的iPhone\n\n> 在 2026年11月25日，10:00，审批系统 "
        f"<mailflow@corp.example> 写道：\n> \n{_quoted(original)}\n"
    )


def apple_en(typed: str, original: str = ORIGINAL_EN) -> str:
    return (
        f"{typed}\n\nSent from my iPhone\n\n> On Nov 25, 2026, at 10:00, mailflow "
        f"<mailflow@corp.example> wrote:\n> \n{_quoted(original)}\n"
    )


def apple_mac_zh(typed: str, original: str = ORIGINAL) -> str:
    return (
        f"{typed}\n\n> 2026年11月25日 上午10:00，审批系统 <mailflow@corp.example> 写道：\n> \n"
        f"{_quoted(original)}\n"
    )


def thunderbird_bottom(typed: str, original: str = ORIGINAL) -> str:
    """Bottom-posting: the answer below the quote."""
    return f"在 2026/11/25 10:00, 审批系统 写道:\n{_quoted(original)}\n\n{typed}\n"


def thunderbird_bottom_en(typed: str, original: str = ORIGINAL_EN) -> str:
    return f"On 11/25/26 10:00, mailflow wrote:\n{_quoted(original)}\n\n{typed}\n\n-- \nWang Wu\n"


def inline(answers: list[str], original: str = ORIGINAL) -> str:
    """Inline-posting: the answer between quoted lines (mutt, Thunderbird, Gmail text)."""
    lines = original.split("\n")
    half = len(lines) // 2
    head = "\n".join(lines[:half])
    tail = "\n".join(lines[half:])
    typed = "\n\n".join(answers)
    attribution = "On Wed, Nov 25, 2026 at 10:00 AM mailflow wrote:"
    return f"{attribution}\n{_quoted(head)}\n\n{typed}\n\n{_quoted(tail)}\n"


def exmail(typed: str, original: str = ORIGINAL) -> str:
    """腾讯企业邮 / 企业微信 mail: QQ's separator with full-width colons, 企业微信 footer."""
    return (
        f"{typed}\n\n发自企业微信\n\n------------------ 原始邮件 ------------------\n"
        f"发件人：审批系统 <mailflow@corp.example>\n发送时间：2026年11月25日 10:00\n"
        f"收件人：王五 <wangwu@corp.example>\n主题：{SUBJECT}\n\n{original}\n"
    )


def dingtalk(typed: str, original: str = ORIGINAL) -> str:
    """阿里邮箱 / 钉钉 mail: a long rule, full-width colons and 主　题 with an ideographic space."""
    return (
        f"{typed}\n\n来自钉钉专属商务邮箱\n"
        f"------------------------------------------------------------------\n"
        f"发件人：审批系统<mailflow@corp.example>\n发送时间：2026年11月25日(星期三) 10:00\n"
        f"收件人：王五<wangwu@corp.example>\n主　题：{SUBJECT}\n\n{original}\n"
    )


# --- HTML -----------------------------------------------------------------------------------
def _html_lines(text: str) -> str:
    return "".join(f"<div>{escape(line) or '<br>'}</div>" for line in text.split("\n"))


def gmail_html(typed: str, original: str = ORIGINAL) -> str:
    return (
        f'<div dir="ltr">{_html_lines(typed)}</div><br><div class="gmail_quote">'
        f'<div dir="ltr" class="gmail_attr">审批系统 &lt;mailflow@corp.example&gt; '
        f"于2026年11月25日周三 10:00写道：<br></div>"
        f'<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;'
        f'border-left:1px solid rgb(204,204,204);padding-left:1ex">{_html_lines(original)}'
        f"</blockquote></div>"
    )


def outlook_html(typed: str, original: str = ORIGINAL) -> str:
    return (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        "<style>p.MsoNormal{margin:0cm;}</style></head><body lang=ZH-CN>"
        '<div class="WordSection1">'
        + "".join(f'<p class="MsoNormal">{escape(x)}<o:p></o:p></p>' for x in typed.split("\n"))
        + '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><div><div style="border:none;'
        'border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal">'
        "<b>发件人:</b> 审批系统 &lt;mailflow@corp.example&gt; <br><b>发送时间:</b> "
        "2026年11月25日 10:00<br><b>收件人:</b> 王五 &lt;wangwu@corp.example&gt;<br>"
        f"<b>主题:</b> {escape(SUBJECT)}<o:p></o:p></p></div></div>"
        + "".join(f'<p class="MsoNormal">{escape(x)}</p>' for x in original.split("\n"))
        + "</div></body></html>"
    )


def outlook_web_html(typed: str, original: str = ORIGINAL_EN) -> str:
    return (
        f'<div dir="ltr">{_html_lines(typed)}</div><div id="appendonsend"></div><hr '
        'style="display:inline-block;width:98%" tabindex="-1"><div id="divRplyFwdMsg" '
        'dir="ltr"><font face="Calibri"><b>From:</b> mailflow &lt;mailflow@corp.example&gt;'
        f"<br><b>Sent:</b> Wednesday, November 25, 2026 10:00 AM<br><b>Subject:</b> "
        f"{escape(SUBJECT)}</font></div>{_html_lines(original)}"
    )


def qq_html(typed: str, original: str = ORIGINAL) -> str:
    return (
        f"{_html_lines(typed)}<div><br></div>"
        '<div style="font-size: 12px;font-family: Arial Narrow;padding:2px 0 2px 0;">'
        "------------------&nbsp;原始邮件&nbsp;------------------</div>"
        '<div style="font-size: 12px;background:#efefef;padding:8px;">'
        '<div><b>发件人:</b>&nbsp;"审批系统"&lt;mailflow@corp.example&gt;;</div>'
        "<div><b>发送时间:</b>&nbsp;2026年11月25日(星期三) 上午10:00</div>"
        '<div><b>收件人:</b>&nbsp;"王五"&lt;wangwu@corp.example&gt;;<wbr></div>'
        f"<div></div><div><b>主题:</b>&nbsp;{escape(SUBJECT)}</div></div><div><br></div>"
        f"{_html_lines(original)}"
    )


def netease_html(typed: str, original: str = ORIGINAL) -> str:
    return (
        f'<div style="line-height:1.7;color:#000000;font-size:14px;font-family:Arial">'
        f"{_html_lines(typed)}<br><br>"
        '<div style="position:relative;zoom:1">--<br><div>王五 信息技术部</div></div>'
        '<div id="divNeteaseMailCard"></div><br>'
        '<pre><br>在 2026-11-25 10:00:00，"审批系统" &lt;mailflow@corp.example&gt; 写道：<br>'
        '</pre><blockquote id="isReplyContent" style="PADDING-LEFT: 1ex; MARGIN: 0px 0px 0px '
        f'0.8ex; BORDER-LEFT: #ccc 1px solid">{_html_lines(original)}</blockquote></div>'
    )


def apple_html(typed: str, original: str = ORIGINAL) -> str:
    return (
        '<html><body dir="auto">'
        f'{_html_lines(typed)}<div><br></div><div id="AppleMailSignature" dir="ltr">发自我的iPhone'
        '</div><div dir="ltr"><br><blockquote type="cite">在 2026年11月25日，10:00，审批系统 '
        "&lt;mailflow@corp.example&gt; 写道：<br><br></blockquote></div>"
        f'<blockquote type="cite"><div dir="ltr">{_html_lines(original)}</div></blockquote>'
        "</body></html>"
    )


def thunderbird_html_bottom(typed: str, original: str = ORIGINAL) -> str:
    return (
        '<html><body><div class="moz-cite-prefix">在 2026/11/25 10:00, 审批系统 写道:<br></div>'
        f'<blockquote type="cite" cite="mid:abc@corp.example">{_html_lines(original)}'
        f"</blockquote><p>{escape(typed).replace(chr(10), '<br>')}</p>"
        '<pre class="moz-signature" cols="72">-- \n王五</pre></body></html>'
    )


def gmail_html_inline(answers: list[str], original: str = ORIGINAL) -> str:
    lines = original.split("\n")
    half = len(lines) // 2
    typed = "".join(f"<div>{escape(a)}</div>" for a in answers)
    return (
        '<div dir="ltr"><br></div><div class="gmail_quote"><div class="gmail_attr">On Wed, '
        "Nov 25, 2026 at 10:00 AM mailflow wrote:</div>"
        f'<blockquote class="gmail_quote">{_html_lines(chr(10).join(lines[:half]))}'
        f"</blockquote>{typed}<blockquote class=\"gmail_quote\">"
        f"{_html_lines(chr(10).join(lines[half:]))}</blockquote></div>"
    )


def dingtalk_html(typed: str, original: str = ORIGINAL) -> str:
    return (
        f'<div class="__aliyun_email_body_block">{_html_lines(typed)}</div>'
        '<div class="__aliyun_email_body_block"><br></div>'
        '<blockquote style="margin-right:0;margin-top:0;margin-bottom:0;">'
        "<div>------------------------------------------------------------------</div>"
        "<div>发件人：审批系统&lt;mailflow@corp.example&gt;</div>"
        "<div>发送时间：2026年11月25日(星期三) 10:00</div>"
        f"<div>主　题：{escape(SUBJECT)}</div><br>{_html_lines(original)}</blockquote>"
    )


TEXT_CLIENTS = {
    "outlook_zh": outlook_zh, "outlook_zh_old": outlook_zh_old,
    "outlook_zh_hant": outlook_zh_hant, "outlook_en": outlook_en,
    "outlook_en_new": outlook_en_new, "qq": qq, "qq_en": qq_en, "foxmail": foxmail,
    "netease": netease, "netease_master": netease_master, "gmail_zh": gmail_zh,
    "gmail_en": gmail_en, "apple_zh": apple_zh, "apple_en": apple_en,
    "apple_mac_zh": apple_mac_zh, "thunderbird_bottom": thunderbird_bottom,
    "thunderbird_bottom_en": thunderbird_bottom_en, "exmail": exmail, "dingtalk": dingtalk,
}  # fmt: skip
HTML_CLIENTS = {
    "gmail_html": gmail_html, "outlook_html": outlook_html,
    "outlook_web_html": outlook_web_html, "qq_html": qq_html, "netease_html": netease_html,
    "apple_html": apple_html, "thunderbird_html_bottom": thunderbird_html_bottom,
    "dingtalk_html": dingtalk_html,
}  # fmt: skip
