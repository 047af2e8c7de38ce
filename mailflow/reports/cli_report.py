"""``mailflow report --month 2026-11 [--contract KEY] [--lang zh|en] [--out DIR]``: renders a
month's 服务月报 (R-SP-7, R-PM-13) as the mail would carry it — the .docx, the .xlsx, the
charts as PNG and the mail's HTML — without sending anything. Registered by cli.py.
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
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM.")],
    contract: Annotated[str | None, typer.Option(
        "--contract", help="A [[contracts]] key; without it the internal report.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the files.")] = Path(),
    lang: Annotated[str | None, typer.Option(
        "--lang", help="zh or en (default: [service] language).")] = None,
) -> None:
    """Render a monthly service report into --out (nothing is sent)."""
    from mailflow.reports.render import ReportMaker, parse_month
    from mailflow.reports.settings import contracts_of
    from mailflow.reports.stage import ticket_source
    from mailflow.store.db import make_engine, session_factory, upgrade
    from mailflow.templates import Templates

    config = settings()
    try:
        first = parse_month(month)
    except ValueError as exc:
        raise OperatorError(f"--month: {exc}; write e.g. --month 2026-11") from exc
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
