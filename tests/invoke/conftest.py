"""Fixtures of the invoke tests: the store tests' backend factories, for tests
that must hold on every backend (see tests/store/conftest.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The store tests' helper module, importable by the same name as there.
STORE_TESTS = Path(__file__).resolve().parents[1] / "store"
if str(STORE_TESTS) not in sys.path:
    sys.path.insert(0, str(STORE_TESTS))

from _store_testlib import BACKEND_KINDS, BackendFactory  # noqa: E402


@pytest.fixture(params=BACKEND_KINDS)
def backend_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendFactory]:
    """Opens backends of each kind in turn, over a location private to the test."""
    factory = BackendFactory(request.param, tmp_path)
    yield factory
    factory.close_all()
