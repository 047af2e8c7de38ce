"""Fuzz targets and hostile-input helpers for mailflow (run on demand; see fuzz/README.md).

Not part of the package: ``pyproject.toml`` only ships ``mailflow``.  The tests in
``tests/test_hostile_*.py`` use the same mutators (:mod:`fuzz.mutations`) and the same
invariants (:mod:`fuzz.oracles`) as the targets, so a property a test checks is exactly the
property the fuzzer hunts for.
"""
