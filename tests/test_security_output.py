"""Issue 20, finding 6 and the demo's directory (7): what mailflow prints cannot leak a
secret, be steered by a mail's text, or delete what it did not make."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from rich.console import Console

from mailflow.clock import SystemClock
from mailflow.config import Settings, load_settings
from mailflow.demo import DEMO_MARKER, _print_mails, run_demo
from mailflow.errors import ConfigError, MailflowError
from mailflow.logs import escape_controls
from mailflow.service import Service
from mailflow_testing import mailbuild
from mailflow_testing.config_file import write_config

ESC = "\x1b"


@pytest.mark.parametrize("toml", [
    '[mailbox]\nsource = "maildir"\npasword = "TYPO-SECRET-1"\n',
    '[smtp]\npassword = 12345.5\n[mailbox]\nsource = "maildir"\nusername = "TYPO-SECRET-1"\n'
    'password = ["TYPO-SECRET-1"]\n',
    '[storage]\ndatabase_url = ["postgresql://mf:TYPO-SECRET-1@db.example.com/mf"]\n',
    '[mailbox]\nsource = "maildir"\napi_token = "TYPO-SECRET-1"\n',
])
def test_config_errors_never_show_a_secret(tmp_path: Path, toml: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})
    assert "TYPO-SECRET-1" not in str(error.value)
    assert "***" in str(error.value)  # the key is still named, its value hidden


def test_a_non_secret_value_is_still_shown_to_help_fix_it(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[mailbox]\nsource = "maildir"\nfetch_batch = 5000\n')
    with pytest.raises(ConfigError) as error:
        load_settings(config, environ={})
    assert "fetch_batch = 5000" in str(error.value)


def test_password_in_clear_to_a_remote_host_is_refused(tmp_path: Path) -> None:
    remote = {"mailbox": {"host": "imap.example.com", "security": "none", "password": "pw"},
              "smtp": {"host": "127.0.0.1", "security": "none", "password": "pw"}}
    with pytest.raises(ValidationError, match=r"imap\.example\.com"):
        Settings.model_validate(remote)
    local = Settings.model_validate({
        "mailbox": {"host": "localhost", "security": "none", "password": "pw"},
        "smtp": {"host": "smtp.example.com", "security": "none"}})  # no password: nothing sent
    assert local.plaintext_password_hosts() == []
    maildir = Settings.model_validate({  # a Maildir source never logs in
        "mailbox": {"source": "maildir", "host": "imap.example.com", "security": "none",
                    "password": "pw"}})
    assert maildir.plaintext_password_hosts() == []

    config = tmp_path / "config.toml"
    config.write_text('[mailbox]\nhost = "imap.example.com"\nsecurity = "none"\nport = 143\n'
                      f'password = "TOP-SECRET-9"\n[storage]\ndata_dir = "{tmp_path}/d"\n',
                      encoding="utf-8")
    checked = subprocess.run([sys.executable, "-m", "mailflow", "--config", str(config),
                              "config", "check"], capture_output=True, text=True, timeout=60,
                             check=False)
    assert checked.returncode != 0
    assert "imap.example.com" in checked.stderr and "TOP-SECRET-9" not in checked.stderr
    assert len(checked.stderr.strip().splitlines()) == 1 and "Traceback" not in checked.stderr


def test_control_characters_are_escaped_in_console_logs() -> None:
    assert escape_controls("a\x1b[2Jb\nc\x00") == "a\\x1b[2Jb\\nc\\x00"
    assert escape_controls("申请 <id@x>") == "申请 <id@x>"


def test_escape_sequences_in_a_mail_never_reach_the_console_raw(tmp_path: Path) -> None:
    """End to end: a Message-ID and subject carrying ESC through `mailflow run --once`."""
    maildir = tmp_path / "maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    hostile = mailbuild.human_mail(sender="a@example.test", to="service@example.test",
                                   subject="x", body="hello")
    hostile = hostile.replace(b"Subject: x", b"Subject: \x1b[2J\x1b]0;owned\x07 x", 1)
    hostile = b"Message-ID: <\x1b[31mred\x1b[0m@example.test>\r\n" + b"\r\n".join(
        line for line in hostile.split(b"\r\n") if not line.lower().startswith(b"message-id"))
    (maildir / "new" / "1.eml").write_bytes(mailbuild.to_crlf(hostile))
    config = write_config(Settings.model_validate({
        "service": {"log_level": "debug"},
        "mailbox": {"source": "maildir", "maildir_path": str(maildir)},
        "storage": {"data_dir": str(tmp_path / "data")}}), tmp_path / "config.toml")

    ran = subprocess.run([sys.executable, "-m", "mailflow", "--config", str(config), "run",
                          "--once", "--no-progress"], capture_output=True, timeout=120,
                         check=False)

    assert ran.returncode == 0, ran.stderr
    assert b"mail taken in" in ran.stderr
    assert b"red" in ran.stderr  # the Message-ID was logged ...
    assert ESC.encode() not in ran.stderr + ran.stdout  # ... without its escape sequences
    assert b"\x07" not in ran.stderr


def test_rich_markup_in_a_subject_is_printed_as_text_in_the_demo_tables(tmp_path: Path) -> None:
    maildir = tmp_path / "maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.eml").write_bytes(mailbuild.to_crlf(mailbuild.human_mail(
        sender="[link=http://evil.example]IT[/link] <a@example.test>",
        to="service@example.test", subject="[bold red]紧急[/bold red] [/]", body="x")))
    service = Service(Settings.model_validate({
        "mailbox": {"source": "maildir", "maildir_path": str(maildir)},
        "storage": {"data_dir": str(tmp_path / "data")}}), SystemClock())
    try:
        service.run_once()
        out = io.StringIO()
        _print_mails(service, Console(file=out, width=200, color_system=None))
    finally:
        service.close()
    assert "[bold red]紧急[/bold red] [/]" in out.getvalue()


def test_demo_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.docx").write_bytes(b"years of work")
    console = Console(file=io.StringIO())
    with pytest.raises(MailflowError):
        run_demo(home, console)
    assert (home / "thesis.docx").read_bytes() == b"years of work"

    ran = subprocess.run([sys.executable, "-m", "mailflow", "demo", "--dir", str(home)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert ran.returncode != 0 and "not a directory the demo made" in ran.stderr
    assert (home / "thesis.docx").exists()

    # an empty directory, and the demo's own directory on the next run, are fine
    fresh = tmp_path / "empty"
    fresh.mkdir()
    run_demo(fresh, console)
    assert (fresh / DEMO_MARKER).is_file()
    (fresh / "outbox" / "leftover.eml").write_bytes(b"x")
    run_demo(fresh, console)
    assert not (fresh / "outbox" / "leftover.eml").exists()
