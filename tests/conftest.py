"""Shared fixtures: the real mail stack (tests/conftest_mailstack.py) and test databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow_testing.databases import fresh_database

pytest_plugins = ["tests.conftest_mailstack"]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database; storage and intake tests run once on each backend."""
    with fresh_database(str(request.param), tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url
