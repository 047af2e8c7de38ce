"""Run one intake pass in a child process and die hard (SIGKILL) after N commits.

Used by the crash tests: ``python -m tests.crashrun SETTINGS_JSON N``. N < 0 never crashes.
"""

from __future__ import annotations

import os
import signal
import sys

from mailflow.clock import SystemClock
from mailflow.config import Settings
from mailflow.service import Service


def main() -> None:
    settings = Settings.model_validate_json(sys.argv[1])
    limit = int(sys.argv[2])
    seen = 0

    def after_commit(_uid: str) -> None:
        nonlocal seen
        seen += 1
        if seen == limit:
            os.kill(os.getpid(), signal.SIGKILL)  # after archive + commit, before the move

    service = Service(settings, SystemClock(), after_commit=after_commit)
    report = service.run_once()
    service.close()
    print(f"taken_in={report.intake.taken_in} sent={report.delivery.sent}")


if __name__ == "__main__":
    main()
