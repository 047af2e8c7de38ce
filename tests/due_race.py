"""One process of the due-work race: ``python -m tests.due_race URL WORKER NOW [crash]``.

Runs every due row of kind "race" once, each handler recording an audit event naming the row
and this worker; the test starts two of these at once and counts the events. With
``crash`` the first handler records its event and the process dies (SIGKILL) before the
commit; WORKER is then replaced by a real worker identity (host:pid:…).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import datetime

from sqlalchemy.orm import Session

from mailflow.store.db import make_engine
from mailflow.store.models import AuditEvent, DueWork, db_time
from mailflow.store.rows import insert_row


def main() -> None:
    url, worker, now_text = sys.argv[1:4]
    crash = sys.argv[4:5] == ["crash"]
    now = datetime.fromisoformat(now_text)
    if crash:
        from mailflow.store.lease import worker_identity

        worker = worker_identity()

    def handler(session: Session, row: DueWork, at: datetime) -> None:
        insert_row(session, AuditEvent(at=db_time(at), actor=worker, action="due_race",
                                       detail={"due_id": row.id}))
        if crash:
            session.flush()
            os.kill(os.getpid(), signal.SIGKILL)  # mid-transaction, after the claim
        time.sleep(0.002)  # a handler does some work: lets the other process overlap

    from mailflow.workflow.due import DueRunner

    engine = make_engine(url)
    done = DueRunner({"race": handler}, worker).run_due(engine, now, limit=7)
    engine.dispose()
    print(f"done={done}")


if __name__ == "__main__":
    main()
