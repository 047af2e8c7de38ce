"""Fuzz target: ``parse_mail`` (then ``classify``) on mutated mails.

Finds: any exception (the parser promises never to raise), a hang, memory growth past the
limit, an attachment file name that is not a safe plain name, HTML that could run script
or load remote content.  Seeds: the shared corpus mails up to 256 KB and our own built
mails.  Usage: ``python -m fuzz.mail_parser [-runs=N] ...`` (see fuzz/README.md).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from fuzz import corpus, engine, mutations

_FOLDER = Path(tempfile.gettempdir()) / "mailflow-fuzz-attachments"


def seeds() -> list[bytes]:
    return corpus.mail_seeds(max_bytes=256 * 1024)


def load_target() -> engine.Target:
    from fuzz import oracles  # imports mailflow: after atheris starts instrumenting

    def test_one_input(data: bytes) -> None:
        oracles.check_mail(data, _FOLDER)

    return test_one_input


def main(argv: list[str] | None = None) -> int:
    return engine.main(load_target, seeds, mutations.MAIL_MUTATORS, argv)


if __name__ == "__main__":
    sys.exit(main())
