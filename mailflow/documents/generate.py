"""Generate the blank forms (``forms/blank/<kind>.docx`` and ``.xlsx``) from the definitions.

The files are committed so that the mail service can attach them without generating
anything; regenerating gives the same bytes, so a diff shows only real changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from mailflow.documents.definitions import FormCatalog
from mailflow.documents.docx_writer import blank_docx
from mailflow.documents.xlsx_writer import blank_xlsx


def generate_blank_forms(catalog: FormCatalog, out_dir: Path) -> list[Path]:
    """Write ``<kind>.docx`` and ``<kind>.xlsx`` for every kind into *out_dir*; return paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for kind in sorted(catalog.forms):
        form = catalog.forms[kind]
        outputs: tuple[tuple[Literal["docx", "xlsx"], bytes], ...] = (
            ("docx", blank_docx(form, catalog.layout)),
            ("xlsx", blank_xlsx(form, catalog.layout)),
        )
        for fmt, data in outputs:
            path = catalog.blank_path(kind, fmt, out_dir)
            if not path.is_file() or path.read_bytes() != data:
                path.write_bytes(data)
            written.append(path)
    return written
