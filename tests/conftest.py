"""Shared fixtures: the real mail stack (tests/conftest_mailstack.py) and test databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailflow.documents.definitions import FormCatalog, default_forms_dir, load_catalog
from mailflow_testing.databases import fresh_database
from tests.approvals_desk import Desk

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


# -- what the approval and notice tests share (a module's own fixture of the name wins) ----
@pytest.fixture(scope="module")
def catalog() -> FormCatalog:
    """The bundled form definitions."""
    return load_catalog(default_forms_dir())


@pytest.fixture
def desk(mailstack: Any, database_url: str, tmp_path: Path) -> Desk:
    """The approvals desk (tests/approvals_desk.py) on the mail stack and a fresh database."""
    return Desk(mailstack, database_url, tmp_path)
