"""Fixtures of the store tests: one backend factory per backend kind.

The conformance tests run against every kind in BACKEND_KINDS. To add a
backend, add a param here and a branch in BackendFactory._open.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import enact_store as es

# The helper module beside this file (_store_testlib) must be importable by
# the same name here and in child processes, whatever pytest's import mode.
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

POSTGRES_URL_VAR = "ENACT_TEST_POSTGRES_URL"

BACKEND_KINDS = [
    "memory",
    "file",
    "sqlite",
    # Hook for the PostgreSQL backend: runs only against a real server named
    # by the environment variable (see BackendFactory._open).
    pytest.param(
        "postgres",
        marks=pytest.mark.skipif(
            not os.environ.get(POSTGRES_URL_VAR), reason=f"{POSTGRES_URL_VAR} is not set"
        ),
    ),
]

PERSISTENT_KINDS = ["file", "sqlite"]


class BackendFactory:
    """Opens backends of one kind over one location (a fresh one per test).

    Each call returns a new backend instance over the same stored data, as a
    new process would see it; for ``memory`` the data lives in the backend
    object, so every call returns that same object.
    """

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.persistent = kind != "memory"
        self._memory: es.InMemoryBackend | None = None
        self._opened: list[es.StorageBackend] = []

    @property
    def url(self) -> str:
        """The open_store URL of the location (persistent kinds only)."""
        if self.kind == "file":
            return f"file://{self.tmp_path / 'file-store'}"
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp_path / 'sqlite-store' / 'store.db'}"
        if self.kind == "postgres":
            return os.environ[POSTGRES_URL_VAR]
        raise ValueError(f"{self.kind} has no URL")

    def __call__(self) -> es.StorageBackend:
        backend = self._open()
        self._opened.append(backend)
        return backend

    def _open(self) -> es.StorageBackend:
        if self.kind == "memory":
            if self._memory is None:
                self._memory = es.InMemoryBackend()
            return self._memory
        if self.kind == "file":
            return es.FileBackend(self.tmp_path / "file-store")
        if self.kind == "sqlite":
            return es.SqliteBackend(self.tmp_path / "sqlite-store" / "store.db")
        if self.kind == "postgres":
            # When PostgresBackend lands: give each test an empty location
            # (e.g. a schema named after tmp_path.name) and drop it in close_all.
            return es.open_store(self.url).backend
        raise ValueError(f"unknown backend kind {self.kind!r}")

    def close_all(self) -> None:
        for backend in self._opened:
            backend.close()


@pytest.fixture(params=BACKEND_KINDS)
def backend_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendFactory]:
    """Opens backends of each kind in turn, over a location private to the test."""
    factory = BackendFactory(request.param, tmp_path)
    yield factory
    factory.close_all()


@pytest.fixture(params=PERSISTENT_KINDS)
def persistent_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendFactory]:
    """Like backend_factory, for the kinds that keep data outside the process."""
    factory = BackendFactory(request.param, tmp_path)
    yield factory
    factory.close_all()


@pytest.fixture
def store(backend_factory: BackendFactory) -> es.Store:
    """A store over a fresh backend of each kind."""
    return es.Store(backend_factory())


@pytest.fixture
def reopen(backend_factory: BackendFactory) -> Callable[[], es.Store]:
    """Returns a new Store over a new backend instance at the same location."""
    return lambda: es.Store(backend_factory())
