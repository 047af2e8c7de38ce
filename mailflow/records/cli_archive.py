"""``mailflow archive …``: search, show, export, verify, seal, retention — the commands.

Kept out of cli.py (which only registers the group) so the archive's command-line words and
wiring live beside the archive.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mailflow.clock import SystemClock
from mailflow.config import Settings
from mailflow.progress import ProgressDisplay

from .context import ArchiveContext

archive_app = typer.Typer(no_args_is_help=True,
                          help="The archive: find, show, export and verify records.")
console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    from mailflow.cli_state import settings

    return settings()


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date like 2026-11-01",
                                 param_hint=option) from None


def _show_progress(flag: bool | None) -> bool:
    return flag if flag is not None else sys.stderr.isatty()


ProgressFlag = Annotated[bool | None, typer.Option(
    "--progress/--no-progress", help="Show a progress bar (default: when stderr is a terminal).")]


@archive_app.command("search")
def search_command(
    text: Annotated[str, typer.Argument(help="Words to find (Chinese substrings work).")] = "",
    reference: Annotated[str, typer.Option("--reference", "-r")] = "",
    kind: Annotated[str, typer.Option("--kind")] = "",
    status: Annotated[str, typer.Option("--status")] = "",
    requester: Annotated[str, typer.Option("--requester", help="Address or name.")] = "",
    department: Annotated[str, typer.Option("--department")] = "",
    system: Annotated[str, typer.Option("--system")] = "",
    classification: Annotated[str, typer.Option("--classification")] = "",
    first: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")
                       ] = False,
) -> None:
    """Find records; newest first."""
    from .search import Query, search

    query = Query(reference=reference, kind=kind, status=status, requester=requester,
                  department=department, system=system, classification=classification,
                  first=_day(first, "--from"), last=_day(last, "--to"), text=text,
                  limit=limit)
    ctx = ArchiveContext.open(_settings(), SystemClock())
    try:
        ctx.seal()
        with ctx.factory() as session:
            hits = search(session, query, ctx.zone)
    finally:
        ctx.close()
    if as_json:
        typer.echo(json.dumps([h.as_json() for h in hits], ensure_ascii=False, indent=1))
        return
    w = ctx.words
    table = Table(w.reference, w.created_at, w.kind, w.status, w.requester,
                  w.classification, w.subject)
    table.columns[0].no_wrap = True
    for h in hits:
        table.add_row(h.reference, h.created_at.astimezone(ctx.zone).strftime("%Y-%m-%d %H:%M"),
                      ctx.labels.kind(h.kind), w.statuses.get(h.status, h.status),
                      h.requester_name or h.requester_email, h.classification, h.title)
    console.print(table if hits else w.no_results)


@archive_app.command("show")
def show_command(
    reference: str,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print a record's whole timeline: every event, every mail in and out."""
    from .timeline import load_record

    ctx = ArchiveContext.open(_settings(), SystemClock())
    try:
        ctx.seal()
        with ctx.factory() as session:
            record = load_record(session, reference)
    finally:
        ctx.close()
    w = ctx.words
    if record is None:
        err.print(f"{w.not_found} {reference}")
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps({
            "reference": record.reference, "kind": record.kind, "status": record.status,
            "title": record.title, "requester": record.requester_email,
            "classification": record.classification, "fields": record.fields,
            "events": [{"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor,
                        "action": e.action, "mail_id": e.mail_id, "outbox_id": e.outbox_id,
                        "detail": e.detail, "hash": e.hash} for e in record.entries],
        }, ensure_ascii=False, indent=1, default=str))
        return
    local = ctx.zone
    console.print(f"[bold]{record.reference}[/bold]  {record.title}")
    console.print(f"{w.kind}: {ctx.labels.kind(record.kind)}  {w.status}: "
                  f"{w.statuses.get(record.status, record.status)}  "
                  f"{w.requester}: {record.requester_name} <{record.requester_email}>")
    if record.classification:
        console.print(f"{w.classification}: {record.classification}")
    table = Table(w.seq, w.at, w.action, w.actor, w.detail)
    for e in record.entries:
        about = ""
        if e.mail_id is not None:
            mail = record.mail("in", e.mail_id)
            about = f"{w.subject}: {mail.subject}" if mail else ""
        elif e.outbox_id is not None:
            mail = record.mail("out", e.outbox_id)
            about = f"→ {', '.join(mail.recipients)}: {mail.subject}" if mail else ""
        about = about or e.brief
        table.add_row("" if e.seq is None else str(e.seq),
                      e.at.astimezone(local).strftime("%Y-%m-%d %H:%M:%S"),
                      w.actions.get(e.action, e.action), e.actor, about)
    console.print(table)
    for mail in record.mails_in:
        for att in mail.attachments:
            console.print(f"{w.files}: {att.filename} ({att.size} B, sha256 {att.sha256})")


