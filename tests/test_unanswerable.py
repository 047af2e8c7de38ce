"""A mail archived but not answerable (no usable or an ambiguous, CVE-2023-27043-pattern
From) is never dropped in silence: the administrator's digest and `status` list it."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest

from mailflow.clock import SystemClock
from mailflow.config import Settings
from mailflow.operator.status import collect
from mailflow.service import Service

ADMIN = "wang.jun@example.com"


@pytest.mark.parametrize("sender", [
    None,  # no From at all
    "alice@example.com <bob@example.com>",  # which one? the CVE-2023-27043 shape
    '"alice@example.com <mallory@evil.test>',  # an unbalanced quote
])
def test_unanswerable_mail_is_in_the_admin_digest_and_status(tmp_path: Path,
                                                             sender: str | None) -> None:
    box = tmp_path / "box"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    head = f"From: {sender}\r\n" if sender else ""
    (box / "new" / "1.mail").write_bytes(
        f"{head}To: it-flow@example.com\r\nSubject: 申请\r\nMessage-ID: <u1@x>\r\n"
        "Date: Mon, 23 Nov 2026 09:00:00 +0800\r\n\r\n请开通帐号\r\n".encode())
    settings = Settings.model_validate({
        "mailbox": {"source": "maildir", "maildir_path": str(box)},
        "storage": {"data_dir": str(tmp_path / "data")},
        "people": [{"email": ADMIN, "name": "王军"}],
        "roles": {"admin": ADMIN},
    })
    service = Service(settings, SystemClock())
    try:
        report = service.run_once()
        status = collect(settings, service.factory, SystemClock().now(), "test",
                         probe_servers=False)
    finally:
        service.close()
    assert report.intake.taken_in == 1
    written = [message_from_bytes(p.read_bytes(), policy=policy.default)
               for p in (tmp_path / "data" / "outbox").glob("*.eml")]
    (alert,) = written  # the digest, and no reply to anybody
    assert alert["To"].addresses[0].addr_spec == ADMIN
    body = alert.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "发件人地址无法使用" in text and "申请" in text
    assert [u.subject for u in status.unanswerable] == ["申请"]
    assert status.problems_24h.get("mail_unanswerable") == 1
