"""Fuzz target: the forms desk -- ``check_office_file`` then ``read_form`` -- on mutated
Word/Excel packages, and ``FormDesk.examine`` on the same bytes as a mail attachment.

Finds: any exception other than FileRefused / UnknownForm / UnreadableForm (and anything
at all escaping ``FormDesk.examine``), a hang, memory growth past the limit.  Seeds: our
blank forms, the corpus's .docx/.xlsx files, and the built bombs (entity bombs, XXE,
traversal names), so mutations start from the dangerous shapes too.
"""

from __future__ import annotations

import logging
import sys

import structlog

from fuzz import bombs, corpus, engine, mutations


def seeds() -> list[bytes]:
    found = [data for _name, data in corpus.office_seeds(max_bytes=512 * 1024)]
    found += [data for _name, data in bombs.entity_bombs().values()]
    found += [data for _name, data in bombs.xxe_cases().values()]
    found += list(bombs.traversal_packages().values())
    return found


def _name_for(data: bytes) -> str:
    return "form.xlsx" if b"xl/" in data[:4096] or b"xl/" in data[-4096:] else "form.docx"


def load_target() -> engine.Target:
    from fuzz import oracles  # imports mailflow: after atheris starts instrumenting

    def test_one_input(data: bytes) -> None:
        name = _name_for(data)
        oracles.check_office(data, name)
        oracles.examine_attachment(data, name)

    return test_one_input


def main(argv: list[str] | None = None) -> int:
    # FormDesk logs every refusal; at fuzzing speed that drowns the fuzzer's own output.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    return engine.main(load_target, seeds, mutations.OFFICE_MUTATORS, argv)


if __name__ == "__main__":
    sys.exit(main())
