"""The CLI's progress bar for long work (``mailflow run --once`` over a backlog).

Why its own module: the service only reports (phase, done, total) through a callback; how
that is shown is the CLI's business. Rich draws the bar on stderr and prints the log lines
above it (logs.py writes to whatever ``sys.stderr`` is at the time).
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class ProgressDisplay:
    """``with ProgressDisplay(enabled=...) as d: service.run_once(d.update)``."""

    def __init__(self, *, enabled: bool, console: Console | None = None,
                 unit: str = "mails") -> None:
        self._enabled = enabled
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn(unit), TimeElapsedColumn(),
            console=console or Console(stderr=True), transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ProgressDisplay:
        if self._enabled:
            self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._enabled:
            self._progress.stop()

    def update(self, phase: str, done: int, total: int | None) -> None:
        """The service's progress callback: one bar per phase (taking in, sending)."""
        if not self._enabled:
            return
        task = self._tasks.get(phase)
        if task is None:
            task = self._tasks[phase] = self._progress.add_task(phase, total=total)
        self._progress.update(task, completed=done, total=total)
