"""``mailflow report --month 2026-11 | --quarter 2026Q4 | --half-year 2026H2 | --year 2026
[--contract KEY] [--lang zh|en] [--out DIR]``: renders a period's 服务月报 (R-SP-7, R-PM-13;
a contract's report may cover a quarter, half-year or year) as the mail would carry it — the
.docx, the .xlsx, the charts as PNG and the mail's HTML — without sending anything.
Registered by cli.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailflow.cli_state import echo, settings
from mailflow.errors import OperatorError


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    month: Annotated[str | None, typer.Option("--month", help="A month, YYYY-MM.")] = None,
    quarter: Annotated[str | None, typer.Option(
        "--quarter", help="A quarter, YYYYQn (2026Q4: October to December).")] = None,
    half_year: Annotated[str | None, typer.Option(
        "--half-year", help="A half-year, YYYYHn (2026H2: July to December).")] = None,
    year: Annotated[str | None, typer.Option("--year", help="A year, YYYY.")] = None,
    contract: Annotated[str | None, typer.Option(
        "--contract", help="A [[contracts]] key; without it the internal report.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the files.")] = Path(),
    lang: Annotated[str | None, typer.Option(
        "--lang", help="zh or en (default: [service] language).")] = None,
) -> None:
    """Render a service report of a month, quarter, half-year or year into --out (nothing is
    sent)."""
    from mailflow.reports.periods import parse_period
    from mailflow.reports.render import ReportMaker
    from mailflow.reports.settings import contracts_of
    from mailflow.reports.stage import ticket_source
    from mailflow.store.db import make_engine, session_factory, upgrade
    from mailflow.templates import Templates

    config = settings()
    given = [(option, value, example, kind) for option, value, example, kind in (
        ("--month", month, "2026-11", "month"), ("--quarter", quarter, "2026Q4", "quarter"),
        ("--half-year", half_year, "2026H2", "half-year"), ("--year", year, "2026", "year"))
        if value is not None]
    if len(given) != 1:
        raise OperatorError("name one period: --month 2026-11, --quarter 2026Q4, "
                            "--half-year 2026H2 or --year 2026")
    option, value, example, kind = given[0]
    try:
        first = parse_period(value or "")
        if first.kind != kind:
            raise ValueError(f"{value!r} is a {first.kind}, not a {kind}")
    except ValueError as exc:
        raise OperatorError(f"{option}: {exc}; write e.g. {option} {example}") from exc
    if contract is not None and contract != "internal" and \
            contract not in {c.key for c in contracts_of(config)}:
        known = ", ".join(c.key for c in contracts_of(config)) or "none configured"
        raise OperatorError(f"--contract: unknown contract {contract!r} (known: {known}); "
                            "add it to [[contracts]] or [[customers]] in the config")
    language = lang or config.service.language
    if language not in ("zh", "en"):
        raise OperatorError(f"--lang: {language!r} is neither zh nor en")
    templates = Templates(config.service.templates_dir, language,
                          config.service.templates_override_dir)
    engine = make_engine(config.storage.resolved_database_url())
    try:
        upgrade(engine)
        with session_factory(engine)() as session:
            made = ReportMaker(config, templates, ticket_source(config)).make(
                session, first, contract)
    finally:
        engine.dispose()
    out.mkdir(parents=True, exist_ok=True)
    written = [out / made.docx_name, out / made.xlsx_name]
    written[0].write_bytes(made.docx)
    written[1].write_bytes(made.xlsx)
    stem = made.docx_name.removesuffix(".docx")
    html = made.content.html
    for chart in made.charts:
        path = out / f"{stem}-{chart.filename}"
        path.write_bytes(chart.png)
        html = html.replace(f"cid:{chart.cid}", path.name)
        written.append(path)
    page = out / f"{stem}.html"
    page.write_text(html, encoding="utf-8")
    written.append(page)
    echo(made.content.subject)
    for path in written:
        echo(f"wrote {path}")
