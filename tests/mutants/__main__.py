"""``python -m tests.mutants [NAME...] [--baseline] [--keep]``: plant each bug of
tests/mutants/bugs.py in a scratch copy of the repository, run the tests meant to catch it,
report caught / SURVIVED / stale. On demand, not part of the suite (it runs the e2e tests
once per bug: a few minutes). Exit status 1 when a bug survived or a patch is stale.

The scratch copy is the committed and modified files of this worktree (``git ls-files``);
its mailflow, tests and mailflow_testing shadow the installed ones (PYTHONPATH), so the
planted bug is what the tests and the processes they start run. ``--baseline`` first runs all
the selected tests on the unmodified copy: they must pass, or the report means nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.mutants.bugs import BUGS, Bug

REPO = Path(__file__).resolve().parents[2]
#: a caught bug must fail a test within this many seconds of its start (not a hang)
PER_TEST_TIMEOUT = 120


def scratch_copy(target: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], cwd=REPO, capture_output=True,
                           check=True).stdout.split(b"\0")
    for name in filter(None, files):
        source = REPO / name.decode()
        if source.is_file():
            dest = target / name.decode()
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)


def plant(root: Path, bug: Bug) -> str | None:
    """Apply *bug*'s patches; the reason when one does not apply (stale)."""
    path = root / bug.path
    text = path.read_text(encoding="utf-8")
    for old, new in bug.patches:
        count = text.count(old)
        if count != 1:
            return f"{bug.path}: the text to patch occurs {count} times"
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return None


def run_tests(root: Path, args: tuple[str, ...]) -> tuple[int, float, str]:
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
         f"--timeout={PER_TEST_TIMEOUT}", *args],
        cwd=root, env=env, capture_output=True, text=True, check=False)
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
    return proc.returncode, time.monotonic() - started, tail


def main(argv: list[str]) -> int:
    keep = "--keep" in argv
    wanted = [a for a in argv if not a.startswith("--")]
    bugs = [b for b in BUGS if not wanted or b.name in wanted]
    bad = 0
    with tempfile.TemporaryDirectory(prefix="mailflow-mutants-") as tmp:
        base = Path(tmp) / "base"
        scratch_copy(base)
        shared = REPO.parent / "shared"  # the corpus beside the repository (tests/paths.py)
        if shared.is_dir():
            (Path(tmp) / "shared").symlink_to(shared)
        if "--baseline" in argv:
            args = sorted({a for b in bugs for a in b.tests if a.startswith("tests/")})
            code, took, tail = run_tests(base, tuple(args))
            print(f"baseline ({len(args)} files): {'ok' if code == 0 else 'FAILED'} "
                  f"in {took:.0f} s", flush=True)
            if code != 0:
                print(tail)
                return 1
        print(f"{'bug':<26} {'result':<9} {'time':>6}  tests", flush=True)
        for bug in bugs:
            root = Path(tmp) / bug.name
            shutil.copytree(base, root)
            stale = plant(root, bug)
            if stale is not None:
                print(f"{bug.name:<26} {'STALE':<9} {'':>6}  {stale}", flush=True)
                bad += 1
                continue
            code, took, tail = run_tests(root, bug.tests)
            # caught: a test failed on an assertion; an error in setup (a fixture, an import)
            # proves nothing, nor does an empty selection (exit code 5)
            summary = tail.splitlines()[-1] if tail else ""
            failed = code == 1 and " failed" in summary and " error" not in summary
            result = "caught" if failed else "SURVIVED" if code == 0 else f"error {code}"
            bad += result != "caught"
            print(f"{bug.name:<26} {result:<9} {took:>5.0f}s  {' '.join(bug.tests)}",
                  flush=True)
            if result != "caught":
                print("    " + tail.replace("\n", "\n    "), flush=True)
            if not keep:
                shutil.rmtree(root, ignore_errors=True)
    print(f"{len(bugs) - bad} of {len(bugs)} planted bugs caught", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
