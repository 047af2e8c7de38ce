"""The ``mailflow`` command: run, demo, db, forms, requests, config; the operator's commands
(outbox, quarantine, status, metrics) live in cli_ops.py and are registered at the end.

Every failure that comes from the environment ends as one line on stderr and a non-zero exit
(``main``); a traceback only with ``--debug`` or for a bug (then it is logged).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from typer._click import exceptions as click  # the Click typer bundles

from mailflow.cli_state import DEFAULT_CONFIG, console, echo, settings, state, version, warn
from mailflow.clock import clock_from
from mailflow.errors import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    AuthError,
    ConfigError,
    OperatorError,
    explain,
)
from mailflow.logs import configure
from mailflow.private import set_private_umask

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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

DEMO_DIR_DEFAULT = Path("storage/demo")


def _archive_commands() -> None:
    """``mailflow archive …`` and ``mailflow web`` (records/, web/)."""
    from mailflow.records.cli_archive import archive_app
    from mailflow.web.cli_web import web_app

    app.add_typer(archive_app, name="archive")
    app.add_typer(web_app, name="web")


_archive_commands()


def _print_version(value: bool) -> None:
    if value:
        echo(f"mailflow {version()}")
        raise typer.Exit


@app.callback()
def main_options(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="TOML config file (default ./config.toml, else the "
                     "embedded default).", envvar="MAILFLOW_CONFIG"),
    ] = None,
    debug: Annotated[bool, typer.Option(
        "--debug", help="Show the full traceback of a failure.")] = False,
    _version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    set_private_umask()  # every command: what it writes is private (issue 20)
    if config is None and DEFAULT_CONFIG.exists():
        config = DEFAULT_CONFIG
    state.config_path = config
    state.settings = None
    state.debug = state.debug or debug


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
    import structlog

    from mailflow.progress import ProgressDisplay
    from mailflow.service import Service, wait_for_database
    from mailflow.systemd import Notifier

    s = settings()
    clock = clock_from(now)
    notifier = Notifier.from_environment()
    structlog.get_logger("mailflow").info("mailflow starting", version=version(),
                                          once=once, config=str(state.config_path or ""))
    wait_for_database(s.storage.resolved_database_url(), attempts=3 if once else None,
                      notifier=notifier)
    service = Service(s, clock, notifier=notifier)
    if once:
        show = progress if progress is not None else sys.stderr.isatty()
        try:
            with ProgressDisplay(enabled=show) as display:
                report = service.run_once(display.update if show else None)
        finally:
            service.close()
        i, d = report.intake, report.delivery
        echo(f"taken in {i.taken_in}, duplicates {i.duplicates}, already done {i.already_done}, "
             f"quarantined {i.quarantined}; due work done {report.due_done}; sent {d.sent}, "
             f"deferred {d.deferred}, failed {d.failed}"
             # mails whose conversion outlasted the wait stay in the inbox for the next run
             + (f"; still converting {i.converting}" if i.converting else ""))
        return
    service.run_forever()


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Where the demo keeps its data.")] = (
        DEMO_DIR_DEFAULT),
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
    try:
        upgrade(engine)
        echo(f"database at revision {current_revision(engine)}")
    finally:
        engine.dispose()


@forms_app.command("generate")
def forms_generate(directory: Path) -> None:
    """Write the blank form of every kind as .docx and .xlsx into DIRECTORY."""
    from mailflow.documents.definitions import load_catalog
    from mailflow.documents.generate import generate_blank_forms

    if directory.exists() and not directory.is_dir():
        raise OperatorError(f"forms generate: {directory} is a file, not a directory; name a "
                            "directory (it is created when missing)")
    catalog = load_catalog(settings().forms.definitions_dir)
    for path in generate_blank_forms(catalog, directory):
        echo(str(path))


@requests_app.command("export")
def requests_export(
    path: Annotated[Path, typer.Argument(help="Where to write: a .xlsx or .csv file.")],
    first: Annotated[str | None, typer.Option(
        "--from", help="First day (YYYY-MM-DD, the service's time zone).")] = None,
    last: Annotated[str | None, typer.Option(
        "--to", help="Last day, included (YYYY-MM-DD).")] = None,
    kind: Annotated[str | None, typer.Option(
        "--kind", help="Only this form kind and its columns (data_extraction, account, ...)."
    )] = None,
    demo_data: Annotated[bool, typer.Option(
        "--demo", help=f"Export the demo's requests ({DEMO_DIR_DEFAULT}).")] = False,
    progress: Annotated[bool | None, typer.Option(
        "--progress/--no-progress",
        help="Show a progress bar (default: when stderr is a terminal).")] = None,
) -> None:
    """Write the requests of a period as a spreadsheet: one row per request, one column per
    form field; cells that a spreadsheet would run as formulas are written as text."""
    from zoneinfo import ZoneInfo

    from mailflow.documents.definitions import load_catalog
    from mailflow.progress import ProgressDisplay
    from mailflow.requests_export import Period, RequestSheet, check_target, export_requests
    from mailflow.store.db import make_engine, session_factory, upgrade

    period = Period(_day(first, "--from"), _day(last, "--to"))
    if period.first and period.last and period.first > period.last:
        raise OperatorError(f"--from {period.first} is later than --to {period.last}; give the "
                            "earlier day first")
    check_target(path)
    if demo_data:
        from mailflow.demo import demo_settings

        s = demo_settings(DEMO_DIR_DEFAULT.resolve())
        configure("warning")
        if not (DEMO_DIR_DEFAULT / "mailflow.db").is_file():
            raise OperatorError(f"no demo data in {DEMO_DIR_DEFAULT.resolve()}; run "
                                "`mailflow demo` in this directory first")
    else:
        s = settings()
    sheet = RequestSheet(load_catalog(s.forms.definitions_dir),
                         s.templates(),
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
    echo(f"{written} requests written to {path}")
    demo_db = DEMO_DIR_DEFAULT / "mailflow.db"
    if written == 0 and not demo_data and demo_db.is_file():
        warn(f"the demo's requests are in {demo_db.resolve()}, not in the configured "
             "database; export them with --demo")


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise OperatorError(f"{option} {text!r} is not a date; write it like 2026-11-01"
                            ) from None


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration and print where mailflow will read, write and send."""
    s = settings()
    echo(f"config: {state.config_path or '(embedded default)'}")
    where = s.mailbox.host and f"{s.mailbox.host}:{s.mailbox.port} ({s.mailbox.security})"
    echo(f"mailbox: {s.mailbox.source} {where or s.mailbox.maildir_path} "
         f"folder {s.mailbox.folder}")
    outbox_dir = s.storage.resolved_outbox_dir()
    smtp = s.smtp.host and f"{s.smtp.host}:{s.smtp.port} ({s.smtp.security})"
    echo(f"smtp: {smtp or f'none: replies go to {outbox_dir}'}")
    echo(f"data directory: {s.storage.data_dir}")
    echo(f"database: {redact(s.storage.resolved_database_url())}")
    echo(f"archive: {s.storage.resolved_archive_dir()}")
    echo(f"forms: {s.forms.definitions_dir}")
    echo(f"directory: {len(s.people)} people, {len(s.departments)} departments, "
         f"{len(s.systems)} systems")
    if s.customers:  # maintenance contracts: their people must be in the directory
        from mailflow.tickets.contracts import Contracts

        contracts = Contracts(s)
        echo(f"customers: {len(s.customers)} contracts, 客服 "
             f"{contracts.customer_service() or '(none: set [roles] customer_service)'}")
    for risk in s.plaintext_password_hosts():
        warn(risk)
    for key, directory in (("[service] templates_dir", s.service.templates_dir),
                           ("[forms] definitions_dir", s.forms.definitions_dir)):
        if not directory.is_dir():
            raise ConfigError(f"{key}: directory {directory} does not exist; fix it, or "
                              "remove the key to use the bundled one")
    templates = s.templates()
    problems = templates.check()
    override = s.service.templates_override_dir
    echo(f"templates: {s.service.templates_dir}, {len(templates.names())} "
         f"({s.service.language})" + (f", overrides from {override}" if override else ""))
    for problem in problems:
        if not problem.fatal:
            warn(f"template without sample data: {problem}")
    broken = [p for p in problems if p.fatal]
    if broken:
        raise ConfigError("; ".join(f"template broken: {p}" for p in broken))


def redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# -- the operator's commands (and further command modules) --------------------------------
from mailflow import cli_ops  # noqa: E402  (registers on app; imports this module's app)

cli_ops.register(app)
from mailflow.reports import cli_report  # noqa: E402  (``mailflow report``)

cli_report.register(app)


# -- the entry point ----------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    """Run the command; environment failures become one line on stderr and an exit status
    (2 usage/config, 69 a server unreachable, 78 credentials refused, 1 otherwise)."""
    import os

    set_private_umask()  # what every command writes is private (issue 20)
    args = list(sys.argv[1:] if argv is None else argv)
    state.debug = "--debug" in args or os.environ.get("MAILFLOW_DEBUG", "") not in ("", "0")
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="mailflow", standalone_mode=False)
    except click.NoArgsIsHelpError as exc:
        echo(exc.format_message())  # asked for nothing: the help, on stdout
        raise SystemExit(EXIT_USAGE) from None
    except click.UsageError as exc:
        hint = f"; see `{exc.ctx.command_path} --help`" if exc.ctx is not None else ""
        _fail(exc, f"{exc.format_message().rstrip('.')}{hint}", EXIT_USAGE)
    except typer.Abort:
        _fail(None, "interrupted", 130)
    except click.ClickException as exc:
        _fail(exc, exc.format_message(), exc.exit_code or EXIT_FAILURE)
    except KeyboardInterrupt:
        _fail(None, "interrupted", 130)
    except Exception as exc:
        line = explain(exc)
        if line is None:  # a bug: the traceback is logged, the operator still gets one line
            import structlog

            structlog.get_logger("mailflow").exception("internal error")
            _fail(None, f"internal error: {type(exc).__name__}: {exc} (this is a bug: the "
                  "traceback is in the log above; please report it)", EXIT_FAILURE)
        _fail(exc, line, _status_of(exc))
    raise SystemExit(code if isinstance(code, int) else 0)


def _status_of(exc: BaseException) -> int:
    from sqlalchemy.exc import InterfaceError, OperationalError

    from mailflow.errors import SourceError

    if isinstance(exc, AuthError):
        return EXIT_CONFIG
    if isinstance(exc, ConfigError | OperatorError):
        return EXIT_USAGE
    if isinstance(exc, (OperationalError, InterfaceError, SourceError)):
        return EXIT_UNAVAILABLE
    return EXIT_FAILURE


def _fail(exc: BaseException | None, line: str, status: int) -> NoReturn:
    """One line on stderr (never wrapped, never read as markup); the traceback too with
    --debug."""
    if state.debug and exc is not None:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    sys.stderr.write(f"error: {' '.join(line.split())}\n")
    sys.stderr.flush()
    raise SystemExit(status)
