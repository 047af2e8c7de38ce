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


@dataclass(frozen=True)
class FormLabels:
    """Form and field titles in the service's language (forms/*.toml), so a record shows
    "数据密级" rather than ``classification``; unknown kinds and keys show as they are."""

    kinds: dict[str, str]
    fields: dict[str, dict[str, str]]

    def kind(self, kind: str) -> str:
        return self.kinds.get(kind, kind)

    def field(self, kind: str, key: str) -> str:
        return self.fields.get(kind, {}).get(key, key)


def form_labels(definitions_dir: Path, language: str) -> FormLabels:
    from mailflow.documents.definitions import load_catalog

    catalog = load_catalog(definitions_dir)
    zh = language == "zh"
    return FormLabels(
        {kind: form.title_zh if zh else form.title_en for kind, form in catalog.forms.items()},
        {kind: {f.key: f.label_zh if zh else f.label_en for f in form.fields}
         for kind, form in catalog.forms.items()})


def html_environment(root: Path, zone: ZoneInfo, labels: FormLabels | None = None
                     ) -> Environment:
    """Jinja for the pages: autoescaped (every value came from mail or forms)."""
    env = Environment(loader=FileSystemLoader(str(root / "records")),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

    def local(value: datetime | None) -> str:
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if value else ""

    known = labels or FormLabels({}, {})
    env.globals.update(local=local, flat=flat_text, kind_title=known.kind,
                       field_label=known.field)
    return env


def page_context(words: Words, language: str, **values: Any) -> dict[str, Any]:
    return {"w": words, "actions": words.actions, "statuses": words.statuses,
            "lang": language, **values}
