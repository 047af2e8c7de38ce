"""Structured logs: every line says which mail / request it concerns (bound key-values).

One formatter for everything: structlog's own lines and those of the libraries that log
through the standard library (Alembic's "Context impl SQLiteImpl.", SQLAlchemy, asyncio) go
through the same ProcessorFormatter, so the JSON stream stays one JSON object a line. The
libraries are quiet by default (warnings only; all of them at log_level = "debug").
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

#: libraries whose info lines are noise for an operator (shown at log_level = "debug")
CHATTY = ("alembic", "sqlalchemy", "asyncio", "aiosmtplib", "imapclient", "urllib3",
          "httpx", "uvicorn", "multipart")
#: C0 and C1 controls (ESC starts terminal escape sequences), DEL, and line/paragraph breaks
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def escape_controls(text: str) -> str:
    """*text* with control characters written as escapes (``\\x1b``, ``\\n``): text from
    mail (a Message-ID, a subject) can neither restyle the terminal nor forge a log line."""
    return _CONTROLS.sub(_escape, text)


def _escape_values(_logger: Any, _name: str, event: MutableMapping[str, Any]
                   ) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = escape_controls(value)
    return event


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written: the CLI's progress display swaps
    it for a proxy that prints log lines above the progress bar."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(level: str = "info", fmt: str = "console") -> None:
    numeric = getattr(logging, level.upper(), logging.INFO)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _escape_values,  # before a traceback is added: its line breaks are wanted
    ]
    renderer: structlog.types.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in CHATTY:
        logging.getLogger(name).setLevel(numeric if numeric <= logging.DEBUG
                                         else max(numeric, logging.WARNING))
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
