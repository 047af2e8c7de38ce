"""Every word a user reads comes from templates/<lang>/*.j2 (Chinese by default).

One template file per message; its ``subject``, ``text`` and ``html`` blocks are rendered
separately so subject, plain text and HTML never drift apart. The HTML block is rendered with
autoescaping (user input such as a subject can hold markup); the text blocks without.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


class Templates:
    def __init__(self, root: Path, language: str = "zh") -> None:
        self.language = language
        self.root = root
        loader = FileSystemLoader([str(root / language), str(root)])
        options: dict[str, Any] = {
            "loader": loader,
            "undefined": StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
            "keep_trailing_newline": True,
        }
        self._text_env = Environment(autoescape=False, **options)  # noqa: S701 - plain text
        self._html_env = Environment(autoescape=True, **options)

    def render(self, name: str, context: Mapping[str, Any]) -> RenderedMessage:
        """Render template *name* (e.g. ``requester_ack``) into subject, text and HTML."""
        return RenderedMessage(
            subject=" ".join(self._block(self._text_env, name, "subject", context).split()),
            text=self._block(self._text_env, name, "text", context).strip() + "\n",
            html=self._block(self._html_env, name, "html", context).strip() + "\n",
        )

    def labels(self, name: str, block: str) -> dict[str, str]:
        """A block of ``key: words`` lines (column headings, status names) as a mapping, so
        even the words of a spreadsheet's header row live in templates."""
        out: dict[str, str] = {}
        for line in self._block(self._text_env, name, block, {}).splitlines():
            key, sep, words = line.partition(":")
            if sep and key.strip():
                out[key.strip()] = words.strip()
        return out

    @staticmethod
    def _block(env: Environment, name: str, block: str, context: Mapping[str, Any]) -> str:
        template = env.get_template(f"{name}.j2")
        return "".join(template.blocks[block](template.new_context(dict(context))))
