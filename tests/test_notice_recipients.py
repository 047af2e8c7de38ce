"""Notice recipients by rule from the directory (R-CH-4, R-CH-5, R-CH-6, R-MT-3); names on
forms resolved to people, unresolved ones reported with candidates, never dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.config import Settings, load_settings
from mailflow.notices.recipients import (
    NameResolver,
    change_notice_plan,
    minutes_plan,
    summary_report_plan,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    text += '\n[[people]]\nemail = "zhang.wei2@example.com"\nname = "张伟"\n' \
            'department = "finance"\n'
    path = tmp_path_factory.mktemp("cfg") / "config.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, environ={})


@pytest.fixture(scope="module")
def resolver(settings: Settings) -> NameResolver:
    return NameResolver(settings)


@pytest.mark.parametrize(("written", "email"), [
    ("刘洋", "liu.yang@example.com"),
    ("财务部 刘洋", "liu.yang@example.com"),
    ("财务部刘洋", "liu.yang@example.com"),
    ("刘洋（财务部）", "liu.yang@example.com"),
    (" 刘 洋 ", "liu.yang@example.com"),
    ("liu.yang@example.com", "liu.yang@example.com"),
    ("LIU.YANG@example.com", "liu.yang@example.com"),
    ("刘洋 <liu.yang@example.com>", "liu.yang@example.com"),
    ("市场部 张伟", "zhang.wei@example.com"),    # two 张伟: the department decides
    ("财务部 张伟", "zhang.wei2@example.com"),
    ("M0107", "zhang.wei@example.com"),         # employee number
])
def test_names_on_forms_resolve_to_one_person(resolver: NameResolver, written: str,
                                              email: str) -> None:
    person = resolver.person(written)
    assert not isinstance(person, list), (written, person)
    assert person.email == email


@pytest.mark.parametrize(("written", "candidates"), [
    ("张伟", {"zhang.wei@example.com", "zhang.wei2@example.com"}),  # ambiguous: ask
    ("刘阳", {"liu.yang@example.com"}),                              # a typo: suggest
    ("李明", set()),                                                 # nobody
    ("nobody@example.com", set()),
    ("IT管理部 刘洋", set()),  # 刘洋 is not in IT
])
def test_unresolved_names_come_with_candidates(resolver: NameResolver, written: str,
                                               candidates: set[str]) -> None:
    result = resolver.person(written)
    assert isinstance(result, list)
    assert {p.email for p in result} >= candidates
    if not candidates:
        assert written.startswith("IT") or result == []


def test_r_ch_4_r_ch_5_change_notice_recipients_in_order_of_relevance(
    resolver: NameResolver,
) -> None:
    plan = change_notice_plan(resolver, "受影响部门", ["市场部", "财务部"])
    assert plan.complete
    assert plan.to == ("zhang.wei@example.com", "liu.yang@example.com", "sun.li@example.com")
    assert plan.cc == ("wu.gang@example.com", "zhao.lei@example.com", "qian.min@example.com")
    reverse = change_notice_plan(resolver, "受影响部门", ["财务部", "市场部"])
    assert reverse.to[0] == "liu.yang@example.com"


def test_r_ch_4_an_unknown_department_is_reported_not_dropped(resolver: NameResolver) -> None:
    plan = change_notice_plan(resolver, "受影响部门", ["财务部", "市场"])
    assert not plan.complete
    (missing,) = plan.unresolved
    assert (missing.field, missing.written) == ("受影响部门", "市场")
    assert missing.candidates[0] == "市场部"
    assert plan.to == ("liu.yang@example.com", "sun.li@example.com")  # the known ones kept


def test_r_ch_6_summary_report_recipients(resolver: NameResolver) -> None:
    plan = summary_report_plan(resolver, "受影响部门", ["财务部", "marketing"])
    assert plan.complete
    assert plan.to == ("qian.min@example.com", "zhao.lei@example.com")
    assert plan.cc == ("wu.gang@example.com",)


def test_r_mt_3_minutes_go_to_every_attendee_once(resolver: NameResolver) -> None:
    plan = minutes_plan(resolver, "参会人员",
                        ["王军", "林芳", "财务部 刘洋", "liu.yang@example.com", "张伟", "李明"])
    assert plan.to == ("wang.jun@example.com", "lin.fang@example.com", "liu.yang@example.com")
    assert [(u.written, len(u.candidates)) for u in plan.unresolved] == [("张伟", 2),
                                                                       ("李明", 0)]
    assert not plan.complete
