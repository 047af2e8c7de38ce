"""Bounds for running code on hostile input: a hang limit, and a child process to contain it.

Why two tools: :func:`time_limit` is cheap (an alarm signal) and good for the hundreds of
examples a property test runs, but Python only handles a signal between bytecodes, so a
hang inside one C call (a regex, a Rust HTML sanitiser) is not interrupted.
:func:`run_isolated` forks a child with an address-space limit and kills it after the time
limit, so even a C-level hang or a memory explosion cannot take the test run down; it costs
a fork per call, so it is for the few inputs meant to be dangerous (bombs, known findings).
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import threading
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

__all__ = ["Hang", "Isolated", "run_isolated", "time_limit", "traced_peak"]

T = TypeVar("T")


class Hang(BaseException):
    """The code under test ran past its time limit (the input is a hang reproducer).

    A ``BaseException`` on purpose, like KeyboardInterrupt: the code under test catches
    ``Exception`` at its boundaries (``parse_mail`` never raises, ``read_form`` turns every
    error into UnreadableForm), and a hang must not be swallowed into a normal result.
    """


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise :class:`Hang` in the block after *seconds* (main thread only).

    Nests with pytest-timeout's own SIGALRM: an outer alarm due sooner is left alone, and
    the outer alarm is re-armed with its remaining time when the block ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outer_delay, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if outer_delay and outer_delay <= seconds:
        yield
        return
    outer_handler = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()

    def on_alarm(_signum: int, _frame: object) -> None:
        raise Hang(f"{what}: still running after {seconds:g} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer_handler)
        if outer_delay:
            left = max(outer_delay - (time.monotonic() - started), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


def traced_peak(call: Callable[[], T]) -> tuple[T, int]:
    """*call*'s result and the peak of Python allocations (tracemalloc) while it ran."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        result = call()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return result, peak


Outcome = Literal["returned", "raised", "timeout", "memory", "died"]


@dataclass(frozen=True)
class Isolated:
    """How a call in a child process ended.

    ``outcome``: "returned"; "raised" (``error`` names the exception type, ``detail`` its
    message and traceback); "timeout" (killed at the wall-time or CPU-time limit);
    "memory" (MemoryError under the address-space limit); "died" (killed by a signal: a
    crash in C code).
    ``seconds`` is wall time; ``rss_growth`` is the child's peak resident memory above what
    it had at the start, in bytes (C allocations included); ``value`` is the call's result
    when it could be pickled.
    """

    outcome: Outcome
    error: str = ""
    detail: str = ""
    seconds: float = 0.0
    rss_growth: int = 0
    value: object = None


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak_rss() -> None:
    """Start the peak-RSS count afresh: a forked child inherits its parent's high-water mark,
    which would hide (or fake) what the call itself used.  Linux >= 4.0."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        pass


def _peak_rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _vm_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def run_isolated(
    call: Callable[[], object],
    *,
    timeout: float,
    memory_mb: int = 1024,
    cpu_seconds: int | None = None,
) -> Isolated:
    """Run *call* in a forked child: at most *timeout* seconds of wall time (and
    *cpu_seconds* of CPU time, which a busy machine does not stretch), *memory_mb* MiB more
    address space than the parent has now.  Never raises for anything *call* does."""
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child: run, report, and leave without running any parent cleanup
        os.close(read_fd)
        code = 0
        try:
            limit = _vm_bytes() + memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU would dump core
            if cpu_seconds is not None:
                resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
            _reset_peak_rss()
            start_rss = _rss_bytes()
            report: dict[str, object]
            try:
                value = call()
                report = {"outcome": "returned", "value": _picklable(value)}
            except MemoryError:
                report = {"outcome": "memory", "error": "MemoryError"}
            except BaseException as exc:
                report = {
                    "outcome": "raised",
                    "error": type(exc).__name__,
                    "detail": "".join(traceback.format_exception(exc))[-4000:],
                }
            report["rss_growth"] = max(_peak_rss_bytes() - start_rss, 0)
            with os.fdopen(write_fd, "wb") as out:
                out.write(pickle.dumps(report))
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks: list[bytes] = []
    timed_out = False
    try:
        while True:
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    seconds = time.monotonic() - started
    if timed_out:
        return Isolated("timeout", seconds=seconds)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        if name == "SIGXCPU" or (cpu_seconds is not None and name == "SIGKILL"):
            return Isolated(
                "timeout", error=f"{name}: over {cpu_seconds} s of CPU", seconds=seconds
            )
        return Isolated("died", error=name, seconds=seconds)
    try:
        result: dict[str, Any] = pickle.loads(b"".join(chunks))  # noqa: S301 - our child wrote it
    except Exception:
        return Isolated("died", error=f"exit status {os.WEXITSTATUS(status)}", seconds=seconds)
    return Isolated(
        outcome=result["outcome"],
        error=str(result.get("error", "")),
        detail=str(result.get("detail", "")),
        seconds=seconds,
        rss_growth=int(result.get("rss_growth", 0)),
        value=result.get("value"),
    )


def _picklable(value: object) -> object:
    try:
        pickle.dumps(value)
    except Exception:
        return repr(value)[:2000]
    return value
