"""`mailflow forms generate DIR`: the blank forms people are given, recognised even if renamed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mailflow.documents.definitions import default_forms_dir, load_catalog
from mailflow.documents.reading import read_form


def test_forms_generate_writes_every_kind_in_both_formats(tmp_path: Path) -> None:
    out = tmp_path / "blank"
    result = subprocess.run([sys.executable, "-m", "mailflow", "forms", "generate", str(out)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    catalog = load_catalog(default_forms_dir())
    for kind in catalog.forms:
        for fmt in ("docx", "xlsx"):
            path = out / f"{kind}.{fmt}"
            assert str(path) in result.stdout
            renamed = tmp_path / f"随便起的名字.{fmt}"
            renamed.write_bytes(path.read_bytes())
            (reading,) = read_form(renamed.read_bytes(), fmt, catalog,
                                   source_name=renamed.name)
            assert reading.kind == kind
            assert reading.recognised_by == "marker"
            assert {p.code for p in reading.problems} == {"missing"}  # blank: all required
