"""Configuration: validated on load, errors name the key; secrets from the environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mailflow.config import Settings, load_settings, security_warnings, unknown_env_variables
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
                    "weekly_meeting", "service_desk", "approvals", "records", "web"):
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
    path = write(tmp_path, f'[smtp]\nhost = "smtp.example.com"\nusername = "svc"\n'
                           f'[storage]\ndata_dir = "{tmp_path / "data"}"\n')
    settings = load_settings(path, environ={"MAILFLOW_SMTP_PASSWORD": "s3cret",
                                            "MAILFLOW_STORAGE_DATABASE_URL": "sqlite:///x.db"})
    assert settings.smtp.password == "s3cret"
    assert settings.storage.database_url == f"sqlite:///{tmp_path / 'data' / 'x.db'}"


def test_relative_paths_are_relative_to_the_data_directory_never_the_config_dir(
    tmp_path: Path,
) -> None:
    etc, data = tmp_path / "etc" / "mailflow", tmp_path / "var" / "lib" / "mailflow"
    etc.mkdir(parents=True)
    path = etc / "config.toml"
    path.write_text(f'[storage]\ndata_dir = "{data}"\ndatabase_url = "sqlite:///db/m.db"\n'
                    'archive_dir = "blobs"\n[mailbox]\nsource = "maildir"\n'
                    'maildir_path = "box"\n', encoding="utf-8")
    settings = load_settings(path, environ={})
    assert settings.storage.resolved_archive_dir() == data / "blobs"
    assert settings.storage.resolved_outbox_dir() == data / "outbox"
    assert settings.storage.resolved_database_url() == f"sqlite:///{data / 'db' / 'm.db'}"
    assert settings.mailbox.maildir_path == data / "box"
    # the bundled templates and forms, wherever the package is installed
    assert (settings.service.templates_dir / "zh").is_dir()
    assert (settings.forms.definitions_dir / "blank").is_dir()


def test_relative_data_dir_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[storage]\ndata_dir = "d"\n')
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    settings = load_settings(path, environ={})
    assert settings.storage.resolved_archive_dir() == work / "d" / "archive"


def test_unsupported_database_is_refused_by_config_check(tmp_path: Path) -> None:
    path = write(tmp_path, '[storage]\ndatabase_url = "mysql://u@db/mailflow"\n')
    with pytest.raises(ConfigError, match=r"storage.database_url.*line 2.*unsupported "
                                          r"database 'mysql'"):
        load_settings(path, environ={})


def test_environment_value_is_blamed_on_the_variable_not_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[mailbox]\nsource = "imap"\nhost = "h"\nport = 993\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={"MAILFLOW_MAILBOX_PORT": "abc"})
    message = str(info.value)
    assert "MAILFLOW_MAILBOX_PORT = 'abc' (from the environment" in message
    assert "line" not in message
    assert "\n" not in message


def test_unknown_environment_variable_names_the_closest_key() -> None:
    warnings = unknown_env_variables({"MAILFLOW_SMTP_PASSWROD": "x", "MAILFLOW_CONFIG": "c",
                                      "MAILFLOW_SMTP_PASSWORD": "y", "HOME": "/root"})
    assert warnings == ["environment variable MAILFLOW_SMTP_PASSWROD is not a mailflow "
                        "setting and is ignored; did you mean MAILFLOW_SMTP_PASSWORD?"]


@pytest.mark.parametrize(("section", "port", "security", "warned"), [
    ("smtp", 587, "tls", True), ("smtp", 465, "starttls", True), ("smtp", 587, "starttls", False),
    ("smtp", 465, "tls", False), ("smtp", 2525, "tls", False), ("mailbox", 143, "tls", True),
    ("mailbox", 993, "none", True), ("mailbox", 993, "tls", False),
])
def test_port_and_security_mismatch_is_warned(section: str, port: int, security: str,
                                              warned: bool) -> None:
    raw: dict[str, object] = {section: {"port": port, "security": security}}
    if section == "mailbox":
        raw["mailbox"] = {"source": "imap", "host": "h", "port": port, "security": security}
    settings = Settings.model_validate(raw)
    found = [w for w in security_warnings(settings) if w.startswith(f"[{section}]")]
    assert bool(found) is warned, found


def test_cli_reports_broken_config_with_key_and_exit_code(tmp_path: Path) -> None:
    path = write(tmp_path, '[mailbox]\nsource = "imap"\nhost = "h"\nport = 99999\n')
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(path), "config", "check"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2
    assert "mailbox.port" in result.stderr
    assert "99999" in result.stderr
