"""The form definitions: field keys per kind, and errors that name the file and the key."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from mailflow.documents.definitions import (
    CatalogError,
    FieldType,
    default_forms_dir,
    load_catalog,
)
from mailflow.documents.generate import generate_blank_forms
from mailflow.documents.layout import MARKER_NAME

FIELD_KEYS = {
    "fault": ["applicant", "department", "contact", "system", "symptom", "started_at",
              "impact"],
    "business_requirement": ["applicant", "department", "contact", "title", "systems",
                             "description", "reason", "product_change", "framework_change",
                             "wanted_by"],
    "product": ["applicant", "department", "contact", "product_name", "request_kind",
                "product_description", "systems", "effective_date"],
    "data_processing": ["applicant", "department", "contact", "system", "data_to_process",
                        "reason", "urgency", "wanted_by"],
    "data_extraction": [
        "applicant",
        "department",
        "contact",
        "data_wanted",
        "systems",
        "data_period",
        "purpose",
        "scope_of_use",
        "classification",
        "wanted_by",
        "delivery_format",
    ],
    "account": [
        "applicant",
        "department",
        "employee_id",
        "system",
        "request_kind",
        "account_name",
        "functional_permissions",
        "business_permissions",
        "reason",
        "effective_date",
        "end_date",
    ],
    "system_change": [
        "title",
        "system",
        "change_content",
        "reason",
        "change_date",
        "planned_window",
        "affects_live_users",
        "affected_departments",
        "cooperating_departments",
        "operator",
        "it_contact",
        "tested_in_test_env",
        "emergency",
        "rollback_plan",
        "impact_scope",
        "impact_duration",
        "notes",
        "complex_change",
    ],
    "minutes": [
        "title",
        "meeting_kind",
        "meeting_time",
        "place",
        "host",
        "recorder",
        "attendees",
        "absentees",
        "agenda",
        "discussion",
        "decisions",
        "action_items",
    ],
}


def test_field_keys_per_kind() -> None:
    catalog = load_catalog(default_forms_dir())
    assert {k: [f.key for f in catalog.forms[k].fields] for k in FIELD_KEYS} == FIELD_KEYS


def test_process_rule_fields() -> None:
    catalog = load_catalog(default_forms_dir())
    dx = catalog.get("data_extraction")
    assert dx.title_zh == "业务数据提取申请表"
    assert [(f.key, f.required, f.rule) for f in dx.fields if f.rule == "R-DX-1"] == [
        ("purpose", True, "R-DX-1"),
        ("scope_of_use", True, "R-DX-1"),
    ]
    assert dx.field("classification").choices == ("绝密", "机密", "保密")
    assert catalog.get("account").field("request_kind").choices == (
        "新增帐号",
        "帐号权限变更",
        "帐号注销",
    )
    change = catalog.get("system_change")
    assert change.field("planned_window").type is FieldType.TIME_RANGE
    assert change.field("affected_departments").type is FieldType.LIST
    minutes = catalog.get("minutes")
    assert minutes.field("recorder").required
    assert [c.key for c in minutes.field("action_items").columns] == ["item", "owner", "due"]


def test_blank_path() -> None:
    catalog = load_catalog(default_forms_dir())
    assert catalog.blank_path("minutes", "xlsx", Path("/b")) == Path("/b/minutes.xlsx")
    with pytest.raises(KeyError):
        catalog.blank_path("nope", "docx", Path("/b"))


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "forms"
    shutil.copytree(default_forms_dir(), target, ignore=shutil.ignore_patterns("blank"))
    return target


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('type = "date"\n', 'type = "dat"\n', "fields[9] (key 'wanted_by').type"),
        (
            'key = "purpose"\n',
            'key = "purpose"\ncolour = "red"\n',
            "fields[6] (key 'purpose').colour",
        ),
        ('choices = ["绝密", "机密", "保密"]\n', "", "fields[8] (key 'classification')"),
        ('aliases = ["数据用途", "用途"', 'aliases = ["申请人", "用途"', "'申请人'"),
        ('kind = "data_extraction"', 'kind = "extraction"', "kind"),
        ("version = 1\n", "version = 0\n", "version"),
    ],
)
def test_catalog_errors_name_the_file_and_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    forms = _copy(tmp_path)
    path = forms / "data_extraction.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        load_catalog(forms)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('field = "measures"', 'field = "problem"', "is no table field"),
    ('due = "due"', 'due = "deadline"', "unknown column 'deadline'"),
    ('title_field = "project_name"', 'title_field = "project"', "unknown field 'project'"),
])
def test_r_pm_13_tracked_items_must_name_a_table_and_its_columns(
        tmp_path: Path, old: str, new: str, message: str) -> None:
    forms = _copy(tmp_path)
    path = forms / "quality_improvement.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        load_catalog(forms)
    tracked = load_catalog(_copy(tmp_path / "again")).get("quality_improvement").tracked_items
    assert tracked is not None and tracked.rule == "R-PM-13" and tracked.in_report


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    forms = _copy(tmp_path)
    (forms / "minutes.toml").write_text("kind = \n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"minutes\.toml"):
        load_catalog(forms)


def test_committed_blanks_are_up_to_date(tmp_path: Path) -> None:
    """forms/blank/ is what generate_blank_forms writes now (regenerate after a TOML edit)."""
    catalog = load_catalog(default_forms_dir())
    paths = generate_blank_forms(catalog, tmp_path)
    assert len(paths) == 2 * len(catalog.forms)
    committed = default_forms_dir() / "blank"
    for path in paths:
        assert path.read_bytes() == (committed / path.name).read_bytes(), path.name
        assert path.stat().st_size < 12_000  # small: no python-docx style baggage


def test_blank_docx_carries_both_markers() -> None:
    blank = (default_forms_dir() / "blank" / "account.docx").read_bytes()
    with zipfile.ZipFile(io.BytesIO(blank)) as package:
        assert "mailflow-form:account:1" in package.read("word/document.xml").decode()
        custom = package.read("docProps/custom.xml").decode()
    assert MARKER_NAME in custom and "account:1" in custom
