"""Configuration: validated on load, errors name the key; secrets from the environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mailflow.config import Settings, load_settings
from mailflow.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_is_valid_and_documents_every_key() -> None:
    example = REPO / "config.example.toml"
    settings = load_settings(example, environ={})
    text = example.read_text(encoding="utf-8")
    for section in ("service", "mailbox", "smtp", "storage", "forms", "calendar",
                    "weekly_meeting", "approvals"):
        model = getattr(settings, section)
        for key in type(model).model_fields:
            assert f"\n{key} =" in text or f"\n# {key} =" in text, f"{section}.{key} undocumented"
    assert settings.people and settings.departments and settings.systems
    assert settings.approvals.chains == Settings().approvals.chains  # the defaults, as data


def test_embedded_default_needs_no_file() -> None:
    settings = load_settings(None, environ={})
    assert settings.mailbox.source == "maildir"
    assert settings.storage.resolved_database_url().startswith("sqlite:///")
    assert settings.service.language == "zh"


def test_wrong_type_names_key_value_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[mailbox]\nhost = "imap.example.com"\n\nport = "imap"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    message = str(info.value)
    assert "mailbox.port" in message
    assert "'imap'" in message
    assert "line 4" in message
    assert "integer" in message


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, '[smtp]\nhots = "mail.example.com"\n')
    with pytest.raises(ConfigError, match=r"smtp\.hots.*line 2.*Extra inputs"):
        load_settings(path, environ={})


def test_bad_choice_lists_what_is_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, '[smtp]\nsecurity = "ssl"\n')
    with pytest.raises(ConfigError, match=r"smtp\.security = 'ssl'.*'tls', 'starttls' or 'none'"):
        load_settings(path, environ={})


def test_imap_without_host_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[mailbox]\nsource = "imap"\n')
    with pytest.raises(ConfigError, match=r"mailbox.*host is required"):
        load_settings(path, environ={})


def test_directory_references_must_exist(tmp_path: Path) -> None:
    path = write(tmp_path, """
[[people]]
email = "a@example.com"
name = "甲"
department = "sales"

[[departments]]
key = "it"
name = "IT管理部"
""")
    with pytest.raises(ConfigError, match="unknown department 'sales'"):
        load_settings(path, environ={})


def test_secrets_come_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[smtp]\nhost = "smtp.example.com"\nusername = "svc"\n')
    settings = load_settings(path, environ={"MAILFLOW_SMTP_PASSWORD": "s3cret",
                                            "MAILFLOW_STORAGE_DATABASE_URL": "sqlite:///x.db"})
    assert settings.smtp.password == "s3cret"
    assert settings.storage.database_url == f"sqlite:///{tmp_path / 'x.db'}"


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[storage]\ndata_dir = "data"\n')
    settings = load_settings(path, environ={})
    assert settings.storage.resolved_archive_dir() == tmp_path / "data" / "archive"


def test_cli_reports_broken_config_with_key_and_exit_code(tmp_path: Path) -> None:
    path = write(tmp_path, '[mailbox]\nsource = "imap"\nhost = "h"\nport = 99999\n')
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(path), "config", "check"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert "mailbox.port" in result.stderr
    assert "99999" in result.stderr
