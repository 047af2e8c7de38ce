"""One process of the due-work race: ``python -m tests.due_race URL WORKER NOW``.

Runs every due row of kind "race" once, each handler recording an audit event naming the row
and this worker; the test starts two of these at once and counts the events.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime

from sqlalchemy.orm import Session

from mailflow.store.db import make_engine
from mailflow.store.models import AuditEvent, DueWork, db_time
from mailflow.store.rows import insert_row


def main() -> None:
    url, worker, now_text = sys.argv[1:4]
    now = datetime.fromisoformat(now_text)

    def handler(session: Session, row: DueWork, at: datetime) -> None:
        insert_row(session, AuditEvent(at=db_time(at), actor=worker, action="due_race",
                                       detail={"due_id": row.id}))
        time.sleep(0.002)  # a handler does some work: lets the other process overlap

    from mailflow.workflow.due import DueRunner

    engine = make_engine(url)
    done = DueRunner({"race": handler}, worker).run_due(engine, now, limit=7)
    engine.dispose()
    print(f"done={done}")


if __name__ == "__main__":
    main()
