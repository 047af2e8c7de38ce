"""Hostile Word/Excel attachments: the guard then the reader, as FormDesk.examine runs them.

The promise (fuzz.oracles.check_office): ``check_office_file`` then ``read_form`` either
read forms or end in FileRefused / UnknownForm / UnreadableForm -- never another
exception, never a hang, never unbounded memory -- and ``FormDesk.examine`` never raises.

Dangerous inputs (zip bombs built streamed, entity bombs, nested zips) run in a forked
child (fuzz.guard.run_isolated) under a CPU-time and address-space limit, so a failure of
the guard shows up as a test failure with the child's peak memory, not as a dead test run.
Mutated packages run in-process under a per-input alarm and tracemalloc.
"""

from __future__ import annotations

import io
import json
import random
import socket
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from fuzz import bombs, corpus, mutations
from fuzz.guard import Isolated, run_isolated, time_limit, traced_peak
from fuzz.oracles import catalog, check_office, examine_attachment
from mailflow.documents.reading import UnknownForm, UnreadableForm, read_form
from mailflow.documents.safety import FileRefused, check_office_file

MiB = 1024 * 1024
ALLOWED = ("read", "unknown", "unreadable", "refused:")
HANG_LIMIT = 20.0  # seconds for one guard+reader run on a mutated package (they take ~20 ms)
PEAK_LIMIT = 128 * MiB  # Python allocations for one mutated package of at most ~600 KB


def isolated_check(data: bytes, name: str) -> Isolated:
    """check_office in a child: at most 20 s of CPU and 1 GiB more address space."""
    catalog()  # loaded before the fork, so the child does not pay for it
    return run_isolated(
        lambda: check_office(data, name), timeout=60, cpu_seconds=20, memory_mb=1024
    )


def assert_refused(result: Isolated, *reasons: str) -> None:
    assert result.outcome == "returned", f"{result.outcome} {result.error} {result.detail}"
    assert result.value in [f"refused:{r}" for r in reasons], result.value
    assert result.rss_growth < 256 * MiB, f"peak memory grew {result.rss_growth // MiB} MiB"


# --- zip bombs -----------------------------------------------------------------------------


@pytest.mark.parametrize("declared_small", [True, False], ids=["declared-1KiB", "declared-1GiB"])
@pytest.mark.parametrize("shape", ["zeros", "document"])
def test_a_gigabyte_inside_a_megabyte_is_refused(shape: str, declared_small: bool) -> None:
    if shape == "zeros":
        data = bombs.gigabyte_of_zeros(declared_small=declared_small)
    else:
        data = bombs.gigabyte_document(declared_small=declared_small)
    assert len(data) < 2 * MiB
    assert_refused(isolated_check(data, "bomb.docx"), "zip_bomb")


def test_twenty_thousand_members_are_refused() -> None:
    assert_refused(isolated_check(bombs.many_members(20_000), "many.docx"), "zip_bomb")


def test_a_directory_that_lies_about_its_member_count_is_refused() -> None:
    data = bombs.many_members(20_000, declared_count=3)
    assert_refused(isolated_check(data, "many.docx"), "zip_bomb", "corrupt")


@pytest.mark.parametrize(
    ("levels", "fan_out", "leaf"),
    [(1, 10, 100 * MiB), (1, 1, 1024 * MiB), (2, 10, 100 * MiB), (6, 1, 1024)],
    ids=["embedded-10x100MiB", "embedded-1GiB", "42.zip-10GiB", "six-levels"],
)
def test_nested_zips_are_refused(levels: int, fan_out: int, leaf: int) -> None:
    data = bombs.nested_zip(levels, fan_out=fan_out, leaf_bytes=leaf)
    assert_refused(isolated_check(data, "nested.docx"), "zip_bomb")


# --- XML: entity bombs, XXE, traversal -----------------------------------------------------

ENTITY_BOMBS = bombs.entity_bombs()


@pytest.mark.parametrize("case", sorted(ENTITY_BOMBS))
def test_entity_bombs_are_refused(case: str) -> None:
    name, data = ENTITY_BOMBS[case]
    assert_refused(isolated_check(data, name), "xml_bomb")


def _readings_text(data: bytes, name: str) -> str:
    """Everything a reader produced from *data*, as text ('' when refused or unread)."""
    try:
        checked = check_office_file(data, name)
        readings = read_form(checked.data, checked.fmt, catalog(), source_name=name)
    except (FileRefused, UnknownForm, UnreadableForm):
        return ""
    return json.dumps([r.json_values() for r in readings], ensure_ascii=False)


