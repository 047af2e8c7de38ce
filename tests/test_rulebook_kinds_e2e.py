"""A request kind added as data only, from a temporary directory: its form definition (with
a ``[[deadlines]]`` entry), its chain and a new role in the configuration — no Python. It is
walked end to end over the real Dovecot and SMTP with the clock set step by step:
submission → the requester's manager → the new role → the handler, the deadline reminder at
``--now``, and done on time. The bundled kinds of seed 002 (业务需求, 产品, 业务数据处理) are
checked the same way through their default chains."""

from __future__ import annotations

import shutil
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from mailflow.config import DEFAULT_CHAINS, Settings
from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.documents.generate import generate_blank_forms
from mailflow.store.models import DueWork, utc
from mailflow.workflow import chains
from mailflow.workflow.directory import Directory
from mailflow_testing import mailbuild
from tests.approvals_desk import (
    DOCX,
    LIN,
    SUN,
    ZHANG,
    ZHAO,
    Desk,
    directory,
    reply,
    submission,
    text_of,
)
from tests.formfill import SAMPLES, fill_docx
from tests.stack import SERVICE

SH = ZoneInfo("Asia/Shanghai")

LOAN = '''
kind = "equipment_loan"
version = 1
rule_prefix = "R-EQ"
title_zh = "设备借用申请表"
title_en = "Equipment loan request"
instructions_zh = "请填写后作为邮件附件发送。"

[[fields]]
key = "applicant"
label_zh = "申请人"
label_en = "Applicant"
type = "email_or_person"
required = true

[[fields]]
key = "department"
label_zh = "申请部门"
label_en = "Department"
type = "text"
required = true

[[fields]]
key = "equipment"
label_zh = "借用设备"
label_en = "Equipment"
type = "text"
required = true

[[fields]]
key = "loan_period"
label_zh = "借用期限"
label_en = "Loan period"
type = "text"
required = true

[[deadlines]]
rule = "R-EQ-1"
counts_from = "handed_over"
working_days = 2
task = "equipment_issued"
task_zh = "发放借用设备"
task_en = "issue the equipment"
note_zh = "受理后 2 个工作日内"
'''
LOAN_VALUES = {"applicant": "张伟", "department": "市场部", "equipment": "投影仪一台",
               "loan_period": "2026年12月1日至12月4日"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def subjects(mails: list[EmailMessage]) -> list[str]:
    return [str(m["Subject"]) for m in mails]


@pytest.fixture
def forms_dir(tmp_path: Path) -> Path:
    """The bundled definitions plus one kind written here (as an administrator would)."""
    target = tmp_path / "forms"
    shutil.copytree(default_forms_dir(), target, ignore=shutil.ignore_patterns("blank"))
    (target / "equipment_loan.toml").write_text(LOAN, encoding="utf-8")
    generate_blank_forms(load_catalog(target), target / "blank")
    return target


def test_a_kind_added_as_data_walks_end_to_end_with_its_deadline(
        mailstack: Any, database_url: str, tmp_path: Path, forms_dir: Path) -> None:
    base = directory()
    roles = {**base["roles"], "asset_keeper": SUN}  # a role the code has never heard of
    loan_chain = {"kind": "equipment_loan", "rule": "R-EQ-1", "steps": [
        {"approvers": ["requester_manager"]}, {"approvers": ["role:asset_keeper"]}]}
    desk = Desk(mailstack, database_url, tmp_path, roles=roles,
                forms={"definitions_dir": forms_dir},
                approvals={"handlers": {"equipment_loan": LIN},
                           "chains": [*(c.model_dump() for c in DEFAULT_CHAINS), loan_chain]})
    catalog = load_catalog(forms_dir)
    filled = fill_docx((forms_dir / "blank" / "equipment_loan.docx").read_bytes(),
                       catalog.get("equipment_loan"), LOAN_VALUES)
    got = desk.send(mailbuild.human_mail(
        sender=ZHANG, to=SERVICE, subject="设备借用", body="请审批",
        attachments=[("设备借用申请表.docx", filled, DOCX)]), at("2026-12-01T10:00"))
    request = desk.request()
    assert request.kind == "equipment_loan" and request.fields["equipment"] == "投影仪一台"
    assert request.status == "awaiting_approval"
    (ask,) = got[ZHAO]
    assert "设备借用申请表" in text_of(ask)

    got = desk.send(reply(ask, sender=ZHAO, body="同意"), at("2026-12-01T10:30"))
    (ask2,) = [m for m in got[SUN] if "审批" in str(m["Subject"])]
    got = desk.send(reply(ask2, sender=SUN, body="同意"), at("2026-12-01T11:00"))
    assert desk.request().status == "with_handler"
    assert got[LIN]  # the handler has the request with its form
    (deadline_set,) = desk.actions("deadlines_set")
    # R-EQ-1 as declared: 2 working days from the hand-over (Tue 11:00 → Thu 11:00)
    (rule, when), = deadline_set.detail["deadlines"].items()
    assert rule == "R-EQ-1"
    assert datetime.fromisoformat(when).replace(second=0, microsecond=0) == at("2026-12-03T11:00")

    # nothing is due the next morning; at three quarters of the time the handler is reminded
    assert LIN not in desk.tick(at("2026-12-02T09:30"))
    got = desk.tick(at("2026-12-03T09:00"))
    (reminder,) = got[LIN]
    assert "发放借用设备" in str(reminder["Subject"])
    assert "受理后 2 个工作日内" in text_of(reminder) and "R-EQ-1" in text_of(reminder)

    handover = desk.query(select(DueWork).where(DueWork.kind == "notice.deadline"))[0]
    assert handover.key == "R-EQ-1" and handover.status == "pending"
    got = desk.send(reply(reminder, sender=LIN, body="已完成，设备已发放"),
                    at("2026-12-03T10:00"))
    assert desk.request().status == "done"
    assert ZHANG in got  # the requester is told
    (on_time,) = desk.actions("request_done_on_time")
    assert on_time.detail["rule"] == "R-EQ-1"
    (work,) = desk.query(select(DueWork).where(DueWork.kind == "notice.deadline"))
    assert work.status == "cancelled"
    assert utc(work.due_at).replace(second=0, microsecond=0) == at("2026-12-03T11:00")


def test_a_kind_added_as_data_is_reminded_then_overdue_then_escalated(
        mailstack: Any, database_url: str, tmp_path: Path, forms_dir: Path) -> None:
    desk = Desk(mailstack, database_url, tmp_path, forms={"definitions_dir": forms_dir},
                approvals={"handlers": {"equipment_loan": LIN}, "chains": [
                    {"kind": "equipment_loan", "rule": "R-EQ-1",
                     "steps": [{"approvers": ["requester_manager"]}]}]})
    catalog = load_catalog(forms_dir)
    filled = fill_docx((forms_dir / "blank" / "equipment_loan.docx").read_bytes(),
                       catalog.get("equipment_loan"), LOAN_VALUES)
    got = desk.send(mailbuild.human_mail(
        sender=ZHANG, to=SERVICE, subject="设备借用", body="请审批",
        attachments=[("设备借用申请表.docx", filled, DOCX)]), at("2026-12-01T10:00"))
    desk.send(reply(got[ZHAO][0], sender=ZHAO, body="同意"), at("2026-12-01T11:00"))
    assert "提醒" in subjects(desk.tick(at("2026-12-03T09:00"))[LIN])[0]
    got = desk.tick(at("2026-12-03T11:01"))
    assert "已逾期" in subjects(got[LIN])[0]
    got = desk.tick(at("2026-12-04T11:02"))  # 8 working hours later: the leader in charge
    assert any("逾期升级" in s for mails in got.values() for s in subjects(mails))
    assert desk.actions("deadline_escalated")[0].detail["rule"] == "R-EQ-1"


@pytest.mark.parametrize(("kind", "rule", "days", "task"), [
    ("business_requirement", "R-BR-1", 3, "反馈初步评估意见"),
    ("product", "R-PR-2", 3, "完成产品配置并反馈申请人"),
    ("data_processing", "R-DP-1", 3, "反馈初步处理意见"),
])
def test_rulebook_kind_walks_its_default_chain_to_the_handler_and_deadline(
        mailstack: Any, database_url: str, tmp_path: Path, kind: str, rule: str, days: int,
        task: str) -> None:
    catalog = load_catalog(default_forms_dir())
    desk = Desk(mailstack, database_url, tmp_path, approvals={"handlers": {kind: LIN}})
    got = desk.send(submission(catalog, kind, subject="申请"), at("2026-12-01T10:00"))
    assert desk.request().kind == kind
    asks = got[ZHAO]
    # the product request is approved by the requester's manager, then the marketing
    # department's manager (here the same person: asked once, R-PR-1)
    got = desk.send(reply(asks[0], sender=ZHAO, body="同意"), at("2026-12-01T11:00"))
    assert desk.request().status == "with_handler"
    (deadline_set,) = desk.actions("deadlines_set")
    assert list(deadline_set.detail["deadlines"]) == [rule]
    got = desk.tick(at("2026-12-04T11:01"))  # the deadline itself: Fri 11:00
    assert any(task in str(m["Subject"]) for m in got[LIN])
    got = desk.send(reply(got[LIN][0], sender=LIN, body="已完成"), at("2026-12-04T12:00"))
    assert desk.request().status == "done"
    assert desk.actions("request_done_late")


def _settings(**extra: Any) -> Settings:
    return Settings.model_validate({**directory(), **extra})


def test_product_chain_names_the_marketing_departments_manager_r_pr_1() -> None:
    settings = _settings()
    plan = chains.resolve(settings, Directory(settings), "product", SUN, SAMPLES["product"])
    assert plan is not None and plan.rule == "R-PR-1"
    assert [(a.position, a.approver) for a in plan.approvers] == [
        (1, "qian.min@example.test"), (2, ZHAO)]


def test_new_roles_come_from_the_directory_not_code() -> None:
    settings = _settings(roles={**directory()["roles"], "service_manager": SUN,
                                "customer_service": LIN})
    assert Directory(settings).role("service_manager") == SUN
    with pytest.raises(ValueError, match="unknown role"):
        _settings(approvals={"chains": [{"kind": "x", "rule": "R-X-1", "steps": [
            {"approvers": ["role:nobody_here"]}]}]})
    with pytest.raises(ValueError, match="not in \\[\\[people\\]\\]"):
        _settings(roles={"service_manager": "ghost@example.test"})
