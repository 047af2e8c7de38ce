"""Regenerate mailflow/demo_mails/maildir: realistic Chinese sample mails (run from the repo root).

The output is committed so the demo needs nothing but the package; rerun this script after
changing the samples or the form definitions.
"""

from __future__ import annotations

import shutil
import sys
from datetime import datetime, timedelta, timezone
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mailflow.paths import bundled_dir  # noqa: E402  (after the checkout is on sys.path)

OUT = bundled_dir("demo") / "maildir"  # demo/ in a checkout, mailflow/demo_mails/ once moved
CST = timezone(timedelta(hours=8))
BASE = datetime(2026, 11, 23, 9, 5, tzinfo=CST)
SERVICE = "it-flow@example.com"


def _mail(
    n: int, name: str, addr: str, subject: str, body: str, *, charset: str = "utf-8",
    html: str | None = None, extra: dict[str, str] | None = None,
    attachments: list[tuple[str, bytes, str]] | None = None, client: str = "Foxmail 7.2",
    sent: datetime | None = None,
) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = Address(name, addr_spec=addr)
    msg["To"] = Address("IT管理部流程", addr_spec=SERVICE)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(sent or BASE + timedelta(minutes=7 * n))
    msg["Message-ID"] = f"<demo-{n:03d}.{addr.split('@')[0]}@example.com>"
    msg["X-Mailer"] = client
    for key, value in (extra or {}).items():
        msg[key] = value
    if html is None:
        msg.set_content(body, charset=charset)
    else:
        msg.set_content(html, subtype="html", charset=charset)
    for filename, data, mime in attachments or []:
        main, _, sub = mime.partition("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=filename)
    return msg.as_bytes()


def gbk_mail(n: int, name: str, addr: str, subject: str, body: str) -> bytes:
    """What Foxmail / Outlook (zh-CN) send: GBK encoded words and a GBK 8-bit body."""
    from email.header import Header
    from email.mime.text import MIMEText
    from email.utils import formataddr

    msg = MIMEText(body, "plain", "gbk")
    msg["From"] = formataddr((Header(name, "gbk").encode(), addr))
    msg["To"] = formataddr((Header("IT管理部流程", "gbk").encode(), SERVICE))
    msg["Subject"] = Header(subject, "gbk")
    msg["Date"] = format_datetime(BASE + timedelta(minutes=7 * n))
    msg["Message-ID"] = f"<demo-{n:03d}.{addr.split('@')[0]}@example.com>"
    msg["X-Mailer"] = "Foxmail 7.2.25.375[cn]"
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def plain_mails() -> list[bytes]:
    return [
        gbk_mail(1, "张伟", "zhang.wei@example.com", "OA系统登录后页面空白，请协助处理",
                 "IT管理部同事：\n\n今天早上开始登录OA系统后页面一片空白，换了浏览器也一样。\n"
                 "请帮忙看一下，谢谢！\n\n张伟\n市场部"),
        _mail(2, "刘洋", "liu.yang@example.com", "咨询：报表系统月底能否延长开放时间",
              "", html="<p>您好：</p><p>月底结账期间，<b>报表系统</b>能否延长开放到晚上十点？</p>"
              "<p>财务部 刘洋</p>", client="QQMail 2.x"),
        _mail(3, "孙丽", "sun.li@example.com", "自动回复: 关于本周例会",
              "您好，我正在休假，11月30日返回，急事请联系王经理。",
              extra={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
              client="Microsoft Outlook 16.0"),
    ]


def bounce_mail() -> bytes:
    """A Postfix-style DSN: multipart/report, null return path, From MAILER-DAEMON."""
    text = (
        "Return-Path: <>\r\n"
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        f"To: {SERVICE}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(BASE + timedelta(minutes=50))}\r\n"
        "Message-ID: <demo-bounce-001@mx.example.com>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        "\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "<nobody@example.com>: 550 5.1.1 User unknown\r\n"
        "\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        "Final-Recipient: rfc822; nobody@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "\r\n--b1--\r\n"
    )
    return text.encode("ascii")


def form_mails() -> list[bytes]:
    """Filled request forms of all four kinds, two that need correcting, and one correction."""
    from mailflow.documents.definitions import default_forms_dir, load_catalog
    from tests.formfill import SAMPLES, fill_docx, fill_xlsx

    catalog = load_catalog(default_forms_dir())
    blank = default_forms_dir() / "blank"
    docx_mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    xlsx_mime = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    def docx(kind: str, values: dict[str, object]) -> bytes:
        return fill_docx((blank / f"{kind}.docx").read_bytes(), catalog.get(kind), values)

    def xlsx(kind: str, values: dict[str, object]) -> bytes:
        return fill_xlsx((blank / f"{kind}.xlsx").read_bytes(), catalog.get(kind), values)

    extraction = {**SAMPLES["data_extraction"], "applicant": "李娜 <li.na@example.com>",
                  "department": "财务部"}
    account = {**SAMPLES["account"], "applicant": "王强", "department": "市场部"}
    change = dict(SAMPLES["system_change"])
    minutes = dict(SAMPLES["minutes"])
    incomplete = {k: v for k, v in extraction.items() if k not in ("purpose", "scope_of_use")}
    encrypted = (ROOT.parent / "shared/corpus/msoffcrypto-tool/inputs/example_password.docx")
    return [
        _mail(5, "李娜", "li.na@example.com", "业务数据提取申请——10月新增用户清单",
              "您好，附件是数据提取申请表，请审批。\n\n李娜",
              attachments=[("业务数据提取申请表-李娜.docx", docx("data_extraction", extraction),
                            docx_mime)]),
        _mail(6, "王强", "wang.qiang@example.com", "系统帐号申请（CRM权限变更）",
              "见附件。", client="Microsoft Outlook 16.0",
              attachments=[("系统帐号申请表.xlsx", xlsx("account", account), xlsx_mime)]),
        _mail(7, "赵敏", "zhao.min@example.com", "计费系统月度版本升级 变更申请",
              "各位好，变更申请表见附件，计划11月25日晚实施。",
              attachments=[("系统变更申请表（计费系统）.docx", docx("system_change", change),
                            docx_mime)]),
        _mail(8, "周八", "zhou.ba@example.com", "第47周项目周例会 会议纪要",
              "会议纪要见附件，请各位查收。",
              attachments=[("会议纪要-第47周.xlsx", xlsx("minutes", minutes), xlsx_mime)]),
        _mail(9, "钱敏", "qian.min@example.com", "数据提取申请", "请处理。",
              attachments=[("数据提取申请表.docx", docx("data_extraction", incomplete),
                            docx_mime)]),
        _mail(10, "吴霞", "wu.xia@example.com", "帐号申请（加密文件）", "密码另行告知。",
              attachments=[("帐号申请表.docx", encrypted.read_bytes(), docx_mime)]),
        # 钱敏 answers the "please correct" reply (the demo's clock makes it REQ-2026-000007)
        # with the completed form: it completes her request under the same number
        _mail(11, "钱敏", "qian.min@example.com",
              "回复: [REQ-2026-000007] 请修改后重新提交：数据提取申请",
              "已补充使用目的和使用范围，请查收。",
              extra={"References": "<demo-009.qian.min@example.com>"},
              attachments=[("数据提取申请表（已补充）.docx", docx("data_extraction", extraction),
                            docx_mime)]),
    ]


def approval_replies() -> list[bytes]:
    """李娜's request (REQ-2026-000003) through its chain (R-DX-2): her manager 陈静 approves,
    the IT manager 王军 rejects with a reason. Each reply answers the approval mail the demo
    run writes (request 3, steps 1 and 2; the tokens come from the demo's fixed secret)."""
    from mailflow.demo import DEMO_TOKEN_SECRET
    from mailflow.workflow.tokens import approval_message_id, step_token

    def answer(n: int, name: str, addr: str, step_id: int, position: str, body: str) -> bytes:
        token = step_token(DEMO_TOKEN_SECRET.encode(), 3, step_id, addr)
        parent = approval_message_id(step_id, token, "request", SERVICE)
        subject = (f"回复: [REQ-2026-000003] 请审批：业务数据提取申请表 2026年10月新增用户清单"
                   f"（{position}）#{token}")
        quoted = ("\n\n-----原始邮件-----\n发件人: IT管理部 流程服务 <it-flow@example.com>\n"
                  "答复方法：直接回复本邮件，写“同意”或“驳回”，理由写在后面。")
        return _mail(n, name, addr, subject, body + quoted, client="Microsoft Outlook 16.0",
                     extra={"In-Reply-To": parent, "References": parent})

    return [
        answer(12, "陈静", "chen.jing@example.com", 1, "第 1 步，共 2 步", "同意。"),
        answer(13, "王军", "wang.jun@example.com", 2, "第 2 步，共 2 步",
               "驳回，提取范围过大，请只申请本季度的数据。"),
    ]


def change_approvals() -> list[bytes]:
    """赵敏's change (REQ-2026-000005) confirmed in parallel (R-CH-3) by the IT manager 王军 and
    the cooperating 网管中心's manager 马涛, in the demo's second pass (steps 3 and 4)."""
    from mailflow.demo import DEMO_TOKEN_SECRET
    from mailflow.workflow.tokens import approval_message_id, step_token

    def answer(n: int, name: str, addr: str, step_id: int, body: str, sent: datetime) -> bytes:
        token = step_token(DEMO_TOKEN_SECRET.encode(), 5, step_id, addr)
        parent = approval_message_id(step_id, token, "request", SERVICE)
        subject = ("回复: [REQ-2026-000005] 请审批：系统变更申请表 计费系统月度版本升级"
                   f"（第 1 步，共 1 步）#{token}")
        quoted = ("\n\n------------------ 原始邮件 ------------------\n"
                  "发件人: \"IT管理部 流程服务\" <it-flow@example.com>\n"
                  "答复方法：直接回复本邮件，写“同意”或“驳回”，理由写在后面。")
        return _mail(n, name, addr, subject, body + quoted, client="Foxmail 7.2", sent=sent,
                     extra={"In-Reply-To": parent, "References": parent})

    return [
        answer(14, "王军", "wang.jun@example.com", 3, "同意。", datetime(
            2026, 11, 23, 13, 40, tzinfo=CST)),
        answer(15, "马涛", "ma.tao@example.com", 4, "同意配合，网管中心届时安排值班。",
               datetime(2026, 11, 23, 13, 52, tzinfo=CST)),
    ]


def change_result() -> list[bytes]:
    """The operator 王五 reports the change's result (R-CH-5) by replying to the mail that
    asked for it, the morning after the change (the demo's last pass)."""
    subject = ("回复: 【提醒】请报告变更结果（回复变更通知：成功/完成/失败、原因、"
               "遗留问题、注意事项）：计费系统月度版本升级 [REQ-2026-000005]")
    body = ("成功\n遗留问题：无\n注意事项：请客服中心关注今天上午的话费查询情况\n\n王五\n\n"
            "在 2026年11月26日 01:30，IT管理部 流程服务 <it-flow@example.com> 写道：\n"
            "> 请报告变更结果")
    return [_mail(16, "王五", "wangwu@example.com", subject, body, client="NetEase Mail",
                  sent=datetime(2026, 11, 26, 9, 12, tzinfo=CST))]


def fault_and_ticket() -> list[bytes]:
    """A business department reports a fault by a plain mail (R-FN-1: the handler at once, 5
    minutes unresolved → escalated, R-FN-2), and a contract customer reports a problem, which
    opens a customer ticket (R-PM-1), on the morning after the change."""
    return [
        gbk_mail(17, "刘洋", "liu.yang@example.com", "故障：财务报表系统无法登录",
                 "各位好：\n\n财务报表系统从9点50分开始无法登录，提示“服务不可用”，"
                 "财务部全员受影响，月结工作无法进行。\n\n刘洋\n分机 8021"),
        _mail(18, "周晓梅", "zhou.xm@eastpower.example.cn", "营业厅缴费页面打不开",
              "您好：\n\n今天上午9点40分左右开始，我们营业厅的缴费页面打不开，提示连接超时，"
              "目前只能手工收费。麻烦尽快处理。\n\n周晓梅\n华东电力公司 信息中心\n"
              "电话 138-1234-5678",
              client="Microsoft Outlook 16.0", sent=datetime(2026, 11, 26, 9, 52, tzinfo=CST)),
    ]


def ticket_triage() -> list[bytes]:
    """客服 何平 triages the customer's ticket (REQ-2026-000010) by replying to the triage
    request (R-PM-2): normal, a usage question, for 王五, with the impact and a due time."""
    subject = "回复: 【待分级】客户反馈：华东电力公司：营业厅缴费页面打不开 [REQ-2026-000010]"
    body = ("一般，使用问题，派给王五处理。\n影响范围：城东营业厅\n"
            "处理要求：电话指导营业员清理浏览器缓存，不行再上门\n今天17:00前完成\n\n何平\n\n"
            "-----原始邮件-----\n发件人: IT管理部 流程服务 <it-flow@example.com>\n"
            "> 客户 华东电力公司 反馈了一个问题")
    return [_mail(19, "何平", "he.ping@example.com", subject, body, client="Foxmail 7.2",
                  sent=datetime(2026, 11, 26, 10, 4, tzinfo=CST))]


#: the mails of the demo's later passes (mailflow/demo.py DEMO_STEPS), by folder
LATER = {"approvals": change_approvals, "result": change_result,
         "reports": fault_and_ticket, "triage": ticket_triage}


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    for sub in ("cur", "new", "tmp"):
        (OUT / sub).mkdir(parents=True)
    mails = [*plain_mails(), bounce_mail(), *form_mails(), *approval_replies()]
    for index, raw in enumerate(mails, start=1):
        (OUT / "cur" / f"{1795000000 + index}.demo{index:03d}.mailflow:2,").write_bytes(raw)
    print(f"wrote {len(mails)} sample mails to {OUT}")
    later = OUT.parent / "later"
    if later.exists():
        shutil.rmtree(later)
    index = len(mails)
    for folder, make in LATER.items():
        (later / folder).mkdir(parents=True)
        for raw in make():
            index += 1
            name = f"{1795000000 + index}.demo{index:03d}.mailflow:2,"
            (later / folder / name).write_bytes(raw)
    print(f"wrote {index - len(mails)} mails of the later passes to {later}")


if __name__ == "__main__":
    main()
