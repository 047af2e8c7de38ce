"""Issue 20's stall test, end to end: while a hostile mail is converted by the real
LibreOffice, `mailflow run` (a real process, on the real Dovecot and SMTP servers) answers
every other mail; the hostile one is answered after, exactly once.

How the conversion is made to stall, honestly: the hostile mail carries 20 copies of a real
Word 97 .doc whose picture is linked (INCLUDEPICTURE) to a URL on a listener this test runs,
which accepts the connection, reads the request and does not answer until the test releases
it: the attack of issue 20 as it was found. In production LibreOffice converts in a network
namespace of its own, where the link reaches nothing at all (tests/test_security_office.py
shows zero requests), so a stall would have to come from another slow document; here the
sandbox is switched off (``conversion_network_sandbox = false``, the documented setting for
trusted senders only) so that the test holds the conversion in flight for exactly as long
as it wants. Every assertion is about order: the ordinary mails are answered while the
listener still holds LibreOffice's request; none about time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailflow.documents.definitions import FormCatalog
from mailflow.store.archive import sha256_hex
from mailflow.store.models import InboundMail
from mailflow_testing import hostile_office, mailbuild
from mailflow_testing.config_file import write_config
from mailflow_testing.listener import HoldingListener
from tests.stack import SERVICE, query, stack_settings
from tests.test_conversion_background import filled
from tests.test_run_loop import start, stop
from tests.test_security_office import SOFFICE, linked_picture_doc

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HOSTILE = "attacker@example.test"
ORDINARY = [f"staff{i}@example.test" for i in range(4)]
needs_soffice = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed")


def form_mail(catalog: FormCatalog, sender: str) -> bytes:
    return mailbuild.to_crlf(mailbuild.human_mail(
        sender=sender, to=SERVICE, subject="会议纪要", body="见附件",
        attachments=[("会议纪要.docx", filled(catalog, "minutes"), DOCX)]))


def answered(smtp: Any, who: str) -> int:
    return sum(1 for m in smtp.messages if who in m.rcpt_tos)


@needs_soffice
def test_other_mails_are_answered_while_a_hostile_mail_converts_then_it_once(
    mailstack: Any, sqlite_url: str, tmp_path: Path, catalog: FormCatalog
) -> None:
    dovecot, smtp = mailstack.dovecot, mailstack.smtp
    listener = HoldingListener()
    try:
        doc = linked_picture_doc(tmp_path, f"http://127.0.0.1:{listener.port}/p.png")
        listener.hold()  # from now on, the URL never answers
        for who in (HOSTILE, *ORDINARY):
            dovecot.add_user(who, "pw")
        settings = stack_settings(dovecot, smtp, sqlite_url, tmp_path / "d", poll_interval=30)
        settings = settings.model_copy(update={"forms": settings.forms.model_copy(update={
            "libreoffice": SOFFICE, "conversion_network_sandbox": False,
            # the listener, not a timeout, ends the stall
            "conversion_timeout_seconds": 300, "conversion_budget_seconds": 300})})
        hostile = hostile_office.copies_mail(doc, HOSTILE, to=SERVICE)
        proc = start(write_config(settings, tmp_path / "config.toml"), tmp_path)
        try:
            dovecot.append(SERVICE, hostile)  # first
            assert listener.request_held.wait(180), "LibreOffice never asked for the picture"
            for who in ORDINARY:  # then the ordinary form mails, while it is converted
                dovecot.append(SERVICE, form_mail(catalog, who))
            smtp.wait_for(len(ORDINARY), timeout=120)

            # every ordinary mail is answered while LibreOffice still waits for the listener
            assert listener.holding()
            assert [answered(smtp, who) for who in ORDINARY] == [1] * len(ORDINARY)
            assert answered(smtp, HOSTILE) == 0
            assert proc.poll() is None

            listener.release()
            smtp.wait_for(len(ORDINARY) + 1, timeout=180)
        finally:
            code, output = stop(proc)
    finally:
        listener.close()
    assert code == 0, output[-3000:]
    assert answered(smtp, HOSTILE) == 1
    (reply,) = [m for m in smtp.messages if HOSTILE in m.rcpt_tos]
    assert "表0.doc" in reply.parsed().get_body(("plain",)).get_content()
    assert dovecot.count(SERVICE, "INBOX") == 0
    rows = query(settings, select(InboundMail).where(InboundMail.from_addr == HOSTILE))
    assert [row.sha256 for row in rows] == [sha256_hex(hostile)]  # recorded once
    archived = settings.storage.resolved_archive_dir()
    assert sum(1 for p in archived.rglob(sha256_hex(hostile) + "*") if p.is_file()) == 1


def test_a_short_idle_wait_reports_mail_that_came_just_before_it_ended(
    mailstack: Any, sqlite_url: str, tmp_path: Path
) -> None:
    """While a mail converts, the loop waits in short IDLE slices; Dovecot tells an IDLE
    client of new mail only 500 ms after it came, so a slice shorter than that used to end
    without the news, and the mail waited for a later pass. Now DONE's answer and a NOOP
    count: a mail that is there when a short wait ends is reported by that wait."""
    from mailflow.mail.sources import make_source

    settings = stack_settings(mailstack.dovecot, mailstack.smtp, sqlite_url, tmp_path)
    source = make_source(settings.mailbox)
    source.open()
    try:
        assert source.wait(0.05) is False  # nothing came
        mailstack.dovecot.append(SERVICE, mailbuild.human_mail(
            sender="staff0@example.test", to=SERVICE, subject="新邮件", body="…"))
        assert source.wait(0.05) is True
    finally:
        source.close()
