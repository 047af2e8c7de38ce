"""The operator's commands: ``outbox list|retry``, ``quarantine list|show|release``,
``status`` and ``metrics``. Registered on the main app by cli.py (``register``); the work is
done in mailflow/operator/, this module only presents it.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.orm import Session, sessionmaker

from mailflow.cli_state import echo, settings, version
from mailflow.clock import SystemClock
from mailflow.errors import OperatorError

outbox_app = typer.Typer(no_args_is_help=True, help="Mail waiting to be sent, sent, failed.")
quarantine_app = typer.Typer(no_args_is_help=True,
                             help="Mail set aside because it could not be handled.")


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")
    app.add_typer(quarantine_app, name="quarantine")
    app.command("status")(status)
    app.command("metrics")(metrics)


def _actor() -> str:
    """Who did it, for the audit trail: the operator's login on this machine."""
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator"


@contextmanager
def _database() -> Iterator[sessionmaker[Session]]:
    from mailflow.store.db import make_engine, session_factory, upgrade

    engine = make_engine(settings().storage.resolved_database_url())
    try:
        upgrade(engine)
        yield session_factory(engine)
    finally:
        engine.dispose()


def _local(when: datetime | None) -> str:
    if when is None:
        return "-"
    return when.astimezone(ZoneInfo(settings().service.timezone)).strftime("%Y-%m-%d %H:%M")


def _short(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


@outbox_app.command("list")
def outbox_list(
    status: Annotated[str | None, typer.Option(
        "--status", help="Only rows with this status: pending, sent or failed.")] = None,
) -> None:
    """The outbox, oldest first: id, status, attempts, recipients, subject, last error."""
    from mailflow.operator.outbox_admin import list_outbox

    with _database() as factory:
        lines = list_outbox(factory, status)
    if not lines:
        echo("outbox: empty" if status is None else f"outbox: nothing {status}")
        return
    for line in lines:
        when = line.sent_at if line.status == "sent" else line.next_attempt_at
        echo(f"{line.id}\t{line.status}\t{line.attempts}\t{_local(when)}\t"
             f"{', '.join(line.recipients)}\t{_short(line.subject, 50)}"
             + (f"\t{_short(line.last_error, 80)}" if line.last_error else ""))


@outbox_app.command("retry")
def outbox_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Outbox ids (see outbox list).")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed row.")] = False,
) -> None:
    """Send failed (or deferred) mail again, now, after the cause was fixed (audited)."""
    from mailflow.operator.outbox_admin import retry

    if not ids and not failed:
        raise OperatorError("outbox retry: give outbox ids or --failed; see "
                            "`mailflow outbox list --status failed`")
    with _database() as factory:
        requeued = retry(factory, ids or [], failed=failed, now=SystemClock().now(),
                         actor=_actor())
    if not requeued:
        echo("nothing to retry")
        return
    echo(f"requeued {len(requeued)}: {', '.join(map(str, requeued))}; the running service "
         "sends them on its next pass (or run `mailflow run --once`)")


@quarantine_app.command("list")
def quarantine_list() -> None:
    """Quarantined mail: id, when, sender, subject, why."""
    from mailflow.operator.quarantine import list_quarantined
    from mailflow.store.archive import Archive

    archive = Archive(settings().storage.resolved_archive_dir())
    with _database() as factory:
        mails = list_quarantined(factory, archive)
    if not mails:
        echo("quarantine: empty")
        return
    for m in mails:
        echo(f"{m.id}\t{_local(m.received_at)}\t{m.from_addr or '-'}\t{_short(m.subject, 40)}"
             f"\t{_short(m.reason, 80)}")


