"""Data delivery (R-DX-3, R-DX-4) end to end over Dovecot and SMTP, the clock set per step:
the handler replies to the approved request with the data; the applicant gets an AES zip
named with the classification level and, in a separate mail, its password; the request is
done, recorded late by how many working days when R-DX-4 had passed."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import pyzipper  # type: ignore[import-untyped]

from mailflow.documents.definitions import FormCatalog
from mailflow.notices.data_delivery import encrypted_zip, level_of, new_password
from tests.approvals_desk import LIN, WANG, ZHANG, ZHAO, Desk, reply, submission, text_of

SH = ZoneInfo("Asia/Shanghai")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def test_r_dx_3_encrypted_delivery_password_apart_and_late_by_working_days(
    desk: Desk, catalog: FormCatalog
) -> None:
    got = desk.send(submission(catalog, "data_extraction", subject="数据提取申请"),
                    at("2025-09-29 09:00"))
    got = desk.send(reply(got[ZHAO][0], sender=ZHAO, body="同意"), at("2025-09-29 10:00"))
    ask = next(m for m in got[WANG] if "请审批" in str(m["Subject"]))
    got = desk.send(reply(ask, sender=WANG, body="同意"), at("2025-09-29 15:00"))
    assignment = next(m for m in got[LIN] if "请处理" in str(m["Subject"]))
    assert desk.request().status == "with_handler"

    # R-DX-4: 3 working days from 2025-09-29 15:00 over National Day: 09-30, 10-09, 10-10;
    # the handler is reminded when three quarters of the 27 working hours have passed
    got = desk.tick(at("2025-10-09 17:16"))
    (reminder,) = got[LIN]
    assert "【提醒】" in str(reminder["Subject"]) and "2025-10-10 15:00" in text_of(reminder)
    assert desk.tick(at("2025-10-10 14:59")) == {}
    got = desk.tick(at("2025-10-10 15:01"))  # (the approval came a moment after 15:00)
    (overdue,) = got[LIN]
    assert "已逾期" in str(overdue["Subject"]) and "R-DX-4" in text_of(overdue)

    data = b"PK fake xlsx: \xe5\xae\xa2\xe6\x88\xb7"
    got = desk.send(reply(assignment, sender=LIN, body="数据已提取，见附件",
                          attachments=[("客户清单.xlsx", data, XLSX)]),
                    at("2025-10-11 10:00"))  # the make-up Saturday
    assert sorted(got) == [ZHANG]
    delivery, password_mail = sorted(got[ZHANG], key=lambda m: "密码" in str(m["Subject"]))
    reference = desk.request().reference
    assert str(delivery["Subject"]).startswith("【机密】数据交付")
    (part,) = list(delivery.iter_attachments())
    assert part.get_filename() == f"【机密】{desk.request().title}_{reference}.zip"
    assert "不得转发" in text_of(delivery) and "R-DX-3" in text_of(delivery)
    assert "已逾期" in text_of(delivery)
    zipped = part.get_content()
    assert isinstance(zipped, bytes)
    assert data not in zipped  # encrypted, not just stored
    password = text_of(password_mail).split("打开密码：", 1)[1].split()[0]
    assert password not in text_of(delivery)
    with pyzipper.AESZipFile(io.BytesIO(zipped)) as archive:
        archive.setpassword(password.encode())
        assert archive.namelist() == ["【机密】客户清单.xlsx"]
        assert archive.read("【机密】客户清单.xlsx") == data

    assert desk.request().status == "done"
    (late,) = desk.actions("request_done_late")
    assert late.detail["rule"] == "R-DX-4"
    assert late.detail["late_working_days"] == pytest.approx(4 / 9, abs=0.01)  # 3 h + 1 h
    assert desk.actions("data_delivered")[0].detail["level"] == "机密"


def test_encrypted_zip_needs_its_password_and_levels_are_read() -> None:
    password = new_password()
    assert len(password) == 16 and password != new_password()
    blob = encrypted_zip([("a.csv", b"1,2"), ("a.csv", b"3,4")], password)
    with pyzipper.AESZipFile(io.BytesIO(blob)) as archive:
        with pytest.raises(RuntimeError):
            archive.read("a.csv", pwd=b"wrong-password")
        archive.setpassword(password.encode())
        assert archive.namelist() == ["a.csv", "a(2).csv"]
        assert archive.read("a(2).csv") == b"3,4"
    assert level_of({"classification": "绝密"}) == "绝密"
    assert level_of({"classification": ["机密"]}) == "机密"
    assert level_of({}) == "保密"
