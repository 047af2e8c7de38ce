"""parse_mail over hand-written mails: Chinese charsets, attachment names, hostile input."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow.mail.charsets import codecs_for, decode_body, decode_header_value
from mailflow.mail.filenames import safe_filename
from mailflow.mail.parse import MAX_DEPTH, parse_mail
from mailflow_testing import mailbuild

# "Account request: Zhu Rongji's Zhe" -- 镕 and 喆 are GBK-only (not in GB2312).
ZH = "账号申请：朱镕基的喆"
ZH_NAME = "系统帐号申请表（镕）"


def b64word(text: str, charset: str, codec: str | None = None) -> str:
    data = text.encode(codec or charset)
    return f"=?{charset}?B?{base64.b64encode(data).decode('ascii')}?="


def qword(text: str, charset: str, codec: str | None = None) -> str:
    data = text.encode(codec or charset)
    return f"=?{charset}?Q?{binascii.b2a_qp(data, header=True).decode('ascii')}?="


def mail(headers: str, body: bytes = b"hello\r\n", *, extra: bytes = b"") -> bytes:
    head = headers.strip("\n").replace("\n", "\r\n").encode("ascii")
    return head + extra + b"\r\n\r\n" + body


def simple(subject: str = "hi", *, from_: str = "Zhang San <zhang.san@Example.COM>") -> bytes:
    return mail(
        f"From: {from_}\nTo: it@example.com\nSubject: {subject}\n"
        "Message-ID: <abc@host>\nDate: Tue, 25 Nov 2026 10:00:00 +0800\n"
        "Content-Type: text/plain; charset=utf-8"
    )


# --- headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label",
    ["GB2312", "gbk", "x-gbk", "cp936", "iso-gb2312", "euc-cn", "gb_2312-80", "GB18030"],
)
def test_gb_family_subject_b_encoding_decodes_as_gb18030(label: str) -> None:
    parsed = parse_mail(simple(b64word(ZH, label, "gbk")))
    assert parsed.subject == ZH


@pytest.mark.parametrize("label", ["GB2312", "gbk", "gb18030"])
def test_gb_family_subject_q_encoding(label: str) -> None:
    parsed = parse_mail(simple(qword(ZH, label, "gbk")))
    assert parsed.subject == ZH


def test_raw_8bit_gbk_subject_without_any_charset() -> None:
    raw = mail(
        "From: a@example.com\nSubject: ",
        extra=ZH.encode("gbk") + b"\r\nContent-Type: text/plain",
    )
    assert parse_mail(raw).subject == ZH


def test_raw_8bit_big5_subject_uses_the_body_charset_as_hint() -> None:
    subject = "養樂多線上訂購"
    raw = mail(
        "From: a@example.com\nSubject: ",
        extra=subject.encode("big5") + b"\r\nContent-Type: text/plain; charset=big5",
        body="你好".encode("big5"),
    )
    parsed = parse_mail(raw)
    assert parsed.subject == subject
    assert parsed.text == "你好"


def test_multibyte_character_split_across_encoded_words() -> None:
    data = ZH.encode("utf-8")
    words = [data[:4], data[4:11], data[11:]]  # cuts inside characters
    subject = " ".join(f"=?utf-8?B?{base64.b64encode(w).decode('ascii')}?=" for w in words)
    assert parse_mail(simple(subject)).subject == ZH


def test_encoded_words_mixed_with_text_and_whitespace_rules() -> None:
    value = f"Re: {b64word('申请', 'gbk')} {b64word('表', 'utf-8')}  done"
    # whitespace between two encoded words disappears; around plain text it stays
    assert decode_header_value(value) == "Re: 申请表  done"


def test_subject_whitespace_collapsed_and_control_chars_dropped() -> None:
    parsed = parse_mail(simple("a\tb   c =?utf-8?Q?x=07y?="))
    assert parsed.subject == "a b c x y"


def test_display_name_encoded_word_inside_quotes_decodes() -> None:
    parsed = parse_mail(simple(from_=f'"{b64word("张三", "gb2312", "gbk")}" <zs@Example.COM>'))
    assert parsed.sender is not None
    assert parsed.sender.name == "张三"
    assert parsed.sender.addr == "zs@example.com"
    assert parsed.sender.key == "zs@example.com"


def test_core_headers_normalised() -> None:
    raw = mail(
        'Return-Path: <>\nFrom: a@example.com\nTo: b@example.com, "Li, Na" <li.na@example.com>\n'
        "Cc: undisclosed-recipients:;\nReply-To: help@example.com\nSubject: x\n"
        "Message-ID:   abc@host  \nIn-Reply-To: <p1@host> (comment)\n"
        "References: <r1@host>\n <r2@host>\nDate: Tue, 25 Nov 2026 10:00:00 +0800\n"
        "X-Test: one\nX-Test: two"
    )
    parsed = parse_mail(raw)
    assert parsed.return_path == ""
    assert [a.addr for a in parsed.to] == ["b@example.com", "li.na@example.com"]
    assert parsed.to[1].name == "Li, Na"
    assert parsed.cc == ()
    assert [a.addr for a in parsed.reply_to] == ["help@example.com"]
    assert parsed.message_id == "<abc@host>"
    assert parsed.in_reply_to == "<p1@host>"
    assert parsed.references == ("<r1@host>", "<r2@host>")
    assert parsed.date == datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    assert parsed.header("x-TEST") == "one"
    assert parsed.header_all("X-Test") == ("one", "two")
    assert parsed.header("missing") is None
    assert parsed.content_type == "text/plain"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("From: a@example.com", None),  # no Return-Path header at all
        ("Return-Path: <bounce@example.com>", "bounce@example.com"),
        ("Return-Path: <>", ""),
    ],
)
def test_return_path(headers: str, expected: str | None) -> None:
    assert parse_mail(mail(headers + "\nSubject: x")).return_path == expected


def test_missing_or_bad_date_and_message_id() -> None:
    parsed = parse_mail(mail("From: a@example.com\nDate: not a date\nMessage-ID:  "))
    assert parsed.date is None
    assert parsed.message_id is None
    assert any("Date" in d for d in parsed.defects)


def test_date_without_zone_is_taken_as_utc() -> None:
    parsed = parse_mail(mail("From: a@example.com\nDate: Tue, 25 Nov 2026 10:00:00 -0000"))
    assert parsed.date == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


# --- CVE-2023-27043 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "from_",
    [
        "alice@example.org)<bob@example.com>",
        "alice@example.org <bob@example.com>",
        "(alice@example.org <bob@example.com>",
        '"alice@example.org" <bob@example.com>)',
        "alice@example.org;bob@example.com",
        "bob@[example.com]",
    ],
)
def test_cve_2023_27043_ambiguous_from_gives_no_sender(from_: str) -> None:
    parsed = parse_mail(simple(from_=from_))
    assert parsed.sender is None
    assert any("CVE-2023-27043" in d for d in parsed.defects)


@pytest.mark.parametrize(
    ("from_", "addr", "name"),
    [
        ('"alice@example.org" <bob@example.com>', "bob@example.com", "alice@example.org"),
        ("Bob (IT dept) <bob@example.com>", "bob@example.com", "Bob (IT dept)"),
        ("bob@example.com (Bob, IT)", "bob@example.com", "Bob, IT"),
        ('"Smith, John" <J.Smith@Example.COM>', "J.Smith@example.com", "Smith, John"),
    ],
)
def test_unambiguous_from_is_kept(from_: str, addr: str, name: str) -> None:
    parsed = parse_mail(simple(from_=from_))
    assert parsed.sender is not None
    assert (parsed.sender.addr, parsed.sender.name) == (addr, name)


def test_cve_pattern_in_to_drops_that_header_only() -> None:
    parsed = parse_mail(mail("From: a@example.com\nTo: alice@example.org)<bob@example.com>"))
    assert parsed.to == ()
    assert parsed.sender is not None
    assert any("To header" in d for d in parsed.defects)


def test_unusable_from_address_keeps_the_text_as_name() -> None:
    parsed = parse_mail(simple(from_="MAILER-DAEMON (Mail Delivery System)"))
    assert parsed.sender is not None
    assert parsed.sender.addr == ""


# --- bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "codec", "text"),
    [
        ("gb2312", "gbk", ZH),
        ("GBK", "gbk", ZH),
        ("x-gbk", "gbk", ZH),
        ("cp936", "gbk", ZH),
        ("iso-gb2312", "gbk", ZH),
        ("euc-cn", "gbk", ZH),
        ("gb_2312-80", "gbk", ZH),
        ("gb2312", "gb18030", "生僻字𠀀"),  # 4-byte GB18030 under a GB2312 label
        ("big5", "cp950", "繁體中文的申請表"),
        ("ks_c_5601-1987", "cp949", "한국어 신청서"),
        ("utf-8", "utf-8", ZH),
    ],
)
def test_body_charset_labels(label: str, codec: str, text: str) -> None:
    raw = mail(
        f'From: a@example.com\nContent-Type: text/plain; charset="{label}"\n'
        "Content-Transfer-Encoding: 8bit",
        body=text.encode(codec),
    )
    parsed = parse_mail(raw)
    assert parsed.text == text
    assert not [d for d in parsed.defects if "charset" in d]


@pytest.mark.parametrize("label", ["utf-8-purple", "x-unknown", "unicodebig", "baltic", ""])
def test_unknown_or_missing_label_falls_back_and_notes_it(label: str) -> None:
    charset = f"; charset={label}" if label else ""
    for codec in ("utf-8", "gbk"):
        raw = mail(
            f"From: a@example.com\nContent-Type: text/plain{charset}",
            body=(ZH * 3).encode(codec),
        )
        parsed = parse_mail(raw)
        assert parsed.text == ZH * 3, (label, codec)
        assert any("charset" in d for d in parsed.defects)


def test_utf8_body_under_gb2312_label_is_read_as_utf8() -> None:
    decoded = decode_body(("你好，请开通账号。" * 2).encode("utf-8"), "gb2312")
    assert decoded.text == "你好，请开通账号。" * 2
    assert decoded.note is not None


def test_codec_table() -> None:
    for label in ("gb2312", "GBK", "x-gbk", "CP936", "iso-gb2312", "euc-cn", "gb_2312-80"):
        assert codecs_for(label) == ("gb18030",)
    assert codecs_for("big5")[0] in ("cp950", "big5hkscs")
    assert codecs_for("ks_c_5601-1987") == ("cp949",)
    for bad in ("utf-8-purple", "x-unknown", "unicodebig", None, "", "rot13", "base64"):
        assert codecs_for(bad) == ()
    # Python codecs that are not mail charsets (lookup() spells them with hyphens)
    for refused in ("unicode_escape", "unicode-escape", "raw_unicode_escape", "idna",
                    "punycode", "undefined", "charmap"):
        assert codecs_for(refused) == (), refused


def test_unknown_transfer_encoding_read_as_8bit_with_defect() -> None:
    raw = mail(
        "From: a@example.com\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: x-super-zip",
        body="好的".encode(),
    )
    parsed = parse_mail(raw)
    assert parsed.text == "好的"
    assert any("x-super-zip" in d for d in parsed.defects)


def test_html_only_mail_gives_text_and_sanitised_html() -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        '<p onclick="x()">请审批<b>张三</b>的申请</p><img src="http://tracker.example/p.gif">'
        '<img src="cid:logo@x"><a href="javascript:alert(1)">x</a>'
        '<a href="https://intranet.example/req/1">link</a></body></html>'
    )
    raw = mail(
        "From: a@example.com\nContent-Type: text/html; charset=gbk\n"
        "Content-Transfer-Encoding: base64",
        body=base64.encodebytes(html.encode("gbk")),
    )
    parsed = parse_mail(raw)
    assert parsed.html is not None
    assert "script" not in parsed.html and "alert" not in parsed.html
    assert "onclick" not in parsed.html and "tracker.example" not in parsed.html
    assert 'src="cid:logo@x"' in parsed.html
    assert "https://intranet.example/req/1" in parsed.html
    assert "请审批张三的申请" in parsed.text
    assert "color" not in parsed.text


def test_html_meta_charset_used_when_header_has_none() -> None:
    html = '<html><head><meta charset="gb2312"></head><body>审批通过</body></html>'
    raw = mail("From: a@example.com\nContent-Type: text/html", body=html.encode("gbk"))
    assert parse_mail(raw).text.strip() == "审批通过"


def test_first_plain_part_is_the_text_and_html_sibling_kept() -> None:
    raw = mail(
        'From: a@example.com\nContent-Type: multipart/alternative; boundary="b"',
        body=(
            b"--b\r\nContent-Type: text/plain; charset=gbk\r\n\r\n"
            + "同意".encode("gbk")
            + b"\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>"
            + "同意".encode()
            + b"</p>\r\n--b--\r\n"
        ),
    )
    parsed = parse_mail(raw)
    assert parsed.text == "同意"
    assert parsed.html == "<p>同意</p>"
    assert parsed.attachments == ()
    assert parsed.part_types == ("multipart/alternative", "text/plain", "text/html")


# --- attachments -----------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def multipart(*parts: bytes, headers: str = "From: a@example.com", boundary: str = "XX") -> bytes:
    sep = f"--{boundary}".encode()
    body = b"".join(sep + b"\r\n" + p + b"\r\n" for p in parts) + sep + b"--\r\n"
    return mail(headers + f'\nContent-Type: multipart/mixed; boundary="{boundary}"', body=body)


def part(headers: str, payload: bytes = b"PK\x03\x04data") -> bytes:
    return (
        headers.strip("\n").replace("\n", "\r\n").encode("utf-8", "surrogateescape")
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(payload)
    )


def pct(text: str, codec: str) -> str:
    return "".join(f"%{b:02X}" for b in text.encode(codec))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (  # RFC 2231 single value, UTF-8
            f"Content-Type: {DOCX}\nContent-Disposition: attachment; "
            f"filename*=UTF-8''{pct(ZH_NAME, 'utf-8')}.docx",
            ZH_NAME + ".docx",
        ),
        (  # RFC 2231 continuations, GB18030 label, split inside a character
            f"Content-Type: {XLSX}\nContent-Disposition: attachment;\n"
            f" filename*0*=gb18030''{pct(ZH_NAME, 'gb18030')[:15]};\n"
            f" filename*1*={pct(ZH_NAME, 'gb18030')[15:]};\n filename*2=.xlsx",
            ZH_NAME + ".xlsx",
        ),
        (  # RFC 2231 continuations with a GB2312 label and GBK-only characters
            f"Content-Type: {XLSX}\nContent-Disposition: attachment;\n"
            f" filename*0*=GB2312''{pct(ZH_NAME, 'gbk')};\n filename*1*=%2Exlsx",
            ZH_NAME + ".xlsx",
        ),
        (  # RFC 2231 continuations, UTF-8, out of order
            f"Content-Type: {DOCX}\nContent-Disposition: attachment;\n"
            f" filename*1*={pct('申请表.docx', 'utf-8')};\n"
            f" filename*0*=utf-8'zh'{pct('账号', 'utf-8')}",
            "账号申请表.docx",
        ),
        (  # RFC 2047 in name= only (Outlook / Foxmail style)
            f'Content-Type: {XLSX}; name="{b64word(ZH_NAME + ".xlsx", "GB2312", "gbk")}"',
            ZH_NAME + ".xlsx",
        ),
        (  # RFC 2047 words split across plain RFC 2231 continuations (glpi style)
            f"Content-Type: {XLSX}\nContent-Disposition: attachment;\n"
            f' filename*0="{b64word(ZH_NAME, "gb2312", "gbk")[:20]}";\n'
            f' filename*1="{b64word(ZH_NAME, "gb2312", "gbk")[20:]}.xlsx"',
            ZH_NAME + ".xlsx",
        ),
        (  # raw 8-bit GBK file name
            f'Content-Type: {DOCX}\nContent-Disposition: attachment; filename="'
            + (ZH_NAME + ".docx").encode("gbk").decode("ascii", "surrogateescape")
            + '"',
            ZH_NAME + ".docx",
        ),
    ],
    ids=[
        "2231",
        "2231-cont-gb18030",
        "2231-cont-gb2312",
        "2231-unordered",
        "2047-name",
        "2047-in-2231",
        "raw-gbk",
    ],
)
def test_attachment_file_names_decode(headers: str, expected: str) -> None:
    parsed = parse_mail(multipart(part("Content-Type: text/plain", b"body"), part(headers)))
    assert [a.original_filename for a in parsed.attachments] == [expected]
    assert [a.filename for a in parsed.attachments] == [expected]
    assert parsed.text == "body"


@pytest.mark.parametrize(
    ("original", "safe"),
    [
        ("../../x", "x"),
        ("/etc/passwd", "passwd"),
        ("C:\\TEMP\\a.docx", "a.docx"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("a\x00b.docx", "ab.docx"),
        ("CON.docx", "_CON.docx"),
        ("nul", "_nul"),
        ("com1.tar.gz", "_com1.tar.gz"),
        ("LPT9 .txt", "_LPT9 .txt"),
        ("php://foo", "foo"),
        ("..", "attachment-3.xlsx"),
        ("", "attachment-3.xlsx"),
        ("   ", "attachment-3.xlsx"),
        (".htaccess", "_.htaccess"),
        ("report.docx.", "report.docx"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("a<b>c:d|e?f*.txt", "a_b_c_d_e_f_.txt"),
        ("line\r\nbreak.txt", "line break.txt"),
        (ZH_NAME + ".xlsx", ZH_NAME + ".xlsx"),
    ],
)
def test_safe_filename(original: str, safe: str) -> None:
    assert safe_filename(original, 3, XLSX) == safe


def test_safe_filename_caps_length_and_keeps_extension() -> None:
    name = safe_filename("申" * 300 + ".xlsx", 1, XLSX)
    assert name.endswith(".xlsx")
    assert len(name.encode("utf-8")) <= 200
    assert name.startswith("申申")


@pytest.mark.parametrize(
    "name", ["../../x", "/etc/passwd", "C:\\TEMP\\a.docx", "a\x00b.docx", "CON.docx", "php://foo"]
)
def test_hostile_names_in_a_mail_never_become_paths(name: str) -> None:
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    parsed = parse_mail(
        multipart(
            part(f'Content-Type: {DOCX}\nContent-Disposition: attachment; filename="{quoted}"')
        )
    )
    (att,) = parsed.attachments
    assert att.original_filename == name
    assert "/" not in att.filename and "\\" not in att.filename and "\x00" not in att.filename
    assert att.filename not in ("", ".", "..")
    assert att.filename.split(".")[0].upper() not in ("CON", "NUL")


def test_unnamed_attachment_gets_fallback_name_from_type() -> None:
    parsed = parse_mail(
        multipart(part("Content-Type: text/plain", b"body"), part(f"Content-Type: {XLSX}"))
    )
    (att,) = parsed.attachments
    assert att.filename == "attachment-1.xlsx"
    assert att.original_filename == ""
    assert att.content_type == XLSX
    assert att.data == b"PK\x03\x04data"
    assert att.sha256 == hashlib.sha256(b"PK\x03\x04data").hexdigest()
    assert att.forwarded is False


def test_forwarded_message_with_xlsx_inside() -> None:
    inner = multipart(
        part("Content-Type: text/plain; charset=utf-8", "请审批附件。".encode()),
        part(
            f"Content-Type: {XLSX}\nContent-Disposition: attachment; "
            f"filename*=utf-8''{pct('申请表.xlsx', 'utf-8')}",
            b"PK\x03\x04inner",
        ),
        headers=f"From: li.na@example.com\nSubject: {b64word('申请', 'gbk')}",
        boundary="inner",
    )
    outer = multipart(
        part("Content-Type: text/plain; charset=utf-8", "转发给IT。".encode()),
        b"Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n" + inner,
        part(f'Content-Type: {DOCX}; name="outer.docx"', b"PK\x03\x04outer"),
        headers="From: manager@example.com\nSubject: FW: request",
    )
    parsed = parse_mail(outer)
    assert parsed.text == "转发给IT。"
    names = [(a.filename, a.forwarded) for a in parsed.attachments]
    assert ("申请表.xlsx", True) in names
    assert ("outer.docx", False) in names
    xlsx = next(a for a in parsed.attachments if a.filename == "申请表.xlsx")
    assert xlsx.data == b"PK\x03\x04inner"
    # the forwarded mail's own body is kept too (as a forwarded part), not taken as ours
    assert any(a.forwarded and a.content_type == "text/plain" for a in parsed.attachments)
    assert "message/rfc822" in parsed.part_types


# --- robustness ------------------------------------------------------------------------------


def nested(levels: int) -> bytes:
    body = b"Content-Type: text/plain\r\n\r\ndeep\r\n"
    for i in range(levels):
        b = f"b{i}".encode()
        body = (
            b'Content-Type: multipart/mixed; boundary="'
            + b
            + b'"\r\n\r\n--'
            + b
            + b"\r\n"
            + body
            + b"\r\n--"
            + b
            + b"--\r\n"
        )
    return b"From: a@example.com\r\nSubject: deep\r\n" + body


def test_nesting_beyond_the_limit_is_cut_with_a_defect() -> None:
    parsed = parse_mail(nested(MAX_DEPTH + 5))
    assert parsed.subject == "deep"
    assert parsed.text == ""
    assert any("nested deeper" in d for d in parsed.defects)


def test_extreme_nesting_never_raises() -> None:
    parsed = parse_mail(nested(3000))
    assert parsed.subject == "deep"
    assert parsed.defects


def test_many_parts_are_capped() -> None:
    parts = [part("Content-Type: application/octet-stream", b"x") for _ in range(700)]
    parsed = parse_mail(multipart(*parts))
    assert 0 < len(parsed.attachments) < 700
    assert any("MIME parts" in d for d in parsed.defects)


def test_broken_base64_is_decoded_as_far_as_possible() -> None:
    raw = mail(
        "From: a@example.com\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64",
        body=base64.encodebytes(b"%PDF-1.4 data")[:-3] + b"!!\r\n",
    )
    (att,) = parse_mail(raw).attachments
    assert att.data.startswith(b"%PDF-1.4")


def test_stray_unindented_header_lines_are_read_leniently() -> None:
    raw = (
        b"---- Original email message ----\r\nFrom: a@example.com\r\nX-Long: part one\r\n"
        b"part two without indent\r\nSubject: still found\r\n\r\nbody\r\n"
    )
    parsed = parse_mail(raw)
    assert parsed.subject == "still found"
    assert parsed.header("x-long") == "part one part two without indent"
    assert parsed.text == "body\n"


@pytest.mark.parametrize(
    "raw",
    [b"", b"\n", b"\x00\xff", b"From: ", b"Subject: =?gb2312?B?@@@?=\r\n\r\n", b"\r\n\r\n\r\n"],
)
def test_degenerate_inputs(raw: bytes) -> None:
    parsed = parse_mail(raw)
    assert parsed.subject is not None
    assert isinstance(parsed.defects, tuple)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_never_raises_on_random_bytes(raw: bytes) -> None:
    parse_mail(raw)


SEED = multipart(
    part("Content-Type: text/plain; charset=gb2312\nContent-Disposition: inline", ZH.encode("gbk")),
    part(f"Content-Type: {XLSX}; name*0*=gb2312''{pct(ZH_NAME, 'gbk')}; name*1=.xlsx"),
    headers=(
        f"From: {b64word('张三', 'gbk')} <a@example.com>\nSubject: {b64word(ZH, 'gb2312', 'gbk')}"
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.binary(max_size=8)), max_size=6))
def test_never_raises_on_mutated_mail(edits: list[tuple[int, bytes]]) -> None:
    raw = bytearray(SEED)
    for pos, data in edits:
        raw[pos : pos + len(data)] = data
    parsed = parse_mail(bytes(raw))
    for att in parsed.attachments:
        assert att.filename and "/" not in att.filename


def test_large_mail_parses_with_bounded_memory() -> None:
    import tracemalloc

    payload = bytes(range(256)) * (25 * 1024 * 1024 // 256)
    raw = multipart(
        part("Content-Type: text/plain", b"see attachment"),
        part(f'Content-Type: {XLSX}; name="big.xlsx"', payload),
    )
    tracemalloc.start()
    try:
        parsed = parse_mail(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (att,) = parsed.attachments
    assert att.sha256 == hashlib.sha256(payload).hexdigest()
    assert peak < 5 * len(raw), f"peak {peak / 2**20:.0f} MiB for a {len(raw) / 2**20:.0f} MiB mail"


@pytest.mark.parametrize("quoted", [True, False])
@pytest.mark.parametrize(
    ("name", "codec"), [("許功蓋", "big5"), ("一二", "big5"), ("张三", "gbk"), ("Zoë", "utf-8")]
)
def test_raw_8bit_display_names_whose_bytes_look_like_syntax(
    name: str, codec: str, quoted: bool
) -> None:
    # Big5 許 is B3 5C ('\\'), 一 is A4 40 ('@'): raw bytes must not act as syntax
    shown = name.encode(codec)
    raw = (
        b"From: " + (b'"' + shown + b'"' if quoted else shown) + b" <a@example.com>\r\n"
        b"Content-Type: text/plain; charset=" + codec.encode() + b"\r\n\r\nhi"
    )
    parsed = parse_mail(raw)
    assert parsed.sender is not None
    assert (parsed.sender.name, parsed.sender.addr) == (name, "a@example.com")


def test_raw_big5_file_name_with_backslash_trail_byte() -> None:
    name = "許功蓋.docx"
    header = f'Content-Type: {DOCX}\nContent-Disposition: attachment; filename="X"'
    raw_part = part(header).replace(b"X", name.encode("big5"))
    body = part("Content-Type: text/plain; charset=big5", "你好".encode("big5"))
    (att,) = parse_mail(multipart(body, raw_part)).attachments
    assert att.original_filename == name


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("<it@example.com>,", ["it@example.com"]),
        ("", []),
        ("undisclosed-recipients:;", []),
        ("IT: a@example.com, b@example.com;", ["a@example.com", "b@example.com"]),
        ("a@example.com,,b@example.com", ["a@example.com", "b@example.com"]),
        ("zs@example.com <zs@example.com>", ["zs@example.com"]),  # address as its own name
        ("a@example.com, a@example.com", ["a@example.com", "a@example.com"]),
        ("alice@example.com <bob@example.com>", None),  # two different: ambiguous
        ("x, a@example.org <b@example.org>", None),
    ],
)
def test_address_lists(to: str, expected: list[str] | None) -> None:
    parsed = parse_mail(mail(f"From: a@example.com\nTo: {to}"))
    assert [a.addr for a in parsed.to] == (expected or [])
    assert any("To header" in d for d in parsed.defects) is (expected is None)


def test_r_gen_3_every_non_body_part_becomes_an_attachment() -> None:
    raw = multipart(
        part("Content-Type: text/plain; charset=utf-8", "正文".encode()),
        part("Content-Type: image/png\nContent-ID: <logo@x>\nContent-Disposition: inline"),
        part("Content-Type: text/plain; charset=utf-8", "第二段".encode()),
        part('Content-Type: text/calendar; method=REQUEST; name="invite.ics"', b"BEGIN:"),
        part('Content-Type: application/pdf; name="a.pdf"', b"%PDF"),
    )
    parsed = parse_mail(raw)
    assert parsed.text == "正文"
    assert [a.filename for a in parsed.attachments] == [
        "attachment-1.png",
        "attachment-2.txt",
        "invite.ics",
        "a.pdf",
    ]
    assert parsed.attachments[1].data == "第二段".encode()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), st.integers(1, 999))
def test_safe_filename_properties(original: str, index: int) -> None:
    name = safe_filename(original, index, XLSX)
    assert name and name.strip(". ") == name.rstrip(". ") and not name.endswith((" ", "."))
    assert not set('/\\\x00<>:"|?*') & set(name)
    assert all(ord(ch) >= 32 for ch in name)
    assert len(name.encode("utf-8")) <= 200
    assert name.split(".")[0].upper() not in ("CON", "PRN", "AUX", "NUL")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_header_decoding_never_raises(value: str) -> None:
    decode_header_value(value)
    decode_header_value(value.encode("utf-8", "replace").decode("ascii", "surrogateescape"))


def test_enclosed_message_ids_of_a_delivery_report() -> None:
    """A report enclosing the returned mail (message/rfc822) or only its headers
    (text/rfc822-headers, here quoted-printable) names the Message-ID that came back."""
    original = mailbuild.human_mail(sender="a@x.test", to="b@y.test", subject="回执", body="x",
                                    message_id="<1.2.3.mailflow@x.test>")
    assert parse_mail(mailbuild.bounce_mail(to="a@x.test", original=original)).enclosed_ids \
        == ("<1.2.3.mailflow@x.test>",)
    headers_only = (
        b"From: MAILER-DAEMON@y.test\r\nTo: a@x.test\r\nSubject: failure\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"From: a@x.test\r\nMessage-ID: <4.5.6.mail=\r\nflow@x.test>\r\nSubject: =E5=9B=9E\r\n"
        b"--B--\r\n")
    assert parse_mail(headers_only).enclosed_ids == ("<4.5.6.mailflow@x.test>",)
