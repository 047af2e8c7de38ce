"""``mailflow web``: serve the archivists' pages; ``mailflow web hash-password``."""

from __future__ import annotations

from typing import Annotated

import typer

web_app = typer.Typer(invoke_without_command=True,
                      help="The archivists' web pages (search, timeline, export).")


@web_app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(
        "--host", help="Default: web.host in the config.")] = None,
    port: Annotated[int | None, typer.Option(
        "--port", help="Default: web.port in the config.")] = None,
) -> None:
    """Serve the pages (127.0.0.1:8080 unless web.host, web.port or the options say
    otherwise)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from mailflow.cli_state import settings
    from mailflow.clock import SystemClock

    from .app import create_app

    s = settings()
    uvicorn.run(create_app(s, SystemClock()), host=host or s.web.host, port=port or s.web.port,
                log_level="warning", proxy_headers=False, server_header=False)


@web_app.command("hash-password")
def hash_password(
    password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                          confirmation_prompt=True)],
) -> None:
    """Print the argon2 hash of a password, for an entry of web.users in the config."""
    from argon2 import PasswordHasher

    typer.echo(PasswordHasher().hash(password))
