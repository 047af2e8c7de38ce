"""The package and the documented deployment, run for real (issue 18).

* The wheel, built from a scratch copy of the tree with templates/, forms/ and demo/ moved
  into the package (the layout the integrator commits), installed into a fresh venv, runs
  ``mailflow demo`` and ``mailflow run --once`` from an empty directory.
* docs/deployment.md's shell blocks, run as written in a temporary root: paths moved under
  it, the user account and systemctl left out (a test cannot create users or talk to
  systemd), the wheel installed from the build above instead of a wheelhouse. The service
  then runs the way its systemd unit says (same command, directory, environment file,
  NOTIFY_SOCKET as a real datagram socket, WATCHDOG_USEC), answers a mail through Dovecot
  and SMTP, stops on SIGTERM; then backup, restore and upgrade as documented.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailflow_testing import mailbuild
from tests.stack import SERVICE, SERVICE_PW

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "deployment.md"
#: what the integrator moves into the package (git mv); done here in a scratch copy
MOVES = (("templates", "mailflow/templates"), ("forms", "mailflow/forms"),
         ("demo", "mailflow/demo_mails"))
PY = f"python{sys.version_info.major}.{sys.version_info.minor}"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would find the checkout instead of the wheel."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAILFLOW_", "PYTHON", "VIRTUAL_ENV", "NOTIFY_SOCKET"))}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, src / name)
    for old, new in MOVES:
        if (src / old).is_dir() and not (src / new).exists():
            (src / old).rename(src / new)
    out = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(out), str(src)],
                   check=True, capture_output=True, timeout=300, env=clean_env())
    (built,) = out.glob("mailflow-*.whl")
    return built


def install(venv: Path, wheel: Path) -> None:
    """The wheel alone into *venv*; its dependencies from this test run's environment (a
    .pth line), so nothing is downloaded."""
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "-q", "--no-deps", "--no-index", "--force-reinstall",
                    str(wheel)], check=True, capture_output=True, timeout=300,
                   env=clean_env())
    provide_dependencies(venv)


def provide_dependencies(venv: Path) -> None:
    site = venv / "lib" / PY / "site-packages"
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


def test_wheel_in_a_fresh_venv_runs_demo_and_run_once_from_an_empty_directory(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    install(venv, wheel)
    empty = tmp_path / "empty"
    empty.mkdir()
    where = subprocess.run([venv / "bin" / "python", "-c",
                            "import mailflow.paths as p; print(p.bundled_dir('templates'))"],
                           cwd=empty, capture_output=True, text=True, check=True,
                           env=clean_env()).stdout.strip()
    assert where.startswith(str(venv)), where  # the wheel's own templates, not the checkout's
    demo = subprocess.run([venv / "bin" / "mailflow", "demo"], cwd=empty, capture_output=True,
                          text=True, timeout=300, env=clean_env(COLUMNS="160"))
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert re.search(r"taken in \d+ mails", demo.stdout)
    assert "读取的字段" in demo.stdout
    once = subprocess.run([venv / "bin" / "mailflow", "run", "--once"], cwd=empty,
                          capture_output=True, text=True, timeout=300, env=clean_env())
    assert once.returncode == 0, once.stderr[-3000:]
    assert "taken in 0" in once.stdout
    version = subprocess.run([venv / "bin" / "mailflow", "--version"], capture_output=True,
                             text=True, check=True, env=clean_env()).stdout
    assert re.fullmatch(r"mailflow \d+\.\d+\.\d+.*\n", version)


# -- the deployment, as docs/deployment.md says ---------------------------------------------

@dataclass(frozen=True)
class Root:
    """The temporary root the documented paths are moved under."""

    path: Path
    wheel: Path

    def __truediv__(self, absolute: str) -> Path:
        return self.path / absolute.lstrip("/")

    def script(self, block: str) -> str:
        """A block of the document made runnable here; nothing may point outside the root."""
        out = []
        for line in block.splitlines():
            stripped = line.strip()
            if stripped.startswith(("useradd ", "systemctl ", "chown ")):
                out.append(f": skipped in the test: {stripped}")
                continue
            if stripped.startswith("/opt/mailflow/bin/pip install"):
                line = (f"{shlex.quote(sys.executable)} -m pip --python /opt/mailflow/bin/python"
                        f" install -q --no-deps --no-index --force-reinstall "
                        f"{shlex.quote(str(self.wheel))}")
            line = line.replace("runuser -u mailflow -- ", "")
            line = re.sub(r" -o \S+ -g \S+", "", line)
            line = line.replace("python3 -m venv", f"{shlex.quote(sys.executable)} -m venv "
                                                   "--without-pip")
            line = line.replace("day=2026-11-23", "day=$(date +%F)")
            out.append(line)
        text = "\n".join(out) + "\n"
        for absolute in ("/opt/mailflow", "/etc/mailflow", "/etc/systemd/system",
                         "/var/lib/mailflow", "/var/backups/mailflow"):
            text = re.sub(rf"(?<![\w.-]){re.escape(absolute)}", str(self / absolute), text)
        outside = re.findall(r"(?<![\w.-])/(?:etc|var|opt|srv|usr/lib|home|root)\b\S*", text)
        assert not outside, f"the test would touch the real system: {outside}"
        return text

    def run(self, block: str, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", self.script(block)],
                                cwd=self.path, capture_output=True, text=True, timeout=300,
                                env=env or clean_env())
        assert result.returncode == 0, f"{self.script(block)}\n{result.stderr[-3000:]}"
        return result


def blocks() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    found = dict(re.findall(r"<!-- test: (\w+) -->\n```sh\n(.*?)```", text, re.DOTALL))
    assert set(found) == {"install", "config", "systemd", "backup", "restore", "upgrade"}
    return found


def unit_of(root: Root) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None,
                                     comment_prefixes=("#",))
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(root / "/etc/systemd/system/mailflow.service")
    return unit


def environment_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


@pytest.fixture
def notify() -> Iterator[tuple[str, socket.socket]]:
    path = f"/tmp/mailflow-notify-{os.getpid()}"  # a socket path must be short
    Path(path).unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(60)
    try:
        yield path, sock
    finally:
        sock.close()
        Path(path).unlink(missing_ok=True)


def wait_for_message(sock: socket.socket, wanted: str) -> list[str]:
    seen: list[str] = []
    while not any(wanted in m for m in seen):
        seen.append(sock.recv(4096).decode())
    return seen


def test_documented_deployment_runs_as_written(
    wheel: Path, tmp_path: Path, mailstack: Any, notify: tuple[str, socket.socket]
) -> None:
    root = Root(tmp_path / "root", wheel)
    (root / "/etc/systemd/system").mkdir(parents=True)
    (root / "/srv").mkdir(parents=True)
    doc = blocks()

    # install: the venv, the data directory, the configuration files and their modes
    root.run(doc["install"])
    provide_dependencies(root / "/opt/mailflow")
    assert (root / "/opt/mailflow/bin/mailflow").is_file()
    assert oct((root / "/etc/mailflow").stat().st_mode & 0o777) == "0o750"
    assert oct((root / "/var/lib/mailflow").stat().st_mode & 0o777) == "0o750"
    root.run(doc["config"])
    secrets = root / "/etc/mailflow/secrets.env"
    assert oct(secrets.stat().st_mode & 0o777) == "0o600"  # readable by the service only
    assert oct((root / "/etc/mailflow/config.toml").stat().st_mode & 0o777) == "0o640"
    data = root / "/var/lib/mailflow"
    assert (data / "mailflow.db").is_file()  # db upgrade: the data directory, not /etc
    assert not list((root / "/etc/mailflow").glob("**/*.db"))

    # the unit, as systemd would run it
    root.run(doc["systemd"])
    service = unit_of(root)["Service"]
    assert service["Type"] == "notify"
    assert service["WorkingDirectory"] == str(data)
    assert service["ReadWritePaths"] == str(data)
    assert "78" in service["RestartPreventExitStatus"].split()
    command = shlex.split(service["ExecStart"])
    assert command[0] == str(root / "/opt/mailflow/bin/mailflow")
    # the administrator fills in the real servers and passwords
    dovecot, smtp = mailstack.dovecot, mailstack.smtp
    secrets.write_text(f"MAILFLOW_MAILBOX_PASSWORD={SERVICE_PW}\nMAILFLOW_SMTP_PASSWORD=\n")
    config = root / "/etc/mailflow/config.toml"
    text = config.read_text()
    for old, new in (('host = "imap.example.com"', f'host = "{dovecot.host}"'),
                     ("port = 993", f"port = {dovecot.imap_port}"),
                     ('security = "tls"', 'security = "none"'),
                     ('username = "it-flow@example.com"\n\n[smtp]',
                      f'username = "{SERVICE}"\n\n[smtp]'),
                     ('host = "smtp.example.com"', f'host = "{smtp.host}"'),
                     ("port = 587", f"port = {smtp.port}"),
                     ('security = "starttls"', 'security = "none"'),
                     ('username = "it-flow@example.com"\nfrom', 'username = ""\nfrom'),
                     ('from_address = "it-flow@example.com"', f'from_address = "{SERVICE}"')):
        assert old in text, old
        text = text.replace(old, new)
    config.write_text(text)
    env = clean_env(**environment_file(secrets))
    key, value = service["Environment"].split("=", 1)
    env[key] = value
    watchdog = int(service["WatchdogSec"])
    env.update(NOTIFY_SOCKET=notify[0], WATCHDOG_USEC=str(watchdog * 1_000_000))

    log = tmp_path / "journal"  # the service's stderr, as journald would keep it
    with log.open("w") as journal:
        process = subprocess.Popen(command, cwd=service["WorkingDirectory"], env=env,
                                   stdout=journal, stderr=journal, text=True)
    try:
        assert any(m.startswith("READY=1") for m in wait_for_message(notify[1], "READY=1"))
        dovecot.add_user("deployed@example.test", "pw")
        dovecot.append(SERVICE, mailbuild.human_mail(
            sender="deployed@example.test", to=SERVICE, subject="申请导出数据", body="您好"))
        (reply,) = smtp.wait_for(1, timeout=60)
        assert reply.rcpt_tos == ("deployed@example.test",)
        status = subprocess.run([str(root / "/opt/mailflow/bin/mailflow"), "status"],
                                cwd=data, env={**env, "NOTIFY_SOCKET": ""},
                                capture_output=True, text=True, timeout=120)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "healthy" in status.stdout and "lease" in status.stdout
        process.send_signal(signal.Signals[service["KillSignal"]])
        process.wait(timeout=int(service["TimeoutStopSec"]))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    err = log.read_text()
    assert process.returncode == 0, err[-3000:]
    assert "STOPPING=1" in wait_for_message(notify[1], "STOPPING=1")[-1]
    # log_format = "json": every line of the stream is one JSON object (Alembic's too)
    records = [json.loads(line) for line in err.splitlines()]
    starting = next(r for r in records if r["event"] == "mailflow starting")
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", starting["version"])
    taken = next(r for r in records if r["event"] == "mail taken in")
    assert re.fullmatch(r"REQ-\d{4}-\d{6}", taken["reference"])
    sent = next(r for r in records if r["event"] == "mail sent")
    assert sent["recipients"] == ["deployed@example.test"]
    assert sent["reference"] == taken["reference"]
    assert not any("Context impl" in r["event"] for r in records)

    # backup, lose everything, restore
    root.run(doc["backup"])
    backups = root / "/var/backups/mailflow"
    assert len(list(backups.glob("mailflow-*.db"))) == 1
    blobs = sorted(p.name for p in (data / "archive").rglob("*") if p.is_file())
    assert blobs
    (data / "mailflow.db").unlink()
    shutil.rmtree(data / "archive")
    root.run(doc["restore"])
    restored = sqlite3.connect(data / "mailflow.db")
    try:
        assert restored.execute("select reference from request").fetchall() == [
            (taken["reference"],)]
    finally:
        restored.close()
    assert sorted(p.name for p in (data / "archive").rglob("*") if p.is_file()) == blobs

    # upgrade: the wheel again, migrations, version
    upgraded = root.run(doc["upgrade"])
    assert "database at revision" in upgraded.stdout
    assert re.search(r"^mailflow \d+\.\d+\.\d+", upgraded.stdout, re.MULTILINE)