@archive_app.command("export")
def export_command(
    target: Annotated[Path, typer.Argument(help="The zip to write (REF given), or with "
                                           "--from/--to.")],
    second: Annotated[Path | None, typer.Argument(help="The zip, when the first is REF.")
                      ] = None,
    first: Annotated[str | None, typer.Option("--from", help="Export a period: first day.")
                     ] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    kind: Annotated[str, typer.Option("--kind")] = "",
    progress: ProgressFlag = None,
) -> None:
    """`archive export REF out.zip`, or `archive export --from D --to D out.zip`: the
    originals byte for byte, a manifest of their SHA-256, the audit extract with its chain
    hashes, and a summary as HTML and PDF."""
    from .export import Exporter
    from .search import Query, search
    from .timeline import load_record

    if second is not None:
        reference, out = str(target), second
    elif first or last:
        reference, out = "", target
    else:
        raise typer.BadParameter("give REF OUT.zip, or --from/--to and OUT.zip")
    s = _settings()
    ctx = ArchiveContext.open(s, SystemClock())
    try:
        ctx.seal()
        with ctx.factory() as session:
            if reference:
                record = load_record(session, reference)
                if record is None:
                    err.print(f"{ctx.words.not_found} {reference}")
                    raise typer.Exit(1)
                records = [record]
            else:
                hits = search(session, Query(first=_day(first, "--from"),
                                             last=_day(last, "--to"), kind=kind,
                                             limit=1_000_000), ctx.zone)
                records = [r for r in (load_record(session, h.reference)
                                       for h in reversed(hits)) if r is not None]
            exporter = Exporter(ctx.archive, ctx.words, s.service.templates_dir, ctx.zone,
                                s.service.language, ctx.clock.now(), ctx.labels)
            with ProgressDisplay(enabled=_show_progress(progress), unit="records") as shown:
                files = exporter.write(session, records, out,
                                       shown.update if _show_progress(progress) else None)
        from .access import note

        note(ctx, "record_exported", actor="cli", references=[r.reference for r in records],
             request_ids=[r.request_id for r in records], target=str(out))
    finally:
        ctx.close()
    console.print(f"{len(records)} records, {len(files)} files written to {out}")


@archive_app.command("verify")
def verify_command(progress: ProgressFlag = None) -> None:
    """Check every stored file against its hash and the whole audit chain; name every file
    or event missing or altered (exit 1)."""
    from .verify import verify

    ctx = ArchiveContext.open(_settings(), SystemClock())
    try:
        ctx.seal()
        with ctx.factory() as session, ProgressDisplay(
                enabled=_show_progress(progress), unit="") as shown:
            report = verify(session, ctx.archive,
                            shown.update if _show_progress(progress) else None)
    finally:
        ctx.close()
    console.print(f"files checked: {report.files_checked} (deleted by retention: "
                  f"{report.deleted_files}); sealed events checked: {report.events_checked}; "
                  f"not yet sealed: {report.unsealed}")
    for problem in report.problems:
        console.print(f"[red]{problem}[/red]", highlight=False)
    if not report.ok:
        console.print(f"[red]{len(report.problems)} problems[/red]")
        raise typer.Exit(1)
    console.print("ok")


@archive_app.command("seal")
def seal_command(
    reindex_all: Annotated[bool, typer.Option("--reindex", help="Also rebuild every "
                                              "record's search document.")] = False,
) -> None:
    """Seal committed audit events into the hash chain now (the service does so itself);
    with --reindex also read the text of mails recorded before it was kept (from their
    archived originals) and rebuild every record's search document."""
    from .index import backfill_bodies
    from .index import reindex_all as rebuild

    ctx = ArchiveContext.open(_settings(), SystemClock())
    try:
        report = ctx.seal()
        rebuilt = filled = 0
        if reindex_all:
            with ctx.factory() as session, session.begin():
                filled = backfill_bodies(session, ctx.archive)
                rebuilt = rebuild(session)
    finally:
        ctx.close()
    console.print(f"sealed {report.sealed}; chain head seq {report.head_seq} "
                  f"{report.head_hash}; mail texts read {filled}; reindexed {rebuilt}")


@archive_app.command("expired")
def expired_command() -> None:
    """List the records past their kind's retention period (records.retention_days), for
    an archivist to confirm; nothing is deleted."""
    from .retention import expired

    s = _settings()
    ctx = ArchiveContext.open(s, SystemClock())
    try:
        with ctx.factory() as session:
            rows = expired(session, s.records.retention_days, ctx.clock.now())
    finally:
        ctx.close()
    w = ctx.words
    table = Table(w.reference, w.kind, w.created_at, w.retention, w.subject)
    for row in rows:
        table.add_row(row.reference, ctx.labels.kind(row.kind),
                      row.created_at.astimezone(ctx.zone).strftime("%Y-%m-%d"),
                      row.kept_until.astimezone(ctx.zone).strftime("%Y-%m-%d"), row.title)
    console.print(table if rows else w.no_results)


@archive_app.command("delete")
def delete_command(
    reference: str,
    by: Annotated[str, typer.Option("--by", help="Who confirms the deletion (recorded).")],
    confirm: Annotated[bool, typer.Option("--confirm", help="Required: nothing is deleted "
                                          "without it.")] = False,
) -> None:
    """Delete an expired record on confirmation: a sealed audit event keeps the hashes of
    every file removed, and the record's events stay in the chain."""
    from mailflow.store.db import transaction

    from .retention import RetentionError, delete_record, remove_files

    if not confirm:
        err.print("nothing deleted: add --confirm")
        raise typer.Exit(1)
    s = _settings()
    ctx = ArchiveContext.open(s, SystemClock())
    try:
        ctx.seal()
        try:
            with transaction(ctx.factory) as session:
                removed = delete_record(session, ctx.archive, reference, actor=by,
                                        periods=s.records.retention_days,
                                        now=ctx.clock.now())
        except RetentionError as exc:
            err.print(str(exc))
            raise typer.Exit(1) from exc
        remove_files(ctx.archive, removed)
        ctx.seal()
    finally:
        ctx.close()
    console.print(f"{reference}: deleted, {len(removed)} files removed; the deletion is "
                  "sealed in the audit trail")
