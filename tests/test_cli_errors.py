"""Every failure of the ``mailflow`` command that comes from the environment is one line on
stderr (what failed, the value, what to do), a non-zero exit and no traceback (issue 18)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GOOD = """
[mailbox]
source = "maildir"
"""


@dataclass(frozen=True)
class Case:
    name: str
    args: list[str]
    expect: tuple[str, ...]  # words the one error line must contain
    config: str | None = GOOD
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    status: int | None = None  # the exit status, when it matters


def _file(name: str, data: bytes = b"x") -> Callable[[Path], None]:
    def make(root: Path) -> None:
        (root / name).write_bytes(data)
    return make


def _dir(name: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        (root / name).mkdir()
    return make


CASES = [
    # the cases
    Case("config names a directory", ["--config", "{root}/confdir", "config", "check"],
         ("confdir is a directory", "--config"), setup=_dir("confdir"), config=None, status=2),
    Case("export into a missing directory", ["requests", "export", "/nodir/x.xlsx"],
         ("/nodir/x.xlsx", "/nodir does not exist", "create it")),
    Case("forms generate onto an existing file", ["forms", "generate", "{root}/taken"],
         ("taken is a file", "name a directory"), setup=_file("taken")),
    Case("unreachable database", ["db", "upgrade"],
         ("database unreachable", "127.0.0.1", "database_url"),
         env={"MAILFLOW_STORAGE_DATABASE_URL":
              "postgresql://mailflow@127.0.0.1:9/mailflow?connect_timeout=2"}, status=69),
    Case("mysql URL refused by config check", ["config", "check"],
         ("storage.database_url", "mysql", "sqlite:///", "postgresql://"),
         config='[storage]\ndatabase_url = "mysql://u:p@db/mailflow"\n', status=2),
    Case("--from later than --to",
         ["requests", "export", "{root}/x.xlsx", "--from", "2026-12-01", "--to", "2026-11-01"],
         ("--from 2026-12-01 is later than --to 2026-11-01",), status=2),
    Case("environment value blamed on the variable", ["config", "check"],
         ("MAILFLOW_MAILBOX_PORT = 'abc'", "from the environment", "integer"),
         env={"MAILFLOW_MAILBOX_PORT": "abc"}),
    Case("[[people]] printed literally", ["config", "check"],
         ("departments: it names 'nobody@example.com', who is not in [[people]]",),
         config='[[departments]]\nkey = "it"\nname = "IT"\nmanager = "nobody@example.com"\n'),
    # and more
    Case("config file missing", ["--config", "{root}/nope.toml", "config", "check"],
         ("nope.toml does not exist", "MAILFLOW_CONFIG"), config=None),
    Case("config not TOML", ["config", "check"], ("not valid TOML", "line 1"),
         config="[mailbox\n"),
    Case("config not UTF-8", ["config", "check"], ("not UTF-8", "save it as UTF-8"),
         config=None, setup=_file("config.toml", "[service]\nlanguage = '中'\n".encode("gbk"))),
    Case("unknown key", ["config", "check"], ("smtp.hots", "line 2", "Extra inputs"),
         config='[smtp]\nhots = "x"\n'),
    Case("bad choice", ["config", "check"], ("smtp.security = 'ssl'", "'starttls'"),
         config='[smtp]\nsecurity = "ssl"\n'),
    Case("unknown time zone", ["config", "check"], ("Mars/Olympus", "Asia/Shanghai"),
         config='[service]\ntimezone = "Mars/Olympus"\n'),
    Case("bad log level from the environment", ["config", "check"],
         ("MAILFLOW_SERVICE_LOG_LEVEL = 'loud'",), env={"MAILFLOW_SERVICE_LOG_LEVEL": "loud"}),
    Case("imap without host", ["config", "check"], ("host is required",),
         config='[mailbox]\nsource = "imap"\n'),
    Case("templates directory missing", ["config", "check"],
         ("[service] templates_dir", "/nonexistent/templates", "does not exist"),
         config='[service]\ntemplates_dir = "/nonexistent/templates"\n'),
    Case("export with a wrong suffix", ["requests", "export", "{root}/x.txt"],
         (".csv or .xlsx",)),
    Case("export onto a directory", ["requests", "export", "{root}/out.xlsx"],
         ("out.xlsx is a directory",), setup=_dir("out.xlsx")),
    Case("export of an unknown kind", ["requests", "export", "{root}/x.xlsx", "--kind", "lunch"],
         ("unknown kind 'lunch'", "system_change")),
    Case("export with a bad date", ["requests", "export", "{root}/x.xlsx", "--from", "Monday"],
         ("--from 'Monday' is not a date", "2026-11-01")),
    Case("export --demo without demo data", ["requests", "export", "{root}/x.xlsx", "--demo"],
         ("no demo data", "mailflow demo")),
    Case("unknown command", ["frobnicate"], ("No such command 'frobnicate'", "--help"),
         status=2),
    Case("missing argument", ["requests", "export"], ("Missing argument", "--help")),
    Case("bad option value", ["outbox", "retry", "abc"], ("'ids'", "integer")),
    Case("retry without ids", ["outbox", "retry"], ("give outbox ids or --failed",)),
    Case("retry of an unknown id", ["outbox", "retry", "4711"],
         ("outbox id 4711 does not exist", "outbox list")),
    Case("unknown outbox status", ["outbox", "list", "--status", "lost"],
         ("'lost' is not an outbox status", "pending, sent, failed")),
    Case("quarantine show of an unknown id", ["quarantine", "show", "99"],
         ("mail 99 is not quarantined", "quarantine list")),
    Case("quarantine release of an unknown id", ["quarantine", "release", "99"],
         ("mail 99 does not exist",)),
    Case("data directory under a file", ["db", "upgrade"], ("plain", "Not a directory"),
         config='[storage]\ndata_dir = "{root}/plain/data"\n', setup=_file("plain")),
    Case("bad --now", ["run", "--once", "--now", "tomorrow"], ("tomorrow",)),
]


def run_cli(root: Path, args: list[str], env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MAILFLOW_")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "mailflow", *args], cwd=root,
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**environ, "PYTHONPATH": str(REPO)})


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_invocation_gives_one_line_and_non_zero_exit(case: Case, tmp_path: Path) -> None:
    if case.config is not None:
        (tmp_path / "config.toml").write_text(case.config.replace("{root}", str(tmp_path)),
                                              encoding="utf-8")
    if case.setup is not None:
        case.setup(tmp_path)
    args = [a.replace("{root}", str(tmp_path)) for a in case.args]
    result = run_cli(tmp_path, args, case.env)
    assert result.returncode != 0, result
    if case.status is not None:
        assert result.returncode == case.status, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert lines[0].startswith("error: ")
    for words in case.expect:
        assert words.replace("{root}", str(tmp_path)) in lines[0], lines[0]
    assert "b'" not in lines[0]


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    result = run_cli(tmp_path, ["--debug", "--config", str(tmp_path), "config", "check"])
    assert result.returncode == 2
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: config file")


def test_long_error_is_not_wrapped_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-directory-name-" * 4)
    result = run_cli(tmp_path, ["requests", "export", str(deep / "x.xlsx")],
                     {"COLUMNS": "40"})
    (line,) = result.stderr.splitlines()
    assert len(line) > 120 and str(deep) in line


def test_unknown_environment_variable_and_port_mismatch_are_warned(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[smtp]\nhost = "smtp.example.com"\nport = 587\nsecurity = "tls"\n', encoding="utf-8")
    result = run_cli(tmp_path, ["config", "check"], {"MAILFLOW_SMTP_PASWORD": "x"})
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2, warnings
    assert "MAILFLOW_SMTP_PASWORD" in warnings[0] and "MAILFLOW_SMTP_PASSWORD" in warnings[0]
    assert 'port = 587 with security = "tls"' in warnings[1]


def test_version_is_printed(tmp_path: Path) -> None:
    from mailflow import installed_version

    result = run_cli(tmp_path, ["--version"])
    assert result.returncode == 0
    assert result.stdout.strip() == f"mailflow {installed_version()}"


def test_unreachable_database_at_start_is_retried_one_line_each_time(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(GOOD, encoding="utf-8")
    result = run_cli(tmp_path, ["run", "--once"], {
        "MAILFLOW_STORAGE_DATABASE_URL":
            "postgresql://mailflow@127.0.0.1:9/mailflow?connect_timeout=2"})
    assert result.returncode == 69
    lines = result.stderr.splitlines()
    retries = [line for line in lines if "database unreachable at start; retrying" in line]
    assert len(retries) == 2  # --once: three attempts, the last one is the error
    assert lines[-1].startswith("error: database unreachable")
    assert "Traceback" not in result.stderr
    assert len(lines) == 4  # the start line, two retries, the error


def test_status_with_the_database_down_is_unhealthy_for_monitoring(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(GOOD, encoding="utf-8")
    result = run_cli(tmp_path, ["status"], {
        "MAILFLOW_STORAGE_DATABASE_URL":
            "postgresql://mailflow@127.0.0.1:9/mailflow?connect_timeout=2"})
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].endswith("UNHEALTHY")
    assert "database: FAILED - database unreachable" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
