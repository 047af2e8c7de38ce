"""Replies that must not decide anything: each changes nothing, is archived and recorded
with its reason, and the true approver is told when someone else tried.

Over the real Dovecot and SMTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailflow.documents.definitions import FormCatalog, default_forms_dir, load_catalog
from mailflow.store.models import InboundMail
from mailflow_testing import mailbuild
from tests.approvals_desk import (
    ADMIN,
    SUN,
    WANG,
    WU,
    ZHANG,
    ZHAO,
    ZHENG,
    Desk,
    reply,
    submission,
    text_of,
)
from tests.stack import SERVICE


@pytest.fixture(scope="module")
def catalog() -> FormCatalog:
    return load_catalog(default_forms_dir())


@pytest.fixture
def desk(mailstack: Any, database_url: str, tmp_path: Path) -> Desk:
    return Desk(mailstack, database_url, tmp_path)


def asked(desk: Desk, catalog: FormCatalog, kind: str = "data_extraction",
          approver: str = ZHAO) -> EmailMessage:
    """Submit a request; the first approver's mail."""
    got = desk.send(submission(catalog, kind))
    return got[approver][0]


def assert_nothing_decided(desk: Desk) -> None:
    request = desk.request()
    assert request.status == "awaiting_approval"
    assert [t for t, _, _ in desk.transitions()] == ["chain_started"]
    assert desk.actions("decision_recorded") == []


def refusals(desk: Desk) -> list[tuple[str, str]]:
    return [(e.actor, e.detail["reason"]) for e in desk.actions("decision_refused")]


def test_forged_from_with_the_approvers_name_as_display_name_is_refused(
    desk: Desk, catalog: FormCatalog
) -> None:
    ask = asked(desk, catalog)
    forged = f'"赵磊 <{ZHAO}>" <mallory@example.test>'
    got = desk.send(reply(ask, sender=forged, body="同意"))
    assert sorted(got) == [ZHAO]  # only the true approver hears of it
    warning = text_of(got[ZHAO][0])
    assert "mallory@example.test" in warning and "未被接受" in warning
    assert_nothing_decided(desk)
    assert refusals(desk) == [("mallory@example.test", "not_the_approver")]
    assert desk.query(select(InboundMail.status).order_by(InboundMail.id))[-1] == \
        "decision_refused"


def test_lookalike_domain_is_not_the_approver(desk: Desk, catalog: FormCatalog) -> None:
    ask = asked(desk, catalog)
    got = desk.send(reply(ask, sender="赵磊 <zhao.lei@examp1e.test>", body="同意"))
    assert sorted(got) == [ZHAO]
    assert_nothing_decided(desk)
    assert refusals(desk) == [("zhao.lei@examp1e.test", "not_the_approver")]


def test_requester_cannot_approve_own_request_with_the_approvers_token(
    desk: Desk, catalog: FormCatalog
) -> None:
    ask = asked(desk, catalog)
    got = desk.send(reply(ask, sender=ZHANG, body="同意"))  # he got hold of the mail
    assert sorted(got) == [ZHAO]
    assert_nothing_decided(desk)
    assert refusals(desk) == [(ZHANG, "self_approval")]


def test_a_managers_own_request_goes_one_level_up_no_self_approval(
    desk: Desk, catalog: FormCatalog
) -> None:
    got = desk.send(submission(catalog, "data_extraction", sender=ZHAO))
    assert sorted(got) == [WU, ZHAO]  # the leader in charge instead of himself
    (started,) = desk.actions("status_changed")
    assert started.detail["instead_of"] == [ZHAO]
    assert desk.steps()[0].approver == WU


def test_replayed_decision_after_the_step_closed_changes_nothing(
    desk: Desk, catalog: FormCatalog
) -> None:
    ask = asked(desk, catalog)
    decision = reply(ask, sender=ZHAO, body="同意")
    desk.send(decision)
    status = desk.request().status
    steps = [(s.id, s.status, s.verdict) for s in desk.steps()]
    assert desk.send(decision) == {}  # the very same mail again: a duplicate, nothing sent
    # the same decision resent as a new mail (new Message-ID), and a late change of mind
    resent = decision.replace(b"Message-ID: <", b"Message-ID: <resent-", 1)
    got = desk.send(resent)
    got_late = desk.send(reply(ask, sender=ZHAO, body="驳回，还是算了"))
    assert sorted(got) == [ZHAO] and sorted(got_late) == [ZHAO]
    assert "该审批步骤已结束" in text_of(got_late[ZHAO][0])
    assert desk.request().status == status
    assert [(s.id, s.status, s.verdict) for s in desk.steps()] == steps
    assert refusals(desk) == [(ZHAO, "step_closed"), (ZHAO, "step_closed")]
    assert len(desk.actions("decision_recorded")) == 1


def test_forwarded_and_answered_by_someone_else_is_refused(
    desk: Desk, catalog: FormCatalog
) -> None:
    ask = asked(desk, catalog)
    forward_id = "<fwd-1@example.test>"
    answered = mailbuild.human_mail(
        sender=f"孙丽 <{SUN}>", to=SERVICE, subject="回复: 转发: " + str(ask["Subject"]),
        body="同意\n\n---------- 转发的邮件 ----------\n" + text_of(ask), charset="gbk",
        extra_headers={"In-Reply-To": forward_id,
                       "References": f"{ask['Message-ID']} {forward_id}"})
    got = desk.send(answered)
    assert sorted(got) == [ZHAO]
    assert SUN in text_of(got[ZHAO][0])
    assert_nothing_decided(desk)
    assert refusals(desk) == [(SUN, "not_the_approver")]


