"""The ``mailflow`` command: run, demo, db, forms, requests, config."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mailflow.clock import clock_from
from mailflow.config import Settings, load_settings
from mailflow.errors import MailflowError
from mailflow.logs import configure
from mailflow.private import set_private_umask

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="mailflow: an IT department's request forms, approvals and archive by e-mail.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
forms_app = typer.Typer(no_args_is_help=True, help="Request form definitions and blank forms.")
config_app = typer.Typer(no_args_is_help=True, help="Configuration.")
requests_app = typer.Typer(no_args_is_help=True, help="The requests taken in.")
app.add_typer(db_app, name="db")
app.add_typer(forms_app, name="forms")
app.add_typer(requests_app, name="requests")
app.add_typer(config_app, name="config")

console = Console()
err = Console(stderr=True)
DEFAULT_CONFIG = Path("config.toml")


class State:
    config_path: Path | None = None
    settings: Settings | None = None


state = State()


def settings() -> Settings:
    if state.settings is None:
        state.settings = load_settings(state.config_path)
        configure(state.settings.service.log_level, state.settings.service.log_format)
    return state.settings


@app.callback()
def main_options(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="TOML config file (default ./config.toml, else the "
                     "embedded default).", envvar="MAILFLOW_CONFIG"),
    ] = None,
) -> None:
    set_private_umask()  # every command: what it writes is private (issue 20)
    if config is None and DEFAULT_CONFIG.exists():
        config = DEFAULT_CONFIG
    state.config_path = config
    state.settings = None


@app.command()
def run(
    once: Annotated[
        bool, typer.Option("--once", help="Handle what is waiting, then exit.")
    ] = False,
    now: Annotated[str | None, typer.Option("--now", help="Pretend the time is this ISO 8601 "
                                             "instant (e.g. 2026-11-24T10:00+08:00).")] = None,
    progress: Annotated[bool | None, typer.Option(
        "--progress/--no-progress",
        help="With --once: show a progress bar (default: when stderr is a terminal).")] = None,
) -> None:
    """Watch the mailbox: take mail in, archive it, answer it, send what is queued."""
    from mailflow.progress import ProgressDisplay
    from mailflow.service import Service

    service = Service(settings(), clock_from(now))
    if once:
        show = progress if progress is not None else sys.stderr.isatty()
        try:
            with ProgressDisplay(enabled=show) as display:
                report = service.run_once(display.update if show else None)
        finally:
            service.close()
        i, d = report.intake, report.delivery
        console.print(
            f"taken in {i.taken_in}, duplicates {i.duplicates}, already done {i.already_done}, "
            f"quarantined {i.quarantined}; sent {d.sent}, deferred {d.deferred}, "
            f"failed {d.failed}"
        )
        return
    service.run_forever()


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where the demo keeps its data.")] = Path(
        "storage/demo"),
) -> None:
    """Run mailflow on bundled sample mails (SQLite + Maildir, replies to a local folder)."""
    from mailflow.demo import run_demo

    configure("warning")  # the demo prints its own account of what happened
    run_demo(directory, console)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the current version."""
    from mailflow.store.db import current_revision, make_engine, upgrade

    engine = make_engine(settings().storage.resolved_database_url())
    upgrade(engine)
    console.print(f"database at revision {current_revision(engine)}")
    engine.dispose()


@forms_app.command("generate")
def forms_generate(directory: Path) -> None:
    """Write the blank form of every kind as .docx and .xlsx into DIRECTORY."""
    from mailflow.documents.definitions import load_catalog
    from mailflow.documents.generate import generate_blank_forms

    catalog = load_catalog(settings().forms.definitions_dir)
    for path in generate_blank_forms(catalog, directory):
        typer.echo(str(path))


@requests_app.command("export")
def requests_export(
    path: Annotated[Path, typer.Argument(help="Where to write: a .xlsx or .csv file.")],
    first: Annotated[str | None, typer.Option(
        "--from", help="First day (YYYY-MM-DD, the service's time zone).")] = None,
    last: Annotated[str | None, typer.Option(
        "--to", help="Last day, included (YYYY-MM-DD).")] = None,
    kind: Annotated[str | None, typer.Option(
        "--kind", help="Only this form kind (data_extraction, account, ...).")] = None,
    progress: Annotated[bool | None, typer.Option(
        "--progress/--no-progress",
        help="Show a progress bar (default: when stderr is a terminal).")] = None,
) -> None:
    """Write the requests of a period as a spreadsheet: one row per request, one column per
    form field; cells that a spreadsheet would run as formulas are written as text."""
    from zoneinfo import ZoneInfo

    from mailflow.documents.definitions import load_catalog
    from mailflow.progress import ProgressDisplay
    from mailflow.requests_export import Period, RequestSheet, export_requests
    from mailflow.store.db import make_engine, session_factory, upgrade
    from mailflow.templates import Templates

    s = settings()
    period = Period(_day(first, "--from"), _day(last, "--to"))
    sheet = RequestSheet(load_catalog(s.forms.definitions_dir),
                         Templates(s.service.templates_dir, s.service.language),
                         ZoneInfo(s.service.timezone), period, kind)
    engine = make_engine(s.storage.resolved_database_url())
    try:
        upgrade(engine)
        show = progress if progress is not None else sys.stderr.isatty()
        with ProgressDisplay(enabled=show, unit="requests") as display:
            written = export_requests(session_factory(engine), sheet, path,
                                      display.update if show else None)
    finally:
        engine.dispose()
    console.print(f"{written} requests written to {path}")


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date like 2026-11-01",
                                 param_hint=option) from None


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration and print where mailflow will read, write and send."""
    s = settings()
    console.print(f"config: {state.config_path or '(embedded default)'}")
    console.print(f"mailbox: {s.mailbox.source} "
                  f"{s.mailbox.host or s.mailbox.maildir_path} folder {s.mailbox.folder}")
    outbox_dir = s.storage.resolved_outbox_dir()
    console.print(f"smtp: {s.smtp.host or f'none: replies go to {outbox_dir}'}")
    console.print(f"database: {_redact(s.storage.resolved_database_url())}")
    console.print(f"archive: {s.storage.resolved_archive_dir()}")
    console.print(f"directory: {len(s.people)} people, {len(s.departments)} departments, "
                  f"{len(s.systems)} systems")
    for risk in s.plaintext_password_hosts():
        err.print(f"[yellow]warning:[/yellow] {risk}", highlight=False, markup=True)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    set_private_umask()
    try:
        app()
    except MailflowError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise SystemExit(2) from exc
