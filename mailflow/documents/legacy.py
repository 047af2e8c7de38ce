""".doc/.xls → .docx/.xlsx with LibreOffice, for the guard in ``safety.py``.

Why LibreOffice: no maintained Python library reads Word 97 or BIFF forms reliably, and
LibreOffice (Debian ``libreoffice-writer-nogui``/``-calc-nogui``) reads all of them, Word 6
included. Why this shape: each conversion runs in a private temporary directory with its own
profile (no shared state, so conversions may run side by side), in its own process group
that is killed on timeout, with macros switched off in that profile. The result is just bytes:
``check_office_file`` puts them through the whole guard again.

Why a box (issue 20): a .doc is the attacker's file, and LibreOffice follows what it links to
(``INCLUDEPICTURE "http://…"`` makes it fetch that URL while converting: a request forgery from
inside the company network, and a stall when the URL never answers). So soffice runs in a
network namespace of its own with nothing but loopback (``unshare -rn``: an unprivileged user
namespace, no root needed), under a memory (RLIMIT_AS) and CPU limit (``prlimit``). Where the
host does not permit the namespace, legacy files are refused with a clear log line instead of
being converted with network access.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from mailflow.documents.safety import FileRefused, Refusal

__all__ = ["LegacyConverter", "network_sandbox"]

log = structlog.get_logger(__name__)

_TARGETS = {
    "doc": ("docx", "docx:MS Word 2007 XML"),
    "xls": ("xlsx", "xlsx:Calc MS Excel 2007 XML"),
}

# Seeded into the private profile before LibreOffice first starts: never run or even load
# document macros (VBA or Basic), whatever the document asks for.
_PROFILE_SETTINGS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop
 oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop
 oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Filter/Import/VBA"><prop
 oor:name="Load" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Writer/Filter/Import/VBA"><prop
 oor:name="Executable" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Filter/Import/VBA"><prop
 oor:name="Load" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Filter/Import/VBA"><prop
 oor:name="Executable" oor:op="fuse"><value>false</value></prop></item>
</oor:items>
"""
_POLL_S = 0.05


