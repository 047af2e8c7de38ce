"""Every look at the archive leaves a trace (R-GEN-3): views, downloads and exports are
audit events naming the record, so they appear in its timeline and in the sealed chain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mailflow.store import audit
from mailflow.store.db import transaction

from .context import ArchiveContext


def note(ctx: ArchiveContext, action: str, *, actor: str, request_ids: Sequence[int],
         **detail: Any) -> None:
    """One event per record concerned (an export of a period touches many)."""
    now = ctx.clock.now()
    with transaction(ctx.factory) as session, audit.batched(session):
        for request_id in request_ids or [None]:  # type: ignore[list-item]
            audit.record(session, now, action, actor=actor, request_id=request_id, **detail)