def test_external_entities_read_no_file_and_fetch_nothing(tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("CANARY-0b5e3c", encoding="ascii")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/evil"
        cases = bombs.xxe_cases(canary.as_uri(), url)
        assert len(cases) >= 6
        for case, (name, data) in cases.items():
            with time_limit(HANG_LIMIT, case):
                assert "CANARY" not in _readings_text(data, name), case
                examine_attachment(data, name)
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody connected: no DTD, entity or template was fetched


@pytest.mark.parametrize("case", sorted(bombs.traversal_packages()), ids=ascii)
def test_traversal_member_names_are_refused_and_nothing_is_written(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = bombs.traversal_packages()[case]
    outcome = check_office(data, "t.docx")
    assert outcome == "refused:corrupt", outcome
    assert examine_attachment(data, "t.docx") == 1
    assert list(tmp_path.iterdir()) == []
    assert not (tmp_path.parent / "evil.xml").exists()


# --- mutated packages ----------------------------------------------------------------------

SEEDS = corpus.office_seeds(max_bytes=300 * 1024)
FORM_SEEDS = [seed for seed in SEEDS if (corpus.BLANK_FORMS / seed[0]).exists()] or SEEDS


def _run(data: bytes, name: str) -> str:
    note(f"{name}: {len(data)} bytes")
    with time_limit(HANG_LIMIT, "check_office"):
        outcome, peak = traced_peak(lambda: check_office(data, name))
    assert outcome.startswith(ALLOWED), outcome
    assert peak < PEAK_LIMIT, f"{peak // MiB} MiB of Python allocations for {len(data)} bytes"
    return outcome


FAST = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@settings(FAST, max_examples=80)
@given(st.sampled_from(SEEDS), st.randoms(use_true_random=False))
def test_mutated_corpus_packages(seed: tuple[str, bytes], rnd: random.Random) -> None:
    name, data = seed
    _run(mutations.mutate(data, rnd, mutations.OFFICE_MUTATORS), name)


@pytest.mark.parametrize(
    "mutator", list(dict.fromkeys(mutations.OFFICE_MUTATORS)), ids=lambda m: m.__name__
)
@settings(FAST, max_examples=12)
@given(seed=st.sampled_from(FORM_SEEDS), rnd=st.randoms(use_true_random=False))
def test_each_mutator_on_our_blank_forms(
    mutator: mutations.Mutator, seed: tuple[str, bytes], rnd: random.Random
) -> None:
    name, data = seed
    _run(mutator(data, rnd), name)


@settings(FAST, max_examples=30)
@given(st.sampled_from(FORM_SEEDS), st.randoms(use_true_random=False))
def test_forms_desk_never_raises_on_mutated_forms(
    seed: tuple[str, bytes], rnd: random.Random
) -> None:
    name, data = seed
    mutated = mutations.mutate(data, rnd, mutations.OFFICE_MUTATORS)
    with time_limit(HANG_LIMIT, "FormDesk.examine"):
        assert examine_attachment(mutated, name) >= 0


@settings(FAST, max_examples=100)
@given(
    st.sampled_from([b"PK\x03\x04", b"PK\x05\x06", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b""]),
    st.binary(max_size=2000),
    st.sampled_from(["a.docx", "a.xlsx", "a.doc", "a.xls", "a.xlsm", "a", "a.pdf"]),
)
def test_arbitrary_bytes_behind_office_magic(magic: bytes, rest: bytes, name: str) -> None:
    _run(magic + rest, name)


def test_mutations_reach_the_reader() -> None:
    """The property tests are only worth something if mutated forms still get read."""
    rnd = random.Random(7)
    outcomes = {
        check_office(mutations.replace_text(data, rnd), name) for name, data in FORM_SEEDS * 3
    }
    assert "read" in outcomes or "unknown" in outcomes


@pytest.mark.parametrize(
    "path", corpus.office_paths(300 * 1024), ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_every_corpus_package_is_read_or_refused(path: Path) -> None:
    with time_limit(HANG_LIMIT, path.name):
        outcome = check_office(path.read_bytes(), path.name)
    assert outcome.startswith(ALLOWED), outcome


def test_rezipped_blank_form_is_still_read() -> None:
    """The mutators' rezip keeps a package valid: mutations start from readable forms."""
    name, data = FORM_SEEDS[0]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    assert check_office(mutations.rezip(members), name) == "read"