@dataclass(frozen=True)
class LegacyConverter:
    """Runs ``soffice --headless --convert-to`` for one file at a time, boxed."""

    soffice: str
    timeout_s: float = 20.0
    max_output_bytes: int = 64 * 1024 * 1024  # refuse a runaway result before reading it
    #: address space soffice may map (RLIMIT_AS); 0: no limit
    memory_bytes: int = 2 * 1024 * 1024 * 1024
    #: run without network (an unshare'd namespace); False only where the admin said so
    isolate_network: bool = True
    #: the ``unshare`` program (util-linux)
    unshare: str = "unshare"

    @classmethod
    def find(cls) -> LegacyConverter | None:
        """The converter for the installed LibreOffice, or None when it is not installed."""
        path = shutil.which("soffice") or shutil.which("libreoffice")
        return cls(path) if path else None

    def convert(self, data: bytes, source: Literal["doc", "xls"]) -> bytes:
        """Return .docx (from .doc) or .xlsx (from .xls) bytes; raise FileRefused on failure."""
        target, export_filter = _TARGETS[source]
        with tempfile.TemporaryDirectory(prefix="mailflow-soffice-") as tmp:
            work = Path(tmp)
            (work / "profile" / "user").mkdir(parents=True)
            (work / "profile" / "user" / "registrymodifications.xcu").write_text(
                _PROFILE_SETTINGS, encoding="utf-8"
            )
            (work / "out").mkdir()
            document = work / f"input.{source}"
            document.write_bytes(data)
            command = [
                self.soffice,
                f"-env:UserInstallation={(work / 'profile').as_uri()}",
                "--headless",
                "--invisible",
                "--nologo",
                "--nodefault",
                "--norestore",
                "--nolockcheck",
                "--convert-to",
                export_filter,
                "--outdir",
                str(work / "out"),
                str(document),
            ]
            returncode, log = self._run(self._boxed(command), work)
            result = work / "out" / f"input.{target}"
            if not result.is_file():
                raise FileRefused(
                    Refusal.LEGACY_FORMAT,
                    f"LibreOffice could not convert the .{source} file "
                    f"(exit {returncode}): {log[-300:].strip() or 'no output'}",
                )
            size = result.stat().st_size
            if size > self.max_output_bytes:
                raise FileRefused(
                    Refusal.TOO_LARGE,
                    f"converted .{target} is {size} bytes, limit {self.max_output_bytes}",
                )
            return result.read_bytes()

    def _boxed(self, command: list[str]) -> list[str]:
        """*command* inside the box: limits first (they are inherited), then no network.

        Outermost, coreutils ``timeout`` kills the whole group a little after our own
        deadline: conversions run in background threads (conversions.py), and when the
        service dies (kill -9) nobody is left to stop a LibreOffice stalled on a hostile
        document; it must not live on past its timeout."""
        prefix: list[str] = []
        killer = shutil.which("timeout")
        if killer:
            prefix = [killer, "--signal=KILL", f"{math.ceil(self.timeout_s) + 5}s"]
        prlimit = shutil.which("prlimit")
        if prlimit:
            prefix += [prlimit, f"--cpu={math.ceil(self.timeout_s) + 1}"]
            if self.memory_bytes > 0:
                prefix.append(f"--as={self.memory_bytes}")
            prefix.append("--")
        else:
            log.warning("prlimit not found; LibreOffice runs without memory and CPU limits")
        if self.isolate_network:
            sandbox = network_sandbox(self.unshare)
            if sandbox is None:
                log.error("legacy .doc/.xls refused: LibreOffice must run without network, "
                          "and this host does not permit a network namespace "
                          "(unshare -rn); see docs/deployment.md", unshare=self.unshare)
                raise FileRefused(
                    Refusal.LEGACY_FORMAT,
                    "no network sandbox for LibreOffice on this host (unshare -rn refused)",
                )
            prefix += sandbox
        return prefix + command

    def _run(self, command: list[str], work: Path) -> tuple[int, str]:
        """Run soffice in its own session; kill the whole group on timeout or leftovers."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),
            "TMPDIR": str(work),
            "LANG": "C.UTF-8",
            "SAL_USE_VCLPLUGIN": "svp",
        }
        log_path = work / "soffice.log"
        with log_path.open("wb") as log:
            try:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=work,
                    env=env,
                    start_new_session=True,
                )
            except OSError as exc:
                raise FileRefused(
                    Refusal.LEGACY_FORMAT, f"LibreOffice could not be started ({exc})"
                ) from exc
            try:
                timed_out = not _wait_unreaped(process.pid, self.timeout_s)
            finally:
                # The leader is not reaped yet, so its process-group id cannot have been
                # reused: killing the group only reaches soffice and what it started.
                _kill_group(process.pid)
                returncode = process.wait()
        if timed_out:
            raise FileRefused(
                Refusal.LEGACY_FORMAT,
                f"LibreOffice did not finish within {self.timeout_s:g} s and was stopped",
            )
        return returncode, log_path.read_text(encoding="utf-8", errors="replace")


@functools.cache
def network_sandbox(unshare: str = "unshare") -> list[str] | None:
    """The command prefix that runs a program with no network, or None where the host does
    not permit it (no user namespaces, a seccomp filter, unshare missing). Tried once."""
    path = shutil.which(unshare)
    if path is None:
        return None
    prefix = [path, "--map-root-user", "--net", "--"]
    try:
        probe = subprocess.run([*prefix, "true"], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return prefix if probe.returncode == 0 else None


def _wait_unreaped(pid: int, timeout_s: float) -> bool:
    """Wait until ``pid`` exits, leaving it a zombie (WNOWAIT); False on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:  # someone else reaped it: it has exited
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(pgid, signal.SIGKILL)