@quarantine_app.command("show")
def quarantine_show(mail_id: Annotated[int, typer.Argument(help="Mail id (quarantine list).")]
                    ) -> None:
    """Why a mail was quarantined, and where its original is in the archive."""
    from mailflow.operator.quarantine import show
    from mailflow.store.archive import Archive

    archive = Archive(settings().storage.resolved_archive_dir())
    with _database() as factory:
        m = show(factory, archive, mail_id)
    sender = f"{m.from_name} <{m.from_addr}>" if m.from_name else (m.from_addr or "-")
    for label, value in (("mail", str(m.id)), ("status", m.status),
                         ("received", _local(m.received_at)), ("from", sender),
                         ("subject", m.subject), ("size", f"{m.size} bytes"),
                         ("reason", m.reason), ("original", str(m.archive_path)),
                         ("sha256", m.sha256)):
        echo(f"{label}: {' '.join(value.split())}")
    if m.status == "quarantined":
        echo(f"after fixing the cause: mailflow quarantine release {m.id}")


@quarantine_app.command("release")
def quarantine_release(
    mail_id: Annotated[int, typer.Argument(help="Mail id (quarantine list).")],
) -> None:
    """Take a quarantined mail in again from its archived original (audited): it is recorded
    and answered like a new mail; if it fails again it is quarantined again."""
    from mailflow.operator.quarantine import release
    from mailflow.service import Service

    service = Service(settings(), SystemClock())
    try:
        result = release(service, mail_id, actor=_actor(), now=service.clock.now())
        report = service.send_due()
    finally:
        service.close()
    refs = f" ({', '.join(result.references)})" if result.references else ""
    echo(f"mail {result.old_id} released: taken in again as mail {result.new_id}, "
         f"{result.status}{refs}; replies sent {report.sent}, waiting {report.deferred}")


def status() -> None:
    """Health and figures: queues, last intake and send, lease holder, problems in the last
    24 h, version. Exit status 1 when unhealthy (database, SMTP or mailbox unreachable)."""
    from mailflow.errors import explain
    from mailflow.operator.status import collect
    from mailflow.store.db import DB_UNAVAILABLE

    s = settings()
    try:
        with _database() as factory:
            st = collect(s, factory, SystemClock().now(), version())
    except DB_UNAVAILABLE as exc:  # for monitoring: unhealthy (1), like any other check
        echo(f"mailflow {version()}: UNHEALTHY")
        echo(f"  database: FAILED - {explain(exc)}")
        raise typer.Exit(1) from None
    echo(f"mailflow {st.version}: {'healthy' if st.healthy else 'UNHEALTHY'}")
    for check in st.checks:
        echo(f"  {check.name}: {'ok' if check.ok else 'FAILED'} - {check.detail}")
    echo(f"outbox: {st.outbox.get('pending', 0)} pending, {st.outbox.get('failed', 0)} "
         f"failed, {st.outbox.get('sent', 0)} sent")
    echo(f"quarantine: {st.quarantined}")
    echo(f"last intake: {_local(st.last_intake)}; last send: {_local(st.last_send)}")
    echo(f"mailbox lease: {st.lease_holder or 'nobody (no process is reading)'}")
    problems = ", ".join(f"{k.removeprefix('mail_')} {v}" for k, v in
                         sorted(st.problems_24h.items()))
    echo(f"problems in the last 24 h: {problems or 'none'}")
    if st.unanswerable:
        echo(f"archived without a usable sender (not answered): {len(st.unanswerable)}")
        for u in st.unanswerable:
            echo(f"  mail {u.id}\t{_local(u.received_at)}\t{u.from_text or '-'}\t"
                 f"{_short(u.subject, 50)}")
    if not st.healthy:
        raise typer.Exit(1)


def metrics(
    textfile: Annotated[Path | None, typer.Option(
        "--textfile", help="Write to this file (node_exporter's textfile collector) instead "
        "of printing.")] = None,
) -> None:
    """The figures of `status` in Prometheus' text format."""
    from mailflow.operator.metrics import StatusCollector, render, write_textfile

    s = settings()
    with _database() as factory:
        collector = StatusCollector(s, factory, SystemClock().now, version())
        if textfile is None:
            echo(render(collector).decode("utf-8").rstrip("\n"))
        else:
            write_textfile(collector, textfile)
            echo(f"metrics written to {textfile}")
