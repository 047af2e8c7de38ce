"""Run a fuzz target with atheris (libFuzzer) when it is installed, else with Hypothesis.

Command line, the same for both engines (libFuzzer's spelling; ``-runs 500`` works too)::

    python -m fuzz.mail_parser [-runs=N] [-max_total_time=S] [-timeout=S] [-seed=N]
                               [-rss_limit_mb=M] [-artifact_prefix=DIR/] [--engine=NAME]
                               [CORPUS_DIR ...]

atheris gets every flag and directory as given (its seeds are written to a temporary
corpus directory unless directories are named) and mutates with libFuzzer's mutator and,
half of the time, with ours (:mod:`fuzz.mutations`).  The Hypothesis fallback runs the same
target on *runs* examples drawn from the seeds through our mutators (and raw bytes),
enforces *timeout* per input (an alarm, plus a ``faulthandler`` exit for hangs inside C
code) and *rss_limit_mb* of resident-memory growth per input, and writes each failing input
to ``<artifact_prefix>crash-<sha1>`` (``timeout-``/``oom-`` likewise), as libFuzzer does.
Exit status: 0 when nothing was found, 1 otherwise.
"""

from __future__ import annotations

import faulthandler
import hashlib
import importlib.util
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fuzz.guard import Hang, time_limit
from fuzz.mutations import Mutator, mutate

Target = Callable[[bytes], object]


@dataclass
class Options:
    runs: int = 1000
    max_total_time: float = 0.0
    timeout: float = 20.0
    seed: int | None = None
    rss_limit_mb: int = 1024
    artifact_prefix: str = "./"
    engine: str = "auto"
    corpus_dirs: tuple[str, ...] = ()
    passthrough: tuple[str, ...] = ()


_VALUE_FLAGS = {
    "-runs",
    "-max_total_time",
    "-timeout",
    "-seed",
    "-rss_limit_mb",
    "-artifact_prefix",
}


def parse_args(argv: Sequence[str]) -> Options:
    """libFuzzer-style flags (``-name=value`` or ``-name value``) and corpus directories."""
    opts = Options()
    passthrough: list[str] = []
    dirs: list[str] = []
    items = list(argv)
    while items:
        arg = items.pop(0)
        if arg.startswith("--engine"):
            opts.engine = arg.partition("=")[2] or (items.pop(0) if items else "auto")
            continue
        name, eq, value = arg.partition("=")
        if name in _VALUE_FLAGS and not eq and items:
            value = items.pop(0)
            arg = f"{name}={value}"
        if name == "-runs":
            opts.runs = int(value)
        elif name == "-max_total_time":
            opts.max_total_time = float(value)
        elif name == "-timeout":
            opts.timeout = float(value)
        elif name == "-seed":
            opts.seed = int(value)
        elif name == "-rss_limit_mb":
            opts.rss_limit_mb = int(value)
        elif name == "-artifact_prefix":
            opts.artifact_prefix = value
        elif not arg.startswith("-"):
            dirs.append(arg)
            continue
        passthrough.append(arg)
    opts.corpus_dirs = tuple(dirs)
    opts.passthrough = tuple(passthrough)
    return opts


# Packages whose code atheris instruments for coverage feedback (imported inside
# ``instrument_imports``; instrumenting everything loaded takes minutes at start-up).
INSTRUMENTED = ("mailflow", "email", "nh3", "inscriptis", "charset_normalizer", "defusedxml",
                "openpyxl", "docx", "zipfile", "olefile", "msoffcrypto", "puremagic")  # fmt: skip


def main(
    load_target: Callable[[], Target],
    seeds: Callable[[], list[bytes]],
    mutators: Sequence[Mutator],
    argv: Sequence[str] | None = None,
) -> int:
    """Fuzz the target *load_target* returns (a function that raises only when it found
    something).  The target is loaded late so that atheris can instrument its imports."""
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    engine = opts.engine
    if engine == "auto":
        engine = "atheris" if importlib.util.find_spec("atheris") else "hypothesis"
    if engine == "atheris":
        return _run_atheris(load_target, seeds, mutators, opts)
    if engine != "hypothesis":
        raise SystemExit(f"unknown engine {engine!r} (atheris, hypothesis)")
    return _run_hypothesis(load_target(), seeds, mutators, opts)


# --- atheris -------------------------------------------------------------------------------


