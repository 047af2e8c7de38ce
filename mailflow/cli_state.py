"""What every ``mailflow`` command shares: the configuration it runs with, where it prints,
and the version. Its own module so command modules (cli.py, cli_ops.py and those other
features add) import it without importing each other.

Output for people goes through ``echo`` (plain text: a value such as ``[[people]]`` is printed
as it is, never read as rich markup) and is never wrapped: one error stays one line in cron
mail and the journal.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console

from mailflow import installed_version
from mailflow.config import Settings, load_settings, security_warnings, unknown_env_variables
from mailflow.logs import configure

DEFAULT_CONFIG = Path("config.toml")

#: tables and the demo (rich); markup only where the code writes it, never from values
console = Console(soft_wrap=True, highlight=False)


def version() -> str:
    return installed_version()


@dataclass
class State:
    config_path: Path | None = None
    settings: Settings | None = None
    debug: bool = False


state = State()


def echo(text: str) -> None:
    typer.echo(text)


def warn(text: str) -> None:
    """A warning for the operator: one line on stderr."""
    sys.stderr.write(f"warning: {text}\n")


def settings() -> Settings:
    """The validated configuration (loaded once per command), logs configured from it;
    what is suspicious but not wrong (unknown MAILFLOW_* variables, a port that does not
    match its security) is warned about on stderr."""
    if state.settings is None:
        import os

        loaded = load_settings(state.config_path)
        configure(loaded.service.log_level, loaded.service.log_format)
        for text in (*unknown_env_variables(os.environ), *security_warnings(loaded)):
            if loaded.service.log_format == "json":  # the journal's stream stays JSON
                import structlog

                structlog.get_logger("mailflow.config").warning(text)
            else:
                warn(text)
        state.settings = loaded
    return state.settings
