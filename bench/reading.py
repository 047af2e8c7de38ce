"""How long reading one form takes, the form reader alone (no mail, no database): the part
of the throughput row that the matching by meaning costs.

``python -m bench.reading [ROUNDS]`` prints, as JSON, in milliseconds of CPU per form:

* ``samples``: every kind of tests/formfill.py's samples filled into the bundled blank
  forms (Word and Excel), read ROUNDS times in this process: the first round (cold caches)
  and the mean of the others (the same forms again);
* ``numbered``: the throughput row's workload (bench/mails.py: four kinds in both formats,
  each mail's copy carrying its own number), 300 forms read once each: a new text in every
  form, as real mail brings.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Literal

from mailflow.documents.definitions import default_forms_dir
from mailflow.documents.reading import read_form
from tests.formfill import SAMPLES, fill_docx, fill_xlsx

from .mails import catalog, filled_forms

Format = Literal["docx", "xlsx"]


def samples() -> list[tuple[str, Format, bytes]]:
    """(kind, format, file) for every sample kind with a bundled blank in that format."""
    cat = catalog()
    blank_dir = default_forms_dir() / "blank"
    out: list[tuple[str, Format, bytes]] = []
    fmt: Format
    for kind in sorted(SAMPLES):
        for fmt in ("docx", "xlsx"):
            path = cat.blank_path(kind, fmt, blank_dir)
            if not path.is_file():
                continue
            fill = fill_docx if fmt == "docx" else fill_xlsx
            out.append((kind, fmt, fill(path.read_bytes(), cat.get(kind), SAMPLES[kind])))
    return out


def _read_all(files: list[tuple[str, Format, bytes]]) -> float:
    """CPU seconds to read *files*, each checked to read back as its kind (the reader is
    one thread: its CPU time is its wall time on a quiet machine, and hardly moves with
    other people's load on a shared one)."""
    cat = catalog()
    started = time.process_time()
    for kind, fmt, data in files:
        readings = read_form(data, fmt, cat, source_name=f"{kind}.{fmt}")
        if not any(r.kind == kind and r.ok for r in readings):
            raise RuntimeError(f"{kind}.{fmt} not read back")
    return time.process_time() - started


def measure(rounds: int = 20, numbered: int = 300) -> dict[str, object]:
    files = samples()
    times = [_read_all(files) for _ in range(rounds)]
    steady = times[1:] or times
    forms = filled_forms()
    mails = [forms[n % len(forms)] for n in range(numbered)]
    seconds = _read_all([(f.kind, "docx" if f.fmt == "docx" else "xlsx", f.numbered(n))
                         for n, f in enumerate(mails)])
    return {
        "samples": {"forms": len(files), "rounds": rounds,
                    "first_round_ms_per_form": round(times[0] / len(files) * 1000, 3),
                    "again_ms_per_form": round(sum(steady) / len(steady) / len(files) * 1000,
                                               3)},
        "numbered": {"forms": numbered, "ms_per_form": round(seconds / numbered * 1000, 3)},
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 20)))
