"""Undeclared and mislabelled Chinese mail through the real Dovecot and SMTP (issue #13).

The subject and body a person wrote must be what the request record holds and what the
receipt quotes back — for GBK, GB18030 (four-byte characters) and Big5, with no charset at
all and with a wrong one.
"""

from __future__ import annotations

import base64
import email
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailflow.store.models import InboundMail, Request
from tests.stack import SERVICE, query, run_once, stack_settings

CASES = [
    # (subject, body, codec, subject label or None, body label or None)
    ("申请开通财务报表系统账号", "您好，请为财务部刘洋开通报表系统查询权限。", "gbk", None, None),
    ("请为邹燚开通帐号", "朱镕基的喆与堃都是生僻字。", "gbk", "iso-8859-1", "iso-8859-1"),
    ("䶮的名字有生僻字", "请核对䲜䲞两个字，谢谢。", "gb18030", None, None),
    ("申請開通財務報表系統帳號", "您好，請協助開通帳號，謝謝。", "big5", None, None),
    ("系統變更通知", "系統將於今晚十一點升級，期間暫停服務。", "big5", "gb2312", "gb2312"),
]


def _raw(subject: str, body: str, codec: str, subject_label: str | None,
         body_label: str | None, sender: str) -> bytes:
    data = subject.encode(codec)
    header = data if subject_label is None else \
        f"=?{subject_label}?B?{base64.b64encode(data).decode()}?=".encode("ascii")
    charset = f'; charset="{body_label}"' if body_label else ""
    message_id = f"<charset-{codec}-{len(subject)}-{len(body)}@example.test>"
    return (f"From: {sender}\r\nTo: {SERVICE}\r\nMessage-ID: {message_id}"
            f"\r\nDate: Mon, 23 Nov 2026 10:00:00 +0800\r\nSubject: ").encode("ascii") + \
        header + (f"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain{charset}\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n").encode("ascii") + \
        body.encode(codec) + b"\r\n"


@pytest.mark.parametrize("case", range(len(CASES)))
def test_undeclared_and_mislabelled_chinese_reaches_record_and_reply(
        mailstack: Any, sqlite_url: str, tmp_path: Path, case: int) -> None:
    subject, body, codec, subject_label, body_label = CASES[case]
    sender = "requester@example.test"
    settings = stack_settings(mailstack.dovecot, mailstack.smtp, sqlite_url, tmp_path)
    before = len(mailstack.smtp.messages)
    mailstack.dovecot.append(SERVICE, _raw(subject, body, codec, subject_label, body_label,
                                           sender))
    run_once(settings)

    mails = query(settings, select(InboundMail.subject))
    assert mails == [subject]
    titles = query(settings, select(Request.title))
    assert titles == [subject]
    replies = [email.message_from_bytes(m.data, policy=policy.default)
               for m in mailstack.smtp.messages[before:]]
    assert len(replies) == 1
    reply = replies[0]
    assert isinstance(reply, EmailMessage)
    assert subject in str(reply["Subject"])
    part = reply.get_body(preferencelist=("plain",))
    assert part is not None and subject in str(part.get_content())
