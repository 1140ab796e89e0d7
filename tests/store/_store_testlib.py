"""Resource types and helpers shared by the store tests and their child processes.

Not a test module. conftest.py puts this folder on sys.path, and the worker
script beside it (run as a child process) finds it there too, so the types
have the same names, and the same type ids, in the parent and in children.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from pathlib import Path
from typing import Any, TypeVar

import enact_resource as er
import enact_store as es

T = TypeVar("T", bound=er.ResourceBase)

POSTGRES_URL_VAR = "ENACT_TEST_POSTGRES_URL"

# Hook for the PostgreSQL backend: it joins the conformance suite only when a
# real server is named by the environment variable (see BackendFactory._open);
# test_conformance.py reports one skip otherwise.
BACKEND_KINDS = ["memory", "file", "sqlite"]
if os.environ.get(POSTGRES_URL_VAR):
    BACKEND_KINDS.append("postgres")

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


@er.register
@dataclasses.dataclass
class Box(er.Resource):
    """One value of any legal kind."""

    value: Any


@er.register
@dataclasses.dataclass
class Pair(er.Resource):
    """Fields declared out of alphabetical order."""

    zeta: Any
    alpha: Any


@er.register
@dataclasses.dataclass
class Node(er.Resource):
    """A node of a DAG: children are refs to other nodes."""

    label: str
    children: list[es.Ref[Node]]


def fresh_ref(ref: es.Ref[T]) -> es.Ref[T]:
    """A new ref to the same digest, with nothing cached."""
    return type(ref)(ref.digest)


def canonical(value: Any) -> Any:
    """A type-exact, comparable form of a value (NaN equals NaN, -0.0 differs from 0.0).

    Booleans compare as the integers they digest as (SPEC 3.2: ``True`` and
    ``1`` have one digest), since a store holds one object per digest.
    """
    if isinstance(value, er.ResourceBase):
        value = value.to_resource_dict()
    cls = type(value)
    if value is None:
        return None
    if cls is bool or cls is int:
        return ("int", int(value))
    if cls is float:
        return ("float", repr(value))
    if cls is str:
        return ("str", value)
    if cls is bytes:
        return ("bytes", value)
    if isinstance(value, type) and issubclass(value, er.ResourceBase):
        return ("type", value.type_id())
    if cls is er.ResourceDict:
        return ("res", value.type.type_id(), [(k, canonical(v)) for k, v in value.items()])
    if cls is dict:
        return ("map", sorted((k, canonical(v)) for k, v in value.items()))
    if cls in (list, tuple):
        return ("seq", [canonical(v) for v in value])
    raise AssertionError(f"unexpected value in a resource: {value!r}")


# --- The raw stored bytes, as a user with direct access to the store would see them. ---


def object_file(root: Path, digest: str) -> Path:
    """Where FileBackend keeps an object (its documented layout: objects/ab/abcdef…)."""
    return root / "objects" / digest[:2] / digest


def read_raw(backend: es.StorageBackend, digest: str) -> bytes | None:
    """The stored bytes of an object, read without the backend (file or row)."""
    if isinstance(backend, es.FileBackend):
        path = object_file(backend.root_dir, digest)
        return path.read_bytes() if path.exists() else None
    if isinstance(backend, es.SqliteBackend):
        with _connect(backend.path) as conn:
            row = conn.execute("SELECT data FROM objects WHERE digest = ?", (digest,)).fetchone()
        return None if row is None else bytes(row[0])
    raise TypeError(f"no raw access to {backend!r}")


def write_raw(backend: es.StorageBackend, digest: str, data: bytes) -> None:
    """Overwrites the stored bytes of an object behind the backend's back."""
    if isinstance(backend, es.FileBackend):
        object_file(backend.root_dir, digest).write_bytes(data)
        return
    if isinstance(backend, es.SqliteBackend):
        with _connect(backend.path) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO objects (digest, data, written) VALUES (?, ?, 0)",
                (digest, data),
            )
        return
    raise TypeError(f"no raw access to {backend!r}")


class _connect:
    """sqlite3.connect as a context manager that commits and closes."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, timeout=30)

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.conn.commit()
        self.conn.close()


# --- What the concurrency workers commit (so the parent knows every digest). ---


def shared_resource(i: int) -> Box:
    """The i-th resource that every thread of every worker commits."""
    return Box({"shared": i, "data": [i, float(i) / 3, str(i) * 10]})


def own_resource(process: int, thread: int, j: int) -> Box:
    """The j-th resource that only one thread of one worker commits."""
    return Box({"process": process, "thread": thread, "j": j})
