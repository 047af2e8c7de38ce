"""Issue 20, finding 5: answers to forged senders. Through the real Dovecot and SMTP server:
who gets a receipt (the directory's domains, or authenticated senders when the receiving
server vouches), a forged From cannot complete another person's returned request, and a
forger rotating addresses meets a cap per domain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailflow.config import Settings
from mailflow.documents.definitions import FormCatalog, default_forms_dir, load_catalog
from mailflow.store.models import AuditEvent, InboundMail, Request
from mailflow_testing import mailbuild
from tests.formfill import SAMPLES, fill_xlsx
from tests.stack import SERVICE, query, run_once, stack_settings

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STAFF = "zhao.lei@example.test"


@pytest.fixture(scope="module")
def account_form() -> bytes:
    catalog: FormCatalog = load_catalog(default_forms_dir())
    blank = (default_forms_dir() / "blank" / "account.xlsx").read_bytes()
    return fill_xlsx(blank, catalog.get("account"), SAMPLES["account"])


def settings_for(mailstack: Any, url: str, tmp_path: Path, **service: Any) -> Settings:
    base = stack_settings(mailstack.dovecot, mailstack.smtp, url, tmp_path)
    return Settings.model_validate({
        **base.model_dump(exclude={"people", "service"}),
        "service": {**base.service.model_dump(), **service},
        "people": [{"email": STAFF, "name": "赵磊"}],
    })


def submission(sender: str, form: bytes, *, subject: str = "帐号申请",
               headers: dict[str, str] | None = None) -> bytes:
    return mailbuild.human_mail(sender=sender, to=SERVICE, subject=subject, body="见附件",
                                extra_headers=headers,
                                attachments=[("系统帐号申请表.xlsx", form, XLSX)])


def replied_to(mailstack: Any) -> list[str]:
    return [r for m in mailstack.smtp.messages for r in m.rcpt_tos]


def test_only_the_directorys_domains_get_a_receipt(
    mailstack: Any, database_url: str, tmp_path: Path, account_form: bytes
) -> None:
    for user in (STAFF, "ops@branch.example.test", "victim@elsewhere.example"):
        mailstack.dovecot.add_user(user, "pw")
    settings = settings_for(mailstack, database_url, tmp_path)
    for sender in (STAFF, "ops@branch.example.test", "victim@elsewhere.example"):
        mailstack.dovecot.append(SERVICE, submission(sender, account_form))

    run_once(settings)

    assert sorted(replied_to(mailstack)) == ["ops@branch.example.test", STAFF]
    statuses = {m.from_addr: m.status for m in query(settings, select(InboundMail))}
    assert statuses["victim@elsewhere.example"] == "not_answered"  # archived and recorded
    assert [r.requester_email for r in query(settings, select(Request))].count(
        "victim@elsewhere.example") == 0
    (event,) = query(settings, select(AuditEvent).where(AuditEvent.action == "mail_not_answered")
                     .where(AuditEvent.mail_id.is_not(None)))
    assert "elsewhere.example" in event.detail["reason"]


def test_everyone_is_answered_when_configured(
    mailstack: Any, sqlite_url: str, tmp_path: Path, account_form: bytes
) -> None:
    mailstack.dovecot.add_user("guest@partner.example", "pw")
    settings = settings_for(mailstack, sqlite_url, tmp_path, answer_domains=["*"])
    mailstack.dovecot.append(SERVICE, submission("guest@partner.example", account_form))
    run_once(settings)
    assert replied_to(mailstack) == ["guest@partner.example"]


def test_with_a_trusted_server_only_its_dmarc_pass_earns_a_receipt(
    mailstack: Any, sqlite_url: str, tmp_path: Path, account_form: bytes
) -> None:
    mailstack.dovecot.add_user(STAFF, "pw")
    settings = settings_for(mailstack, sqlite_url, tmp_path,
                            trusted_authserv_ids=["mx.example.test"])
    forged = [
        {},  # no header at all
        # the forger's own server, or a header the forger wrote: another authserv-id
        {"Authentication-Results": "mx.evil.example; dmarc=pass header.from=example.test"},
        {"Authentication-Results": "mx.example.test; dmarc=fail header.from=example.test"},
    ]
    for i, headers in enumerate(forged):
        mailstack.dovecot.append(SERVICE, submission(STAFF, account_form, subject=f"伪造{i}",
                                                     headers=headers))
    run_once(settings)
    assert replied_to(mailstack) == []

    mailstack.dovecot.append(SERVICE, submission(STAFF, account_form, subject="真实", headers={
        "Authentication-Results": "mx.example.test; spf=pass smtp.mailfrom=example.test; "
                                  "dkim=pass header.d=example.test; "
                                  "dmarc=pass header.from=example.test"}))
    run_once(settings)
    assert replied_to(mailstack) == [STAFF]


def test_a_forged_from_cannot_complete_another_persons_returned_request(
    mailstack: Any, database_url: str, tmp_path: Path, account_form: bytes
) -> None:
    mailstack.dovecot.add_user(STAFF, "pw")
    settings = settings_for(mailstack, database_url, tmp_path)
    mailstack.dovecot.append(SERVICE, mailbuild.human_mail(
        sender=STAFF, to=SERVICE, subject="帐号申请", body="见附件",
        attachments=[("申请.xlsx", b"not a form", XLSX)]))
    run_once(settings)
    (request,) = query(settings, select(Request))
    assert request.status == "returned"

    # the attacker knows (or guesses: they are sequential) the number and forges From
    mailstack.dovecot.append(SERVICE, submission(
        STAFF, account_form, subject=f"{request.reference} 重新提交"))
    run_once(settings)

    original = query(settings, select(Request).where(Request.id == request.id))[0]
    assert original.status == "returned" and original.fields == request.fields
    refused = query(settings, select(AuditEvent.action)
                    .where(AuditEvent.action == "resubmission_refused"))
    assert refused == ["resubmission_refused"]
    assert query(settings, select(AuditEvent.action)
                 .where(AuditEvent.action == "request_resubmitted")) == []


def test_rotating_addresses_of_one_domain_meets_the_domain_cap(
    mailstack: Any, sqlite_url: str, tmp_path: Path, account_form: bytes
) -> None:
    # a forger rotating addresses of an outside domain the organisation answers
    senders = [f"user{i}@partner.test" for i in range(5)]
    for sender in senders:
        mailstack.dovecot.add_user(sender, "pw")
    settings = settings_for(mailstack, sqlite_url, tmp_path, replies_per_domain_per_hour=3,
                            answer_domains=["example.test", "partner.test"])
    for sender in senders:
        mailstack.dovecot.append(SERVICE, mailbuild.human_mail(
            sender=sender, to=SERVICE, subject="你好", body="请问"))

    run_once(settings)

    assert len(replied_to(mailstack)) == 3
    suppressed = query(settings, select(AuditEvent).where(AuditEvent.action == "reply_suppressed"))
    assert len(suppressed) == 2 and "domain" in suppressed[0].detail["reason"]


def test_the_organisations_own_domain_is_not_capped_per_domain(
    mailstack: Any, sqlite_url: str, tmp_path: Path, account_form: bytes
) -> None:
    # the staff share one domain: a busy hour is many people, each with their own cap
    senders = [f"user{i}@example.test" for i in range(5)]
    for sender in senders:
        mailstack.dovecot.add_user(sender, "pw")
    settings = settings_for(mailstack, sqlite_url, tmp_path, replies_per_domain_per_hour=3)
    for sender in senders:
        mailstack.dovecot.append(SERVICE, mailbuild.human_mail(
            sender=sender, to=SERVICE, subject="你好", body="请问"))

    run_once(settings)

    assert sorted(replied_to(mailstack)) == sorted(senders)


def test_a_reply_to_ones_own_submission_completes_the_returned_request(
    mailstack: Any, sqlite_url: str, tmp_path: Path, account_form: bytes
) -> None:
    # the requester answers her own first mail (reply-all, or from the sent folder): the
    # mail that opened the request is in its thread, which a forger never saw
    mailstack.dovecot.add_user(STAFF, "pw")
    settings = settings_for(mailstack, sqlite_url, tmp_path)
    mailstack.dovecot.append(SERVICE, mailbuild.human_mail(
        sender=STAFF, to=SERVICE, subject="帐号申请", body="见附件",
        message_id="<first-submission@example.test>",
        attachments=[("申请.xlsx", b"not a form", XLSX)]))
    run_once(settings)
    (request,) = query(settings, select(Request))
    assert request.status == "returned"

    mailstack.dovecot.append(SERVICE, submission(
        STAFF, account_form, subject=f"回复: {request.reference} 帐号申请",
        headers={"In-Reply-To": "<first-submission@example.test>",
                 "References": "<first-submission@example.test>"}))
    run_once(settings)

    assert query(settings, select(AuditEvent.action)
                 .where(AuditEvent.action == "request_resubmitted")) == ["request_resubmitted"]
    assert query(settings, select(AuditEvent.action)
                 .where(AuditEvent.action == "resubmission_refused")) == []
