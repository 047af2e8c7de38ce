"""Undeclared, unknown and wrong charsets decode to the text that was sent (issue #13).

A generated corpus: simplified Chinese in GB2312/GBK/GB18030 (4-byte characters included),
traditional Chinese in Big5/cp950, Japanese, Korean and Latin-1 controls; each text sent as
a body and as a subject, undeclared, mislabelled and correctly labelled, through the real
parser. Every sample must come back exactly; a failure names the sample.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailflow.mail import plausibility
from mailflow.mail.charsets import decode_body, decode_header_bytes
from mailflow.mail.parse import parse_mail

SIMPLIFIED = [
    "数据提取",
    "同意",
    "请审批",
    "好的收到谢谢",
    "申请开通财务报表系统账号",
    "关于系统变更的通知，请各部门注意",
    "会议纪要：本周例会讨论了三个议题",
    "请于本周五前完成客户数据提取，并按保密要求交付。",
    "财务部刘洋申请开通报表系统查询权限，用于月度结算核对。",
    "系统将于今晚二十三点升级，期间暂停服务约两小时。",
    "附件是本月的业务数据提取申请表，请领导审批。",
    "您好，我的邮箱密码忘记了，麻烦帮忙重置一下。",
    "王经理：驳回，使用范围写得不清楚，请补充后重新提交。",
    "测试环境已验证通过，变更计划见附件。",
]
#: characters GB2312 lacks (GBK) and characters GB18030 writes in four bytes
GBK_ONLY = ["账号申请：朱镕基的喆", "朱镕基的喆与堃", "请为邹燚开通帐号", "旸与珺参加会议"]
GB18030_FOUR_BYTE = ["䶮的名字有生僻字", "测试𠀀字符", "请核对䲜䲞两个字"]
TRADITIONAL = [
    "同意",
    "駁回",
    "請審批",
    "資料提取申請",
    "系統變更通知",
    "申請開通財務報表系統帳號",
    "會議紀要：本週例會討論了三個議題",
    "您好，請協助重設我的郵件密碼，謝謝。",
    "財務部申請開通報表系統查詢權限，用於月度結算核對。",
    "系統將於今晚十一點升級，期間暫停服務約兩小時。",
    "附件是本月的業務資料提取申請表，請主管審批。",
    "測試環境已驗證通過，變更計畫見附件。",
]
JAPANESE = [
    "お世話になっております。",
    "会議の議事録を送ります",
    "承認します",
    "よろしくお願いします",
    "システム変更のお知らせ",
]
KOREAN = ["안녕하세요 회의록입니다", "승인합니다", "감사합니다", "시스템 변경 안내"]
LATIN = ["Formação técnica", "São Paulo café", "Müller Straße", "naïve résumé", "Preço: 10€"]


@dataclass(frozen=True)
class Sample:
    text: str
    codec: str         # what the bytes are written in
    label: str | None  # what the mail says they are (None: nothing)
    mode: str          # undeclared | mislabelled | labelled

    def __str__(self) -> str:
        return f"{self.mode}:{self.codec}:{self.label}:{self.text[:8]}"


def _samples() -> list[Sample]:
    written: list[tuple[str, str, str]] = []  # (text, codec, a wrong label)
    for text in SIMPLIFIED:
        written += [(text, "gb2312", "big5"), (text, "gbk", "iso-8859-1")]
    for text in GBK_ONLY:
        written += [(text, "gbk", "big5"), (text, "gb18030", "iso-8859-1")]
    for text in GB18030_FOUR_BYTE:
        written.append((text, "gb18030", "big5"))
    for text in TRADITIONAL:
        written += [(text, "big5", "gb2312"), (text, "cp950", "iso-8859-1")]
    written += [(text, "shift_jis", "gb2312") for text in JAPANESE]
    written += [(text, "euc_kr", "gb2312") for text in KOREAN]
    written += [(text, "cp1252", "gb2312") for text in LATIN]
    out: list[Sample] = []
    for text, codec, wrong in written:
        text.encode(codec)  # every sample is writable in its codec
        out += [Sample(text, codec, None, "undeclared"), Sample(text, codec, wrong, "mislabelled"),
                Sample(text, codec, codec, "labelled")]
    return out


SAMPLES = _samples()


def test_the_corpus_is_large_enough() -> None:
    assert len(SAMPLES) * 2 >= 200


def _body_mail(sample: Sample) -> bytes:
    charset = f'; charset="{sample.label}"' if sample.label else ""
    head = (f"From: a@example.com\r\nTo: it@example.com\r\nSubject: test\r\n"
            f"Content-Type: text/plain{charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
    return head.encode("ascii") + sample.text.encode(sample.codec) + b"\r\n"


def _subject_mail(sample: Sample) -> bytes:
    data = sample.text.encode(sample.codec)
    if sample.label is None:
        subject = data  # raw 8-bit header, as broken clients send it
    else:
        subject = f"=?{sample.label}?B?{base64.b64encode(data).decode()}?=".encode("ascii")
    return (b"From: a@example.com\r\nTo: it@example.com\r\nSubject: " + subject +
            b"\r\nContent-Type: text/plain\r\n\r\nhello\r\n")


def test_every_sample_decodes_to_the_text_that_was_sent() -> None:
    failures = []
    for sample in SAMPLES:
        body = parse_mail(_body_mail(sample)).text.strip()
        if body != sample.text:
            failures.append(f"body {sample}: got {body!r}")
        subject = parse_mail(_subject_mail(sample)).subject
        if subject != sample.text:
            failures.append(f"subject {sample}: got {subject!r}")
    assert not failures, f"{len(failures)} of {2 * len(SAMPLES)} wrong:\n" + "\n".join(failures)


@pytest.mark.parametrize("text", ["请审批", "申請開通財務報表系統帳號"])
def test_a_mislabelled_sample_is_noted_as_a_defect(text: str) -> None:
    codec = "gbk" if text == "请审批" else "big5"
    mail = parse_mail(_body_mail(Sample(text, codec, "iso-8859-1", "mislabelled")))
    assert mail.text.strip() == text
    assert any("reads as" in d for d in mail.defects)


def test_big5_body_informs_the_undeclared_subject() -> None:
    # issue #13: the Big5 body was read as cp950 while its subject was forced to GB18030
    subject = "申請開通財務報表系統帳號".encode("big5")
    body = "您好，請協助開通帳號，謝謝。".encode("big5")
    raw = (b"From: a@example.com\r\nSubject: " + subject +
           b"\r\nContent-Type: text/plain\r\n\r\n" + body + b"\r\n")
    mail = parse_mail(raw)
    assert mail.subject == "申請開通財務報表系統帳號"
    assert mail.text.strip() == "您好，請協助開通帳號，謝謝。"


def test_short_undeclared_body_is_not_read_as_shift_jis() -> None:
    decoded = decode_body("数据提取".encode("gbk"), None)
    assert (decoded.text, decoded.codec) == ("数据提取", "gb18030")


def test_no_statistical_guess_names_a_non_mail_codec() -> None:
    # charset-normalizer alone names cp037 (EBCDIC) for this text
    decoded = decode_body("账号申请：朱镕基的喆…".encode("gbk") * 2, None)
    assert decoded.text == "账号申请：朱镕基的喆…" * 2
    assert decoded.codec in plausibility.CANDIDATES


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_without_error(data: bytes) -> None:
    body = decode_body(data, None)
    header = decode_header_bytes(data)
    assert isinstance(body.text, str) and isinstance(header.text, str)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("".join(SIMPLIFIED[6:]))), min_size=6,
               max_size=40))
def test_any_common_simplified_text_round_trips_through_gbk(text: str) -> None:
    assert decode_body(text.encode("gbk"), None).text == text
