"""The organisation directory: lookups and rule-driven recipient lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.config import load_settings
from mailflow.workflow.directory import Directory, DirectoryError

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


@pytest.fixture
def directory() -> Directory:
    return Directory(load_settings(EXAMPLE, environ={}))


def test_people_departments_and_roles(directory: Directory) -> None:
    assert directory.name_of("Zhang.Wei@example.com") == "张伟"
    assert directory.department_of("zhang.wei@example.com").name == "市场部"  # type: ignore[union-attr]
    assert directory.manager_of("zhang.wei@example.com") == "zhao.lei@example.com"
    assert directory.find_by_name("张 伟") is not None
    assert directory.department("财务部").key == "finance"
    assert directory.role("it_manager") == "wang.jun@example.com"
    assert directory.it_department() is not None
    with pytest.raises(DirectoryError):
        directory.department("后勤部")


def test_systems_by_name_or_alias_and_their_owner_r_ac_2(directory: Directory) -> None:
    assert directory.owner_of_system("报表系统").key == "finance"
    assert directory.owner_of_system(" crm ").key == "marketing"
    with pytest.raises(DirectoryError):
        directory.system("不存在的系统")


def test_change_notice_recipients_r_ch_4(directory: Directory) -> None:
    r = directory.change_notice_recipients(["finance", "市场部"])
    # To: interface persons and persons in charge, most relevant department first
    assert r.to == ("liu.yang@example.com", "sun.li@example.com", "zhang.wei@example.com")
    # Cc: the leader in charge and the To departments' managers
    assert r.cc == ("wu.gang@example.com", "qian.min@example.com", "zhao.lei@example.com")


def test_summary_report_recipients_r_ch_6(directory: Directory) -> None:
    r = directory.summary_report_recipients(["marketing", "finance"])
    assert r.to == ("zhao.lei@example.com", "qian.min@example.com")
    assert r.cc == ("wu.gang@example.com",)
