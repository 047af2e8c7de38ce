"""Issue 20, finding 4: what mailflow writes is private to its user.

The commands run as a subprocess under a permissive umask (022, as a login shell has): the
database, archive, outbox mails and exports must still come out 0600 in 0700 directories,
and a data directory made 0755 beforehand is tightened.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from mailflow.config import Settings
from mailflow_testing import mailbuild
from mailflow_testing.config_file import write_config
from tests.test_intake_batches import form_mails


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def mailflow(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailflow", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, umask=0o022,
                          check=False)


def test_database_archive_outbox_and_exports_are_private_under_a_loose_umask(
    tmp_path: Path,
) -> None:
    maildir = tmp_path / "maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    for i, raw in enumerate([*form_mails(2), mailbuild.to_crlf(mailbuild.human_mail(
            sender="a@example.test", to="service@example.test", subject="你好", body="x"))]):
        (maildir / "new" / f"{i}.eml").write_bytes(raw)
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # as a looser tool or an earlier version left it
    config = write_config(Settings.model_validate({
        "mailbox": {"source": "maildir", "maildir_path": str(maildir)},
        "storage": {"data_dir": str(data)},
    }), tmp_path / "config.toml")

    ran = mailflow(config, "run", "--once")
    assert ran.returncode == 0, ran.stderr
    exported = mailflow(config, "requests", "export", str(tmp_path / "list.csv"))
    assert exported.returncode == 0, exported.stderr
    xlsx = mailflow(config, "requests", "export", str(tmp_path / "list.xlsx"))
    assert xlsx.returncode == 0, xlsx.stderr

    written = [p for p in data.rglob("*")]
    files = [p for p in written if p.is_file()]
    directories = [data, *(p for p in written if p.is_dir())]
    assert any(p.suffix == ".eml" for p in files) and (data / "mailflow.db") in files
    assert any("archive" in p.parts for p in files)
    assert {str(p.relative_to(tmp_path)): mode(p) for p in files if mode(p) != 0o600} == {}
    assert {str(p.relative_to(tmp_path)): mode(p) for p in directories
            if mode(p) != 0o700} == {}
    assert mode(tmp_path / "list.csv") == 0o600
    assert mode(tmp_path / "list.xlsx") == 0o600


def test_the_systemd_unit_sets_a_private_umask() -> None:
    unit = (Path(__file__).parent.parent / "docs" / "deployment.md").read_text()
    assert "UMask=0077" in unit.split("[Service]")[1].split("```")[0]