def _run_atheris(
    load_target: Callable[[], Target],
    seeds: Callable[[], list[bytes]],
    mutators: Sequence[Mutator],
    opts: Options,
) -> int:
    import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]

    with atheris.instrument_imports(include=list(INSTRUMENTED)):
        target = load_target()

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rnd = random.Random(seed)
        if rnd.random() < 0.5:
            out: bytes = atheris.Mutate(data, max_size)
        else:
            out = mutate(data, rnd, mutators)
        return out[:max_size]

    def one_input(data: bytes) -> None:
        target(data)

    corpus = list(opts.corpus_dirs)
    keep: tempfile.TemporaryDirectory[str] | None = None
    if not corpus:
        keep = tempfile.TemporaryDirectory(prefix="mailflow-fuzz-")
        for i, seed in enumerate(seeds()):
            (Path(keep.name) / f"seed-{i:05d}").write_bytes(seed)
        corpus = [keep.name]
    # libFuzzer refuses a missing artifact folder; the prefix may end in a name part
    Path(f"{opts.artifact_prefix}x").parent.mkdir(parents=True, exist_ok=True)
    args = [sys.argv[0], *opts.passthrough, *corpus]
    if not any(a.startswith("-max_len") for a in opts.passthrough):
        args.insert(1, "-max_len=1048576")
    if not any(a.startswith("-timeout") for a in opts.passthrough):
        args.insert(1, f"-timeout={int(opts.timeout)}")
    atheris.Setup(args, one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()  # exits the process when done or when it finds something
    return 0


# --- Hypothesis fallback -------------------------------------------------------------------


def _artifact(opts: Options, kind: str, data: bytes) -> Path:
    path = Path(f"{opts.artifact_prefix}{kind}-{hashlib.sha1(data).hexdigest()}")  # noqa: S324
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _peak_rss_reset() -> None:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        pass


def _rss(field: str) -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _run_files(target: Target, files: list[Path], opts: Options) -> int:
    status = 0
    for path in files:
        started = time.monotonic()
        try:
            with time_limit(opts.timeout, str(path)):
                target(path.read_bytes())
        except BaseException as exc:
            status = 1
            print(f"{path}: {type(exc).__name__}: {str(exc)[:500]}", file=sys.stderr)
            if not isinstance(exc, AssertionError | Hang):
                raise
        else:
            print(f"{path}: ok in {time.monotonic() - started:.2f} s", file=sys.stderr)
    return status


class MemoryBound(AssertionError):
    """One input made resident memory grow past ``-rss_limit_mb``."""


def _run_hypothesis(
    target: Target, seeds: Callable[[], list[bytes]], mutators: Sequence[Mutator], opts: Options
) -> int:
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis import strategies as st

    files = [Path(arg) for arg in opts.corpus_dirs if Path(arg).is_file()]
    if files:  # libFuzzer's convention: file arguments are inputs to run once (reproduce)
        return _run_files(target, files, opts)
    pool = seeds()
    for folder in (Path(arg) for arg in opts.corpus_dirs):
        pool += [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()]
    mutated = st.tuples(st.sampled_from(pool), st.randoms(use_true_random=False)).map(
        lambda pair: mutate(pair[0], pair[1], mutators)
    )
    inputs = st.one_of(mutated, mutated, mutated, st.binary(max_size=4096))
    started = time.monotonic()
    found: dict[str, bytes] = {}
    current = Path(f"{opts.artifact_prefix}current-input")
    current.parent.mkdir(parents=True, exist_ok=True)
    stats = {"runs": 0}

    def run_one(data: bytes) -> None:
        if opts.max_total_time and time.monotonic() - started > opts.max_total_time:
            return
        stats["runs"] += 1
        current.write_bytes(data)  # what to look at if a hang inside C code ends the process
        faulthandler.dump_traceback_later(opts.timeout * 3, exit=True)
        _peak_rss_reset()
        before = _rss("VmRSS:")
        try:
            with time_limit(opts.timeout, "target"):
                target(data)
            growth = _rss("VmHWM:") - before
            if growth > opts.rss_limit_mb * 1024 * 1024:
                raise MemoryBound(f"resident memory grew {growth // 2**20} MiB on one input")
        except BaseException as exc:
            kind = (
                "timeout"
                if isinstance(exc, Hang)
                else "oom"
                if isinstance(exc, MemoryBound)
                else "crash"
            )
            key = f"{kind}:{type(exc).__name__}:{str(exc)[:120]}"
            if key not in found or len(data) < len(found[key]):
                found[key] = data
            raise
        finally:
            faulthandler.cancel_dump_traceback_later()

    runner = settings(
        max_examples=opts.runs,
        deadline=None,
        database=None,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=True,
    )(given(inputs)(run_one))
    if opts.seed is not None:
        runner = seed(opts.seed)(runner)
    status = 0
    try:
        runner()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # Hypothesis re-raises the (shrunk) failure
        status = 1
        print(f"FOUND: {type(exc).__name__}: {str(exc)[:500]}", file=sys.stderr)
    finally:
        current.unlink(missing_ok=True)
    for key, data in found.items():
        path = _artifact(opts, key.split(":", 1)[0], data)
        print(f"{key} -> {path} ({len(data)} bytes)", file=sys.stderr)
    elapsed = time.monotonic() - started
    print(f"hypothesis engine: {stats['runs']} inputs in {elapsed:.1f} s", file=sys.stderr)
    return status
