"""The archive's words (templates/<lang>/records.j2) and its HTML templates
(templates/records/): shared by the export summary and the archivists' web pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from mailflow.templates import Templates

from .index import flat_text


@dataclass(frozen=True)
class Words:
    words: dict[str, str]
    actions: dict[str, str]
    statuses: dict[str, str]

    def __getattr__(self, name: str) -> str:  # w.reference in templates
        try:
            return self.words[name]
        except KeyError:
            raise AttributeError(name) from None


def load_words(templates: Templates) -> Words:
    return Words(templates.labels("records", "words"), templates.labels("records", "actions"),
                 templates.labels("records", "statuses"))


def html_environment(root: Path, zone: ZoneInfo) -> Environment:
    """Jinja for the pages: autoescaped (every value came from mail or forms)."""
    env = Environment(loader=FileSystemLoader(str(root / "records")),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

    def local(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if value else ""

    env.globals.update(local=local, flat=flat_text)
    return env


def page_context(words: Words, language: str, **values: Any) -> dict[str, Any]:
    return {"w": words, "actions": words.actions, "statuses": words.statuses,
            "lang": language, **values}
