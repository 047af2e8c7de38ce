"""Write validated Settings back out as a TOML config file, for tests that run the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from mailflow.config import Settings

SECTIONS = ("service", "mailbox", "smtp", "storage", "forms")


def settings_toml(settings: Settings) -> str:
    """The scalar sections of *settings* as TOML (JSON scalars are valid TOML values)."""
    data = json.loads(settings.model_dump_json(exclude_none=True))
    lines: list[str] = []
    for section in SECTIONS:
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in data[section].items()]
        lines.append("")
    return "\n".join(lines)


def write_config(settings: Settings, path: Path) -> Path:
    path.write_text(settings_toml(settings), encoding="utf-8")
    return path
