"""Resource types and helpers shared by the store tests and their child processes.

Not a test module. conftest.py puts this folder on sys.path, and the worker
script beside it (run as a child process) finds it there too, so the types
have the same names, and the same type ids, in the parent and in children.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import enact_resource as er
import enact_store as es


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


def fresh_ref(ref: es.Ref[Any]) -> es.Ref[Any]:
    """A new ref to the same digest, with nothing cached."""
    return type(ref)(ref.digest)


def canonical(value: Any) -> Any:
    """A type-exact, comparable form of a value (NaN equals NaN, -0.0 differs from 0.0)."""
    if isinstance(value, er.ResourceBase):
        value = value.to_resource_dict()
    cls = type(value)
    if value is None:
        return None
    if cls is bool:
        return ("bool", value)
    if cls is int:
        return ("int", value)
    if cls is float:
        return ("float", repr(value))
    if cls is str:
        return ("str", value)
    if cls is bytes:
        return ("bytes", value)
    if isinstance(value, type):
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
                "INSERT OR REPLACE INTO objects (digest, data) VALUES (?, ?)", (digest, data)
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
