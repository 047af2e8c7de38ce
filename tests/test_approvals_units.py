"""Pure parts of approvals: the state machine, chain resolution, tokens, authentication."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mailflow.config import Settings
from mailflow.mail.compose import own_message_ids
from mailflow.mail.parse import parse_mail
from mailflow.workflow import chains
from mailflow.workflow.authentication import authenticated
from mailflow.workflow.directory import Directory
from mailflow.workflow.states import (
    OPEN,
    TRANSITIONS,
    Event,
    IllegalTransition,
    Status,
    allowed,
    transition,
)
from mailflow.workflow.tokens import (
    approval_message_id,
    load_secret,
    step_token,
    tokens_in,
    verify,
)
from mailflow_testing import mailbuild
from tests.approvals_desk import HE, LIN, MA, QIAN, WANG, WU, ZHANG, ZHAO, ZHENG, directory

# -- states ------------------------------------------------------------------------------


def test_the_happy_path_of_a_request() -> None:
    status = Status.SUBMITTED.value
    for event in (Event.CHAIN_STARTED, Event.STEP_APPROVED, Event.ESCALATED,
                  Event.LAST_STEP_APPROVED, Event.HANDED_OVER, Event.DONE):
        status = transition(status, event).target.value
    assert status == "done"


@pytest.mark.parametrize("status", [s.value for s in Status])
def test_every_status_either_allows_withdrawal_or_is_final(status: str) -> None:
    assert allowed(status, Event.WITHDRAWN) == (Status(status) in OPEN)


def test_impossible_moves_are_refused() -> None:
    for current, event in (("withdrawn", Event.LAST_STEP_APPROVED),
                           ("approved", Event.REJECTED), ("received", Event.CHAIN_STARTED),
                           ("with_handler", Event.RESUBMITTED), ("nonsense", Event.DONE)):
        with pytest.raises(IllegalTransition):
            transition(current, event)


def test_rejected_and_returned_requests_resubmit_to_submitted() -> None:
    assert transition("rejected", Event.RESUBMITTED).target is Status.SUBMITTED
    assert transition("returned", Event.RESUBMITTED).target is Status.SUBMITTED
    assert all(isinstance(t, Status) for t in TRANSITIONS.values())


def test_database_statuses_match_the_enum() -> None:
    from mailflow.store.models import REQUEST_STATUSES
    assert set(REQUEST_STATUSES) == {s.value for s in Status}


# -- chains ------------------------------------------------------------------------------


def settings(**overrides: Any) -> Settings:
    raw = directory()
    raw.update(overrides)
    return Settings.model_validate(raw)


def plan(kind: str, requester: str = ZHANG, fields: dict[str, Any] | None = None,
         s: Settings | None = None) -> list[tuple[int, str, str]]:
    s = s or settings()
    found = chains.resolve(s, Directory(s), kind, requester, fields or {})
    assert found is not None
    return [(a.position, a.approver, a.role) for a in found.approvers]


def test_data_extraction_chain_r_dx_2() -> None:
    assert plan("data_extraction") == [(1, ZHAO, "requester_manager"), (2, WANG, "it_manager")]


def test_account_chain_goes_to_the_systems_owner_r_ac_2() -> None:
    assert plan("account", fields={"system": "CRM系统"}) == [
        (1, ZHAO, "requester_manager"), (2, HE, "system_owner")]


def test_change_chain_is_parallel_r_ch_3() -> None:
    assert plan("system_change", fields={"cooperating_departments": ["网管中心", "财务部"]}) \
        == [(1, WANG, "it_manager"), (1, MA, "department_manager"),
            (1, QIAN, "department_manager")]


def test_minutes_chain_r_mt_4() -> None:
    assert plan("minutes") == [(1, ZHENG, "project_manager")]


def test_a_managers_own_request_goes_to_the_leader_in_charge() -> None:
    assert plan("data_extraction", requester=ZHAO)[0] == (1, WU, "leader_in_charge")


@pytest.mark.parametrize(("requester", "fields", "code"), [
    ("nobody@example.test", {}, "unknown_requester"),
    (ZHANG, {"system": "不存在的系统"}, "unknown_system"),
    (ZHANG, {}, "field_missing"),
])
def test_unresolvable_chains_say_why(requester: str, fields: dict[str, Any], code: str) -> None:
    s = settings()
    with pytest.raises(chains.ChainProblem) as caught:
        chains.resolve(s, Directory(s), "account", requester, fields)
    assert caught.value.code == code


def test_department_without_manager_is_a_problem() -> None:
    raw = directory()
    raw["departments"] = [{**d, "manager": ""} if d["key"] == "marketing" else d
                          for d in raw["departments"]]
    s = Settings.model_validate(raw)
    with pytest.raises(chains.ChainProblem) as caught:
        chains.resolve(s, Directory(s), "data_extraction", ZHANG, {})
    assert caught.value.code == "no_manager"


def test_no_directory_means_no_chain() -> None:
    assert chains.resolve(Settings(), Directory(Settings()), "data_extraction", ZHANG, {}) \
        is None


def test_delegation_applies_between_its_dates() -> None:
    s = settings(delegations=[{"who": ZHAO, "to": QIAN, "from_date": "2026-12-01",
                               "to_date": "2026-12-04"}])
    assert chains.delegates(s, ZHAO, date(2026, 12, 4)) == (QIAN,)
    assert chains.delegates(s, ZHAO, date(2026, 12, 5)) == ()
    assert chains.may_decide(s, ZHAO, QIAN, date(2026, 12, 2))
    assert not chains.may_decide(s, ZHAO, QIAN, date(2026, 11, 30))


def test_chains_are_data() -> None:
    s = settings(approvals={"chains": [{"kind": "minutes", "rule": "R-MT-4", "steps": [
        {"approvers": ["role:project_manager"]}, {"approvers": ["role:it_manager"]}]}]})
    assert plan("minutes", s=s) == [(1, ZHENG, "project_manager"), (2, WANG, "it_manager")]
    assert s.approvals.chain_for("data_extraction") is None


def test_a_chain_naming_an_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        settings(approvals={"chains": [{"kind": "minutes", "rule": "R-MT-4",
                                        "steps": [{"approvers": ["role:janitor"]}]}]})


# -- tokens ------------------------------------------------------------------------------


def test_token_is_bound_to_request_step_and_approver() -> None:
    secret = b"k" * 32
    token = step_token(secret, 7, 12, ZHAO)
    assert len(token) == 16 and token.isupper()
    assert verify(secret, token, 7, 12, ZHAO)
    assert verify(secret, token, 7, 12, ZHAO.upper())
    assert not verify(secret, token, 7, 13, ZHAO)
    assert not verify(secret, token, 8, 12, ZHAO)
    assert not verify(secret, token, 7, 12, WANG)
    assert not verify(b"x" * 32, token, 7, 12, ZHAO)


def test_secret_is_generated_once_into_the_data_directory(tmp_path: Path) -> None:
    s = Settings.model_validate({"storage": {"data_dir": str(tmp_path)}})
    first = load_secret(s)
    assert load_secret(s) == first and len(first) == 64
    assert (tmp_path / "approval-token.key").stat().st_mode & 0o077 == 0
    configured = Settings.model_validate({"approvals": {"token_secret": "abc"}})
    assert load_secret(configured) == b"abc"


@pytest.mark.parametrize("prefix", ["回复: ", "答复: ", "转发: ", "Re: ", "RE: ", "AW: ", "Fwd: ",
                                    "回覆: ", "回复: 转发: Re: "])
def test_token_survives_every_subject_prefix(prefix: str) -> None:
    token = step_token(b"s", 1, 2, ZHAO)
    raw = mailbuild.human_mail(sender=ZHAO, to="service@example.test",
                               subject=f"{prefix}[REQ-2026-000001] 请审批 #{token}", body="同意")
    assert tokens_in(parse_mail(raw), "service@example.test") == [(token, "subject")]


def test_token_from_the_thread_of_our_domain_only() -> None:
    token = step_token(b"s", 1, 2, ZHAO)
    ours = approval_message_id(2, token, "request", "service@example.test")
    theirs = approval_message_id(2, token, "request", "someone@elsewhere.test")
    raw = mailbuild.human_mail(sender=ZHAO, to="service@example.test", subject="Re: 审批",
                               body="同意", extra_headers={"References": f"{theirs} {ours}"})
    assert tokens_in(parse_mail(raw), "service@example.test") == [(token, "thread")]
    assert own_message_ids("service@example.test").fullmatch(ours)
    assert not own_message_ids("service@example.test").fullmatch(theirs)


# -- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize(("header", "ok"), [
    ("mx.example.test; dmarc=pass header.from=example.test", True),
    ("mx.example.test; dkim=pass header.d=example.test", True),
    ("mx.example.test; dkim=pass header.d=other.test", False),
    ("mx.example.test; dmarc=fail header.from=example.test", False),
    ("mx.evil.test; dmarc=pass header.from=example.test", False),
    ("garbage ;;; ===", False),
])
def test_authentication_results_from_a_trusted_server_only(header: str, ok: bool) -> None:
    raw = mailbuild.human_mail(sender=ZHAO, to="service@example.test", subject="x", body="同意",
                               extra_headers={"Authentication-Results": header})
    assert authenticated(parse_mail(raw), ZHAO, ["mx.example.test"]) is ok


# -- templates ---------------------------------------------------------------------------

APPROVAL_TEMPLATES = ("approval_request", "approval_unclear", "approval_reminder",
                      "approval_escalation", "approval_receipt", "decision_notice",
                      "handler_assignment", "approval_refused", "approval_blocked",
                      "request_withdrawn", "request_status", "request_done",
                      "approval_closed")


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("name", APPROVAL_TEMPLATES)
def test_every_approval_template_renders_in_both_languages(language: str, name: str) -> None:
    from mailflow.paths import DEFAULT_TEMPLATES_DIR
    from mailflow.templates import Templates

    templates = Templates(DEFAULT_TEMPLATES_DIR, language)
    step = {"position": 2, "total": 3, "approver_name": "王军", "approver": WANG,
            "role": "IT", "rule": "R-DX-2"}
    decision = {"name": "赵磊", "role": "经理", "verdict": "同意", "reason": "仅限本季度",
                "at": "2026-12-01 10:00", "position": "1"}
    context = {
        "reference": "REQ-2026-000001", "kind": "data_extraction", "kind_title": "数据提取",
        "title": "新增用户清单", "requester_name": "张伟", "requester_email": ZHANG,
        "requester_department": "市场部", "status": "awaiting_approval",
        "status_words": "审批中", "fields": [("使用目的", "月度分析\n第二行")],
        "submitted_at": "2026-12-01 09:00", "step": step, "token": "#ABCDEFGHIJKLMNOP",
        "earlier": [decision], "decisions": [decision], "deadline": "2026-12-03 10:00",
        "deadline_days": 2, "escalate_to": "总裁", "delegate_for": "", "handler_name": "林芳",
        "outcome": "rejected", "reason": "范围过大", "decided_by": "王军", "verdict": "驳回",
        "waiting_for": ["周华"], "sender": "m@x.test", "sender_name": "赵磊",
        "reason_code": "not_the_approver", "reason_words": "not the approver",
        "mail_subject": "回复: 请审批", "by_self": False, "code": "no_manager",
        "detail": "市场部", "problem": "部门未登记部门经理", "withdrawn": True,
        "asker_name": "张伟", "above_name": "吴刚", "waiting_days": 2.5, "note": "已开通",
    }
    content = templates.render(name, context)
    assert "REQ-2026-000001" in content.subject + content.text
    assert content.html.strip() and content.text.strip()
    for block in ("statuses", "verdicts", "roles", "refusals", "problems"):
        assert templates.labels("words", block)


def test_one_person_twice_in_a_row_approves_once() -> None:
    # an IT employee's department manager is the IT manager himself
    assert plan("data_extraction", requester=LIN) == [(1, WANG, "it_manager")]


def test_a_bounce_quoting_an_approval_mails_id_is_matched() -> None:
    from mailflow.mail.bounces import bounced_ids

    token = step_token(b"s", 1, 2, ZHAO)
    ours = approval_message_id(2, token, "request", "service@example.test")
    raw = mailbuild.human_mail(
        sender="postmaster@qq.example", to="service@example.test", subject="退信",
        body=f"很抱歉，您的邮件无法送达。\n原邮件 Message-ID: {ours}\n")
    assert bounced_ids(parse_mail(raw), "service@example.test") == [ours]
