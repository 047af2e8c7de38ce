"""The service-planning (seed 003: R-SP-3…6) and post-delivery maintenance (seed 004:
R-PM-6…9, R-PM-11, R-PM-12, R-PM-15) forms are data: each loads from forms/, fills and reads
back (tests/test_forms_roundtrip.py covers every kind in SAMPLES), and its default chain
resolves from the directory — the new roles (服务部经理, 技术服务事业部, 财务部门) are [roles]
entries. Where the seeds give no deadline, one comes from config ([[deadlines]])."""

from __future__ import annotations

from typing import Any

import pytest

from mailflow.config import Settings
from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.notices.lifecycle import Lifecycle
from mailflow.workflow import chains
from mailflow.workflow.directory import Directory
from tests.approvals_desk import HE, LIN, MA, QIAN, SUN, WU, ZHENG, directory
from tests.formfill import SAMPLES

ROLES = {"service_manager": HE, "technical_services": MA, "finance": QIAN,
         "customer_service": SUN}
CATALOG = load_catalog(default_forms_dir())

# kind → (title, rule of its chain, approvers when 林芳 of IT submits it)
KINDS: dict[str, tuple[str, str, list[str]]] = {
    "project_initiation": ("项目立项申请表", "R-SP-3", [HE]),
    "project_plan": ("项目策划书审批表", "R-SP-4", [MA]),
    "work_plan": ("项目工作计划表", "R-SP-5", [HE]),
    "plan_change": ("项目计划调整申请表", "R-SP-6", [HE]),
    "maintenance_record": ("维护记录表", "R-PM-11", [ZHENG]),
    "maintenance_plan": ("年度维护计划", "R-PM-11", [ZHENG]),
    "maintenance_budget": ("维护预算表", "R-PM-8", [QIAN]),
    "maintenance_adjustment": ("维护计划预算调整申请表", "R-PM-9", [QIAN]),
    "maintenance_document": ("维护文档审核表", "R-PM-11", [ZHENG]),
    "document_access": ("文档查阅申请表", "R-PM-12", [ZHENG]),
    "training_plan": ("年度培训计划", "R-PM-15", [HE]),
}


def settings(**extra: Any) -> Settings:
    raw = directory()
    raw["roles"] = {**raw["roles"], **ROLES}
    return Settings.model_validate({**raw, **extra})


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_planning_and_maintenance_kind_loads_and_its_chain_resolves(kind: str) -> None:
    title, rule, approvers = KINDS[kind]
    form = CATALOG.get(kind)
    assert form.title_zh == title
    assert form.fields and form.rule_prefix == rule[:4]
    s = settings()
    plan = chains.resolve(s, Directory(s), kind, LIN, SAMPLES[kind])
    assert plan is not None and plan.rule == rule
    assert [a.approver for a in plan.approvers] == approvers


def test_pm_submitting_a_document_the_pm_reviews_goes_one_level_up_r_pm_11() -> None:
    s = settings()
    plan = chains.resolve(s, Directory(s), "maintenance_record", ZHENG,
                          SAMPLES["maintenance_record"])
    assert plan is not None
    assert [(a.approver, a.instead_of) for a in plan.approvers] == [(WU, ZHENG)]


def test_an_unfilled_role_holds_the_request_with_a_reason_r_sp_3() -> None:
    s = Settings.model_validate(directory())  # no service_manager in [roles]
    with pytest.raises(chains.ChainProblem) as problem:
        chains.resolve(s, Directory(s), "project_initiation", LIN,
                       SAMPLES["project_initiation"])
    assert problem.value.code == "no_role"


def test_records_required_by_the_seeds_r_pm_6_r_pm_8_r_pm_15() -> None:
    required = {k: {f.key for f in CATALOG.get(k).fields if f.required}
                for k in ("maintenance_record", "maintenance_budget", "training_plan")}
    assert {"problem", "process", "result", "people", "done_at"} <= required[
        "maintenance_record"]
    assert {"personnel_cost", "equipment_cost", "software_cost", "training_cost",
            "travel_cost"} <= required["maintenance_budget"]
    assert {"goals", "content", "audience", "schedule", "evaluation"} <= required[
        "training_plan"]
    choices = CATALOG.get("training_plan").field("evaluation").choices
    assert choices == ("考试", "实际操作", "问卷调查")


def test_a_deadline_the_seed_does_not_give_comes_from_config() -> None:
    s = settings(deadlines=[{"kind": "maintenance_record", "rule": "R-PM-6",
                             "working_days": 1, "task_zh": "归档维护记录"}])
    lifecycle = Lifecycle(s, s.templates())
    (declared,) = lifecycle.declared_deadlines("maintenance_record", "handed_over")
    assert (declared.rule, declared.working_days, declared.task_zh) == ("R-PM-6", 1,
                                                                          "归档维护记录")
    # a config entry of a rule the definition declares replaces it (R-DX-4 in 2 days)
    s = settings(deadlines=[{"kind": "data_extraction", "rule": "R-DX-4",
                             "working_days": 2, "task": "data_delivery"}])
    (dx,) = Lifecycle(s, s.templates()).declared_deadlines("data_extraction")
    assert dx.working_days == 2
    with pytest.raises(ValueError, match="working_days or hours"):
        settings(deadlines=[{"kind": "work_plan", "rule": "R-SP-5", "task": "x"}])