def test_token_of_another_step_is_refused(desk: Desk, catalog: FormCatalog) -> None:
    ask = asked(desk, catalog)
    got = desk.send(reply(ask, sender=WANG, body="同意"))  # the IT manager, on step 1's mail
    assert sorted(got) == [ZHAO]
    assert_nothing_decided(desk)
    assert refusals(desk) == [(WANG, "not_the_approver")]


def test_token_of_another_request_is_refused(desk: Desk, catalog: FormCatalog) -> None:
    first = asked(desk, catalog)
    got = desk.send(submission(catalog, "data_extraction", subject="第二个申请"))
    second, receipt = got[ZHAO][0], got[ZHANG][0]
    token_one = str(first["Subject"]).rsplit("#", 1)[1]
    # answering the second request's mail with the first one's token typed into the subject
    got = desk.send(reply(second, sender=ZHAO, body="同意",
                          subject=f"回复: {second['Subject']} #{token_one}"))
    # the first request's token on a reply to the second request's receipt
    got_other = desk.send(reply(receipt, sender=ZHAO, body="同意",
                                subject=f"回复: {receipt['Subject']} #{token_one}"))
    assert sorted(got) == [ZHAO] and sorted(got_other) == [ZHAO]
    assert [r for _, r in refusals(desk)] == ["conflicting_tokens", "other_request"]
    assert desk.actions("decision_recorded") == []


def test_reply_all_by_a_bystander_quoting_the_number_decides_nothing(
    desk: Desk, catalog: FormCatalog
) -> None:
    asked(desk, catalog)
    request = desk.request()
    # a colleague answers the requester's thread, with the number, and writes 同意
    got = desk.send(mailbuild.human_mail(
        sender=SUN, to=f"{ZHANG}, {SERVICE}", subject=f"Re: [{request.reference}] 数据提取",
        body="同意"))
    assert got == {}
    assert_nothing_decided(desk)
    (linked,) = desk.actions("mail_linked")
    assert linked.actor == SUN and linked.detail["matched_by"] == "subject"


def test_approver_writing_a_new_mail_with_only_the_number_is_not_a_decision(
    desk: Desk, catalog: FormCatalog
) -> None:
    asked(desk, catalog)
    request = desk.request()
    got = desk.send(mailbuild.human_mail(
        sender=ZHAO, to=SERVICE, subject=f"{request.reference} 同意", body="同意"))
    assert got == {}
    assert_nothing_decided(desk)


def test_required_authentication_accepts_only_a_trusted_servers_dmarc_pass(
    mailstack: Any, database_url: str, tmp_path: Path, catalog: FormCatalog
) -> None:
    desk = Desk(mailstack, database_url, tmp_path, approvals={
        "require_authentication": True, "trusted_authserv_ids": ["mx.example.test"]})
    ask = asked(desk, catalog, "minutes", ZHENG)
    untrusted = "mx.evil.test; dmarc=pass header.from=example.test"
    got = desk.send(reply(ask, sender=ZHENG, body="同意",
                          headers={"Authentication-Results": untrusted}))
    assert sorted(got) == [ZHENG]
    assert [r for _, r in refusals(desk)] == ["not_authenticated"]
    assert desk.request().status == "awaiting_approval"
    trusted = "mx.example.test; dkim=pass header.d=example.test; dmarc=pass " \
              "header.from=example.test"
    desk.send(reply(ask, sender=ZHENG, body="同意", headers={"Authentication-Results": trusted}))
    assert desk.request().status == "with_handler"


def test_required_authentication_falls_back_to_the_service_trusted_servers(
    mailstack: Any, database_url: str, tmp_path: Path, catalog: FormCatalog
) -> None:
    # [approvals] trusted_authserv_ids not set: [service] trusted_authserv_ids vouch
    # (receipts are answered regardless here: only the decision's check is under test)
    desk = Desk(mailstack, database_url, tmp_path, approvals={"require_authentication": True})
    assert desk.settings.approvals.trusted_authserv_ids == ()
    desk.settings = desk.settings.model_copy(update={"service": desk.settings.service.model_copy(
        update={"trusted_authserv_ids": ("mx.example.test",),
                "require_authentication": "never"})})
    ask = asked(desk, catalog, "minutes", ZHENG)
    desk.send(reply(ask, sender=ZHENG, body="同意"))
    untrusted = "mx.evil.test; dmarc=pass header.from=example.test"
    desk.send(reply(ask, sender=ZHENG, body="同意", headers={"Authentication-Results": untrusted}))
    assert [r for _, r in refusals(desk)] == ["not_authenticated", "not_authenticated"]
    assert desk.request().status == "awaiting_approval"
    trusted = "mx.example.test; dkim=pass header.d=example.test"
    desk.send(reply(ask, sender=ZHENG, body="同意", headers={"Authentication-Results": trusted}))
    assert desk.request().status == "with_handler"


def test_ambiguous_from_cve_2023_27043_decides_nothing_and_the_approver_is_told(
    desk: Desk, catalog: FormCatalog
) -> None:
    ask = asked(desk, catalog)
    raw = reply(ask, sender=ZHAO, body="同意")
    forged = raw.replace(f"From: {ZHAO}".encode(),
                         f"From: {ZHAO} <mallory@example.test>".encode(), 1)
    assert forged != raw
    got = desk.send(forged)
    # the approver is told, and the unusable sender is in the administrator's digest (#18)
    assert sorted(got) == sorted([ZHAO, ADMIN])
    assert_nothing_decided(desk)
    assert [r for _, r in refusals(desk)] == ["unreadable_sender"]
